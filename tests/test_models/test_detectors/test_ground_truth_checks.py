"""A panoptic model trained on samples without semantic ground truth stops
with a message naming the pipeline step to add (it raised
``AttributeError: 'DetDataSample' object has no attribute '_gt_sem_seg'``)."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmsolo.registry import MODELS

PANOPTIC = 'configs/quickstart/solov2-panoptic_r18_fpn_shapes-panoptic.py'


def test_panoptic_loss_without_gt_sem_seg_names_the_pipeline_step(repo_root):
    model = MODELS.build(Config.fromfile(f'{repo_root}/{PANOPTIC}').model)
    sample = DetDataSample(metainfo=dict(
        img_path='data/x.png', img_shape=(64, 64), ori_shape=(64, 64),
        pad_shape=(64, 64), batch_input_shape=(64, 64)))
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, 10:30, 10:30] = True
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 10., 30., 30.]]),
        labels=torch.tensor([0]),
        masks=BitmapMasks(masks.numpy(), 64, 64))
    with pytest.raises(ValueError) as error:
        model.loss(torch.zeros(1, 3, 64, 64), [sample])
    message = str(error.value)
    assert 'gt_sem_seg' in message and 'data/x.png' in message
    assert ("train_dataloader.dataset.pipeline) must load it with "
            "dict(type='mmsolo.LoadPanopticAnnotations', with_bbox=True, "
            "with_mask=True, with_seg=True)") in message
