"""The object sizes a SOLOv2 assigner sees in training, read from COCO
annotations: ``sqrt(w * h)`` of each instance's box after the training
pipeline's resize, and its mask area, for :mod:`mmsolo.utils.grid_fit`.

The resize is the first ``Resize``, ``RandomResize`` or
``RandomChoiceResize`` of the training pipeline (nested ``transforms``
lists, such as ``mmsolo.CachedTransforms``', included), taken at its mid
scale: a random resize's scales spread the sizes by the factors
:attr:`TrainResize.spread` around it.
"""

import json
import math
import os.path as osp
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

RESIZE_TYPES = ('Resize', 'RandomResize', 'RandomChoiceResize')


class GridFitError(ValueError):
    """Input the grid fitting cannot use; the message names the file and
    the field to fix."""


@dataclass
class TrainResize:
    """The training resize, at its mid scale.

    Attributes:
        description (str): What was read, for the report.
        scale (tuple[float, float], optional): ``(w, h)`` target of
            mmcv's ``Resize`` (with ``keep_ratio``: the long and short edge
            bounds); None with ``scale_factor`` or without a resize.
        scale_factor (tuple[float, float], optional): ``(x, y)`` factors of
            a ``Resize`` given ``scale_factor``.
        keep_ratio (bool): Whether the resize keeps the aspect ratio.
        spread (tuple[float, float]): Smallest and largest scale of a
            random resize relative to the mid one ((1, 1) for a fixed one).
    """

    description: str
    scale: Optional[Tuple[float, float]] = None
    scale_factor: Optional[Tuple[float, float]] = None
    keep_ratio: bool = False
    spread: Tuple[float, float] = (1.0, 1.0)

    def factors(self, width: float, height: float) -> Tuple[float, float]:
        """``(x, y)`` resize factors of an image of ``width`` x ``height``
        (mmcv's ``rescale_size`` without its rounding to whole pixels)."""
        if self.scale is None and self.scale_factor is None:
            return 1.0, 1.0
        if self.scale is not None:
            target_w, target_h = self.scale
        else:
            target_w = width * self.scale_factor[0]
            target_h = height * self.scale_factor[1]
        if not self.keep_ratio:
            return target_w / width, target_h / height
        factor = min(
            max(target_w, target_h) / max(width, height),
            min(target_w, target_h) / min(width, height),
        )
        return factor, factor


@dataclass
class InstanceSizes:
    """The instances of an annotation file as the training assigner sees
    them (crowd annotations, which training ignores, left out).

    Attributes:
        scales (np.ndarray): (n,) ``sqrt(w * h)`` of each box after the
            resize, in pixels.
        mask_areas (np.ndarray): (n,) mask area of each instance after the
            resize, in pixels.
        image_sides (np.ndarray): (m,) long side of each image after the
            resize, in pixels.
        num_empty (int): Annotations left out for a box or mask without
            area.
    """

    scales: np.ndarray
    mask_areas: np.ndarray
    image_sides: np.ndarray
    num_empty: int = 0


def _walk(transforms: Sequence) -> Iterator[dict]:
    """Every transform dict of a pipeline, nested ``transforms`` lists (and
    lists of lists) included, in order."""
    for transform in transforms:
        if isinstance(transform, (list, tuple)):
            yield from _walk(transform)
        elif isinstance(transform, dict):
            yield transform
            inner = transform.get('transforms')
            if isinstance(inner, (list, tuple)):
                yield from _walk(inner)


def _edge_scale(scale, field: str) -> Tuple[float, float]:
    """``(w, h)`` of a config scale: an int (a square) or a pair."""
    if isinstance(scale, (int, float)):
        return float(scale), float(scale)
    if isinstance(scale, (list, tuple)) and len(scale) == 2:
        return float(scale[0]), float(scale[1])
    raise GridFitError(
        f'{field}: expected an int or a (w, h) pair, got {scale!r}'
    )


