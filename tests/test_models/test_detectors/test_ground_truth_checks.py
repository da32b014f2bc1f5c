"""A panoptic model whose train pipeline loads no semantic ground truth
stops before its first step, and a loss on samples without it stops too,
each with a message naming the pipeline step (it raised ``AttributeError:
'DetDataSample' object has no attribute '_gt_sem_seg'``)."""

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.dataset import RepeatDataset
from mmengine.structures import InstanceData

from mmsolo.engine.hooks.pipeline_checks import check_semantic_pipeline
from mmsolo.registry import DATASETS, MODELS

PANOPTIC = 'configs/quickstart/solov2-panoptic_r18_fpn_shapes-panoptic.py'


def test_panoptic_loss_without_gt_sem_seg_names_the_pipeline_step(repo_root):
    model = MODELS.build(Config.fromfile(f'{repo_root}/{PANOPTIC}').model)
    sample = DetDataSample(
        metainfo=dict(
            img_path='data/x.png',
            img_shape=(64, 64),
            ori_shape=(64, 64),
            pad_shape=(64, 64),
            batch_input_shape=(64, 64),
        )
    )
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, 10:30, 10:30] = True
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10.0, 10.0, 30.0, 30.0]]),
        labels=torch.tensor([0]),
        masks=BitmapMasks(masks.numpy(), 64, 64),
    )
    with pytest.raises(ValueError) as error:
        model.loss(torch.zeros(1, 3, 64, 64), [sample])
    message = str(error.value)
    assert 'gt_sem_seg' in message and 'data/x.png' in message
    assert (
        'train_dataloader.dataset.pipeline) must load it with '
        "dict(type='mmsolo.LoadPanopticAnnotations', with_bbox=True, "
        'with_mask=True, with_seg=True)'
    ) in message


@pytest.mark.parametrize(
    'step, found',
    [
        (
            dict(type='mmsolo.LoadPanopticAnnotations', with_seg=False),
            'step 1 (LoadPanopticAnnotations) has with_seg=False',
        ),
        (
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            'step 1 (LoadAnnotations) has with_seg=False',
        ),
    ],
)
def test_panoptic_train_pipeline_without_seg_stops_before_training(
    repo_root, step, found
):
    """What ``NumClassesCheckHook`` runs before the first step."""
    cfg = Config.fromfile(f'{repo_root}/{PANOPTIC}')
    model = MODELS.build(cfg.model)
    dataset_cfg = dict(cfg.train_dataloader.dataset, lazy_init=True)
    check_semantic_pipeline(model, DATASETS.build(dataset_cfg))  # as given
    dataset_cfg['pipeline'] = [
        dict(type='LoadImageFromFile'),
        step,
        dict(type='PackDetInputs'),
    ]
    dataset = RepeatDataset(
        DATASETS.build(dataset_cfg), times=2, lazy_init=True
    )
    with pytest.raises(ValueError) as error:
        check_semantic_pipeline(model, dataset)
    assert str(error.value) == (
        'PanopticSOLOv2 trains a semantic head, but '
        f'train_dataloader.dataset.pipeline loads no semantic ground truth '
        f"({found}): use dict(type='mmsolo.LoadPanopticAnnotations', "
        'with_bbox=True, with_mask=True, with_seg=True) there'
    )


def test_semantic_check_looks_inside_cached_loading(repo_root):
    """The quick start caches its loading steps: the check reads the steps
    inside ``mmsolo.CachedTransforms``."""
    cfg = Config.fromfile(f'{repo_root}/{PANOPTIC}')
    model = MODELS.build(cfg.model)
    dataset_cfg = dict(cfg.train_dataloader.dataset, lazy_init=True)
    assert dataset_cfg['pipeline'][0]['type'] == 'mmsolo.CachedTransforms'
    check_semantic_pipeline(model, DATASETS.build(dataset_cfg))
    dataset_cfg['pipeline'] = [
        dict(
            type='mmsolo.CachedTransforms',
            transforms=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_mask=True),
            ],
        ),
        dict(type='PackDetInputs'),
    ]
    with pytest.raises(
        ValueError,
        match=r'step 1 \(LoadAnnotations\) has '
        'with_seg=False',
    ):
        check_semantic_pipeline(model, DATASETS.build(dataset_cfg))
