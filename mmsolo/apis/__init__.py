"""What mmsolo's tools share: run configs, the quick start's pieces, log
curves and the input size of a config. The top layer: it may import every
other package of mmsolo."""
from .input_shape import config_input_shape
from .log_curves import load_scalar_log, plot_curves
from .run_config import (cpu_process_group, load_run_config,
                         use_cpu_distributed)

__all__ = [
    'config_input_shape', 'cpu_process_group', 'load_run_config',
    'load_scalar_log', 'plot_curves', 'use_cpu_distributed'
]
