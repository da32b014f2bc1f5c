"""labelme JSON files (one per image) to one COCO instance file.

A labelme file holds ``imagePath`` (the image, relative to the JSON file),
``imageHeight``, ``imageWidth`` and ``shapes``, each with a ``label``, a
``shape_type`` and ``points`` ``[[x, y], ...]`` in pixels. Shapes of type
``polygon`` (at least 3 points), ``rectangle`` (2 opposite corners) and
``circle`` (the centre and a point on the circle) become polygons; shapes
with the same ``label`` and the same non-null ``group_id`` are one
instance of several polygons (an object split by an occluder), as in
labelme's own COCO export.
"""

import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from .common import (
    CocoBuilder,
    ConversionError,
    common_folder,
    image_size,
    is_number,
    read_json,
    relative_file_name,
)
from .polygons import circle_polygon, rectangle_polygon

SHAPE_POINTS = dict(polygon=3, rectangle=2, circle=2)


def labelme_to_coco(
    json_files: Sequence[str],
    classes: Optional[Sequence[str]] = None,
    classes_source: str = '',
    img_prefix: Optional[str] = None,
) -> Tuple[dict, List[str]]:
    """The COCO instance file of the labelme files ``json_files``, and the
    warnings met (instances that cover no pixel).

    Args:
        json_files: labelme JSON files, one per image.
        classes: fixed class names (ids 1..N in this order); ``None``: the
            labels found, sorted.
        classes_source: the file ``classes`` come from, for messages.
        img_prefix: the folder the images' ``file_name`` is relative to;
            ``None``: the deepest folder holding every JSON file
            (:func:`~.common.common_folder`).

    Raises:
        ConversionError: naming the file and the field at fault; nothing
            is returned.
    """
    builder = CocoBuilder(classes, classes_source)
    records = [_read_file(path, builder) for path in json_files]
    _check_one_file_per_image(records)
    if img_prefix is None:
        img_prefix = common_folder(json_files)
    for _, image_path, (height, width), instances in records:
        image_id = builder.add_image(
            relative_file_name(image_path, img_prefix), height, width
        )
        for name, polygons, where in instances:
            builder.add_instance(image_id, name, polygons, where)
    return builder.to_dict(), builder.warnings


def _read_file(path: str, builder: CocoBuilder) -> tuple:
    """``(path, image path, (height, width), [(label, polygons, where)])``
    of one labelme file, checked."""
    content = read_json(path)
    if not isinstance(content, dict) or not isinstance(
        content.get('shapes'), list
    ):
        raise ConversionError(
            f'{path}: no "shapes" list; not a labelme file (labelme writes '
            '"shapes", "imagePath", "imageHeight" and "imageWidth")'
        )
    size = _declared_size(content, path)
    image_path = _image_path(content, path)
    actual = image_size(image_path)
    if actual != size:
        raise ConversionError(
            f'{path}: "imageHeight" x "imageWidth" is {size[0]} x {size[1]}, '
            f'but the image {image_path} is {actual[0]} x {actual[1]}'
        )
    return path, image_path, size, _instances(content['shapes'], path, builder)


def _declared_size(content: dict, path: str) -> Tuple[int, int]:
    size = []
    for key in ('imageHeight', 'imageWidth'):
        value = content.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConversionError(
                f'{path}: "{key}" is {value!r}, not a positive integer'
            )
        size.append(value)
    return size[0], size[1]


def _image_path(content: dict, path: str) -> str:
    """The image file of a labelme file: ``imagePath`` relative to the JSON
    file (Windows separators allowed), or, if that is missing, the file of
    that name beside the JSON file."""
    image_path = content.get('imagePath')
    if not isinstance(image_path, str) or not image_path.strip():
        raise ConversionError(
            f'{path}: "imagePath" is {image_path!r}, not the path of the image'
        )
    folder = osp.dirname(path)
    given = osp.normpath(osp.join(folder, image_path.replace('\\', '/')))
    beside = osp.join(folder, osp.basename(image_path.replace('\\', '/')))
    for candidate in (given, beside):
        if osp.isfile(candidate):
            return candidate
    raise ConversionError(
        f'{path}: "imagePath" {image_path!r}: no such image ({given})'
    )


def _instances(shapes: list, path: str, builder: CocoBuilder) -> list:
    """``[(label, polygons, where)]``: one per shape, shapes of one
    ``group_id`` and label merged (in the order of their first shape)."""
    instances: List[tuple] = []
    groups: Dict[tuple, int] = {}
    for index, shape in enumerate(shapes):
        where = f'{path}: shapes[{index}]'
        label, polygon, group_id = _shape(shape, where)
        builder.check_class(label, f'{where} "label"')
        where = f'{where} (label {label!r})'
        if group_id is None:
            instances.append((label, [polygon], where))
            continue
        key = (label, group_id)
        if key in groups:
            instances[groups[key]][1].append(polygon)
        else:
            groups[key] = len(instances)
            instances.append((label, [polygon], where))
    return instances


def _shape(shape, where: str) -> tuple:
    """``(label, polygon, group_id)`` of one labelme shape, checked."""
    if not isinstance(shape, dict):
        raise ConversionError(
            f'{where} is a {type(shape).__name__}, not an object'
        )
    label = shape.get('label')
    if not isinstance(label, str) or not label.strip():
        raise ConversionError(f'{where}: "label" is {label!r}, not a name')
    where = f'{where} (label {label.strip()!r})'
    shape_type = shape.get('shape_type') or 'polygon'
    if shape_type not in SHAPE_POINTS:
        raise ConversionError(
            f'{where}: "shape_type" is {shape_type!r}; only '
            f'{", ".join(SHAPE_POINTS)} shapes are instances'
        )
    group_id = shape.get('group_id')
    if group_id is not None and (
        not isinstance(group_id, int) or isinstance(group_id, bool)
    ):
        raise ConversionError(
            f'{where}: "group_id" is {group_id!r}, not an integer or null'
        )
    points = _points(shape, where, shape_type)
    if shape_type == 'rectangle':
        polygon = rectangle_polygon(points)
    elif shape_type == 'circle':
        polygon = circle_polygon(points)
    else:
        polygon = [float(v) for point in points for v in point]
    return label.strip(), polygon, group_id


def _points(shape: dict, where: str, shape_type: str) -> list:
    if 'points' not in shape:
        raise ConversionError(f'{where}: no "points"')
    points = shape['points']
    if not isinstance(points, list) or not all(
        isinstance(p, (list, tuple))
        and len(p) == 2
        and all(is_number(v) for v in p)
        for p in points
    ):
        raise ConversionError(
            f'{where}: "points" is {_short(points)}, not a list of [x, y] '
            'pairs of numbers'
        )
    needed = SHAPE_POINTS[shape_type]
    if shape_type == 'polygon' and len(points) < needed:
        raise ConversionError(
            f'{where}: "points" has {len(points)} point(s); a polygon needs '
            'at least 3'
        )
    if shape_type != 'polygon' and len(points) != needed:
        raise ConversionError(
            f'{where}: "points" has {len(points)} point(s); a {shape_type} '
            f'has {needed}'
        )
    return points


def _check_one_file_per_image(records: list) -> None:
    seen: Dict[str, str] = {}
    for path, image_path, _, _ in records:
        key = osp.realpath(image_path)
        if key in seen:
            raise ConversionError(
                f'{path}: "imagePath" names {image_path}, which '
                f'{seen[key]} annotates too; one labelme file per image'
            )
        seen[key] = path


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'
