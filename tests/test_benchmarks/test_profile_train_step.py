"""benchmarks/profile_train_step.py's totals: self time summed per operator
name over its input shapes, and the convolutions' part of it."""

import importlib.util
import os.path as osp
from types import SimpleNamespace


def load_profile_script(repo_root):
    path = osp.join(repo_root, 'benchmarks', 'profile_train_step.py')
    spec = importlib.util.spec_from_file_location('profile_train_step', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_self_time_sums_shapes_per_operator_and_convolutions(repo_root):
    script = load_profile_script(repo_root)
    # Microseconds over 2 steps, as torch.profiler's averages give them:
    # one operator appears once per input shape.
    events = [
        SimpleNamespace(
            key='aten::convolution_backward', self_cpu_time_total=6000.0
        ),
        SimpleNamespace(key='aten::copy_', self_cpu_time_total=1000.0),
        SimpleNamespace(
            key='aten::convolution_backward', self_cpu_time_total=2000.0
        ),
        SimpleNamespace(
            key='aten::mkldnn_convolution', self_cpu_time_total=3000.0
        ),
        SimpleNamespace(key='aten::copy_', self_cpu_time_total=500.0),
    ]
    totals = script.self_ms_by_operator(events, steps=2)
    assert totals == {
        'aten::convolution_backward': 4.0,
        'aten::copy_': 0.75,
        'aten::mkldnn_convolution': 1.5,
    }
    assert script.convolution_ms(totals) == 5.5
    assert script.convolution_ms({}) == 0.0
