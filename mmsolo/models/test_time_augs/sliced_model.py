"""Sliced inference of large images: the tiles of an image (:func:`.
tile_merge.slice_grid`) go in batches through the model's test pipeline
and ``test_step``, exactly as whole images do, and their instances are
merged on the whole image (:func:`.tile_merge.merge_tile_instances`).

:class:`SlicedInferenceModel` wraps a model for a test run
(``tools/test.py --slice-size``): the test set loads each image whole,
the wrapper slices it and puts the merged instances in the image's data
sample, so the metric sees ordinary predictions.
"""

import copy
from numbers import Real
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.model import BaseTTAModel
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from mmsolo.registry import MODELS
from ..task_modules import build_test_cfg
from .tile_merge import (
    MERGE_METRICS,
    check_mask_format,
    check_overlap,
    merge_tile_instances,
    positive_int,
    slice_grid,
    slice_sizes,
    tile_pieces,
)

# The step that takes a tile's array in place of the test set's loader.
TILE_LOADER = dict(type='mmdet.LoadImageFromNDArray')
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadPanopticAnnotations')
# The metrics that read a prediction's masks given as COCO RLE dicts as
# they are (mmdet's CocoMetric encodes only tensors); others get bitmaps.
RLE_READING_METRICS = ('CocoMetric', 'EmptySafeCocoMetric')


def _step_name(step: dict) -> str:
    """The class name of a pipeline step, without its scope."""
    kind = step['type']
    return kind.split('.')[-1] if isinstance(kind, str) else kind.__name__


def split_test_pipeline(pipeline: Sequence[dict]) -> Tuple[list, list]:
    """The two pipelines of sliced inference from a test pipeline.

    Args:
        pipeline (list[dict]): A test set's pipeline: an image loader
            first, ``PackDetInputs`` last.

    Returns:
        tuple[list, list]: ``(image_pipeline, tile_pipeline)``: the first
        loads the whole image and its annotations (the loader, the
        ``LoadAnnotations`` steps, masks kept as polygons, the packing);
        the second takes a tile's (h, w, C) array
        (``LoadImageFromNDArray``) through every other step (resizing,
        normalising ...) and the packing, as the test pipeline takes an
        image.

    Raises:
        ValueError: the pipeline does not start by loading an image or
            does not end with ``PackDetInputs``.
    """
    steps = [dict(step) for step in copy.deepcopy(list(pipeline))]
    names = [_step_name(step) for step in steps]
    if not names or 'Load' not in names[0] or names[0] == 'LoadAnnotations':
        raise ValueError(
            'sliced inference: the test pipeline must start by loading the '
            f'image, got {names[:1]}'
        )
    if names[-1] != 'PackDetInputs':
        raise ValueError(
            'sliced inference: the test pipeline must end with '
            f'PackDetInputs, got {names[-1]}'
        )
    middle = list(zip(names, steps))[1:-1]
    annotations = [s for n, s in middle if n in ANNOTATION_LOADERS]
    for step in annotations:
        # A large image's ground-truth masks as bitmaps cost n * H * W
        # bytes; the metrics read the annotation file (or the polygons).
        if step.get('with_mask') and _step_name(step) == 'LoadAnnotations':
            step['poly2mask'] = False
    others = [s for n, s in middle if n not in ANNOTATION_LOADERS]
    image_pipeline = [steps[0], *annotations, steps[-1]]
    tile_pipeline = [dict(TILE_LOADER), *others, copy.deepcopy(steps[-1])]
    return image_pipeline, tile_pipeline


def build_pipeline(steps: Sequence[dict]) -> Compose:
    """``Compose`` of ``steps``, its unscoped types looked up in mmsolo's
    registries (which find mmdet's transforms too)."""
    with DefaultScope.overwrite_default_scope('mmsolo'):
        return Compose(list(steps))


def model_test_cfg(model: nn.Module) -> ConfigDict:
    """The checked test config of ``model``'s ``mask_head`` (the defaults
    of :func:`build_test_cfg` for a model without one)."""
    cfg = getattr(getattr(model, 'mask_head', None), 'test_cfg', None)
    return build_test_cfg(None) if cfg is None else cfg


