"""The quick start (README's main command) and the panoptic one end to end
on a tiny set: each generates data, trains its quick-start config for a few
iterations, evaluates, and writes its two pictures and summary."""

import json
import os
import os.path as osp
import subprocess

import cv2
import numpy as np
import pytest

from mmsolo.datasets import ensure_shapes_dataset

# mode flags, the line printed, the metrics in summary.json and their range
MODES = {
    'instance': (
        [],
        'quick start: mask AP',
        ('coco/segm_mAP', 'coco/segm_mAP_50', 'coco/bbox_mAP'),
        1.0,
    ),
    # mmdet's panoptic metric gives percentages.
    'panoptic': (
        ['--panoptic'],
        'panoptic quick start: PQ',
        (
            'coco_panoptic/PQ',
            'coco_panoptic/PQ_th',
            'coco_panoptic/PQ_st',
            'coco_panoptic/SQ',
            'coco_panoptic/RQ',
        ),
        100.0,
    ),
}


@pytest.mark.parametrize('mode', sorted(MODES))
def test_quickstart_runs_end_to_end(mode, tmp_path, repo_root, python):
    flags, line, metric_keys, top = MODES[mode]
    data_root = tmp_path / 'shapes'
    out_dir = tmp_path / 'out'
    cmd = [
        python,
        'tools/quickstart.py',
        *flags,
        '--data-root',
        str(data_root),
        '--work-dir',
        str(tmp_path / 'work'),
        '--out-dir',
        str(out_dir),
        '--num-train',
        '16',
        '--num-val',
        '4',
        '--num-pictures',
        '3',
        '--cfg-options',
        'train_cfg.max_iters=4',
        'train_cfg.val_interval=4',
        'default_hooks.logger.interval=2',
        'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        # After 4 iterations no score passes the usual thresholds; without
        # them every cell is a candidate, so COCO evaluation has masks.
        'model.test_cfg.score_thr=0.0',
        'model.test_cfg.filter_thr=0.0',
    ]
    # The float32 path, as on a CPU without native bfloat16 (the slow kind
    # of machine): the quick start must say so and train without autocast.
    env = dict(os.environ, MMSOLO_CPU_PRECISION='float32')
    proc = subprocess.run(
        cmd,
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert 'Iter(train) [2/4]' in output  # progress while it trains
    assert line in output
    assert 'BF16OptimWrapper: training in float32, no autocast' in output
    assert 'trained in float32' in output

    summary = json.loads((out_dir / 'summary.json').read_text())
    for key in metric_keys:
        assert 0.0 <= summary['metrics'][key] <= top
    assert summary['total_seconds'] >= summary['train_and_val_seconds'] > 0
    steps = summary['train_step_seconds']  # 4 iterations logged every 2
    assert steps['windows'] == 2
    assert 0 < steps['min'] <= steps['median'] <= steps['max']
    assert summary['precision'] == 'float32'
    assert summary['channels_last'] is False
    predictions = cv2.imread(str(out_dir / 'predictions.png'))
    # 3 pairs (gt | prediction) of 256x256 images, two pairs a row.
    assert predictions.shape == (512, 1024, 3)
    assert predictions[:256, :512].std() > 10  # a drawn image, not blank
    curve = cv2.imread(str(out_dir / 'loss_curve.png'))
    assert curve is not None and curve.std() > 1
    assert len(np.unique(curve.reshape(-1, 3), axis=0)) > 2


def test_shapes_dataset_is_reused_only_when_made_alike(tmp_path):
    root = str(tmp_path / 'shapes')
    ensure_shapes_dataset(root, num_train=3, num_val=2)
    ann = osp.join(root, 'annotations', 'instances_train.json')
    first = osp.getmtime(ann)
    ensure_shapes_dataset(root, num_train=3, num_val=2)
    assert osp.getmtime(ann) == first  # same recipe: reused
    ensure_shapes_dataset(root, num_train=4, num_val=2)
    with open(ann) as f:
        assert len(json.load(f)['images']) == 4  # other recipe: remade


def test_step_time_summary_reads_training_windows_only(tmp_path):
    """The validation record (which has a ``time`` too) is left out; thread
    counts are tallied per window."""
    from mmsolo.runner import step_time_summary
    from mmsolo.utils import load_scalar_log

    log = tmp_path / 'scalars.json'
    records = [
        dict(lr=1e-3, time=0.5, threads=2, iter=20, step=20),
        dict(lr=1e-3, time=0.9, threads=1, iter=40, step=40),
        dict(lr=1e-3, time=0.6, threads=2, iter=60, step=60),
        {'coco/segm_mAP': 0.5, 'time': 0.01, 'step': 0},
    ]
    log.write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    assert step_time_summary(load_scalar_log(str(log))) == dict(
        windows=3, min=0.5, median=0.6, max=0.9, threads={'1': 1, '2': 2}
    )
    assert step_time_summary(records[-1:]) == dict(
        windows=0, min=None, median=None, max=None
    )
