from .loading import LoadPanopticAnnotations, rgb2id

__all__ = ['LoadPanopticAnnotations', 'rgb2id']
