"""The quick start (README's main command) end to end on a tiny set: it
generates data, trains the quick-start config for a few iterations,
evaluates, and writes its two pictures and summary."""
import json
import os.path as osp
import subprocess

import cv2
import numpy as np

from mmsolo.datasets import ensure_shapes_dataset


def test_quickstart_runs_end_to_end(tmp_path, repo_root, python):
    data_root = tmp_path / 'shapes'
    out_dir = tmp_path / 'out'
    cmd = [
        python, 'tools/quickstart.py', '--data-root', str(data_root),
        '--work-dir', str(tmp_path / 'work'), '--out-dir', str(out_dir),
        '--num-train', '16', '--num-val', '4', '--num-pictures', '3',
        '--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
        'default_hooks.logger.interval=2', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        # After 4 iterations no score passes the usual thresholds; without
        # them every cell is a candidate, so COCO evaluation has masks.
        'model.test_cfg.score_thr=0.0', 'model.test_cfg.filter_thr=0.0'
    ]
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert 'Iter(train) [2/4]' in output  # progress while it trains
    assert 'quick start: mask AP' in output

    summary = json.loads((out_dir / 'summary.json').read_text())
    for key in ('coco/segm_mAP', 'coco/segm_mAP_50', 'coco/bbox_mAP'):
        assert 0.0 <= summary['metrics'][key] <= 1.0
    assert 'predicted no instance' not in output  # the real evaluation ran
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
