from .synthetic_shapes import CLASSES as SHAPE_CLASSES
from .synthetic_shapes import make_image, write_split

__all__ = ['SHAPE_CLASSES', 'make_image', 'write_split']
