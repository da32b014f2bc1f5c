from .coco import CheckedCOCO, CheckedCocoDataset
from .coco_checks import (
    AnnotationFileError,
    ImageFileError,
    check_coco_dict,
    check_image_files,
    read_coco_json,
)
from .lvis import CheckedLVISV05Dataset, CheckedLVISV1Dataset
from .mask_first_boxes import mask_first_annotations
from .synthetic_panoptic import (
    PANOPTIC_CLASSES,
    PANOPTIC_GENERATOR_VERSION,
    STUFF_CLASSES,
    THING_CLASSES,
    ensure_panoptic_shapes_dataset,
    make_panoptic_image,
    write_panoptic_split,
)
from .synthetic_shapes import CLASSES as SHAPE_CLASSES
from .synthetic_shapes import ensure_shapes_dataset, make_image, write_split
from .transforms import CachedTransforms, LoadPanopticAnnotations

__all__ = [
    'AnnotationFileError',
    'CachedTransforms',
    'CheckedCOCO',
    'CheckedCocoDataset',
    'CheckedLVISV05Dataset',
    'CheckedLVISV1Dataset',
    'ImageFileError',
    'LoadPanopticAnnotations',
    'PANOPTIC_CLASSES',
    'PANOPTIC_GENERATOR_VERSION',
    'SHAPE_CLASSES',
    'STUFF_CLASSES',
    'THING_CLASSES',
    'check_coco_dict',
    'check_image_files',
    'ensure_panoptic_shapes_dataset',
    'ensure_shapes_dataset',
    'make_image',
    'make_panoptic_image',
    'mask_first_annotations',
    'read_coco_json',
    'write_panoptic_split',
    'write_split',
]
