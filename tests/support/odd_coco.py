"""A small COCO-format set of odd but valid images, for robustness tests.

The images (ids 1 to 6, in :data:`ODD_IMAGES` order):

- ``no_objects``: 64x64, no annotation;
- ``empty_and_border_masks``: 96x96; a sliver polygon 0.2 px wide whose box
  is 1 px wide (kept by ``CocoDataset``, rasterized to zero pixels), an
  object crossing the right border and one crossing the top-left corner
  (polygons and boxes partly outside the image), and an ordinary one;
- ``objects_300``: 256x256 with 300 objects, every 25th an RLE ellipse, the
  others rectangles and triangles;
- ``tiny_32x32``: 32x32, one object;
- ``sides_75x100``: 75 rows, 100 columns, one RLE and one polygon object;
- ``grayscale``: a single-channel 70x90 PNG, one object.
"""

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from mmsolo.datasets.coco_masks import encode_rle, segmentation_to_mask

CLASSES = ('circle', 'square', 'triangle')
ODD_IMAGES = (
    'no_objects',
    'empty_and_border_masks',
    'objects_300',
    'tiny_32x32',
    'sides_75x100',
    'grayscale',
)
# No Resize: a model sees every image at its own size.
NO_RESIZE_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]


@dataclass
class OddCoco:
    """The written set.

    Attributes:
        root (str): Directory holding ``images/`` and ``annotations.json``.
        ann_file (str): Path of the COCO annotation file.
        data (dict): The annotation file's content.
    """

    root: str
    ann_file: str
    data: dict

    def image_id(self, name: str) -> int:
        """COCO id of the image called ``name`` in :data:`ODD_IMAGES`."""
        return ODD_IMAGES.index(name) + 1

    def annotations(self, name: str) -> List[dict]:
        """Annotations of the image called ``name``."""
        image_id = self.image_id(name)
        return [
            ann
            for ann in self.data['annotations']
            if ann['image_id'] == image_id
        ]


def polygon_annotation(
    polygon: Sequence[float],
    category_id: int,
    bbox: Optional[Sequence[float]] = None,
) -> dict:
    """A COCO annotation of one polygon ``[x0, y0, x1, y1, ...]``; its box
    is the polygon's extent (not clipped to the image) unless ``bbox``
    (x, y, w, h) is given, its area the polygon's geometric area."""
    xs, ys = np.array(polygon[0::2]), np.array(polygon[1::2])
    if bbox is None:
        bbox = [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
    area = 0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))
    return dict(
        segmentation=[[float(v) for v in polygon]],
        bbox=[float(v) for v in bbox],
        area=float(area),
        category_id=category_id,
        iscrowd=0,
    )


def rle_annotation(mask: np.ndarray, category_id: int) -> dict:
    """A COCO annotation of a (H, W) bool mask stored as compressed RLE."""
    rle = encode_rle(mask)
    coded = dict(rle, counts=rle['counts'].encode('ascii'))
    bbox = mask_utils.toBbox(coded).tolist()
    area = float(mask_utils.area(coded))
    return dict(
        segmentation=rle,
        bbox=bbox,
        area=area,
        category_id=category_id,
        iscrowd=0,
    )


def ellipse_mask(
    shape: Tuple[int, int], center: Tuple[int, int], axes: Tuple[int, int]
) -> np.ndarray:
    """(H, W) bool mask of an axis-aligned ellipse; center and axes (x, y)
    in pixels."""
    canvas = np.zeros(shape, dtype=np.uint8)
    cv2.ellipse(canvas, center, axes, 0, 0, 360, 1, -1)
    return canvas.astype(bool)


