"""CenterRegionGridAssigner against MMDetection's SOLOV2Head targets."""

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from support import mmdet_config_path

from mmsolo.models.task_modules import CenterRegionGridAssigner
from mmsolo.models.task_modules.grid_assigner import (
    downsample_masks,
    mask_moments,
)

PAD_SHAPE = (320, 480)  # mask features 80 x 120


def crowded_instances(num: int, seed: int) -> InstanceData:
    """``num`` ellipses of sides 4 to 300 px, some cut by the image border,
    many overlapping, plus one instance whose mask is empty."""
    rng = np.random.default_rng(seed)
    h, w = PAD_SHAPE
    ys, xs = np.mgrid[:h, :w] + 0.5
    boxes, masks = [], []
    for _ in range(num):
        bw, bh = np.exp(rng.uniform(np.log(4), np.log(300), 2))
        x1 = rng.uniform(-bw / 3, w - bw * 2 / 3)
        y1 = rng.uniform(-bh / 3, h - bh * 2 / 3)
        mask = ((xs - x1 - bw / 2) / (bw / 2)) ** 2 + (
            (ys - y1 - bh / 2) / (bh / 2)
        ) ** 2 <= 1
        boxes.append([x1, y1, x1 + bw, y1 + bh])
        masks.append(mask)
    boxes.append([10, 10, 60, 60])  # its mask has no pixel
    masks.append(np.zeros(PAD_SHAPE, dtype=bool))
    instances = InstanceData()
    instances.bboxes = torch.tensor(boxes, dtype=torch.float32)
    instances.labels = torch.as_tensor(rng.integers(0, 80, len(boxes)))
    instances.masks = BitmapMasks(np.stack(masks).astype(np.uint8), *PAD_SHAPE)
    return instances


@pytest.fixture(scope='module')
def mmdet_head():
    head_cfg = Config.fromfile(mmdet_config_path()).model.mask_head
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MMDET_MODELS.build(head_cfg)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_targets_equal_mmdet(mmdet_head, seed):
    instances = crowded_instances(60, seed)
    featmap_size = (PAD_SHAPE[0] // 4, PAD_SHAPE[1] // 4)
    ref_targets, ref_labels, _, ref_indexes = mmdet_head._get_targets_single(
        instances, featmap_sizes=featmap_size
    )
    assigner = CenterRegionGridAssigner(
        num_classes=80,
        num_grids=mmdet_head.num_grids,
        scale_ranges=mmdet_head.scale_ranges,
        pos_scale=mmdet_head.pos_scale,
    )
    ours = assigner.assign(
        instances.bboxes, instances.labels, instances.masks.masks, featmap_size
    )
    total_positives = 0
    for level in range(len(mmdet_head.num_grids)):
        assert torch.equal(ours.labels[level], ref_labels[level].flatten())
        assert ours.pos_cells[level].tolist() == ref_indexes[level]
        assert torch.equal(ours.mask_targets[level], ref_targets[level])
        total_positives += len(ref_indexes[level])
    assert total_positives > 100
    distinct = sum(len(set(indexes)) for indexes in ref_indexes)
    assert ours.num_pos_cells == distinct


def test_tensor_masks_give_the_same_targets():
    instances = crowded_instances(20, 3)
    assigner = CenterRegionGridAssigner(
        num_classes=80,
        num_grids=[40, 36, 24, 16, 12],
        scale_ranges=((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048)),
    )
    from_array = assigner.assign(
        instances.bboxes, instances.labels, instances.masks.masks, (80, 120)
    )
    from_tensor = assigner.assign(
        instances.bboxes,
        instances.labels,
        instances.masks.to_tensor(torch.bool, 'cpu'),
        (80, 120),
    )
    for a, b in zip(from_array.mask_targets, from_tensor.mask_targets):
        assert torch.equal(a, b)


def test_mask_moments():
    masks = np.zeros((3, 6, 8), dtype=np.uint8)
    masks[0, 1:3, 2:6] = 1  # rows 1-2, columns 2-5
    masks[1, 5, 7] = 1
    area, rows, cols = mask_moments(masks)
    assert area.tolist() == [8, 1, 0]
    assert rows.tolist() == [1.5, 5.0, 0.0]
    assert cols.tolist() == [3.5, 7.0, 0.0]


def test_downsample_masks_pads_into_the_feature_size():
    masks = np.ones((2, 30, 42), dtype=np.uint8)  # 30/4 -> 8, 42/4 -> 11
    out = downsample_masks(masks, 4, (9, 12))
    assert out.shape == (2, 9, 12)
    assert (
        out[:, :8, :11].all()
        and not out[:, 8:].any()
        and not out[:, :, 11:].any()
    )
