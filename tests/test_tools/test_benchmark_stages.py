"""``tools/analysis_tools/benchmark.py --stages``: every stage timed, for
the PyTorch model and for an exported ONNX graph, the stages adding up to
the end-to-end time, and the timing leaving the predictions unchanged.

The model is the quick-start one with seeded weights whose category biases
give it candidates (so that every post-processing stage runs), on a config
whose test pipeline resizes the images (so that the masks are resized back
to the original size, on the host for the graph)."""

import json
import os
import re
import statistics
import time

import pytest
import torch
from support import run_tool_here, run_tool_process, seeded_model

from mmsolo.deploy import export_onnx
from mmsolo.runner.inference_benchmark import (
    DEPLOYED_STAGES,
    EAGER_STAGES,
    instrument,
)
from mmsolo.testing import demo_batch
from mmsolo.utils.stage_timer import StageTimer, timed_stage

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
RESIZED_CONFIG = """
_base_ = '{base}'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'),
    ),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
"""
# The stages must account for the end-to-end time but for the code between
# them (test_step's dispatch, data samples, memory-format copies) and the
# timer's own clock readings: at most this many ms plus this share of the
# total (medians over the iterations; a loaded machine preempts the process
# anywhere, in proportion to the time spent there).
UNTIMED_MS = 1.0
UNTIMED_SHARE = 0.03


def seeded_quickstart():
    return seeded_model(QUICKSTART, class_bias_mean=-1.0, channels_last=False)


@pytest.fixture(scope='module')
def models(tmp_path_factory, repo_root):
    """The resizing config, the seeded checkpoint and its graph (static
    128 x 128 input, any batch size)."""
    root = tmp_path_factory.mktemp('stages')
    config = root / 'resized.py'
    config.write_text(
        RESIZED_CONFIG.format(base=os.path.join(repo_root, QUICKSTART))
    )
    model = seeded_quickstart()
    checkpoint = root / 'seeded.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    onnx_file = root / 'seeded.onnx'
    export_onnx(
        model, str(onnx_file), (128, 128), pad_divisor=64, dynamic_batch=True
    )
    return root, config, checkpoint, onnx_file


def run_benchmark(repo_root, python, *args):
    return run_tool_process(
        repo_root, python, 'tools/analysis_tools/benchmark.py', *args
    )


def untimed_excess(iterations):
    """ms by which the median untimed time exceeds the tolerance (<= 0:
    within it)."""
    untimed = statistics.median(it['untimed_ms'] for it in iterations)
    total = statistics.median(it['total_ms'] for it in iterations)
    return untimed - (UNTIMED_MS + UNTIMED_SHARE * total)


def check_times(times, stages, images):
    assert times['stages'] == list(stages)
    iterations = times['iterations']
    assert len(iterations) == 3
    for it in iterations:
        assert it['images'] == images
        never = [name for name in stages if it['stages_ms'][name] <= 0]
        assert not never, f'stages not entered: {never}'
        # Exclusive times: no second counted twice.
        assert sum(it['stages_ms'].values()) <= it['total_ms'] + 1e-6
        assert it['untimed_ms'] == pytest.approx(
            it['total_ms'] - sum(it['stages_ms'].values()), abs=1e-6
        )
        assert 0 < it['spans_ms']['model'] < it['total_ms']
    assert untimed_excess(iterations) <= 0, [
        (it['untimed_ms'], it['total_ms']) for it in iterations
    ]
    fps = times['fps']
    assert fps['end_to_end'] < fps['model']


def check_table(log, stages):
    for name in [*stages, 'untimed', 'total']:
        assert re.search(rf'^{name} +[\d.]+ +[\d.]+ +[\d.]+$', log, re.M), (
            f'{name} row missing:\n{log[-3000:]}'
        )
    assert re.search(
        r'model-only fps: [\d.]+ img/s .*end-to-end fps: [\d.]+ img/s', log
    ), log[-2000:]


@pytest.mark.parametrize(
    'backend, batch_size', [('pytorch', 2), ('onnxruntime', 1)]
)
def test_stages(models, repo_root, python, backend, batch_size):
    root, config, checkpoint, onnx_file = models
    out = root / f'{backend}.json'
    model_file = checkpoint if backend == 'pytorch' else onnx_file
    done, log = run_benchmark(
        repo_root,
        python,
        str(config),
        str(model_file),
        '--backend',
        backend,
        '--synthetic',
        '--shape',
        '96',
        '160',
        '--batch-size',
        str(batch_size),
        '--max-iter',
        '3',
        '--num-warmup',
        '1',
        '--stages',
        '--out',
        str(out),
    )
    assert done.returncode == 0, log[-3000:]
    stages = EAGER_STAGES if backend == 'pytorch' else DEPLOYED_STAGES
    check_table(log, stages)
    check_times(json.loads(out.read_text()), stages, batch_size)


def test_the_untimed_check_fails_on_work_outside_the_stages():
    """The tolerance above catches time that no stage accounts for, and a
    nested stage is not counted twice."""
    timer = StageTimer()
    for _ in range(3):
        with timer.iteration(images=1):
            with timed_stage('outer'):
                time.sleep(0.01)
                with timed_stage('inner'):
                    time.sleep(0.04)
            time.sleep(0.02)  # in no stage
    times = [
        dict(untimed_ms=1000 * it.untimed, total_ms=1000 * it.total)
        for it in timer.iterations
    ]
    assert untimed_excess(times) > 0
    for it in timer.iterations:
        assert it.stages['inner'] >= 0.04
        # Its own 0.01 s (and any oversleep), not the inner stage's too.
        assert 0.01 <= it.stages['outer'] < 0.04
        assert it.untimed >= 0.02
        assert sum(it.stages.values()) + it.untimed == pytest.approx(it.total)


def test_timing_leaves_the_predictions_unchanged():
    model = seeded_quickstart()
    inputs, samples = demo_batch([(96, 128), (128, 80)], pad_divisor=64)
    with torch.no_grad():
        plain = model.predict(inputs, [s.clone() for s in samples])
        timer = StageTimer()
        instrument(model, timer)
        with timer.iteration(images=2):
            timed = model.predict(inputs, [s.clone() for s in samples])
    assert {'candidates', 'mask_nms', 'boxes'} <= set(
        timer.iterations[0].stages
    )
    assert sum(len(s.pred_instances) for s in plain) > 0
    for a, b in zip(plain, timed):
        for key in ('masks', 'labels', 'scores', 'bboxes'):
            assert torch.equal(a.pred_instances[key], b.pred_instances[key])


def test_out_needs_stages(repo_root, tmp_path):
    code, _, log = run_tool_here(
        repo_root,
        'tools/analysis_tools/benchmark.py',
        QUICKSTART,
        '--synthetic',
        '--shape',
        '64',
        '64',
        '--out',
        str(tmp_path / 'times.json'),
    )
    assert code == 2
    assert '--out writes the times of --stages; add --stages' in log