def check_merge(merge_thr, merge_metric: str) -> None:
    """Raise a ValueError naming the argument unless ``merge_thr`` is in
    [0, 1] and ``merge_metric`` one of :data:`MERGE_METRICS`."""
    if not isinstance(merge_thr, Real) or not 0 <= merge_thr <= 1:
        raise ValueError(f'merge_thr must be in [0, 1], got {merge_thr!r}')
    if merge_metric not in MERGE_METRICS:
        raise ValueError(
            f'merge_metric must be one of {MERGE_METRICS}, '
            f'got {merge_metric!r}'
        )


def tile_batch(
    pipeline: Callable, image: np.ndarray, tiles: List[tuple], first: int
) -> dict:
    """The collated batch of ``tiles`` of ``image`` (each through
    ``pipeline`` as an image array; ``img_id`` its tile's index)."""
    return pseudo_collate(
        [
            pipeline(
                dict(img=np.ascontiguousarray(image[y0:y1, x0:x1]), img_id=k)
            )
            for k, (y0, x0, y1, x1) in enumerate(tiles, first)
        ]
    )


def predict_sliced(
    model: nn.Module,
    pipeline: Callable,
    image: np.ndarray,
    slice_size: Union[int, Sequence[int]],
    overlap: float = 0.2,
    batch_size: int = 1,
    merge_thr: float = 0.5,
    merge_metric: str = 'ios',
    mask_format: str = 'bitmap',
) -> InstanceData:
    """The instances of ``image``, predicted tile by tile.

    Only a batch of tiles, their predictions, and each instance's mask
    cropped to its box are held until the end; the (n, H, W) output masks
    are allocated last, for the instances kept, or, with
    ``mask_format='rle'``, never (each kept mask encoded from its crop).

    Args:
        model (nn.Module): A model with mmdet's ``test_step``.
        pipeline (callable): Its test pipeline taking ``dict(img=array)``
            (see :func:`split_test_pipeline`).
        image (np.ndarray): (H, W, C) image, as the pipeline's loader would
            read it (BGR for mmdet's loaders).
        slice_size (int or tuple[int, int]): Tile side or (height, width).
        overlap (float): Fraction of the tile shared by neighbours, [0, 1).
        batch_size (int): Tiles per ``test_step``.
        merge_thr (float): Agreement above which instances of two tiles
            merge (:func:`~.tile_merge.agreements`).
        merge_metric (str): ``'ios'`` or ``'iou'``.
        mask_format (str): ``'bitmap'`` or ``'rle'``.

    Returns:
        InstanceData: ``masks`` ((n, H, W) bool, or n COCO RLE dicts),
        ``labels`` (n,), ``scores`` (n,), ``bboxes`` (n, 4), on the CPU.

    Raises:
        ValueError: an empty image, or an argument out of range (named).
        NotImplementedError: a panoptic model.
    """
    if image.ndim not in (2, 3) or 0 in image.shape[:2]:
        raise ValueError(
            f'sliced inference: expected an (H, W, C) image, got shape '
            f'{image.shape}'
        )
    check_merge(merge_thr, merge_metric)
    check_mask_format(mask_format)
    batch_size = positive_int(batch_size, 'slice batch size')
    tiles = slice_grid(*image.shape[:2], slice_size, overlap)
    pieces = []
    for first in range(0, len(tiles), batch_size):
        batch = tiles[first : first + batch_size]
        with torch.no_grad():
            preds = model.test_step(tile_batch(pipeline, image, batch, first))
        for k, pred in enumerate(preds):
            if 'pred_panoptic_seg' in pred:
                raise NotImplementedError(
                    'sliced inference merges instance predictions only, '
                    'not a panoptic map (pred_panoptic_seg)'
                )
            pieces += tile_pieces(pred.pred_instances, batch[k], first + k)
    return merge_tile_instances(
        pieces,
        tiles,
        image.shape[:2],
        model_test_cfg(model),
        merge_thr,
        merge_metric,
        mask_format,
    )


