from .input_shape import config_input_shape
from .log_curves import load_scalar_log, plot_curves
from .run_config import (cpu_process_group, load_run_config,
                         load_tool_config, use_cpu_distributed)
from .setup_env import register_all_modules
from .tool_args import add_cfg_options, add_launcher_args, parse_tool_args
from .trusted_checkpoints import (load_from_trusted_local,
                                  trusted_local_checkpoints)
from .tta_config import use_tta

__all__ = [
    'add_cfg_options', 'add_launcher_args', 'config_input_shape',
    'cpu_process_group', 'load_from_trusted_local', 'load_run_config',
    'load_scalar_log', 'load_tool_config', 'parse_tool_args', 'plot_curves',
    'register_all_modules', 'trusted_local_checkpoints',
    'use_cpu_distributed', 'use_tta'
]
