"""Decode each sample once: the results of deterministic loading transforms,
kept in memory and handed out as copies."""

import copy
from typing import Callable, Dict, Hashable, Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmsolo.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CachedTransforms(BaseTransform):
    """Run ``transforms`` once per sample and serve later calls from memory.

    For small sets that fit in memory (the CPU quick start: 1000 images of
    256x256, about 0.4 GB decoded with their masks): the image is read and
    decoded, and its annotations turned into masks, in the first epoch only;
    every later epoch gets a deep copy of the stored results, so the random
    transforms that follow (flips, crops) and in-place ones such as
    ``HorizontalBoxes.flip_`` never alter what is stored.

    Only deterministic transforms belong inside (``LoadImageFromFile``,
    ``LoadAnnotations``, ``LoadPanopticAnnotations``): a random one would be
    drawn once and frozen. A sample is known by its ``img_path`` and
    ``sample_idx``; each dataloader worker holds its own store, so use it
    with ``num_workers=0`` or ``persistent_workers=True``.

    Args:
        transforms (list[dict | callable]): The loading transforms.
        max_bytes (int, optional): Store samples until their arrays (image,
            masks, segmentation maps) take this many bytes; later ones are
            loaded on every call (no eviction, so no thrashing). ``None``:
            no bound. Defaults to 2 GiB (about 5,000 of the quick start's
            images with their masks), so a config copied to a large set
            cannot fill the memory.
    """

    def __init__(
        self,
        transforms: Sequence[Union[dict, Callable]],
        max_bytes: Optional[int] = 2 * 1024**3,
    ) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError(
                f'CachedTransforms.max_bytes must be >= 0 or None, got '
                f'{max_bytes}'
            )
        self.transforms = Compose(list(transforms))
        self.max_bytes = max_bytes
        self.stored_bytes = 0
        self._store: Dict[Hashable, dict] = {}

    @staticmethod
    def sample_key(results: dict) -> Hashable:
        """What names a sample: its image path and index in the set."""
        if 'img_path' not in results:
            raise KeyError(
                'CachedTransforms needs results["img_path"] to know which '
                f'sample it caches; got keys {sorted(results)}'
            )
        return results['img_path'], results.get('sample_idx')

    def transform(self, results: dict) -> Optional[dict]:
        key = self.sample_key(results)
        stored = self._store.get(key)
        if stored is None:
            stored = self.transforms(results)
            if stored is None:  # a transform dropped the sample
                return None
            size = results_nbytes(stored)
            if (
                self.max_bytes is not None
                and self.stored_bytes + size > self.max_bytes
            ):
                return stored
            self._store[key] = stored
            self.stored_bytes += size
        return copy.deepcopy(stored)

    def __len__(self) -> int:
        """Number of samples stored."""
        return len(self._store)

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(transforms={self.transforms!r}, '
            f'max_bytes={self.max_bytes})'
        )


def results_nbytes(results: dict) -> int:
    """Bytes of the arrays in ``results``: NumPy arrays, tensors and the
    ``masks`` array of mmdet's ``BitmapMasks`` (polygons and small fields
    are not counted)."""
    total = 0
    for value in results.values():
        array = getattr(value, 'masks', value)
        if isinstance(array, np.ndarray):
            total += array.nbytes
        elif hasattr(array, 'element_size') and hasattr(array, 'numel'):
            total += array.element_size() * array.numel()
    return total
