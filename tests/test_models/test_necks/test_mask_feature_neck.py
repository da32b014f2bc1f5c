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
            norm_cfg=dict(type='GN', num_groups=8)))
    assert isinstance(neck, MaskFeatureNeck)
    out = neck(pyramid())
    assert out.shape == (2, 24, 32, 48)
    assert (out >= 0).all()  # ends with ReLU
    # Level i has max(i, 1) convs; only the deepest gets coordinates.
    assert [len(convs) for convs in neck.level_convs] == [1, 1, 2, 3]
    assert neck.level_convs[3][0].conv.in_channels == 34
    assert neck.level_convs[2][0].conv.in_channels == 32


def test_coordinates_make_output_position_dependent():
    torch.manual_seed(0)
    neck = MaskFeatureNeck(in_channels=8, feat_channels=8, out_channels=8,
                           norm_cfg=None).eval()
    flat = [torch.ones(1, 8, 16 // 2**i, 16 // 2**i) for i in range(4)]
    out = neck(flat)
    assert out[0, :, 2, 2].sub(out[0, :, 13, 13]).abs().max() > 1e-4
    no_coord = MaskFeatureNeck(in_channels=8, feat_channels=8,
                               out_channels=8, norm_cfg=None,
                               with_coord=False).eval()
    assert no_coord.level_convs[3][0].conv.in_channels == 8
    assert no_coord(flat).shape == (1, 8, 16, 16)


def test_too_few_levels_is_explained():
    neck = MaskFeatureNeck(in_channels=32, norm_cfg=None)
    with pytest.raises(ValueError, match='end_level=3'):
        neck(pyramid(levels=3))
    with pytest.raises(ValueError, match='start_level'):
        MaskFeatureNeck(start_level=2, end_level=1)