def _mid_of_scales(
    scales: Sequence, field: str
) -> Tuple[Tuple[float, float], Tuple[float, float]]:
    """The mid scale of a set of scales (the middle of the smallest and
    largest long edge, and short edge) and the spread around it."""
    pairs = [_edge_scale(scale, field) for scale in scales]
    if not pairs:
        raise GridFitError(f'{field}: no scales')
    longs = [max(pair) for pair in pairs]
    shorts = [min(pair) for pair in pairs]
    mid_long = (min(longs) + max(longs)) / 2
    mid_short = (min(shorts) + max(shorts)) / 2
    spread = (
        min(min(longs) / mid_long, min(shorts) / mid_short),
        max(max(longs) / mid_long, max(shorts) / mid_short),
    )
    return (mid_long, mid_short), spread


def _fixed_resize(transform: dict, field: str) -> TrainResize:
    keep_ratio = bool(transform.get('keep_ratio', False))
    if transform.get('scale') is not None:
        scale = _edge_scale(transform['scale'], f'{field}.scale')
        return TrainResize(
            f'Resize scale={_show(scale)} keep_ratio={keep_ratio}',
            scale=scale,
            keep_ratio=keep_ratio,
        )
    factor = transform.get('scale_factor')
    if factor is None:
        raise GridFitError(f'{field}: a Resize without scale or scale_factor')
    factor = _edge_scale(factor, f'{field}.scale_factor')
    return TrainResize(
        f'Resize scale_factor={_show(factor)} keep_ratio={keep_ratio}',
        scale_factor=factor,
        keep_ratio=keep_ratio,
    )


def _random_resize(transform: dict, field: str) -> TrainResize:
    keep_ratio = bool(transform.get('keep_ratio', False))
    ratio_range = transform.get('ratio_range')
    if ratio_range is not None:
        width, height = _edge_scale(transform.get('scale'), f'{field}.scale')
        low, high = (float(r) for r in ratio_range)
        mid = (low + high) / 2
        scale = (width * mid, height * mid)
        spread = (low / mid, high / mid)
        what = f'scale={_show((width, height))} ratio_range={ratio_range}'
    else:
        scale, spread = _mid_of_scales(
            transform.get('scale') or [], f'{field}.scale'
        )
        what = f'scales {_show(transform.get("scale"))}'
    return TrainResize(
        f'RandomResize {what}: mid scale {_show(scale)} '
        f'keep_ratio={keep_ratio}',
        scale=scale,
        keep_ratio=keep_ratio,
        spread=spread,
    )


def _choice_resize(transform: dict, field: str) -> TrainResize:
    keep_ratio = bool(transform.get('keep_ratio', False))
    scales = transform.get('scales') or []
    scale, spread = _mid_of_scales(scales, f'{field}.scales')
    ends = sorted(scales, key=lambda s: min(_edge_scale(s, field)))
    return TrainResize(
        f'RandomChoiceResize of {len(scales)} scales {_show(ends[0])}..'
        f'{_show(ends[-1])}: mid scale {_show(scale)} '
        f'keep_ratio={keep_ratio}',
        scale=scale,
        keep_ratio=keep_ratio,
        spread=spread,
    )


def _show(value) -> str:
    """A scale as a config writes it: whole numbers without ``.0``."""
    if isinstance(value, (list, tuple)):
        return '(' + ', '.join(_show(v) for v in value) + ')'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f'{value:g}' if isinstance(value, float) else str(value)


def train_resize(
    pipeline: Sequence, field: str = 'train_dataloader.dataset.pipeline'
) -> TrainResize:
    """The first resize of a training pipeline (``field`` names it in the
    description and in errors), at its mid scale; no resize: the images'
    own sizes.

    Raises:
        GridFitError: a resize whose scales cannot be read.
    """
    builders = dict(
        Resize=_fixed_resize,
        RandomResize=_random_resize,
        RandomChoiceResize=_choice_resize,
    )
    for transform in _walk(pipeline or []):
        name = str(transform.get('type', '')).split('.')[-1]
        if name in builders:
            return builders[name](transform, f'{field} {name}')
    return TrainResize(f"no resize in {field}: the images' own sizes")


def _load_coco(ann_file: str) -> dict:
    if not osp.isfile(ann_file):
        raise GridFitError(f'{ann_file}: no such annotation file')
    try:
        with open(ann_file, encoding='utf-8') as f:
            coco = json.load(f)
    except json.JSONDecodeError as error:
        raise GridFitError(
            f'{ann_file}: not JSON (line {error.lineno}, column '
            f'{error.colno}: {error.msg})'
        ) from None
    for key in ('images', 'annotations'):
        if not isinstance(coco, dict) or not isinstance(coco.get(key), list):
            raise GridFitError(f'{ann_file}: no "{key}" list')
    return coco


