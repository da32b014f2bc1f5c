import pytest
import torch
import torch.nn.functional as F

from mmsolo.models.necks import SeparateMaskFeatureNeck
from mmsolo.registry import MODELS


def pyramid(channels=16, size=(32, 40), levels=5, batch=2, seed=0):
    """FPN-like levels; P6 comes from P5 as FPN makes it (5 -> 3 columns),
    so sizes are not all exact halves."""
    g = torch.Generator().manual_seed(seed)
    feats = [
        torch.randn(
            batch, channels, size[0] // 2**i, size[1] // 2**i, generator=g
        )
        for i in range(min(levels, 4))
    ]
    if levels > 4:
        feats.append(F.max_pool2d(feats[-1], 1, stride=2))
    return feats


def small_neck(**overrides):
    cfg = dict(
        type='SeparateMaskFeatureNeck',
        in_channels=16,
        feat_channels=8,
        out_channels=12,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
    )
    cfg.update(overrides)
    return MODELS.build(cfg)


def test_one_map_per_level_at_the_finest_scale():
    neck = small_neck()
    assert isinstance(neck, SeparateMaskFeatureNeck)
    feats = pyramid()
    assert feats[4].shape[-2:] == (2, 3)  # not half of P5's (4, 5)
    mask_feats = neck(feats)
    assert mask_feats.per_level
    outs = mask_feats.maps
    assert len(outs) == 5
    assert all(out.shape == (2, 12, 32, 40) for out in outs)
    assert all((out >= 0).all() for out in outs)  # ends with ReLU
    # The unified neck's blocks per level, every level with coordinates.
    assert [len(convs) for convs in neck.level_convs] == [1, 1, 2, 3, 4]
    assert all(convs[0].conv.in_channels == 18 for convs in neck.level_convs)
    assert (
        small_neck(with_coord=False).level_convs[4][0].conv.in_channels == 16
    )


def test_each_map_depends_on_its_own_level_only():
    torch.manual_seed(0)
    neck = small_neck().eval()
    feats = pyramid()
    with torch.no_grad():
        outs = neck(feats).maps
        changed = list(feats)
        changed[3] = changed[3] + 1
        new_outs = neck(changed).maps
    differs = [not torch.allclose(a, b) for a, b in zip(outs, new_outs)]
    assert differs == [False, False, False, True, False]


def test_coordinates_make_every_level_position_dependent():
    torch.manual_seed(0)
    neck = small_neck(norm_cfg=None, init_cfg=None).eval()
    flat = [torch.ones_like(f) for f in pyramid(batch=1)]
    with torch.no_grad():
        outs = neck(flat).maps
        no_coord = (
            small_neck(norm_cfg=None, init_cfg=None, with_coord=False)
            .eval()(flat)
            .maps
        )
    for out in outs:
        assert out[0, :, 3, 3].sub(out[0, :, 28, 36]).abs().max() > 1e-5
    # Without coordinates a constant input gives a (nearly) constant
    # interior for level 0, whose only conv sees no padding there.
    assert (
        no_coord[0][0, :, 3, 3].sub(no_coord[0][0, :, 28, 36]).abs().max()
        < 1e-6
    )


def test_bad_levels_are_explained():
    neck = small_neck()
    with pytest.raises(ValueError, match='num_levels=5'):
        neck(pyramid(levels=4))
    with pytest.raises(ValueError, match='num_levels'):
        small_neck(num_levels=0)


def separate_neck_detector_cfg(head_test_cfg, **neck_overrides):
    """An R18 SOLOv2 on 16-channel FPN levels with a
    SeparateMaskFeatureNeck of 12 output channels."""
    return dict(
        type='SOLOv2',
        backbone=dict(
            type='ResNet',
            depth=18,
            out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='BN'),
            init_cfg=None,
        ),
        neck=dict(
            type='FPN',
            in_channels=[64, 128, 256, 512],
            out_channels=16,
            num_outs=5,
        ),
        mask_feature_neck=dict(
            type='SeparateMaskFeatureNeck',
            in_channels=16,
            feat_channels=8,
            out_channels=12,
            norm_cfg=dict(type='GN', num_groups=4),
            **neck_overrides,
        ),
        mask_head=dict(
            type='SOLOv2Head',
            num_classes=3,
            in_channels=16,
            feat_channels=16,
            stacked_convs=2,
            num_grids=[12, 10, 8, 6, 4],
            norm_cfg=dict(type='GN', num_groups=4),
        ),
        test_cfg=dict(head_test_cfg, nms_pre=50, max_per_img=10),
    )


def test_a_detector_checks_the_neck_levels_against_the_head(head_test_cfg):
    with pytest.raises(ValueError, match='mask_feature_neck.num_levels=4'):
        MODELS.build(separate_neck_detector_cfg(head_test_cfg, num_levels=4))


def test_in_a_detector_loss_and_predict_run(head_test_cfg):
    from mmsolo.testing import demo_batch

    detector = MODELS.build(separate_neck_detector_cfg(head_test_cfg))
    assert detector.mask_head.mask_feat_channels == 12
    inputs, samples = demo_batch(
        [(128, 160)],
        gt_instances=[
            dict(boxes=[[10, 20, 40, 60], [30, 30, 150, 120]], labels=[0, 2])
        ],
    )
    losses = detector.loss(inputs, samples)
    assert losses['loss_mask'] > 0
    assert all(torch.isfinite(loss) for loss in losses.values())
    sum(losses.values()).backward()
    out_grads = [
        conv.conv.weight.grad for conv in detector.mask_feature_neck.out_convs
    ]
    assert out_grads[0].abs().sum() > 0
    detector.eval()
    with torch.no_grad():
        results = detector.predict(inputs, samples)
    pred = results[0].pred_instances
    assert 0 < len(pred) <= 10
    assert pred.masks.shape[1:] == (128, 160)
