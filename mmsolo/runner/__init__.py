"""What mmsolo's tools build their runs with: configs loaded with mmsolo's
modules registered and the CPU process group set up for distributed runs,
the child config of a data set of one's own classes
(``tools/misc/make_config.py``), and the pieces of the CPU quick start (its
metrics hook and pictures). The top layer: it may import every other
package of mmsolo; command-line arguments, log curves and test-time
augmentation settings, which need no mmsolo package, are in
:mod:`mmsolo.utils`."""

from .child_config import ChildConfigError, DataSplit, make_child_config
from .quickstart import (
    MetricsRecorder,
    draw_predictions,
    plot_loss_curve,
    step_time_summary,
)
from .run_config import (
    add_finetune_load_hook,
    cpu_process_group,
    load_run_config,
    load_tool_config,
    use_cpu_distributed,
)

__all__ = [
    'ChildConfigError',
    'DataSplit',
    'MetricsRecorder',
    'add_finetune_load_hook',
    'cpu_process_group',
    'draw_predictions',
    'load_run_config',
    'load_tool_config',
    'make_child_config',
    'plot_loss_curve',
    'step_time_summary',
    'use_cpu_distributed',
]