@MODELS.register_module()
class SlicedInferenceModel(BaseTTAModel):
    """A model that predicts each image tile by tile
    (``tools/test.py --slice-size``; see :func:`use_sliced_inference`).

    The test set's pipeline loads each image whole (the image pipeline of
    :func:`split_test_pipeline`); :meth:`test_step` slices it, runs the
    tiles through ``tile_pipeline`` and ``module`` and sets the merged
    instances (:func:`predict_sliced`) as the image's ``pred_instances``,
    at its full size. Checkpoints load into ``module`` (mmengine loads a
    ``BaseTTAModel``'s into its module).

    Args:
        module (dict or nn.Module): The model.
        tile_pipeline (list[dict]): The test pipeline of one tile's array.
        slice_size (int or tuple[int, int]): Tile side or (height, width).
        slice_overlap (float): Fraction of the tile shared by neighbours.
        slice_batch_size (int): Tiles per ``test_step`` of ``module``.
        merge_thr (float): See :func:`predict_sliced`.
        merge_metric (str): See :func:`predict_sliced`.
        mask_format (str): ``'rle'`` (the default: each image's masks as
            COCO RLE dicts, which COCO metrics read; no (n, H, W) array)
            or ``'bitmap'`` (for what draws or dumps (n, H, W) masks).
        data_preprocessor (dict, optional): Overrides the module's.
    """

    def __init__(
        self,
        module,
        tile_pipeline: Sequence[dict],
        slice_size: Union[int, Sequence[int]],
        slice_overlap: float = 0.2,
        slice_batch_size: int = 1,
        merge_thr: float = 0.5,
        merge_metric: str = 'ios',
        mask_format: str = 'rle',
        data_preprocessor=None,
    ) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        check_merge(merge_thr, merge_metric)
        self.slice_settings = dict(
            slice_size=slice_sizes(slice_size),
            overlap=check_overlap(slice_overlap),
            batch_size=positive_int(slice_batch_size, 'slice batch size'),
            merge_thr=merge_thr,
            merge_metric=merge_metric,
            mask_format=check_mask_format(mask_format),
        )
        self.tile_pipeline = build_pipeline(tile_pipeline)

    def test_step(self, data: dict) -> list:
        """Per image of the batch (``inputs``: (C, H, W) tensors as the
        image pipeline packs them), its data sample with the merged
        ``pred_instances``."""
        samples = data['data_samples']
        for image, sample in zip(data['inputs'], samples):
            array = image.permute(1, 2, 0).cpu().numpy()
            sample.pred_instances = predict_sliced(
                self.module, self.tile_pipeline, array, **self.slice_settings
            )
        return samples

    def merge_preds(self, data_samples_list: List[list]) -> list:
        """One view per image: its sample (``test_step`` makes no views)."""
        return [views[0] for views in data_samples_list]


def metrics_read_rle(evaluator) -> bool:
    """Whether every metric of a test evaluator config (one metric, a
    list, or ``dict(metrics=...)``) reads RLE masks as given
    (:data:`RLE_READING_METRICS`)."""
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator = evaluator['metrics']
    metrics = (
        evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    )
    return bool(metrics) and all(
        isinstance(m, dict) and _step_name(m) in RLE_READING_METRICS
        for m in metrics
    )


def use_sliced_inference(
    cfg: Config,
    slice_size: Union[int, Sequence[int]],
    overlap: float = 0.2,
    batch_size: int = 1,
    mask_format: Optional[str] = None,
) -> None:
    """Make ``cfg`` test tile by tile: its model wrapped in
    :class:`SlicedInferenceModel`, its test set loading images whole (the
    test pipeline split by :func:`split_test_pipeline`).

    ``mask_format`` (``'rle'`` or ``'bitmap'``): how the merged masks
    reach the evaluator; None: RLE when every metric of
    ``cfg.test_evaluator`` reads it (:func:`metrics_read_rle`), else
    bitmaps. Pass ``'bitmap'`` where (n, H, W) masks are drawn or dumped.

    Raises:
        ValueError: a slice setting out of range, or a test pipeline that
            cannot be split (named).
    """
    slice_sizes(slice_size)
    check_overlap(overlap)
    positive_int(batch_size, 'slice batch size')
    if mask_format is None:
        rle = metrics_read_rle(cfg.get('test_evaluator'))
        mask_format = 'rle' if rle else 'bitmap'
    check_mask_format(mask_format)
    test_set = cfg.test_dataloader.dataset
    while 'dataset' in test_set:  # a wrapped dataset
        test_set = test_set.dataset
    image_pipeline, tile_pipeline = split_test_pipeline(test_set.pipeline)
    cfg.model = ConfigDict(
        type='mmsolo.SlicedInferenceModel',
        module=cfg.model,
        tile_pipeline=tile_pipeline,
        slice_size=slice_size,
        slice_overlap=overlap,
        slice_batch_size=batch_size,
        mask_format=mask_format,
    )
    test_set.pipeline = image_pipeline
