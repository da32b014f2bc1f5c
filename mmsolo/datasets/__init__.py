from .synthetic_shapes import CLASSES as SHAPE_CLASSES
from .synthetic_shapes import ensure_shapes_dataset, make_image, write_split

__all__ = [
    'SHAPE_CLASSES', 'ensure_shapes_dataset', 'make_image', 'write_split'
]
