"""COCO segm and bbox AP through mmdet's CocoMetric on generated data."""

import json
import subprocess

import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric
from pycocotools import mask as mask_utils

from mmsolo.datasets import write_split
from mmsolo.models.layers import masks_to_boxes

CONFIG_TEMPLATE = """
_base_ = '{repo}/configs/solov2/solov2_r50_fpn_1x_coco.py'
data_root = '{data}/'
metainfo = dict(classes=('circle', 'square', 'triangle'))
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    mask_feature_neck=dict(in_channels=64, feat_channels=32, out_channels=32,
                           norm_cfg=dict(type='GN', num_groups=8)),
    mask_head=dict(num_classes=3, in_channels=64, feat_channels=64,
                   stacked_convs=2,
                   norm_cfg=dict(type='GN', num_groups=8)),
    test_cfg=dict(score_thr=0.0, filter_thr=-1, max_per_img=20))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor'))
]
test_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json',
                      metric=['bbox', 'segm'])
"""


@pytest.fixture(scope='module')
def shapes_val(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    write_split(str(root), 'val', num_images=4, seed=7)
    return root


def test_tools_test_prints_segm_and_bbox_ap(
    shapes_val, tmp_path, repo_root, python
):
    from mmengine.config import Config

    from mmsolo.registry import MODELS

    config = tmp_path / 'shapes_r18.py'
    config.write_text(CONFIG_TEMPLATE.format(repo=repo_root, data=shapes_val))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    model.init_weights()
    checkpoint = tmp_path / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    done = subprocess.run(
        [
            python,
            'tools/test.py',
            str(config),
            str(checkpoint),
            '--work-dir',
            str(tmp_path / 'work'),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    for key in ('coco/bbox_mAP', 'coco/segm_mAP', 'Average Precision'):
        assert key in log, log[-3000:]


def test_boxes_from_masks_give_real_box_ap(shapes_val):
    """Perfect masks with the boxes derived from them score AP 1.0 for both
    segm and bbox: the box AP measures real boxes."""
    ann_file = str(shapes_val / 'annotations' / 'instances_val.json')
    coco = json.loads(open(ann_file).read())
    metric = CocoMetric(ann_file=ann_file, metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=('circle', 'square', 'triangle'))
    for image in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        masks = torch.from_numpy(
            np.stack([mask_utils.decode(a['segmentation']) for a in anns])
        ).bool()
        pred = dict(
            masks=masks,
            bboxes=masks_to_boxes(masks),
            scores=torch.ones(len(anns)),
            labels=torch.tensor([a['category_id'] - 1 for a in anns]),
        )
        metric.process(
            {},
            [
                dict(
                    img_id=image['id'],
                    ori_shape=masks.shape[1:],
                    pred_instances=pred,
                )
            ],
        )
    results = metric.evaluate(len(coco['images']))
    assert results['coco/segm_mAP'] == pytest.approx(1.0)
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)
