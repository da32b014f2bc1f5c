"""PanopticSOLOv2: SOLOv2 + semantic head, fused the Panoptic FPN way."""

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData, PixelData

from mmsolo.models.layers import masks_to_boxes
from mmsolo.registry import MODELS

THINGS, STUFF = 2, 3  # things a, b; stuff sky, ground, water
SKY, GROUND, WATER, VOID = 2, 3, 4, 5


def tiny_model(**test_cfg_panoptic) -> torch.nn.Module:
    torch.manual_seed(0)
    gn = dict(type='GN', num_groups=4)
    model = MODELS.build(
        dict(
            type='PanopticSOLOv2',
            data_preprocessor=dict(
                type='DetDataPreprocessor',
                pad_mask=True,
                pad_seg=True,
                seg_pad_value=255,
                pad_size_divisor=32,
            ),
            backbone=dict(
                type='ResNet',
                depth=18,
                base_channels=8,
                out_indices=(0, 1, 2, 3),
                init_cfg=None,
            ),
            neck=dict(
                type='FPN',
                in_channels=[8, 16, 32, 64],
                out_channels=16,
                num_outs=4,
            ),
            mask_feature_neck=dict(
                type='MaskFeatureNeck',
                in_channels=16,
                feat_channels=16,
                out_channels=16,
                norm_cfg=gn,
            ),
            mask_head=dict(
                type='SOLOv2Head',
                num_classes=THINGS,
                in_channels=16,
                feat_channels=16,
                stacked_convs=1,
                strides=[8, 8, 16, 32],
                scale_ranges=((1, 32), (16, 64), (32, 128), (64, 2048)),
                num_grids=[8, 6, 4, 2],
                norm_cfg=gn,
            ),
            semantic_head=dict(
                type='SOLOv2SemanticHead',
                num_stuff_classes=STUFF,
                in_channels=16,
                feat_channels=16,
                norm_cfg=gn,
            ),
            test_cfg=dict(
                nms_pre=50,
                score_thr=0.01,
                mask_thr=0.5,
                filter_thr=0.05,
                kernel='gaussian',
                sigma=2.0,
                max_per_img=10,
                panoptic=test_cfg_panoptic,
            ),
        )
    )
    model.init_weights()
    return model


def instances(*specs) -> InstanceData:
    """Instances on an 8x8 image from (label, score, rows, cols) specs."""
    masks = torch.zeros(len(specs), 8, 8, dtype=torch.bool)
    for mask, (_, _, rows, cols) in zip(masks, specs):
        mask[rows, cols] = True
    result = InstanceData()
    result.masks = masks
    result.labels = torch.tensor([spec[0] for spec in specs])
    result.scores = torch.tensor([spec[1] for spec in specs])
    result.bboxes = masks_to_boxes(masks)
    return result


def test_fusion_on_a_hand_built_image():
    """Instances by score over stuff; an instance covered more than half by
    a better one is dropped, one covered exactly half keeps its free part;
    a low score stays out; "thing" pixels without an instance and a stuff
    class under the area limit become void."""
    model = tiny_model(score_thr=0.5, mask_overlap=0.5, stuff_area_limit=5)
    seg_logits = torch.zeros(STUFF + 1, 8, 8)  # sky, ground, water, thing
    seg_logits[0, :4] = 1  # sky above
    seg_logits[1, 4:] = 1  # ground below
    seg_logits[2, 6:, 6:] = 2  # 4 px of water: under the limit of 5
    seg_logits[3, :2, :2] = 2  # "thing" where no instance is laid
    found = instances(
        (1, 0.8, slice(4, 8), slice(4, 6)),  # b: 4 of 8 px under a
        (0, 0.9, slice(2, 6), slice(2, 6)),  # a: over sky and ground
        (1, 0.7, slice(2, 5), slice(3, 5)),  # inside a: dropped
        (0, 0.2, slice(0, 2), slice(6, 8)),
    )  # under score_thr: left out
    panoptic = model.fuse([found], [seg_logits])[0]
    S, G, V, A, B = SKY, GROUND, VOID, 0 + 1000, 1 + 2000
    expected = torch.tensor(
        [
            [V, V, S, S, S, S, S, S],
            [V, V, S, S, S, S, S, S],
            [S, S, A, A, A, A, S, S],
            [S, S, A, A, A, A, S, S],
            [G, G, A, A, A, A, G, G],
            [G, G, A, A, A, A, G, G],
            [G, G, G, G, B, B, V, V],
            [G, G, G, G, B, B, V, V],
        ],
        dtype=torch.int32,
    )
    assert panoptic.sem_seg.dtype == torch.int32
    assert torch.equal(panoptic.sem_seg[0], expected)


