"""Entry points above every other package: mmdet's inference API for
mmsolo's models."""
from .inferencer import SOLOv2Inferencer

__all__ = ['SOLOv2Inferencer']
