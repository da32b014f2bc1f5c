"""``tools/demo/image_demo.py --polygons``: beside each RLE mask, its outer
contours as COCO polygons, which rasterise back to the mask with its holes
filled (and :func:`mask_to_polygons` itself on known masks)."""

import json
import subprocess

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from support import QUICKSTART

from mmsolo.datasets.converters import mask_to_polygons

HEIGHT, WIDTH = 96, 128
SQUARE = (slice(30, 70), slice(40, 90))  # rows 30..69, columns 40..89


def rasterise(polygons, height=HEIGHT, width=WIDTH) -> np.ndarray:
    """(H, W) bool mask of COCO polygons, as pycocotools draws them."""
    if not polygons:
        return np.zeros((height, width), bool)
    rles = mask_utils.frPyObjects(polygons, height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def holes_filled(mask: np.ndarray) -> np.ndarray:
    """The mask with every background region that does not reach the
    border (4-connected, as holes of an 8-connected mask are) filled."""
    outside = np.ascontiguousarray(np.pad(mask.astype(np.uint8), 1))
    cv2.floodFill(outside, None, (0, 0), 2)
    return (outside != 2)[1:-1, 1:-1]


def test_image_demo_writes_polygons_of_the_masks(tmp_path, repo_root, python):
    """A grey image with a white square; random weights and every
    candidate kept give masks of all kinds: each instance's polygons
    rasterise to its RLE mask with holes filled."""
    image = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    image[SQUARE] = 255
    cv2.imwrite(str(tmp_path / 'square.png'), image)
    done = subprocess.run(
        [
            python,
            'tools/demo/image_demo.py',
            str(tmp_path / 'square.png'),
            QUICKSTART,
            '--out-dir',
            str(tmp_path / 'out'),
            '--polygons',
            '--no-save-vis',
            '--cfg-options',
            'model.test_cfg.score_thr=0.',
            'model.test_cfg.filter_thr=0.',
            'model.test_cfg.max_per_img=5',
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / 'out' / 'preds' / 'square.json') as f:
        result = json.load(f)
    assert len(result['masks']) == len(result['polygons']) == 5
    for rle, polygons in zip(result['masks'], result['polygons']):
        mask = mask_utils.decode(
            dict(size=rle['size'], counts=rle['counts'].encode())
        ).astype(bool)
        assert mask.any()
        assert all(len(p) >= 8 and len(p) % 2 == 0 for p in polygons)
        drawn = rasterise(polygons)
        assert np.array_equal(drawn, holes_filled(mask))


def known_masks() -> dict:
    square = np.zeros((HEIGHT, WIDTH), bool)
    square[SQUARE] = True
    ring = square.copy()
    ring[40:60, 50:80] = False
    parts = np.zeros((HEIGHT, WIDTH), bool)
    parts[5:8, 5:9] = True  # 12 pixels
    parts[50:60, 100:120] = True  # 200 pixels
    parts[90, 0] = True  # a single pixel
    parts[0, WIDTH - 1] = parts[1, WIDTH - 2] = True  # touching diagonally
    return dict(square=square, ring=ring, parts=parts)


@pytest.mark.parametrize('name', ['square', 'ring', 'parts'])
def test_mask_to_polygons_rasterises_back(name):
    mask = known_masks()[name]
    polygons = mask_to_polygons(mask)
    assert np.array_equal(rasterise(polygons), holes_filled(mask))
    if name == 'parts':  # one polygon per part, largest first
        assert len(polygons) == 4
        areas = [rasterise([p]).sum() for p in polygons]
        assert areas == [200, 12, 2, 1]
    else:  # the ring's hole is filled: its one polygon is the square's
        assert len(polygons) == 1


def test_square_polygon_runs_along_its_edges():
    """The square's polygon is its 4 corners, a quarter pixel inside the
    edges of pixels 40..89 x 30..69 (so that pixel centres decide)."""
    (polygon,) = mask_to_polygons(known_masks()['square'])
    corners = sorted(zip(polygon[0::2], polygon[1::2]))
    assert corners == [
        (40.25, 30.25),
        (40.25, 69.75),
        (89.75, 30.25),
        (89.75, 69.75),
    ]
    assert mask_to_polygons(np.zeros((4, 4), bool)) == []
