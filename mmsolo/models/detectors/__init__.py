from .panoptic_solov2 import PanopticSOLOv2
from .solov2 import SOLOv2

__all__ = ['PanopticSOLOv2', 'SOLOv2']
