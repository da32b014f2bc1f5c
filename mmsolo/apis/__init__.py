"""mmsolo's inference API: mmdet's ``DetInferencer`` for mmsolo's models
(``SOLOv2Inferencer``). The top layer: it may import every other package of
mmsolo."""

from .inferencer import SOLOv2Inferencer

__all__ = ['SOLOv2Inferencer']
