from .finite_losses import NonFiniteLossError, check_finite_losses
from .solov2 import SOLOv2

__all__ = ['NonFiniteLossError', 'SOLOv2', 'check_finite_losses']
