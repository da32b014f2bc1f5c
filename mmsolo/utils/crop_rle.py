"""COCO RLE of masks held as crops: each crop pasted at its box into one
reused (H, W) plane, encoded by pycocotools, and cleared, so encoding n
masks of an image never holds more than that plane (no (n, H, W) array,
no full-size copy per mask)."""

from typing import Iterable, List, Tuple

import numpy as np
from pycocotools import mask as mask_utils

# (y0, x0, y1, x1) of a region of the image, ends exclusive.
Box = Tuple[int, int, int, int]


def encode_crops(
    crops: Iterable[Tuple[Box, np.ndarray]], image_shape: Tuple[int, int]
) -> List[dict]:
    """COCO RLE (``{'size': [H, W], 'counts': bytes}``, as pycocotools
    encodes an (H, W) mask) of each ``(box, crop)``'s mask on an image of
    ``image_shape``: the crop (bool or 0/1, the box's size) at the box,
    zeros elsewhere."""
    plane = np.zeros((*image_shape, 1), np.uint8, order='F')
    encoded = []
    for (y0, x0, y1, x1), crop in crops:
        region = plane[y0:y1, x0:x1, 0]
        region[...] = crop
        encoded.append(mask_utils.encode(plane)[0])
        region[...] = 0
    return encoded
