from .coco import CheckedCOCO, CocoDataset
from .coco_checks import (AnnotationFileError, ImageFileError,
                          check_coco_dict, check_image_files, read_coco_json)
from .synthetic_shapes import CLASSES as SHAPE_CLASSES
from .synthetic_shapes import ensure_shapes_dataset, make_image, write_split

__all__ = [
    'AnnotationFileError', 'CheckedCOCO', 'CocoDataset', 'ImageFileError',
    'SHAPE_CLASSES', 'check_coco_dict', 'check_image_files',
    'ensure_shapes_dataset', 'make_image', 'read_coco_json', 'write_split'
]
