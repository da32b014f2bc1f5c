"""YOLO segmentation labels to one COCO instance file.

Ultralytics' layout: an images folder and a labels folder mirroring it,
``labels/<path of the image without its extension>.txt`` per image, one
instance a line: ``class x1 y1 x2 y2 ...`` (a polygon of at least 3 points)
or ``class cx cy w h`` (a box, YOLO's detection format), coordinates
normalised by the image's width and height to [0, 1], class ids counting
from 0 into the names list. An image without a label file, or with an
empty one, has no instance (a background image).
"""

import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmsolo.utils.messages import abbreviated
from .common import (
    IMAGE_EXTENSIONS,
    CocoBuilder,
    ConversionError,
    find_files,
    image_size,
    relative_file_name,
)
from .polygons import rectangle_polygon

MAX_ORPHANS_SHOWN = 5


def yolo_to_coco(
    img_dir: str,
    label_dir: str,
    names: Sequence[str],
    names_source: str = '',
    img_prefix: Optional[str] = None,
) -> Tuple[dict, List[str]]:
    """The COCO instance file of the images under ``img_dir`` and their
    label files under ``label_dir``, and the warnings met (label files
    without an image, instances that cover no pixel).

    Args:
        img_dir: the images (searched recursively).
        label_dir: the label files, at the images' relative paths.
        names: the class names, YOLO class id i being ``names[i]``
            (category id i + 1).
        names_source: the file ``names`` come from, for messages.
        img_prefix: the folder the ``file_name``s are relative to
            (default ``img_dir``).

    Raises:
        ConversionError: naming the file, the line and the field at fault;
            nothing is returned.
    """
    for folder in (img_dir, label_dir):
        if not osp.isdir(folder):
            raise ConversionError(f'{folder}: no such folder')
    builder = CocoBuilder(list(names), names_source)
    used = set()
    for image_path in find_files([img_dir], IMAGE_EXTENSIONS):
        height, width = image_size(image_path)
        image_id = builder.add_image(
            relative_file_name(image_path, img_prefix or img_dir),
            height,
            width,
        )
        stem = osp.splitext(osp.relpath(image_path, img_dir))[0]
        label_path = osp.join(label_dir, stem + '.txt')
        used.add(osp.abspath(label_path))
        if not osp.isfile(label_path):
            continue
        for line_number, class_id, polygon in read_yolo_labels(
            label_path, len(names), names_source
        ):
            builder.add_instance(
                image_id,
                names[class_id],
                [_to_pixels(polygon, width, height)],
                f'{label_path}, line {line_number}',
            )
    orphans = [
        path
        for path in find_files([label_dir], ('.txt',))
        if osp.abspath(path) not in used
    ]
    if orphans:
        builder.warnings.append(_orphans_warning(orphans, img_dir))
    return builder.to_dict(), builder.warnings


def read_yolo_labels(
    path: str, num_classes: int, names_source: str = ''
) -> List[Tuple[int, int, List[float]]]:
    """``[(line number, class id, normalised polygon)]`` of a YOLO label
    file; a box line ``class cx cy w h`` gives its 4-corner polygon.

    Raises:
        ConversionError: naming ``path``, the line and the field: a value
            that is not a number, a class id that is not one of the
            ``num_classes`` names, an odd number of coordinates, a polygon
            of fewer than 3 points, a coordinate outside [0, 1].
    """
    labels = []
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ConversionError(f'{path}: cannot read it ({error})') from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f'{path}, line {number}'
        values = _numbers(line.split(), where)
        class_id = _class_id(values[0], num_classes, names_source, where)
        coords = values[1:]
        if len(coords) % 2:
            raise ConversionError(
                f'{where}: {len(coords)} coordinates, an odd number; a line '
                'is "class x1 y1 x2 y2 ..." (or "class cx cy w h")'
            )
        _check_normalised(coords, where)
        if len(coords) == 4:
            cx, cy, w, h = coords
            coords = rectangle_polygon(
                [[cx - w / 2, cy - h / 2], [cx + w / 2, cy + h / 2]]
            )
        elif len(coords) < 6:
            raise ConversionError(
                f'{where}: a polygon of {len(coords) // 2} point(s); it '
                'needs at least 3'
            )
        labels.append((number, class_id, coords))
    return labels


def _numbers(tokens: List[str], where: str) -> List[float]:
    values = []
    for position, token in enumerate(tokens):
        try:
            value = float(token)
        except ValueError:
            value = None
        if value is None or value != value:
            field = 'class id' if position == 0 else f'value {position + 1}'
            raise ConversionError(
                f'{where}: {field} {token!r} is not a number'
            )
        values.append(value)
    return values


def _class_id(
    value: float, num_classes: int, names_source: str, where: str
) -> int:
    if value != int(value) or not 0 <= value < num_classes:
        raise ConversionError(
            f'{where}: class id {value:g} is not one of the {num_classes} '
            f'classes of {names_source or "the names list"} (ids 0 to '
            f'{num_classes - 1})'
        )
    return int(value)


def _check_normalised(coords: List[float], where: str) -> None:
    for index, value in enumerate(coords):
        if not 0.0 <= value <= 1.0:
            axis = 'xy'[index % 2]
            raise ConversionError(
                f'{where}: coordinate {axis}{index // 2 + 1} = {value:g} is '
                'outside [0, 1] (YOLO coordinates are normalised by the '
                'image width and height)'
            )


def _to_pixels(polygon: List[float], width: int, height: int) -> List[float]:
    return [
        v * (width if index % 2 == 0 else height)
        for index, v in enumerate(polygon)
    ]


def _orphans_warning(orphans: List[str], img_dir: str) -> str:
    return (
        f'label file(s) without an image in {img_dir}, not converted: '
        f'{abbreviated(orphans, MAX_ORPHANS_SHOWN)}'
    )