def _image_sizes(coco: dict, ann_file: str) -> dict:
    """``{image id: (width, height)}``."""
    sizes = {}
    for index, image in enumerate(coco['images']):
        width, height = image.get('width'), image.get('height')
        if not width or not height or 'id' not in image:
            raise GridFitError(
                f'{ann_file}: images[{index}] (id {image.get("id")}) needs '
                'an "id", and a "width" and "height" above 0'
            )
        sizes[image['id']] = (float(width), float(height))
    return sizes


def segmentation_rle(segmentation, height: float, width: float) -> dict:
    """One COCO RLE of an annotation's ``segmentation``: a polygon list, an
    uncompressed or a compressed RLE, for an image of ``height`` x
    ``width``."""
    from pycocotools import mask as mask_utils

    height, width = int(height), int(width)
    if isinstance(segmentation, list):
        return mask_utils.merge(
            mask_utils.frPyObjects(segmentation, height, width)
        )
    if isinstance(segmentation.get('counts'), list):
        return mask_utils.frPyObjects(segmentation, height, width)
    rle = dict(segmentation)
    if isinstance(rle['counts'], str):
        rle['counts'] = rle['counts'].encode('ascii')
    return rle


def _box_and_area(
    ann: dict, where: str, size: Tuple[float, float]
) -> Tuple[float, float, float]:
    """``(w, h, mask area)`` of an annotation in original pixels: its
    ``bbox`` and ``area``, or those of its ``segmentation`` where absent."""
    segmentation = ann.get('segmentation')
    bbox, area = ann.get('bbox'), ann.get('area')
    if area is None and not segmentation:
        raise GridFitError(
            f'{where} has neither "area" nor "segmentation": the mask '
            'area is needed'
        )
    if not bbox and not segmentation:
        raise GridFitError(
            f'{where} has neither "bbox" nor "segmentation": the box is needed'
        )
    if bbox and area is not None:
        return float(bbox[2]), float(bbox[3]), float(area)
    from pycocotools import mask as mask_utils

    rle = segmentation_rle(segmentation, *size[::-1])
    if not bbox:
        bbox = mask_utils.toBbox(rle).tolist()
    if area is None:
        area = mask_utils.area(rle)
    return float(bbox[2]), float(bbox[3]), float(area)


def read_instance_sizes(ann_file: str, resize: TrainResize) -> InstanceSizes:
    """The instances of a COCO annotation file after ``resize``.

    Raises:
        GridFitError: a missing or unreadable file, an image without its
            size, an annotation of an unknown image or without the fields
            that give its box and mask area (named by index and id).
    """
    coco = _load_coco(ann_file)
    sizes = _image_sizes(coco, ann_file)
    factors = {key: resize.factors(*size) for key, size in sizes.items()}
    scales: List[float] = []
    areas: List[float] = []
    num_empty = 0
    for index, ann in enumerate(coco['annotations']):
        where = f'{ann_file}: annotations[{index}] (id {ann.get("id")})'
        if ann.get('iscrowd', 0):
            continue
        if ann.get('image_id') not in sizes:
            raise GridFitError(
                f'{where} has image_id {ann.get("image_id")!r}, which '
                '"images" does not list'
            )
        width, height, area = _box_and_area(ann, where, sizes[ann['image_id']])
        fx, fy = factors[ann['image_id']]
        if width <= 0 or height <= 0 or area <= 0:
            num_empty += 1
            continue
        scales.append(math.sqrt(width * fx * height * fy))
        areas.append(area * fx * fy)
    sides = [
        max(w * fx, h * fy) for (w, h), (fx, fy) in _pairs(sizes, factors)
    ]
    if not scales:
        raise GridFitError(
            f'{ann_file}: no instance with a box and a mask area (of '
            f'{len(coco["annotations"])} annotations)'
        )
    return InstanceSizes(
        np.asarray(scales), np.asarray(areas), np.asarray(sides), num_empty
    )


def _pairs(sizes: dict, factors: dict) -> Iterator[tuple]:
    for key, size in sizes.items():
        yield size, factors[key]
