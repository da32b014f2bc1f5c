"""tools/test.py writes COCO results JSON the mmdet way
(``test_evaluator.format_only=True test_evaluator.outfile_prefix=...``)
through mmsolo's EmptySafeCocoMetric, for a labelled test set and for the
unlabelled images of an images2coco file; the files load with pycocotools'
``COCO.loadRes``. And the metric writes its result files whole or not at
all."""

import json
import os
import subprocess

import numpy as np
import pytest
from pycocotools.coco import COCO
from support import (
    save_seeded_checkpoint,
    write_tiny_config,
    write_tiny_shapes,
)

from mmsolo.evaluation import EmptySafeCocoMetric

# Random weights score about 0.01: keep a few instances per image.
PERMISSIVE = [
    'model.test_cfg.score_thr=0.',
    'model.test_cfg.filter_thr=0.',
    'model.test_cfg.max_per_img=3',
]


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, repo_root):
    """(data root, config, seeded checkpoint) of the quick start on 2
    validation images."""
    root = tmp_path_factory.mktemp('results_json')
    data = write_tiny_shapes(str(root / 'data'), num_train=1, num_val=2)
    config = write_tiny_config(str(root / 'tiny.py'), repo_root, data)
    checkpoint = save_seeded_checkpoint(config, str(root / 'seeded.pth'))
    return data, config, checkpoint


def run_test_py(repo_root, python, config, checkpoint, work_dir, options):
    done = subprocess.run(
        [
            python,
            'tools/test.py',
            config,
            checkpoint,
            '--work-dir',
            str(work_dir),
            '--cfg-options',
            *options,
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout + done.stderr


def check_results(ann_file: str, prefix: str, num_images: int) -> None:
    """``prefix.segm.json`` and ``prefix.bbox.json`` load with
    ``COCO.loadRes`` over ``ann_file``: 3 results for each image, masks of
    the image's size."""
    gt = COCO(ann_file)
    for kind in ('segm', 'bbox'):
        path = f'{prefix}.{kind}.json'
        results = gt.loadRes(path)
        anns = results.dataset['annotations']
        assert len(anns) == 3 * num_images
        assert {a['image_id'] for a in anns} == set(gt.getImgIds())
        for ann in anns:
            image = gt.imgs[ann['image_id']]
            if kind == 'segm':
                assert ann['segmentation']['size'] == [
                    image['height'],
                    image['width'],
                ]
            assert len(ann['bbox']) == 4 and ann['score'] >= 0
    assert not [n for n in os.listdir(os.path.dirname(prefix)) if '.tmp' in n]


def test_format_only_writes_coco_results(
    tiny_run, tmp_path, repo_root, python
):
    data, config, checkpoint = tiny_run
    prefix = tmp_path / 'results' / 'shapes'
    log = run_test_py(
        repo_root,
        python,
        config,
        checkpoint,
        tmp_path / 'work',
        [
            'test_evaluator.format_only=True',
            f'test_evaluator.outfile_prefix={prefix}',
            *PERMISSIVE,
        ],
    )
    assert 'coco/segm_mAP' not in log  # formatted, not evaluated
    check_results(
        os.path.join(data, 'annotations', 'instances_val.json'),
        str(prefix),
        num_images=2,
    )


def test_format_only_on_unlabelled_images(
    tiny_run, tmp_path, repo_root, python
):
    """An images2coco file (images and categories, no annotation) as the
    test set's and the evaluator's ann_file."""
    data, config, checkpoint = tiny_run
    names = tmp_path / 'classes.txt'
    names.write_text('circle\nsquare\ntriangle\n')
    image_list = tmp_path / 'unlabelled.json'
    done = subprocess.run(
        [
            python,
            'tools/dataset_converters/images2coco.py',
            os.path.join(data, 'val'),
            '--classes',
            str(names),
            '--out',
            str(image_list),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(image_list.read_text())['annotations'] == []
    prefix = tmp_path / 'results' / 'unlabelled'
    run_test_py(
        repo_root,
        python,
        config,
        checkpoint,
        tmp_path / 'work',
        [
            f'test_dataloader.dataset.ann_file={image_list}',
            f'test_evaluator.ann_file={image_list}',
            'test_evaluator.format_only=True',
            f'test_evaluator.outfile_prefix={prefix}',
            *PERMISSIVE,
        ],
    )
    check_results(str(image_list), str(prefix), num_images=2)


def test_result_files_are_written_whole_or_not_at_all(tmp_path):
    """A failure while the metric writes its files (a result JSON cannot
    hold) leaves the files of an earlier run as they were, and no
    temporary file."""
    prefix = str(tmp_path / 'results')
    earlier = {}
    for kind in ('bbox', 'segm'):
        earlier[kind] = f'[{{"earlier": "{kind}"}}]'
        with open(f'{prefix}.{kind}.json', 'w') as f:
            f.write(earlier[kind])
    metric = EmptySafeCocoMetric(metric=['bbox', 'segm'])
    metric.cat_ids = [1]
    result = dict(
        img_id=1,
        bboxes=np.array([[0.0, 0.0, 2.0, 2.0]]),
        scores=np.array([0.5]),
        labels=np.array([0]),
        masks=[dict(size=[4, 4], counts=object())],
    )
    with pytest.raises(TypeError):
        metric.results2json([result], prefix)
    assert sorted(os.listdir(tmp_path)) == [
        'results.bbox.json',
        'results.segm.json',
    ]
    for kind in ('bbox', 'segm'):
        with open(f'{prefix}.{kind}.json') as f:
            assert f.read() == earlier[kind]

    result['masks'] = [dict(size=[4, 4], counts='04L4')]
    files = metric.results2json([result], prefix)
    assert files == dict(
        bbox=f'{prefix}.bbox.json',
        proposal=f'{prefix}.bbox.json',
        segm=f'{prefix}.segm.json',
    )
    with open(files['segm']) as f:
        assert json.load(f)[0]['segmentation']['counts'] == '04L4'
    assert sorted(os.listdir(tmp_path)) == [
        'results.bbox.json',
        'results.segm.json',
    ]
