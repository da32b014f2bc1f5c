from .adaptive_threads_hook import (
    AdaptiveThreadsHook,
    default_thread_candidates,
)
from .checkpoint_hook import CheckpointHook
from .finetune_load_hook import FinetuneLoadHook
from .finite_gradients_hook import (
    FiniteGradientsHook,
    NonFiniteGradientError,
    check_finite_gradients,
)
from .finite_losses import NonFiniteLossError, check_finite_losses
from .num_classes_check_hook import (
    NumClassesCheckHook,
    check_num_classes,
    describe_dataset,
    modules_with_num_classes,
)
from .random_states import get_random_states, set_random_states

__all__ = [
    'AdaptiveThreadsHook',
    'CheckpointHook',
    'default_thread_candidates',
    'FinetuneLoadHook',
    'FiniteGradientsHook',
    'NonFiniteGradientError',
    'NonFiniteLossError',
    'NumClassesCheckHook',
    'check_finite_gradients',
    'check_finite_losses',
    'check_num_classes',
    'describe_dataset',
    'get_random_states',
    'modules_with_num_classes',
    'set_random_states',
]
