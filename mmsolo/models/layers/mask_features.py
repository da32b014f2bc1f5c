"""Mask features: what a mask-feature neck gives the SOLOv2 head, and the
dynamic convolution that turns kernels into mask logits on them.

The dynamic convolution has two forms. :func:`dynamic_mask_logits`, one
image's kernels as the weights of ``F.conv2d`` (mmdet's operation), serves
training and eager prediction. :func:`batched_dynamic_mask_logits` is the
same product for every image of a batch at once, each image's kernels on
its own features, as a batched matrix product: an exported graph cannot
loop over a dynamic batch, and a grouped ``conv2d`` would need the batch
size as its (constant) group count. The two agree up to float rounding
(the summation order of the product differs).
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def dynamic_mask_logits(
    feats: Tensor, kernels: Tensor, kernel_size: int
) -> Tensor:
    """Mask logits of dynamic k x k kernels on one image's features.

    Args:
        feats (Tensor): (E, h, w) mask features of one image.
        kernels (Tensor): (K, D) kernels, D = E * k * k.
        kernel_size (int): k, odd.

    Returns:
        Tensor: (K, h, w) mask logits.
    """
    weight = kernels.reshape(len(kernels), -1, kernel_size, kernel_size)
    return F.conv2d(feats[None], weight, padding=kernel_size // 2)[0]


def batched_dynamic_mask_logits(
    feats: Tensor, kernels: Tensor, kernel_size: int
) -> Tensor:
    """Mask logits of each image's dynamic k x k kernels on its own
    features (see the module docstring).

    Args:
        feats (Tensor): (B, E, h, w) mask features.
        kernels (Tensor): (B, K, D) kernels, D = E * k * k.
        kernel_size (int): k, odd.

    Returns:
        Tensor: (B, K, h, w) mask logits.
    """
    batch, channels, height, width = feats.shape
    if kernel_size == 1:
        columns = feats.reshape(batch, channels, height * width)
    else:
        columns = F.unfold(feats, kernel_size, padding=kernel_size // 2)
    logits = torch.bmm(kernels, columns)
    return logits.reshape(batch, -1, height, width)


@dataclass
class MaskFeatures:
    """The mask features of a batch: one map that the kernels of every
    level convolve (``per_level=False``, :class:`MaskFeatureNeck`), or one
    map per head level, level ``i``'s kernels convolving ``maps[i]`` only
    (``per_level=True``, :class:`SeparateMaskFeatureNeck`).

    Attributes:
        maps (list[Tensor]): Each (N, E, h, w), all of one size.
        per_level (bool): Whether ``maps[i]`` belongs to level ``i``.
    """

    maps: List[Tensor]
    per_level: bool = False

    @classmethod
    def shared(cls, feats: Tensor) -> 'MaskFeatures':
        """One (N, E, h, w) map for every level."""
        return cls([feats], per_level=False)

    @classmethod
    def of_levels(cls, maps: Sequence[Tensor]) -> 'MaskFeatures':
        """One (N, E, h, w) map per level."""
        return cls(list(maps), per_level=True)

    @property
    def featmap_size(self) -> tuple:
        """(h, w) of the maps."""
        return tuple(self.maps[0].shape[-2:])

    def check_levels(self, num_levels: int) -> None:
        """Raise a ValueError naming the config fields when per-level maps
        do not come one per head level."""
        if self.per_level and len(self.maps) != num_levels:
            raise ValueError(
                f'SOLOv2Head has {num_levels} levels but got '
                f'{len(self.maps)} per-level mask feature maps: make '
                'model.mask_feature_neck.num_levels equal to '
                'len(model.mask_head.num_grids)'
            )

    def image_maps(self) -> List[List[Tensor]]:
        """Per image, its (E, h, w) view of each map.

        Taken with one ``unbind`` per map: its backward stacks the images'
        gradients once, where indexing the batch image by image would make
        autograd fill a zero gradient of the whole (N, E, h, w) map for
        every image and add them up.
        """
        return [
            list(views) for views in zip(*(m.unbind(0) for m in self.maps))
        ]

    def logits(
        self,
        img_id: int,
        kernels: Tensor,
        levels: Tensor,
        kernel_size: int,
        image_maps: Optional[Sequence[Tensor]] = None,
    ) -> Tensor:
        """Mask logits of image ``img_id``'s kernels, each on the map of its
        level (the one map when it is shared).

        Args:
            img_id (int): Image of the batch.
            kernels (Tensor): (K, D) kernels, D = E * k * k.
            levels (Tensor): (K,) head level of each kernel's cell.
            kernel_size (int): k.
            image_maps (Sequence[Tensor], optional): The image's (E, h, w)
                maps, ``self.image_maps()[img_id]``; taken from the batch
                when not given.

        Returns:
            Tensor: (K, h, w) mask logits, in the order of ``kernels``.
        """
        if image_maps is None:
            image_maps = [level_map[img_id] for level_map in self.maps]
        if not self.per_level:
            return dynamic_mask_logits(image_maps[0], kernels, kernel_size)
        logits = kernels.new_empty(len(kernels), *self.featmap_size)
        for level, level_map in enumerate(image_maps):
            in_level = levels == level
            if in_level.any():
                logits[in_level] = dynamic_mask_logits(
                    level_map, kernels[in_level], kernel_size
                )
        return logits
