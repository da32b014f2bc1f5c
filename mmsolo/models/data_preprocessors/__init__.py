from .progressive_resize import ProgressiveResize

__all__ = ['ProgressiveResize']
