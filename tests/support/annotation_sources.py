"""Small annotation sets in other formats, drawn from known polygons, for
the tests of the converters into COCO (``tools/dataset_converters/``).

:data:`SOURCE_IMAGES` lists the images: their relative path, size and
instances (class name and polygons in pixels, COCO's frame). One image is
not square, one is in a subfolder and one has no instance. The labelme set
adds a rectangle, a circle and an instance of two polygons (a
``group_id``). The polygons' vertices are whole pixels, which survive the
YOLO set's normalising and the converter's scaling back to pixels (the
last bit aside, which pycocotools' rasterising does not see).
"""

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import yaml

CLASSES = ('cat', 'dog')


@dataclass
class SourceInstance:
    """One instance: its class name and its polygons
    ``[[x1, y1, x2, y2, ...], ...]`` in pixels."""

    label: str
    polygons: List[List[float]]


@dataclass
class SourceImage:
    """One image: path relative to the set's image folder, (height,
    width), instances."""

    file_name: str
    size: Tuple[int, int]
    instances: List[SourceInstance]


SOURCE_IMAGES = (
    SourceImage(
        'a.png',
        (64, 96),
        [
            SourceInstance('dog', [[8, 8, 40, 12, 20, 50]]),
            SourceInstance('cat', [[50, 10, 90, 10, 90, 40, 60, 56]]),
        ],
    ),
    SourceImage(
        'sub/b.png',
        (80, 48),
        [SourceInstance('cat', [[4, 60, 24, 40, 44, 60, 34, 76, 14, 76]])],
    ),
    SourceImage('empty.png', (32, 64), []),
)


def draw_image(path: str, size: Tuple[int, int], polygons) -> None:
    """A grey image of ``size`` with ``polygons`` filled white."""
    image = np.full((*size, 3), 90, np.uint8)
    for polygon in polygons:
        points = np.round(np.reshape(polygon, (-1, 2))).astype(np.int32)
        cv2.fillPoly(image, [points], (255, 255, 255))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, image)


def labelme_shape(label: str, points, shape_type='polygon', group_id=None):
    """A labelme shape record."""
    return dict(
        label=label,
        points=[list(p) for p in points],
        group_id=group_id,
        shape_type=shape_type,
        flags={},
    )


def polygon_points(polygon: Sequence[float]) -> List[List[float]]:
    return np.reshape(polygon, (-1, 2)).tolist()


# labelme extras on a.png: a rectangle (its 4-corner polygon is known), a
# circle (checked against a drawn disk) and a dog of two polygons.
RECTANGLE = ('cat', [[70, 44], [60, 62]], [60, 44, 70, 44, 70, 62, 60, 62])
CIRCLE = ('dog', (30, 40), 8)  # label, centre (x, y), radius
GROUP = ('dog', [[2, 2, 6, 2, 6, 6], [2, 58, 10, 58, 2, 62]])


def write_labelme_set(root: str) -> Dict[str, List[dict]]:
    """Images and labelme files (``<image>.json`` beside each image, as
    labelme saves them) under ``root``; returns the shapes written per
    image file name."""
    written = {}
    for source in SOURCE_IMAGES:
        image_path = os.path.join(root, source.file_name)
        polygons = [p for inst in source.instances for p in inst.polygons]
        draw_image(image_path, source.size, polygons)
        shapes = [
            labelme_shape(inst.label, polygon_points(inst.polygons[0]))
            for inst in source.instances
        ]
        if source.file_name == 'a.png':
            shapes += labelme_extras()
        content = dict(
            version='5.4.1',
            flags={},
            shapes=shapes,
            imagePath=os.path.basename(source.file_name),
            imageData=None,
            imageHeight=source.size[0],
            imageWidth=source.size[1],
        )
        with open(os.path.splitext(image_path)[0] + '.json', 'w') as f:
            json.dump(content, f)
        written[source.file_name] = shapes
    return written


def labelme_extras() -> List[dict]:
    """The rectangle, the circle and the two-polygon dog of a.png."""
    label, corners, _ = RECTANGLE
    circle_label, (cx, cy), radius = CIRCLE
    group_label, group = GROUP
    return [
        labelme_shape(label, corners, 'rectangle'),
        labelme_shape(circle_label, [[cx, cy], [cx + radius, cy]], 'circle'),
        *(
            labelme_shape(group_label, polygon_points(p), group_id=7)
            for p in group
        ),
    ]


def write_yolo_set(root: str) -> str:
    """``root/images/``, ``root/labels/`` (Ultralytics' layout; the empty
    image has no label file) and ``root/data.yaml`` (``names``); returns
    the path of ``data.yaml``."""
    for source in SOURCE_IMAGES:
        polygons = [p for inst in source.instances for p in inst.polygons]
        draw_image(
            os.path.join(root, 'images', source.file_name),
            source.size,
            polygons,
        )
        if not source.instances:
            continue
        height, width = source.size
        lines = []
        for inst in source.instances:
            xy = np.reshape(inst.polygons[0], (-1, 2)) / [width, height]
            values = ' '.join(repr(float(v)) for v in xy.ravel())
            lines.append(f'{CLASSES.index(inst.label)} {values}')
        label_path = os.path.join(
            root, 'labels', os.path.splitext(source.file_name)[0] + '.txt'
        )
        os.makedirs(os.path.dirname(label_path), exist_ok=True)
        with open(label_path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
    data_yaml = os.path.join(root, 'data.yaml')
    with open(data_yaml, 'w') as f:
        yaml.safe_dump(
            dict(path=root, train='images', names=dict(enumerate(CLASSES))),
            f,
        )
    return data_yaml
