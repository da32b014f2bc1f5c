from .cpu_precision import (
    PRECISION_ENV,
    cpu_bf16_support,
    cpu_precision_choice,
)
from .input_shape import config_input_shape
from .log_curves import load_scalar_log, plot_curves
from .messages import abbreviated
from .setup_env import register_all_modules
from .tool_args import add_cfg_options, add_launcher_args, parse_tool_args
from .tta_config import use_tta

__all__ = [
    'PRECISION_ENV',
    'abbreviated',
    'add_cfg_options',
    'add_launcher_args',
    'config_input_shape',
    'cpu_bf16_support',
    'cpu_precision_choice',
    'load_scalar_log',
    'parse_tool_args',
    'plot_curves',
    'register_all_modules',
    'use_tta',
]
