from .hooks import NumClassesCheckHook
from .model_wrappers import CPU_DDP_TYPE, CPUDistributedDataParallel
from .optimizers import BF16OptimWrapper

__all__ = [
    'BF16OptimWrapper', 'CPU_DDP_TYPE', 'CPUDistributedDataParallel', 'NumClassesCheckHook'
]
