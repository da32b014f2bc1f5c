"""Checks of a COCO-format annotation file and of the images it names, so
that bad input stops a run before its first step with a message naming the
file, the annotation or image and the key at fault."""

import json
import os.path as osp
from numbers import Number
from typing import Any, Dict, Iterable, List, Mapping, Sequence

import cv2

from mmsolo.utils.messages import abbreviated

# Keys each record needs for instance-segmentation training and evaluation.
REQUIRED_KEYS = {
    'images': ('id', 'file_name', 'height', 'width'),
    'annotations': (
        'id',
        'image_id',
        'category_id',
        'bbox',
        'area',
        'segmentation',
    ),
    'categories': ('id', 'name'),
}
RECORD_NAMES = dict(
    images='image', annotations='annotation', categories='category'
)
POLYGON_HINT = (
    'a polygon list is [[x1, y1, x2, y2, ...], ...]; RLE is '
    '{"size": [height, width], "counts": ...}'
)
MAX_SHOWN = 5


class AnnotationFileError(ValueError):
    """An annotation file that cannot be used as it is."""


class ImageFileError(ValueError):
    """An image named by the annotations that is missing or unreadable."""


def read_coco_json(
    path: str,
    require_annotations: bool = True,
    required_keys: Mapping[str, Sequence[str]] = REQUIRED_KEYS,
) -> Dict[str, Any]:
    """The parsed content of the COCO-format file at ``path``, checked with
    :func:`check_coco_dict` (``required_keys``: the keys of each record).

    Raises:
        AnnotationFileError: the file is not JSON (with the line and column
            of the error) or fails a check.
    """
    try:
        with open(path, 'rb') as f:
            content = json.load(f)
    except json.JSONDecodeError as error:
        raise AnnotationFileError(
            f'{path} is not a JSON file: {error.msg} at line {error.lineno}, '
            f'column {error.colno}'
        ) from error
    except UnicodeDecodeError as error:
        raise AnnotationFileError(
            f'{path} is not a JSON file (not UTF-8 text: {error.reason} at '
            f'byte {error.start})'
        ) from error
    check_coco_dict(content, path, require_annotations, required_keys)
    return content


def check_coco_dict(
    content: Any,
    path: str,
    require_annotations: bool = True,
    required_keys: Mapping[str, Sequence[str]] = REQUIRED_KEYS,
) -> None:
    """Check what an instance-segmentation dataset reads from a COCO file:
    the top-level ``images``, ``annotations`` and ``categories`` lists; the
    keys of every record (``required_keys``, COCO's by default); each
    ``bbox`` four numbers; each ``segmentation`` a polygon list or RLE;
    every image and category an annotation refers to present. Without
    ``require_annotations`` (a test set such as COCO's test-dev image
    info) a file may have no ``annotations``.

    Raises:
        AnnotationFileError: naming ``path``, the record (by ``id`` or
            position) and the key.
    """
    if not isinstance(content, dict):
        raise AnnotationFileError(
            f'{path}: the top level is a {type(content).__name__}, not an '
            'object with "images", "annotations" and "categories"'
        )
    missing = [
        key
        for key in required_keys
        if key not in content and (require_annotations or key != 'annotations')
    ]
    if missing:
        raise AnnotationFileError(
            f'{path} misses the top-level key(s) {missing}; a COCO '
            'instance file has "images", "annotations" and "categories"'
        )
    for section, keys in required_keys.items():
        records = content.get(section, [])
        if not isinstance(records, list):
            raise AnnotationFileError(
                f'{path}: "{section}" is a {type(records).__name__}, not a '
                'list'
            )
        _check_keys(records, section, keys, path)
    image_ids = {image['id'] for image in content['images']}
    category_ids = {category['id'] for category in content['categories']}
    for position, ann in enumerate(content.get('annotations', [])):
        where = (
            f'{path}: annotation {ann["id"]} (the {_nth(position)} in '
            '"annotations")'
        )
        if ann['image_id'] not in image_ids:
            raise AnnotationFileError(
                f'{where} refers to image_id {ann["image_id"]!r}, which is '
                'not in "images"'
            )
        if ann['category_id'] not in category_ids:
            raise AnnotationFileError(
                f'{where} refers to category_id {ann["category_id"]!r}, '
                'which is not in "categories"'
            )
        bbox = ann['bbox']
        if not (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, Number) for v in bbox)
        ):
            raise AnnotationFileError(
                f'{where}: "bbox" is {_short(bbox)}, not [x, y, width, height]'
            )
        problem = segmentation_problem(ann['segmentation'])
        if problem:
            raise AnnotationFileError(
                f'{where}: "segmentation" {problem}: '
                f'{_short(ann["segmentation"])}; {POLYGON_HINT}'
            )


