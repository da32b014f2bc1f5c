"""mmsolo's tools take mmdet 3's arguments: the image demo's (folders,
--out-dir writing vis/ and preds/, --pred-score-thr, --batch-size ...),
test.py's --show-dir and --tta, train.py's --auto-scale-lr."""

import os
import pickle
import subprocess

import pytest
from support import (
    save_seeded_checkpoint,
    write_tiny_config,
    write_tiny_shapes,
)

PANOPTIC = 'configs/quickstart/solov2-panoptic_r18_fpn_shapes-panoptic.py'
# Random weights score about 0.01 (the focal prior): keep every candidate.
KEEP_ALL = [
    'model.test_cfg.score_thr=0.',
    'model.test_cfg.filter_thr=0.',
    'model.test_cfg.max_per_img=5',
]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory, repo_root):
    root = tmp_path_factory.mktemp('mmdet3_flags')
    data = write_tiny_shapes(str(root / 'data'))
    config = write_tiny_config(str(root / 'tiny.py'), repo_root, data)
    checkpoint = save_seeded_checkpoint(config, str(root / 'seeded.pth'))
    return data, config, checkpoint


def run(args: list, repo_root: str, python: str, ok: bool = True):
    done = subprocess.run(
        [python, *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if ok:
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


def test_image_demo_with_mmdet3_arguments(tiny, tmp_path, repo_root, python):
    data, config, checkpoint = tiny
    out_dir = tmp_path / 'out'
    done = run(
        [
            'tools/demo/image_demo.py',
            f'{data}/val',
            config,
            '--weights',
            checkpoint,
            '--out-dir',
            str(out_dir),
            '--pred-score-thr',
            '0',
            '--batch-size',
            '2',
            '--palette',
            'random',
            '--print-result',
            '--cfg-options',
            *KEEP_ALL,
        ],
        repo_root,
        python,
    )
    for name in ('000001', '000002'):
        assert (out_dir / 'vis' / f'{name}.png').is_file()
        assert (out_dir / 'preds' / f'{name}.json').is_file()
    assert "'scores'" in done.stdout  # --print-result
    assert '5 instances predicted, 5 drawn' in done.stdout
    again = run(
        [
            'tools/demo/image_demo.py',
            f'{data}/val/000001.png',
            config,
            '--weights',
            checkpoint,
            '--out-dir',
            str(tmp_path / 'again'),
            '--no-save-pred',
        ],
        repo_root,
        python,
    )
    assert (tmp_path / 'again' / 'vis' / '000001.png').is_file()
    assert not (tmp_path / 'again' / 'preds').exists()
    assert 'results written to' in again.stdout


def test_test_py_tta_changes_the_result_and_show_dir_draws(
    tiny, tmp_path, repo_root, python
):
    _, config, checkpoint = tiny
    outputs = {}
    for tta in (False, True):
        out = tmp_path / f'tta_{tta}.pkl'
        args = [
            'tools/test.py',
            config,
            checkpoint,
            '--work-dir',
            str(tmp_path / f'work_{tta}'),
            '--out',
            str(out),
            '--cfg-options',
            *KEEP_ALL,
        ]
        if tta:
            args += ['--tta', '--show-dir', 'pictures']
        done = run(args, repo_root, python)
        assert 'coco/segm_mAP' in done.stdout + done.stderr
        with open(out, 'rb') as f:
            outputs[tta] = pickle.load(f)
    plain, merged = outputs[False], outputs[True]
    assert len(plain) == len(merged) == 2
    assert [p['pred_instances']['scores'].tolist() for p in plain] != [
        p['pred_instances']['scores'].tolist() for p in merged
    ]
    drawn = [
        name
        for _, _, names in os.walk(tmp_path / 'work_True')
        for name in names
        if name.endswith('.png')
    ]
    assert len(drawn) == 2


def test_test_py_tta_refuses_the_panoptic_model(repo_root, python, tmp_path):
    done = run(
        [
            'tools/test.py',
            PANOPTIC,
            'none.pth',
            '--tta',
            '--work-dir',
            str(tmp_path),
        ],
        repo_root,
        python,
        ok=False,
    )
    assert done.returncode == 1
    assert (
        'sets tta_model = None: this model has no test-time '
        'augmentation' in done.stderr
    )


def test_train_py_auto_scale_lr(tiny, tmp_path, repo_root, python):
    _, config, _ = tiny
    done = run(
        [
            'tools/train.py',
            config,
            '--auto-scale-lr',
            '--work-dir',
            str(tmp_path / 'work'),
            '--cfg-options',
            'train_cfg.max_iters=1',
            'train_cfg.val_interval=2',
        ],
        repo_root,
        python,
    )
    # The quick start's lr is for 8 images per batch; these batches hold 2.
    assert 'Scaling the original LR by 0.25' in done.stdout + done.stderr
    no_base = tmp_path / 'no_base.py'
    no_base.write_text(f"_base_ = '{config}'\nauto_scale_lr = None\n")
    done = run(
        ['tools/train.py', str(no_base), '--auto-scale-lr'],
        repo_root,
        python,
        ok=False,
    )
    assert done.returncode == 1
    assert (
        f'--auto-scale-lr: {no_base} has no auto_scale_lr.'
        'base_batch_size; add auto_scale_lr = dict(enable=False, '
        'base_batch_size=N)'
    ) in done.stderr
