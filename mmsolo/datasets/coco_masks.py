"""COCO-format masks: compressed RLE to and from (H, W) masks, and tight
boxes."""

from typing import List, Union

import numpy as np
from pycocotools import mask as mask_utils


def encode_rle(mask: np.ndarray) -> dict:
    """Compressed RLE of an (H, W) bool or 0/1 mask, ``counts`` as an ASCII
    string (as stored in JSON)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def segmentation_to_mask(
    segmentation: Union[list, dict], height: int, width: int
) -> np.ndarray:
    """(H, W) bool mask of a COCO segmentation: a polygon list
    ``[[x0, y0, x1, y1, ...], ...]`` or a compressed RLE (``counts`` a
    string or bytes), as the COCO and LVIS APIs rasterize it."""
    if isinstance(segmentation, list):
        rle = mask_utils.merge(
            mask_utils.frPyObjects(segmentation, height, width)
        )
    else:
        rle = dict(segmentation)
        if isinstance(rle['counts'], str):
            rle['counts'] = rle['counts'].encode('ascii')
    return mask_utils.decode(rle).astype(bool)


def mask_box(mask: np.ndarray) -> List[int]:
    """Tight COCO box ``[x, y, w, h]`` of a non-empty (H, W) bool mask."""
    xs = np.flatnonzero(mask.any(0))
    ys = np.flatnonzero(mask.any(1))
    return [
        int(xs[0]),
        int(ys[0]),
        int(xs[-1] + 1 - xs[0]),
        int(ys[-1] + 1 - ys[0]),
    ]