def segmentation_problem(segmentation: Any) -> str:
    """Why ``segmentation`` is neither a polygon list nor RLE, or ``''``.

    Polygons are a non-empty list of lists of numbers (only the first
    number of each polygon is looked at, to stay fast on large files);
    RLE is a dict with ``size`` (two ints) and ``counts`` (a string or a
    list of ints).
    """
    if isinstance(segmentation, dict):
        size, counts = segmentation.get('size'), segmentation.get('counts')
        if not (
            isinstance(size, list)
            and len(size) == 2
            and all(isinstance(v, int) for v in size)
        ):
            return 'is a dict without a valid "size" [height, width]'
        if not isinstance(counts, (str, bytes, list)):
            return 'is a dict without "counts" (a string or a list of ints)'
        return ''
    if not isinstance(segmentation, list):
        return (
            f'is a {type(segmentation).__name__}, neither a polygon '
            'list nor RLE'
        )
    if not segmentation:
        return 'is empty'
    if isinstance(segmentation[0], Number):
        return (
            'is a flat list of numbers, not a list of polygons (wrap it '
            'in another list)'
        )
    for polygon in segmentation:
        if (
            not isinstance(polygon, list)
            or not polygon
            or not isinstance(polygon[0], Number)
        ):
            return 'holds an item that is not a list of numbers'
    return ''


def check_image_files(paths: Iterable[str], ann_file: str) -> None:
    """Check that every local image file in ``paths`` exists and has the
    header of an image OpenCV can decode (``cv2.haveImageReader``, which
    reads a few bytes). A file whose body is damaged passes and fails when
    it is loaded, with its path in the message (mmcv's LoadImageFromFile).

    Raises:
        ImageFileError: listing the missing and the unreadable files (the
            first few of each, and how many in all) and ``ann_file``.
    """
    missing: List[str] = []
    unreadable: List[str] = []
    for path in paths:
        if not osp.isfile(path):
            missing.append(path)
        elif not cv2.haveImageReader(path):
            unreadable.append(path)
    problems = []
    if missing:
        problems.append(f'{_listed(missing)} missing')
    if unreadable:
        problems.append(
            f'{_listed(unreadable)} not '
            + ('an image file' if len(unreadable) == 1 else 'image files')
            + ' OpenCV can read'
        )
    if problems:
        raise ImageFileError(
            f'images named in {ann_file}: '
            + '; '.join(problems)
            + " (the dataset's data_root and data_prefix.img give the folder)"
        )


def _check_keys(
    records: list, section: str, keys: Iterable[str], path: str
) -> None:
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise AnnotationFileError(
                f'{path}: the {_nth(position)} item of "{section}" is a '
                f'{type(record).__name__}, not an object'
            )
        missing = [key for key in keys if key not in record]
        if missing:
            name = (
                f'{RECORD_NAMES[section]} {record["id"]!r}'
                if ('id' in record)
                else (f'the {_nth(position)} item of "{section}"')
            )
            raise AnnotationFileError(
                f'{path}: {name} misses the key(s) {missing}'
            )


def _listed(paths: List[str]) -> str:
    verb = 'is' if len(paths) == 1 else 'are'
    return f'{abbreviated(paths, MAX_SHOWN)} {verb}'


def _nth(position: int) -> str:
    number = position + 1
    suffix = (
        'th'
        if 10 <= number % 100 <= 20
        else {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th')
    )
    return f'{number}{suffix}'


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'
