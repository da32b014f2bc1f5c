"""Boxes from masks for annotations whose ``bbox`` mmdet would drop.

SOLOv2 learns from masks alone: the grid cell, the scale range and the
centre region of an instance come from its mask (its box only gives the
size that picks the level). mmdet's ``CocoDataset.parse_data_info`` drops an
instance whose ``bbox`` is narrower or lower than a pixel, lies outside the
image, or whose ``area`` is not positive, even when its polygon or RLE has
pixels. :func:`mask_first_annotations` gives such an annotation the tight
box and pixel area of its mask, and leaves out the annotations whose mask
has no pixel at all (which no model can learn from).
"""

from typing import List, Tuple

from pycocotools import mask as mask_utils

from mmsolo.utils.instance_scales import segmentation_rle


def mmdet_drops_box(ann: dict, height: int, width: int) -> bool:
    """Whether mmdet's ``parse_data_info`` drops ``ann`` for its box or area
    (``bbox`` [x, y, w, h] with ``w`` or ``h`` under 1, outside the image,
    or ``area`` not positive)."""
    x1, y1, w, h = ann['bbox']
    inter_w = max(0, min(x1 + w, width) - max(x1, 0))
    inter_h = max(0, min(y1 + h, height) - max(y1, 0))
    return inter_w * inter_h == 0 or ann['area'] <= 0 or w < 1 or h < 1


def mask_first_annotations(
    anns: List[dict], height: int, width: int
) -> Tuple[List[dict], List[dict], List[dict]]:
    """The annotations of one image as SOLOv2 can train on them.

    Args:
        anns (list[dict]): COCO/LVIS annotations (``bbox``, ``area``,
            ``segmentation``) of an image of ``height`` x ``width`` pixels.

    Returns:
        tuple[list[dict], list[dict], list[dict]]: ``(kept, reboxed,
        empty)``: the annotations to parse (those mmdet would drop for
        their box replaced by copies with the tight ``bbox`` and the pixel
        ``area`` of their mask), the replaced originals, and the dropped
        ones whose segmentation has no pixel. Annotations without a
        segmentation or with a box mmdet keeps are kept unchanged.
    """
    kept, reboxed, empty = [], [], []
    for ann in anns:
        if not ann.get('segmentation') or not mmdet_drops_box(
            ann, height, width
        ):
            kept.append(ann)
            continue
        rle = segmentation_rle(ann['segmentation'], height, width)
        area = int(mask_utils.area(rle))
        if area == 0:
            empty.append(ann)
            continue
        kept.append(
            dict(
                ann, bbox=[float(v) for v in mask_utils.toBbox(rle)], area=area
            )
        )
        reboxed.append(ann)
    return kept, reboxed, empty