def rectangle(x: float, y: float, w: float, h: float) -> List[float]:
    """Polygon of an axis-aligned rectangle."""
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def objects_300(rng: np.random.Generator, size: int) -> List[dict]:
    """300 annotations of random small objects in a ``size`` x ``size``
    image: every 25th an RLE ellipse, the others rectangles or
    triangles."""
    anns = []
    for index in range(300):
        category_id = int(rng.integers(1, len(CLASSES) + 1))
        w, h = rng.uniform(6, 40, size=2)
        x, y = rng.uniform(0, size - w), rng.uniform(0, size - h)
        if index % 25 == 0:
            center = (int(x + w / 2), int(y + h / 2))
            mask = ellipse_mask((size, size), center, (int(w / 2), int(h / 2)))
            anns.append(rle_annotation(mask, category_id))
        elif index % 2:
            anns.append(polygon_annotation(rectangle(x, y, w, h), category_id))
        else:
            anns.append(
                polygon_annotation(
                    [x, y + h, x + w / 2, y, x + w, y + h], category_id
                )
            )
    return anns


def odd_image_annotations(
    rng: np.random.Generator,
) -> Dict[str, Tuple[Tuple[int, int], List[dict]]]:
    """Per odd image, its (height, width) and annotations."""
    return dict(
        no_objects=((64, 64), []),
        empty_and_border_masks=(
            (96, 96),
            [
                # 0.2 px wide: no pixel centre inside, so an all-zero mask; its
                # 1 px wide box passes CocoDataset's w >= 1, h >= 1 filter.
                polygon_annotation(
                    [20.2, 5.0, 20.4, 5.0, 20.4, 40.0, 20.2, 40.0],
                    1,
                    bbox=[20.0, 5.0, 1.0, 35.0],
                ),
                polygon_annotation(rectangle(70.0, 20.0, 50.0, 40.0), 2),
                polygon_annotation(rectangle(-10.0, -10.0, 40.0, 40.0), 3),
                polygon_annotation([40.0, 90.0, 60.0, 50.0, 80.0, 90.0], 3),
            ],
        ),
        objects_300=((256, 256), objects_300(rng, 256)),
        tiny_32x32=(
            (32, 32),
            [polygon_annotation(rectangle(6.0, 8.0, 18.0, 16.0), 2)],
        ),
        sides_75x100=(
            (75, 100),
            [
                rle_annotation(ellipse_mask((75, 100), (40, 30), (25, 18)), 1),
                polygon_annotation([60.0, 70.0, 80.0, 40.0, 98.0, 70.0], 3),
            ],
        ),
        grayscale=(
            (70, 90),
            [polygon_annotation(rectangle(20.0, 15.0, 40.0, 35.0), 2)],
        ),
    )


def draw_image(
    rng: np.random.Generator,
    height: int,
    width: int,
    anns: List[dict],
    grayscale: bool,
) -> np.ndarray:
    """Noise with each annotated object painted in a flat grey level;
    (H, W) if ``grayscale``, else (H, W, 3) BGR."""
    image = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    for ann in anns:
        mask = segmentation_to_mask(ann['segmentation'], height, width)
        image[mask] = rng.integers(100, 256)
    return image[..., 0] if grayscale else image


def write_odd_coco(root: str, seed: int = 0) -> OddCoco:
    """Write the odd images to ``root/images/`` and their COCO annotations
    to ``root/annotations.json``."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, 'images'), exist_ok=True)
    images, annotations = [], []
    for name, ((height, width), anns) in odd_image_annotations(rng).items():
        image_id = ODD_IMAGES.index(name) + 1
        file_name = f'{name}.png'
        cv2.imwrite(
            os.path.join(root, 'images', file_name),
            draw_image(rng, height, width, anns, name == 'grayscale'),
        )
        images.append(
            dict(id=image_id, file_name=file_name, height=height, width=width)
        )
        for ann in anns:
            annotations.append(
                dict(ann, id=len(annotations) + 1, image_id=image_id)
            )
    data = dict(
        images=images,
        annotations=annotations,
        categories=[
            dict(id=index + 1, name=name) for index, name in enumerate(CLASSES)
        ],
    )
    ann_file = os.path.join(root, 'annotations.json')
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    return OddCoco(root=root, ann_file=ann_file, data=data)
