import pytest
import torch

from mmsolo.models.necks import MaskFeatureNeck
from mmsolo.registry import MODELS


def pyramid(channels=32, size=(32, 48), levels=5):
    return [
        torch.randn(2, channels, size[0] // 2**i, size[1] // 2**i)
        for i in range(levels)
    ]


def test_fuses_to_finest_scale_from_config():
    neck = MODELS.build(
        dict(
            type='MaskFeatureNeck',
            in_channels=32,
            feat_channels=16,
            out_channels=24,
            norm_cfg=dict(type='GN', num_groups=8),
        )
    )
    assert isinstance(neck, MaskFeatureNeck)
    mask_feats = neck(pyramid())
    assert not mask_feats.per_level and len(mask_feats.maps) == 1
    out = mask_feats.maps[0]
    assert out.shape == (2, 24, 32, 48)
    assert (out >= 0).all()  # ends with ReLU
    # Level i has max(i, 1) convs; only the deepest gets coordinates.
    assert [len(convs) for convs in neck.level_convs] == [1, 1, 2, 3]
    assert neck.level_convs[3][0].conv.in_channels == 34
    assert neck.level_convs[2][0].conv.in_channels == 32


def test_coordinates_make_output_position_dependent():
    """With the same weights, the output with coordinates differs from the
    one without by what the coordinate channels add, and by nothing else:
    zero weights on those channels give the output without them. (Zero
    padding alone makes a constant input's output position-dependent, so
    comparing two positions of one output could not fail.)"""
    torch.manual_seed(0)
    with_coord = MaskFeatureNeck(
        in_channels=8, feat_channels=8, out_channels=8, norm_cfg=None
    ).eval()
    no_coord = MaskFeatureNeck(
        in_channels=8,
        feat_channels=8,
        out_channels=8,
        norm_cfg=None,
        with_coord=False,
    ).eval()
    assert with_coord.level_convs[3][0].conv.in_channels == 10
    assert no_coord.level_convs[3][0].conv.in_channels == 8
    weights = with_coord.state_dict()
    coord_key = 'level_convs.3.0.conv.weight'
    no_coord.load_state_dict(
        dict(weights, **{coord_key: weights[coord_key][:, :8]})
    )
    feats = pyramid(channels=8, size=(16, 16), levels=4)
    with torch.no_grad():
        out = with_coord(feats).maps[0]
        plain = no_coord(feats).maps[0]
        assert plain.shape == out.shape == (2, 8, 16, 16)
        assert out.sub(plain).abs().max() > 1e-4
        with_coord.level_convs[3][0].conv.weight[:, 8:] = 0
        torch.testing.assert_close(with_coord(feats).maps[0], plain)


def test_too_few_levels_is_explained():
    neck = MaskFeatureNeck(in_channels=32, norm_cfg=None)
    with pytest.raises(ValueError, match='end_level=3'):
        neck(pyramid(levels=3))
    with pytest.raises(ValueError, match='start_level'):
        MaskFeatureNeck(start_level=2, end_level=1)


@pytest.mark.parametrize('start_level', [0, 1])
def test_coarser_levels_share_one_final_upsampling(start_level):
    """In training, the towers of levels >= 1 are summed at level 1's scale
    and upsampled once: equal (up to rounding) to the sum of every tower
    upsampled to level 0's scale on its own, forward and backward, with one
    2x upsampling at the last step instead of one per level. In eval mode
    each tower is upsampled on its own: exactly the per-tower sum."""
    from unittest import mock

    import torch.nn.functional as F

    from mmsolo.models.layers import pyramid_fusion

    torch.manual_seed(0)
    neck = MaskFeatureNeck(
        in_channels=8,
        feat_channels=8,
        out_channels=8,
        start_level=start_level,
        norm_cfg=dict(type='GN', num_groups=4),
    )
    feats = [f.requires_grad_() for f in pyramid(channels=8, size=(16, 24))]

    def per_tower_reference(inputs):
        fused = 0
        for tower in neck.level_convs:
            feat = inputs[tower.level]
            if tower.with_coord:
                feat = pyramid_fusion.concat_coords(feat)
            for block in tower:
                feat = block(feat)
                if tower.level > 0:
                    feat = F.interpolate(
                        feat,
                        scale_factor=2,
                        mode='bilinear',
                        align_corners=False,
                    )
            fused = fused + feat
        return neck.fuse_conv(fused)

    reference = per_tower_reference(feats)
    calls = []
    real = pyramid_fusion.bilinear_upsample_2x

    def counted(x):
        calls.append(tuple(x.shape[-2:]))
        return real(x)

    with mock.patch.object(pyramid_fusion, 'bilinear_upsample_2x', counted):
        out = neck(feats).maps[0]
    assert out.shape == (2, 8, 16, 24)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    # The towers' inner upsamplings start from smaller maps; from level 1's
    # scale (8, 12) there is one upsampling for all towers together (three
    # before: one per level).
    assert calls.count((8, 12)) == 1
    grads = torch.autograd.grad(out.square().sum(), feats[start_level:4])
    ref_grads = torch.autograd.grad(
        reference.square().sum(), feats[start_level:4]
    )
    for grad, ref_grad in zip(grads, ref_grads):
        # GroupNorm's backward on 2x3 maps amplifies rounding: compare norms.
        assert (grad - ref_grad).norm() <= 1e-5 * ref_grad.norm()

    neck.eval()
    calls.clear()
    with (
        torch.no_grad(),
        mock.patch.object(pyramid_fusion, 'bilinear_upsample_2x', counted),
    ):
        out = neck(feats).maps[0]
        reference = per_tower_reference(feats)
    assert calls.count((8, 12)) == 3  # levels 1, 2 and 3
    assert torch.equal(out, reference)
