"""Channel mismatches between backbone, FPN, mask-feature neck and head
stop the build with a message naming the config field (a conv's
RuntimeError at the first forward named none); where the modules'
attributes do not give the channels, the first forward stops with it."""

import pytest
import torch
from mmdet.models.backbones import ResNet
from mmdet.models.necks import FPN
from mmengine.config import Config
from support import QUICKSTART
from torch import nn

from mmsolo.models.detectors.channel_checks import (
    backbone_out_channels,
    check_channels,
)
from mmsolo.registry import MODELS


def quickstart_model(repo_root: str) -> Config:
    return Config.fromfile(f'{repo_root}/{QUICKSTART}').model


def test_fpn_out_channels_left_against_the_neck_and_head(repo_root):
    model = quickstart_model(repo_root)
    model.neck.out_channels = 32  # the neck and head still take 64
    with pytest.raises(ValueError) as error:
        MODELS.build(model)
    assert str(error.value) == (
        'model.mask_feature_neck.in_channels=64 but model.neck (FPN) gives '
        'maps of 32 channels (model.neck.out_channels=32); make '
        'model.mask_feature_neck.in_channels and model.neck.out_channels '
        'equal'
    )
    model.mask_feature_neck.in_channels = 32
    with pytest.raises(
        ValueError,
        match=r'^model\.mask_head\.in_channels=64 '
        r'but model\.neck \(FPN\) gives maps of 32',
    ):
        MODELS.build(model)
    model.mask_head.in_channels = 32
    MODELS.build(model)  # consistent again


def test_swin_backbone_with_resnets_fpn_in_channels(repo_root):
    model = quickstart_model(repo_root)
    model.backbone = dict(
        type='SwinTransformer',
        embed_dims=16,
        depths=(1, 1, 1, 1),
        num_heads=(1, 2, 2, 4),
        window_size=4,
        out_indices=(0, 1, 2, 3),
    )
    with pytest.raises(ValueError) as error:
        MODELS.build(model)
    assert str(error.value) == (
        'model.neck.in_channels=[32, 64, 128, 256] but model.backbone '
        '(SwinTransformer, out_indices=(0, 1, 2, 3)) gives 4 feature maps of '
        '[16, 32, 64, 128] channels; set model.neck.in_channels=[16, 32, 64, '
        '128]'
    )
    model.neck.in_channels = [16, 32, 64, 128]
    MODELS.build(model)


def test_the_build_runs_no_forward(repo_root, monkeypatch):
    def no_forward(self, *args):
        raise AssertionError(f'{type(self).__name__} ran a forward')

    monkeypatch.setattr(ResNet, 'forward', no_forward)
    monkeypatch.setattr(FPN, 'forward', no_forward)
    model = MODELS.build(quickstart_model(repo_root))
    assert all(module.training for module in model.modules())


@pytest.mark.parametrize(
    'depth,channels', [(18, [32, 64, 128, 256]), (50, [128, 256, 512, 1024])]
)
def test_resnet_channels_from_its_attributes(depth, channels):
    backbone = ResNet(depth=depth, base_channels=32, out_indices=(3, 1, 0))
    # In stage order, as ResNet's forward gives them.
    assert backbone_out_channels(backbone) == [
        channels[0],
        channels[1],
        channels[3],
    ]
    assert backbone_out_channels(nn.Conv2d(3, 8, 3)) is None


def test_a_backbone_of_unknown_layout_is_checked_at_the_first_forward(
    repo_root,
):
    model = quickstart_model(repo_root)
    model.backbone = dict(
        type='CSPDarknet',
        deepen_factor=0.33,
        widen_factor=0.125,
        out_indices=(2, 3, 4),
    )
    detector = MODELS.build(model)  # CSPDarknet's attributes do not tell
    image = torch.zeros(1, 3, 64, 64)
    message = (
        'model.neck.in_channels=[32, 64, 128, 256] but model.backbone '
        '(CSPDarknet, out_indices=(2, 3, 4)) gives 3 feature maps of '
        '[32, 64, 128] channels; set model.neck.in_channels=[32, 64, '
        '128]'
    )
    for _ in range(2):  # the check stays until it passes
        with pytest.raises(ValueError) as error:
            detector.extract_feat(image)
        assert str(error.value) == message
    model.neck.in_channels = [32, 64, 128]
    detector = MODELS.build(model)
    assert len(detector.extract_feat(image)) == 4
    assert len(detector.extract_feat(image)) == 4  # and again


class ListChannelsNeck(nn.Module):
    """A neck whose attributes give no int ``out_channels``."""

    def __init__(self, out_channels):
        super().__init__()
        self.out_channels = out_channels

    def forward(self, feats):
        return tuple(
            torch.zeros(1, channels, 4, 4) for channels in self.out_channels
        )


def test_a_neck_without_int_out_channels_is_checked_at_the_first_forward():
    detector = nn.Module()
    detector.backbone = nn.Identity()
    detector.neck = ListChannelsNeck([16, 16, 8])
    detector.mask_head = nn.Module()
    detector.mask_head.in_channels = 16
    check_channels(detector, consumers=('mask_head',))
    with pytest.raises(
        ValueError,
        match=r'^model\.mask_head\.in_channels=16 '
        r'but model\.neck \(ListChannelsNeck\) gives maps of '
        r'8/16 channels \(model\.neck\.out_channels=\[16, '
        r'16, 8\]\)',
    ):
        detector.neck(None)
    detector.neck.out_channels = [16, 16]
    detector.neck(None)
