from mmsolo.fileio import ATOMIC_LOCAL, AtomicLocalBackend, write_atomically
from .hooks import (
    AdaptiveThreadsHook,
    CheckpointHook,
    FinetuneLoadHook,
    FiniteGradientsHook,
    NonFiniteGradientError,
    NonFiniteLossError,
    NumClassesCheckHook,
    check_finite_losses,
)
from .model_wrappers import CPU_DDP_TYPE, CPUDistributedDataParallel
from .optimizers import BF16OptimWrapper

__all__ = [
    'ATOMIC_LOCAL',
    'AdaptiveThreadsHook',
    'AtomicLocalBackend',
    'BF16OptimWrapper',
    'CPU_DDP_TYPE',
    'CPUDistributedDataParallel',
    'CheckpointHook',
    'FinetuneLoadHook',
    'FiniteGradientsHook',
    'NonFiniteGradientError',
    'NonFiniteLossError',
    'NumClassesCheckHook',
    'check_finite_losses',
    'write_atomically',
]
