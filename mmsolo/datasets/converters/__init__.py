"""Other annotation formats to COCO instance files (the library behind
``tools/dataset_converters/``): labelme JSON files, YOLO segmentation
labels, and a folder of unlabelled images; and the polygon geometry they
and the image demo share. Every reader checks its input and raises
:class:`ConversionError` naming the file and the field at fault."""

from .common import (
    IMAGE_EXTENSIONS,
    CocoBuilder,
    ConversionError,
    common_folder,
    find_files,
    image_size,
    read_class_names,
    summary,
    write_and_report,
    write_coco,
)
from .images import images_to_coco
from .labelme import labelme_to_coco
from .polygons import (
    circle_polygon,
    mask_to_polygons,
    polygons_area_and_box,
    polygons_to_rle,
    rectangle_polygon,
)
from .yolo import read_yolo_labels, yolo_to_coco

__all__ = [
    'IMAGE_EXTENSIONS',
    'CocoBuilder',
    'ConversionError',
    'circle_polygon',
    'common_folder',
    'find_files',
    'image_size',
    'images_to_coco',
    'labelme_to_coco',
    'mask_to_polygons',
    'polygons_area_and_box',
    'polygons_to_rle',
    'read_class_names',
    'read_yolo_labels',
    'rectangle_polygon',
    'summary',
    'write_and_report',
    'write_coco',
    'yolo_to_coco',
]
