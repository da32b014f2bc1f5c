from .finite_losses import NonFiniteLossError, check_finite_losses
from .panoptic_solov2 import PanopticSOLOv2
from .solov2 import SOLOv2

__all__ = [
    'NonFiniteLossError', 'PanopticSOLOv2', 'SOLOv2', 'check_finite_losses'
]
