"""What mmsolo's tools share: run configs and their command-line arguments,
test-time augmentation settings, the quick start's pieces, log curves, the
input size of a config, and mmdet's inference API for mmsolo's models. The
top layer: it may import every other package of mmsolo."""
from .inferencer import SOLOv2Inferencer
from .input_shape import config_input_shape
from .log_curves import load_scalar_log, plot_curves
from .run_config import (cpu_process_group, load_run_config,
                         load_tool_config, use_cpu_distributed)
from .tool_args import add_cfg_options, add_launcher_args, parse_tool_args
from .tta_config import use_tta

__all__ = [
    'SOLOv2Inferencer', 'add_cfg_options', 'add_launcher_args',
    'config_input_shape', 'cpu_process_group', 'load_run_config',
    'load_scalar_log', 'load_tool_config', 'parse_tool_args', 'plot_curves',
    'use_cpu_distributed', 'use_tta'
]
