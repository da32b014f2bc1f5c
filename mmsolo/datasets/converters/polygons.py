"""COCO polygons: their rasterised area and box, the polygons of labelme's
rectangles and circles, and the outer polygons of a binary mask.

Coordinates are COCO's: pixel ``(x, y)`` covers ``[x, x + 1) x [y, y + 1)``
and pycocotools rasterises a polygon to the pixels whose centre it holds.
"""

import math
from typing import List, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

# A circle's polygon has its vertices on the circle and departs from it by
# at most this many pixels between two vertices (its sagitta).
CIRCLE_MAX_SAGITTA = 0.1
CIRCLE_MIN_VERTICES = 16


def polygons_to_rle(
    polygons: Sequence[Sequence[float]], height: int, width: int
) -> dict:
    """The compressed RLE (``counts`` bytes) of the union of ``polygons``
    (each ``[x1, y1, x2, y2, ...]``, at least 3 points) rasterised by
    pycocotools on an image of ``height`` x ``width``."""
    rles = mask_utils.frPyObjects([list(p) for p in polygons], height, width)
    return mask_utils.merge(rles)


def polygons_area_and_box(
    polygons: Sequence[Sequence[float]], height: int, width: int
) -> Tuple[float, List[float]]:
    """The area (pixels) and tight COCO box ``[x, y, w, h]`` of the mask of
    ``polygons`` (:func:`polygons_to_rle`): what COCO's ``area`` and
    ``bbox`` hold. A mask without pixels gives ``(0.0, [0, 0, 0, 0])``."""
    rle = polygons_to_rle(polygons, height, width)
    area = float(mask_utils.area(rle))
    box = [float(v) for v in mask_utils.toBbox(rle)]
    return area, box


def rectangle_polygon(points: Sequence[Sequence[float]]) -> List[float]:
    """The 4-corner polygon of an axis-aligned rectangle given by two
    opposite corners ``[[x1, y1], [x2, y2]]`` (labelme's rectangle, in any
    order)."""
    (xa, ya), (xb, yb) = [[float(v) for v in point] for point in points]
    x1, x2 = min(xa, xb), max(xa, xb)
    y1, y2 = min(ya, yb), max(ya, yb)
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def circle_polygon(points: Sequence[Sequence[float]]) -> List[float]:
    """A polygon inscribed in the circle of centre ``points[0]`` through
    ``points[1]`` (labelme's circle): enough vertices that it stays within
    :data:`CIRCLE_MAX_SAGITTA` px of the circle, at least
    :data:`CIRCLE_MIN_VERTICES`."""
    (cx, cy), (px, py) = points
    radius = math.hypot(px - cx, py - cy)
    count = CIRCLE_MIN_VERTICES
    if radius > CIRCLE_MAX_SAGITTA:
        step = math.acos(1 - CIRCLE_MAX_SAGITTA / radius)
        count = max(count, math.ceil(math.pi / step))
    angles = np.arange(count) * (2 * math.pi / count)
    xy = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])
    return xy.T.ravel().tolist()


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """The outer contours of an (H, W) bool or 0/1 mask as COCO polygons
    ``[[x1, y1, x2, y2, ...], ...]``, largest first; ``[]`` for an empty
    mask.

    Each polygon runs along the pixels' edges (vertices on a quarter-pixel
    grid), so that pycocotools rasterises the polygons back to exactly the
    mask with its holes filled: holes are not traced. Every connected part
    (8-connectivity, a single pixel included) gives a polygon of at least
    4 points. OpenCV's ``findContours`` traces the mask upsampled 2x, whose
    contour through the centres of its boundary sub-pixels lies a quarter
    pixel inside the original pixels' edges.
    """
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    if not len(rows):
        return []
    crop = np.asarray(
        mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], dtype=np.uint8
    )
    fine = np.ascontiguousarray(np.repeat(np.repeat(crop, 2, 0), 2, 1))
    contours, _ = cv2.findContours(
        fine, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    contours = sorted(contours, key=cv2.contourArea, reverse=True)
    offset = np.array([cols[0], rows[0]], dtype=np.float64)
    return [
        ((contour.reshape(-1, 2) + 0.5) / 2 + offset).ravel().tolist()
        for contour in contours
    ]