def test_fusion_without_instances_is_stuff_and_void():
    model = tiny_model(score_thr=0.5, mask_overlap=0.5, stuff_area_limit=0)
    seg_logits = torch.zeros(STUFF + 1, 8, 8)
    seg_logits[3] = 1  # "thing" everywhere, no instance
    panoptic = model.fuse([instances()], [seg_logits])[0]
    assert (panoptic.sem_seg == VOID).all()


def one_image_batch(height: int = 64, width: int = 96) -> dict:
    """A uint8 image with a square of thing 0 and a disk of thing 1 on sky
    (top) and water (bottom), one corner void, as a data loader gives it."""
    img = np.full((3, height, width), 120, dtype=np.uint8)
    sem = np.full((height, width), THINGS + 0, dtype=np.int64)
    sem[height // 2 :] = THINGS + 2
    sem[:4, :4] = 255
    masks = np.zeros((2, height, width), dtype=np.uint8)
    masks[0, 8:40, 8:40] = 1
    ys, xs = np.mgrid[:height, :width]
    masks[1] = (xs - 70) ** 2 + (ys - 40) ** 2 <= 15**2
    for label, mask in enumerate(masks):
        sem[mask == 1] = label
        img[:, mask == 1] = 40 + 150 * label
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(height, width),
            ori_shape=(height, width),
            scale_factor=(1.0, 1.0),
        )
    )
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(
            [[8.0, 8.0, 40.0, 40.0], [55.0, 25.0, 86.0, 56.0]]
        ),
        labels=torch.tensor([0, 1]),
        masks=BitmapMasks(masks, height, width),
    )
    sample.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(sem)[None])
    return dict(inputs=[torch.from_numpy(img)], data_samples=[sample])


def test_loss_adds_the_semantic_term():
    model = tiny_model()
    data = model.data_preprocessor(one_image_batch(60, 90), True)
    assert data['inputs'].shape[-2:] == (64, 96)
    seg = data['data_samples'][0].gt_sem_seg.sem_seg
    assert seg.shape[-2:] == (64, 96) and (seg[0, 60:] == 255).all()
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_mask', 'loss_cls', 'loss_seg'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.semantic_head.conv_seg.weight.grad.abs().sum() > 0


def test_predict_gives_instances_and_a_panoptic_map():
    model = tiny_model(score_thr=0.0, stuff_area_limit=0).eval()
    with torch.no_grad():
        data = model.data_preprocessor(one_image_batch(60, 90), False)
        sample = model(**data, mode='predict')[0]
    pan = sample.pred_panoptic_seg.sem_seg
    assert pan.shape == (1, 60, 90) and pan.dtype == torch.int32
    labels = pan % 1000
    assert ((labels >= 0) & (labels <= VOID)).all()
    assert 'pred_instances' in sample
    assert sample.pred_instances.masks.shape[-2:] == (60, 90)


def test_tensor_mode_includes_the_semantic_logits():
    """What get_flops.py counts: SOLOv2's outputs and the semantic head's."""
    model = tiny_model()
    outputs = model(torch.zeros(1, 3, 64, 96), mode='tensor')
    assert len(outputs) == 4
    assert outputs[3].shape == (1, STUFF + 1, 16, 24)


def test_test_cfg_is_split_between_head_and_fusion():
    model = tiny_model(score_thr=0.4)
    assert 'panoptic' not in model.mask_head.test_cfg
    assert model.mask_head.test_cfg.score_thr == 0.01
    panoptic = model.panoptic_fusion_head.test_cfg
    assert (
        panoptic.score_thr,
        panoptic.mask_overlap,
        panoptic.stuff_area_limit,
    ) == (0.4, 0.5, 4096)
    assert model.panoptic_fusion_head.num_classes == THINGS + STUFF


def test_thing_counts_must_agree():
    with pytest.raises(ValueError, match='semantic_head.num_things_classes'):
        MODELS.build(
            dict(
                type='PanopticSOLOv2',
                backbone=dict(type='ResNet', depth=18, init_cfg=None),
                neck=dict(
                    type='FPN',
                    in_channels=[64, 128, 256, 512],
                    out_channels=16,
                    num_outs=4,
                ),
                mask_feature_neck=dict(
                    type='MaskFeatureNeck', in_channels=16, norm_cfg=None
                ),
                mask_head=dict(
                    type='SOLOv2Head', num_classes=3, in_channels=16
                ),
                semantic_head=dict(
                    type='SOLOv2SemanticHead',
                    num_things_classes=4,
                    num_stuff_classes=2,
                    in_channels=16,
                ),
            )
        )
