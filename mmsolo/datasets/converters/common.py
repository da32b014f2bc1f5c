"""What the converters into COCO share: their error, class-name lists,
image files and sizes, and the COCO instance file being built."""

import json
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from numbers import Real
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import yaml
from PIL import Image, UnidentifiedImageError

from mmsolo.fileio import dump_json_atomically
from .polygons import polygons_area_and_box

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
# Lines of labelme's own labels.txt that are no class.
LABELME_PSEUDO_CLASSES = ('__ignore__', '_background_')
# EXIF orientations that turn the image by 90 degrees (OpenCV, and with it
# mmdet's LoadImageFromFile, applies them when decoding).
EXIF_ORIENTATION = 0x0112
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


class ConversionError(ValueError):
    """Input a converter cannot turn into COCO; the message names the file
    and the field (and the line, for text files)."""


def is_number(value) -> bool:
    """A finite int or float (not a bool)."""
    return (
        isinstance(value, Real)
        and not isinstance(value, bool)
        and value == value
        and abs(value) != float('inf')
    )


def read_json(path: str) -> object:
    """The parsed JSON file at ``path``.

    Raises:
        ConversionError: unreadable, or not JSON (with line and column).
    """
    try:
        with open(path, 'rb') as f:
            return json.load(f)
    except OSError as error:
        raise ConversionError(f'{path}: cannot read it ({error})') from None
    except json.JSONDecodeError as error:
        raise ConversionError(
            f'{path} is not a JSON file: {error.msg} at line {error.lineno}, '
            f'column {error.colno}'
        ) from None
    except UnicodeDecodeError as error:
        raise ConversionError(
            f'{path} is not a JSON file (not UTF-8 text: {error.reason} at '
            f'byte {error.start})'
        ) from None


def read_class_names(path: str) -> List[str]:
    """The class names listed by ``path``, in order: a YAML file
    (``.yaml``/``.yml``, YOLO's ``data.yaml``) with ``names`` a list or a
    mapping ``{0: name, 1: name, ...}``, or a text file with one name a
    line (blank lines, and labelme's ``__ignore__`` and ``_background_``,
    skipped).

    Raises:
        ConversionError: naming ``path`` and the entry at fault (a missing
            ``names``, a duplicate, a gap in the ids, no name at all).
    """
    if not osp.isfile(path):
        raise ConversionError(f'{path}: no such class-names file')
    if path.lower().endswith(('.yaml', '.yml')):
        names = _yaml_names(path)
    else:
        names = _text_names(path)
    if not names:
        raise ConversionError(f'{path} lists no class name')
    seen: Dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise ConversionError(
                f'{path}: class {name!r} is listed twice (entries '
                f'{seen[name]} and {index}, counting from 0)'
            )
        seen[name] = index
    return names


def _text_names(path: str) -> List[str]:
    try:
        with open(path, encoding='utf-8') as f:
            lines = [line.strip() for line in f]
    except UnicodeDecodeError as error:
        raise ConversionError(
            f'{path} is not a text file of class names (not UTF-8: '
            f'{error.reason} at byte {error.start})'
        ) from None
    return [
        line for line in lines if line and line not in LABELME_PSEUDO_CLASSES
    ]


def _yaml_names(path: str) -> List[str]:
    try:
        with open(path, encoding='utf-8') as f:
            content = yaml.safe_load(f)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConversionError(f'{path} is not a YAML file: {error}') from None
    if not isinstance(content, dict) or 'names' not in content:
        raise ConversionError(
            f'{path} has no top-level "names" (a list of class names, or '
            '{0: name, 1: name, ...})'
        )
    names = content['names']
    if isinstance(names, dict):
        if set(names) != set(range(len(names))):
            raise ConversionError(
                f'{path}: the keys of "names" are '
                f'{sorted(names, key=str)}; they must be the class ids 0 '
                f'to {len(names) - 1}'
            )
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list):
        raise ConversionError(
            f'{path}: "names" is a {type(names).__name__}, not a list or a '
            'mapping of class ids to names'
        )
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise ConversionError(
                f'{path}: "names" entry {index} is {name!r}, not a name'
            )
    return [name.strip() for name in names]


