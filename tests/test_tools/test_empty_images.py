"""Images without any object, and a model that predicts nothing, through
the real tools (mmdet#9159, #8159 crashed there): tools/train.py trains on
a batch of empty images kept by ``filter_empty_gt=False`` and validates on
a set holding some; tools/test.py with ``model.test_cfg.score_thr=1.0``
reports metrics (and, format only, writes result files that load);
tools/demo/image_demo.py writes a prediction file of empty lists.
(The model-level cases: tests/test_robustness/.)"""

import json
import os
import re
import subprocess

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from support import QUICKSTART, save_seeded_checkpoint, write_tiny_config

from mmsolo.datasets import write_split
from mmsolo.evaluation import EmptyResultsCOCO

NUM_EMPTY = 2


def add_empty_images(root: str, split: str) -> None:
    """Append :data:`NUM_EMPTY` plain images without annotations to a
    split written by ``write_split`` (after its other images)."""
    ann_file = os.path.join(root, 'annotations', f'instances_{split}.json')
    with open(ann_file) as f:
        coco = json.load(f)
    for index in range(NUM_EMPTY):
        image_id = max(image['id'] for image in coco['images']) + 1
        name = f'empty_{index}.png'
        cv2.imwrite(
            os.path.join(root, split, name),
            np.full((256, 256, 3), 60 + 40 * index, np.uint8),
        )
        coco['images'].append(
            dict(id=image_id, file_name=name, height=256, width=256)
        )
    with open(ann_file, 'w') as f:
        json.dump(coco, f)


@pytest.fixture(scope='module')
def empty_run(tmp_path_factory, repo_root):
    """(data root, config, seeded checkpoint): 2 shapes images then 2 empty
    ones in each split; training keeps the empty ones, in order, so that
    its second batch of 2 holds no object at all."""
    root = tmp_path_factory.mktemp('empty_images')
    data = str(root / 'data')
    for split, seed in (('train', 3), ('val', 4)):
        write_split(data, split, num_images=2, seed=seed)
        add_empty_images(data, split)
    config = write_tiny_config(str(root / 'base.py'), repo_root, data)
    with open(root / 'tiny.py', 'w') as f:
        f.write(f"""_base_ = '{config}'
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(filter_cfg=dict(filter_empty_gt=False)))
""")
    config = str(root / 'tiny.py')
    checkpoint = save_seeded_checkpoint(config, str(root / 'seeded.pth'))
    return data, config, checkpoint


def run_tool(repo_root, python, *args) -> str:
    done = subprocess.run(
        [python, *map(str, args)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout + done.stderr


def test_train_py_trains_on_a_batch_of_empty_images(
    empty_run, tmp_path, repo_root, python
):
    _, config, _ = empty_run
    cfg = Config.fromfile(config)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_cfg.max_iters == 2  # batch 1: shapes; batch 2: empty
    log = run_tool(
        repo_root, python, 'tools/train.py', config, '--work-dir', tmp_path
    )
    losses = re.findall(r'Iter\(train\) \[(\d)/2\].*? loss: (\S+)', log)
    assert [step for step, _ in losses] == ['1', '2'], log[-3000:]
    assert all(np.isfinite(float(loss)) for _, loss in losses)
    assert 'coco/segm_mAP' in log  # validated on shapes and empty images
    assert (tmp_path / 'iter_2.pth').is_file()


def test_test_py_reports_metrics_when_nothing_is_predicted(
    empty_run, tmp_path, repo_root, python
):
    """AP 0.0 under the usual keys, and the result files (written beside
    the evaluation with ``outfile_prefix``) hold ``[]``, which
    :class:`EmptyResultsCOCO` loads (pycocotools' ``loadRes`` cannot)."""
    data, config, checkpoint = empty_run
    prefix = tmp_path / 'results' / 'nothing'
    log = run_tool(
        repo_root,
        python,
        'tools/test.py',
        config,
        checkpoint,
        '--work-dir',
        tmp_path / 'work',
        '--cfg-options',
        'model.test_cfg.score_thr=1.0',
        f'test_evaluator.outfile_prefix={prefix}',
    )
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert f'{key}: 0.0000' in log, log[-3000:]
    gt = EmptyResultsCOCO(os.path.join(data, 'annotations/instances_val.json'))
    for kind in ('bbox', 'segm'):
        path = f'{prefix}.{kind}.json'
        with open(path) as f:
            assert json.load(f) == []
        results = gt.loadRes(path)
        assert results.dataset['annotations'] == []
        assert len(results.dataset['images']) == 2 + NUM_EMPTY


def test_image_demo_writes_empty_lists(empty_run, tmp_path, repo_root, python):
    data, _, checkpoint = empty_run
    images = [
        os.path.join(data, 'val', '000001.png'),
        os.path.join(data, 'val', 'empty_0.png'),
    ]
    out = run_tool(
        repo_root,
        python,
        'tools/demo/image_demo.py',
        *images,
        QUICKSTART,
        '--weights',
        checkpoint,
        '--out-dir',
        tmp_path,
        '--polygons',
        '--cfg-options',
        'model.test_cfg.score_thr=1.0',
    )
    assert out.count('0 instances predicted, 0 drawn') == 2
    for name in ('000001', 'empty_0'):
        with open(tmp_path / 'preds' / f'{name}.json') as f:
            assert json.load(f) == dict(
                labels=[], scores=[], bboxes=[], masks=[], polygons=[]
            )
        assert (tmp_path / 'vis' / f'{name}.png').is_file()
