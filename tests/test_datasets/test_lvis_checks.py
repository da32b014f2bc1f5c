"""LVIS datasets check their input as the COCO one does (file, keys,
images, before the first step), and the LVIS metric evaluates an empty
result set to 0.0 as the COCO metric does."""

import json
import os

import pytest
import torch
from mmdet.evaluation import LVISMetric
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from support.lvis_data import write_lvis_split

from mmsolo.datasets import (
    AnnotationFileError,
    CheckedLVISV05Dataset,
    CheckedLVISV1Dataset,
    ImageFileError,
)
from mmsolo.evaluation import EmptySafeLVISMetric


@pytest.fixture(scope='module')
def lvis_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('lvis_checks')
    ann_file = write_lvis_split(str(root), 'val', num_images=3, seed=2)
    with open(ann_file) as f:
        return root, json.load(f)


def build(dataset_class, root, ann_file, **kwargs):
    return dataset_class(
        data_root=f'{root}/',
        ann_file=ann_file,
        data_prefix=dict(img='val2017/'),
        pipeline=[],
        **kwargs,
    )


def write(root, name: str, content) -> str:
    path = os.path.join(root, 'annotations', name)
    with open(path, 'w') as f:
        f.write(content if isinstance(content, str) else json.dumps(content))
    return f'annotations/{name}'


def test_a_good_file_loads(lvis_root):
    root, data = lvis_root
    dataset = build(
        CheckedLVISV05Dataset, root, 'annotations/lvis_v0.5_val.json'
    )
    assert len(dataset) == len(data['images'])


def test_bad_files_are_named_before_the_first_step(lvis_root):
    root, data = lvis_root
    not_json = write(root, 'broken.json', '{"images": [')
    with pytest.raises(
        AnnotationFileError,
        match=r'broken\.json is not a '
        'JSON file',
    ):
        build(CheckedLVISV05Dataset, root, not_json)
    no_segmentation = dict(
        data,
        annotations=[
            {
                k: v
                for k, v in data['annotations'][0].items()
                if k != 'segmentation'
            }
        ],
    )
    path = write(root, 'no_seg.json', no_segmentation)
    ann_id = data['annotations'][0]['id']
    with pytest.raises(
        AnnotationFileError,
        match=rf'no_seg\.json: annotation {ann_id} misses the '
        r"key\(s\) \['segmentation'\]",
    ):
        build(CheckedLVISV05Dataset, root, path)
    # LVIS v1 names its images by coco_url.
    with pytest.raises(
        AnnotationFileError,
        match=r"image 1 misses the key\(s\) \['coco_url'\]",
    ):
        build(CheckedLVISV1Dataset, root, 'annotations/lvis_v0.5_val.json')


def test_missing_image_is_named(lvis_root, tmp_path):
    root, data = lvis_root
    os.rename(f'{root}/val2017/000000000002.png', tmp_path / 'away.png')
    try:
        with pytest.raises(
            ImageFileError, match=r'val2017/000000000002\.png is missing'
        ):
            build(
                CheckedLVISV05Dataset, root, 'annotations/lvis_v0.5_val.json'
            )
        build(
            CheckedLVISV05Dataset,
            root,
            'annotations/lvis_v0.5_val.json',
            check_images=False,
        )  # the check can be turned off
    finally:
        os.rename(tmp_path / 'away.png', f'{root}/val2017/000000000002.png')


def evaluate_nothing(metric_class, ann_file: str, data: dict) -> dict:
    metric = metric_class(ann_file=ann_file, metric=['bbox', 'segm'])
    metric.dataset_meta = dict(
        classes=('circle', 'square', 'triangle', 'hexagon')
    )
    for image in data['images']:
        sample = DetDataSample(
            metainfo=dict(
                img_id=image['id'], ori_shape=(image['height'], image['width'])
            )
        )
        h, w = image['height'], image['width']
        sample.pred_instances = InstanceData(
            bboxes=torch.zeros(0, 4),
            scores=torch.zeros(0),
            labels=torch.zeros(0, dtype=torch.long),
            masks=torch.zeros(0, h, w, dtype=torch.bool),
        )
        metric.process({}, [sample.to_dict()])
    return metric.evaluate(len(data['images']))


def test_lvis_metric_scores_an_empty_result_set(lvis_root):
    root, data = lvis_root
    ann_file = f'{root}/annotations/lvis_v0.5_val.json'
    assert evaluate_nothing(LVISMetric, ann_file, data) == {}  # mmdet's
    metrics = evaluate_nothing(EmptySafeLVISMetric, ann_file, data)
    assert metrics['lvis/segm_AP'] == 0.0
    assert metrics['lvis/bbox_AP'] == 0.0
