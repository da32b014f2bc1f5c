"""tools/analysis_tools/benchmark.py and get_flops.py on the quick-start
config."""

import os.path as osp
import re
import subprocess

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from support import run_tool_here

from mmsolo.datasets import write_split
from mmsolo.registry import MODELS
from mmsolo.utils import cpu_precision_choice

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
PANOPTIC_QUICKSTART = (
    'configs/quickstart/solov2-panoptic_r18_fpn_shapes-panoptic.py'
)


def run_tool(repo_root, python, *args):
    done = subprocess.run(
        [python, *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, done.stdout + done.stderr


@pytest.fixture(scope='module')
def shapes_val(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    write_split(str(root), 'val', num_images=2, seed=3)
    return root


def test_benchmark_on_the_test_set(shapes_val, repo_root, python):
    # 2 test images, repeated to give 1 warm-up + 3 timed ones.
    done, log = run_tool(
        repo_root,
        python,
        'tools/analysis_tools/benchmark.py',
        QUICKSTART,
        '--max-iter',
        '3',
        '--num-warmup',
        '1',
        '--log-interval',
        '2',
        '--cfg-options',
        f'test_dataloader.dataset.data_root={shapes_val}/',
    )
    assert done.returncode == 0, log[-3000:]
    assert 'no checkpoint given: random weights' in log
    assert re.search(r'Done image \[2 +/3\], fps: [\d.]+ img/s', log), log
    assert re.search(r'Done image \[3 +/3\]', log), log
    assert 'Done image [1 ' not in log  # every --log-interval images
    assert re.search(
        r'Overall fps: [\d.]+ img/s, times per image: '
        r'[\d.]+ ms/img',
        log,
    ), log[-2000:]


def test_benchmark_synthetic_with_a_training_checkpoint(
    tmp_path, repo_root, python
):
    """No dataset; a checkpoint as mmengine's CheckpointHook writes it
    (with its message hub as HistoryBuffer objects) is refused by default
    and loads with --unsafe-load; conv-bn fusion runs."""
    cfg = Config.fromfile(osp.join(repo_root, QUICKSTART))
    model = MODELS.build(cfg.model)
    history = HistoryBuffer()
    history.update(1.0)
    checkpoint = tmp_path / 'iter_4.pth'
    torch.save(
        dict(
            meta=dict(iter=4),
            state_dict=model.state_dict(),
            message_hub=dict(log_scalars={'train/loss': history}),
        ),
        checkpoint,
    )
    command = [
        'tools/analysis_tools/benchmark.py',
        QUICKSTART,
        str(checkpoint),
        '--synthetic',
        '--shape',
        '64',
        '96',
        '--max-iter',
        '2',
        '--num-warmup',
        '0',
        '--fuse-conv-bn',
        '--cfg-options',
        'test_dataloader.dataset.data_root=/nonexistent/',
    ]
    done, log = run_tool(repo_root, python, *command)
    assert done.returncode == 1
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in log
    assert '--unsafe-load' in log
    done, log = run_tool(
        repo_root, python, *command, '--unsafe-load', '--fp16'
    )
    assert done.returncode == 0, log[-3000:]
    # --fp16 on the CPU: bfloat16 only where the CPU computes it natively.
    if cpu_precision_choice().dtype == torch.bfloat16:
        assert 'autocast torch.bfloat16' in log
    else:
        assert '--fp16: float32, not bfloat16' in log
    assert 'synthetic 64x96 images (H x W)' in log
    assert 'random weights' not in log
    assert 'Overall fps' in log


def test_benchmark_rejects_shape_without_synthetic(repo_root):
    code, _, err = run_tool_here(
        repo_root,
        'tools/analysis_tools/benchmark.py',
        QUICKSTART,
        '--shape',
        '64',
        '64',
    )
    assert code == 2
    assert '--shape sets the size of --synthetic images' in err


def test_get_flops(repo_root, python):
    done, log = run_tool(
        repo_root,
        python,
        'tools/analysis_tools/get_flops.py',
        QUICKSTART,
        '--shape',
        '250',
        '256',
    )
    assert done.returncode == 0, log[-3000:]
    assert 'Input shape 250x256 padded to 256x256' in log
    assert 'Input shape: (3, 256, 256)' in log
    flops = re.search(r'Flops: ([\d.]+)([KMG])', log)
    assert flops and float(flops.group(1)) > 0, log[-2000:]
    params = re.search(r'Params: ([\d.]+)M', log)
    model = MODELS.build(
        Config.fromfile(osp.join(repo_root, QUICKSTART)).model
    )
    expected = sum(p.numel() for p in model.parameters()) / 1e6
    assert params and abs(float(params.group(1)) - expected) < 1e-3, log


def test_get_flops_counts_the_semantic_head(repo_root, python):
    """The panoptic quick-start model is the instance one plus a semantic
    head: its FLOPs must be higher by what that head costs."""
    flops = {}
    for name, config in (
        ('instance', QUICKSTART),
        ('panoptic', PANOPTIC_QUICKSTART),
    ):
        done, log = run_tool(
            repo_root,
            python,
            'tools/analysis_tools/get_flops.py',
            config,
            '--shape',
            '256',
            '256',
        )
        assert done.returncode == 0, log[-3000:]
        found = re.search(r'Flops: ([\d.]+)G', log)
        assert found, log[-2000:]
        flops[name] = float(found.group(1))
    # The semantic fusion: 7 3x3 convs of 32 channels at 1/4 to 1/32
    # scale plus the classifier, about 0.1 GFLOPs at 256x256.
    assert 0.05 < flops['panoptic'] - flops['instance'] < 0.5, flops
