"""Channel mismatches between backbone, FPN, mask-feature neck and head
stop the build with a message naming the config field (a conv's
RuntimeError at the first forward named none)."""
import pytest
from mmengine.config import Config

from mmsolo.registry import MODELS
from mmsolo.testing.tiny_runs import QUICKSTART


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
        'equal')
    model.mask_feature_neck.in_channels = 32
    with pytest.raises(ValueError, match=r'^model\.mask_head\.in_channels=64 '
                       r'but model\.neck \(FPN\) gives maps of 32'):
        MODELS.build(model)
    model.mask_head.in_channels = 32
    MODELS.build(model)  # consistent again


def test_swin_backbone_with_resnets_fpn_in_channels(repo_root):
    model = quickstart_model(repo_root)
    model.backbone = dict(
        type='SwinTransformer', embed_dims=16, depths=(1, 1, 1, 1),
        num_heads=(1, 2, 2, 4), window_size=4, out_indices=(0, 1, 2, 3))
    with pytest.raises(ValueError) as error:
        MODELS.build(model)
    assert str(error.value) == (
        'model.neck.in_channels=[32, 64, 128, 256] but model.backbone '
        '(SwinTransformer, out_indices=(0, 1, 2, 3)) gives 4 feature maps of '
        '[16, 32, 64, 128] channels; set model.neck.in_channels=[16, 32, 64, '
        '128]')
    model.neck.in_channels = [16, 32, 64, 128]
    MODELS.build(model)


def test_the_probe_leaves_training_modes_alone(repo_root):
    model = MODELS.build(quickstart_model(repo_root))
    assert model.training and model.backbone.training
    assert all(module.training for module in model.modules())
