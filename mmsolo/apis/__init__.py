"""mmsolo's inference API: mmdet's ``DetInferencer`` for mmsolo's models
(``SOLOv2Inferencer``) and sliced inference of large images
(``sliced_predict``). The top layer: it may import every other package of
mmsolo."""

from .inferencer import SOLOv2Inferencer
from .sliced_inference import slice_grid, sliced_predict, use_sliced_inference

__all__ = [
    'SOLOv2Inferencer',
    'slice_grid',
    'sliced_predict',
    'use_sliced_inference',
]
