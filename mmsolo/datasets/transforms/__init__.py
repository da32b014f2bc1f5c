from .cached_loading import CachedTransforms
from .loading import LoadPanopticAnnotations, rgb2id

__all__ = ['CachedTransforms', 'LoadPanopticAnnotations', 'rgb2id']
