"""``SOLOv2(channels_last=True)``: the backbone and FPN in NHWC, the same
losses and predictions as the default layout on the same weights."""

import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from support import QUICKSTART

from mmsolo.registry import MODELS
from mmsolo.testing import demo_batch, random_gt_boxes

IMG_SHAPE = (128, 192)


def _build(repo_root: str, channels_last: bool) -> torch.nn.Module:
    cfg = Config.fromfile(f'{repo_root}/{QUICKSTART}').model
    cfg.channels_last = channels_last
    with DefaultScope.overwrite_default_scope('mmsolo'):
        return MODELS.build(cfg)


def _is_nhwc(param: torch.Tensor) -> bool:
    return param.is_contiguous(memory_format=torch.channels_last)


def _conv_weights(module: torch.nn.Module):
    return [
        m.weight for m in module.modules() if isinstance(m, torch.nn.Conv2d)
    ]


@pytest.fixture(scope='module')
def pair(repo_root):
    torch.manual_seed(0)
    plain = _build(repo_root, channels_last=False)
    plain.init_weights()
    nhwc = _build(repo_root, channels_last=True)
    nhwc.load_state_dict(plain.state_dict())
    return plain, nhwc


def test_backbone_and_fpn_stay_nhwc(pair):
    _, nhwc = pair
    nhwc.init_weights()
    nhwc.load_state_dict(pair[0].state_dict())
    nhwc.to('cpu')
    for part in (nhwc.backbone, nhwc.neck):
        assert all(_is_nhwc(w) for w in _conv_weights(part))
    # the GroupNorm parts keep the default layout
    assert not any(
        _is_nhwc(w) for w in _conv_weights(nhwc.mask_head) if w.shape[-1] > 1
    )


def test_fpn_levels_are_handed_on_in_nchw(pair):
    _, nhwc = pair
    with torch.no_grad():
        feats = nhwc.extract_feat(torch.randn(1, 3, *IMG_SHAPE))
    assert all(feat.is_contiguous() for feat in feats)


def test_losses_and_predictions_equal_the_default_layout(pair):
    plain, nhwc = pair
    gts = random_gt_boxes(
        2, 6, IMG_SHAPE, num_classes=3, min_side=8, max_side=100, seed=1
    )
    inputs, samples = demo_batch([IMG_SHAPE] * 2, gt_instances=gts, seed=2)
    plain.train()
    nhwc.train()
    ref = plain.loss(inputs, copy.deepcopy(samples))
    ours = nhwc.loss(inputs, copy.deepcopy(samples))
    for name, value in ref.items():
        assert torch.allclose(ours[name], value, rtol=1e-5), name
    plain.eval()
    nhwc.eval()
    with torch.no_grad():
        ref_pred = plain.predict(inputs, copy.deepcopy(samples))
        our_pred = nhwc.predict(inputs, copy.deepcopy(samples))
    for ref_sample, our_sample in zip(ref_pred, our_pred):
        a, b = ref_sample.pred_instances, our_sample.pred_instances
        assert torch.equal(a.labels, b.labels)
        assert torch.allclose(a.scores, b.scores, atol=1e-5)


def test_dcn_config_in_channels_last_keeps_its_losses(repo_root):
    """The R50-DCN config (DCNv2 in backbone stages 2-4) with
    ``channels_last=True``: the deformable convs stay NCHW, and the losses
    are those of the default layout."""
    from mmcv.ops import ModulatedDeformConv2d

    cfg = Config.fromfile(
        f'{repo_root}/configs/solov2/solov2-light_r50-dcn_fpn_ms-3x_coco.py'
    )
    cfg.model.backbone.init_cfg = None
    models = []
    for channels_last in (False, True):
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.channels_last = channels_last
        with DefaultScope.overwrite_default_scope('mmsolo'):
            models.append(MODELS.build(model_cfg))
    torch.manual_seed(0)
    models[0].init_weights()
    models[1].load_state_dict(models[0].state_dict())
    dcns = [
        m
        for m in models[1].backbone.modules()
        if isinstance(m, ModulatedDeformConv2d)
    ]
    assert len(dcns) == 13 and all(m.weight.is_contiguous() for m in dcns)
    gts = random_gt_boxes(
        1, 4, IMG_SHAPE, num_classes=80, min_side=16, max_side=100, seed=3
    )
    inputs, samples = demo_batch([IMG_SHAPE], gt_instances=gts, seed=4)
    losses = [
        model.train().loss(inputs, copy.deepcopy(samples)) for model in models
    ]
    for name, value in losses[0].items():
        torch.testing.assert_close(
            losses[1][name], value, rtol=1e-4, atol=1e-6, msg=name
        )
