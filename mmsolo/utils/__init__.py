from .input_shape import config_input_shape
from .log_curves import load_scalar_log, plot_curves
from .run_config import (cpu_process_group, load_run_config,
                         use_cpu_distributed)
from .setup_env import register_all_modules

__all__ = [
    'config_input_shape', 'cpu_process_group',
    'load_run_config', 'load_scalar_log', 'plot_curves',
    'register_all_modules', 'use_cpu_distributed'
]