def image_size(path: str) -> Tuple[int, int]:
    """``(height, width)`` of the image file at ``path`` as mmdet's
    ``LoadImageFromFile`` decodes it: EXIF orientations that turn it by 90
    degrees swap the two. Reads the header only.

    Raises:
        ConversionError: missing, or not an image file Pillow can read.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(EXIF_ORIENTATION)
    except FileNotFoundError:
        raise ConversionError(f'{path}: no such image file') from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ConversionError(
            f'{path}: not an image file that can be read ({error})'
        ) from None
    if orientation in TRANSPOSING_ORIENTATIONS:
        return width, height
    return height, width


def find_files(
    inputs: Iterable[str],
    extensions: Sequence[str],
    exclude: Sequence[str] = (),
) -> List[str]:
    """The files of ``inputs`` (files, or folders searched recursively for
    names ending in ``extensions``, case-insensitive), sorted, without
    those in ``exclude`` and without hidden files in folders.

    Raises:
        ConversionError: an input that does not exist.
    """
    excluded = {osp.abspath(path) for path in exclude}
    found = set()
    for path in inputs:
        if osp.isfile(path):
            found.add(path)
        elif osp.isdir(path):
            found |= _files_under(path, extensions)
        else:
            raise ConversionError(f'{path}: no such file or folder')
    return sorted(p for p in found if osp.abspath(p) not in excluded)


def _files_under(folder: str, extensions: Sequence[str]) -> set:
    suffixes = tuple(ext.lower() for ext in extensions)
    found = set()
    for directory, subdirs, names in os.walk(folder):
        subdirs[:] = [name for name in subdirs if not name.startswith('.')]
        found |= {
            osp.join(directory, name)
            for name in names
            if name.lower().endswith(suffixes) and not name.startswith('.')
        }
    return found


def common_folder(paths: Sequence[str]) -> str:
    """The deepest folder holding every path of ``paths`` (a folder holds
    itself, a file is in its folder), written as the paths are (relative
    or absolute); ``'.'`` for none."""
    folders = [
        osp.normpath(p if osp.isdir(p) else osp.dirname(p) or '.')
        for p in paths
    ]
    if not folders:
        return '.'
    try:
        return osp.commonpath(folders)
    except ValueError:  # relative and absolute paths mixed
        return osp.commonpath([osp.abspath(p) for p in folders])


def relative_file_name(path: str, prefix: str) -> str:
    """``path`` relative to the folder ``prefix`` with ``/`` separators:
    the ``file_name`` a dataset with ``data_prefix.img=prefix`` finds."""
    return osp.relpath(path, prefix).replace(os.sep, '/')


@dataclass
class CocoBuilder:
    """A COCO instance file being built: images, their instances as
    polygons, and the categories.

    With ``classes`` (the names of a ``--classes`` file, read from
    ``classes_source``) the categories are those, with ids 1 to N in that
    order, and an instance of another name is an error. Without, the
    categories are the names the instances have, sorted, with ids 1 to N.
    An instance whose polygons cover no pixel is left out, with a warning.
    """

    classes: Optional[Sequence[str]] = None
    classes_source: str = ''
    images: List[dict] = field(default_factory=list)
    annotations: List[dict] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    def check_class(self, name: str, where: str) -> None:
        """Raise ConversionError (naming ``where``, the file and field of
        the name) if ``name`` is not one of the fixed classes."""
        if self.classes is not None and name not in self.classes:
            raise ConversionError(
                f'{where} is {name!r}, which is not a class of '
                f'{self.classes_source} ({", ".join(self.classes)})'
            )

    def add_image(self, file_name: str, height: int, width: int) -> int:
        """Append an image record; returns its id (1, 2, ...)."""
        image_id = len(self.images) + 1
        self.images.append(
            dict(id=image_id, file_name=file_name, height=height, width=width)
        )
        return image_id

    def add_instance(
        self,
        image_id: int,
        name: str,
        polygons: List[List[float]],
        where: str,
    ) -> None:
        """Append the instance of class ``name`` made of ``polygons`` (each
        at least 3 points) in image ``image_id``, with its area and box
        from its rasterised mask (``where`` names it in a warning)."""
        image = self.images[image_id - 1]
        area, box = polygons_area_and_box(
            polygons, image['height'], image['width']
        )
        if area <= 0:
            self.warnings.append(
                f'{where}: the polygon covers no pixel of the '
                f'{image["width"]}x{image["height"]} image; left out'
            )
            return
        self.annotations.append(
            dict(
                id=len(self.annotations) + 1,
                image_id=image_id,
                category=name,
                segmentation=polygons,
                area=area,
                bbox=box,
                iscrowd=0,
            )
        )

    def to_dict(self) -> dict:
        """The COCO instance file's content."""
        names = (
            list(self.classes)
            if self.classes is not None
            else sorted({ann['category'] for ann in self.annotations})
        )
        ids = {name: index + 1 for index, name in enumerate(names)}
        annotations = [
            dict(
                {k: v for k, v in ann.items() if k != 'category'},
                category_id=ids[ann['category']],
            )
            for ann in self.annotations
        ]
        return dict(
            images=self.images,
            annotations=annotations,
            categories=[dict(id=ids[name], name=name) for name in names],
        )


def write_coco(coco: dict, out: str) -> None:
    """Write ``coco`` to ``out`` as JSON, whole or not at all (the folder is
    made if needed)."""
    dump_json_atomically(coco, out)


def write_and_report(
    coco: dict,
    out: str,
    prefix: Optional[str] = None,
    warnings: Sequence[str] = (),
) -> None:
    """The end of every converter tool: the ``warnings`` to stderr, ``coco``
    written to ``out`` (:func:`write_coco`) and its :func:`summary`."""
    for warning in warnings:
        print(f'warning: {warning}', file=sys.stderr)
    write_coco(coco, out)
    print(summary(coco, out, prefix))


def summary(coco: dict, out: str, prefix: Optional[str] = None) -> str:
    """One line on what was written to ``out``, and, given the folder the
    ``file_name``s are relative to, the ``data_prefix`` to set."""
    text = (
        f'{out}: {len(coco["images"])} images, '
        f'{len(coco["annotations"])} instances, '
        f'{len(coco["categories"])} categories '
        f'({", ".join(c["name"] for c in coco["categories"])})'
    )
    if prefix is not None:
        text += (
            f"; file_name is relative to {prefix} (the dataset's "
            'data_root + data_prefix.img)'
        )
    return text
