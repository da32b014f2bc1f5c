"""``SOLOv2(channels_last=True)``: the backbone and FPN in NHWC, the same
losses and predictions as the default layout on the same weights."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmsolo.registry import MODELS
from mmsolo.testing import demo_batch, random_gt_boxes
from mmsolo.testing.tiny_runs import QUICKSTART

IMG_SHAPE = (128, 192)


def _build(repo_root: str, channels_last: bool) -> torch.nn.Module:
    cfg = Config.fromfile(f'{repo_root}/{QUICKSTART}').model
    cfg.channels_last = channels_last
    with DefaultScope.overwrite_default_scope('mmsolo'):
        return MODELS.build(cfg)


def _is_nhwc(param: torch.Tensor) -> bool:
    return param.is_contiguous(memory_format=torch.channels_last)


def _conv_weights(module: torch.nn.Module):
    return [m.weight for m in module.modules()
            if isinstance(m, torch.nn.Conv2d)]


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
    assert not any(_is_nhwc(w) for w in _conv_weights(nhwc.mask_head)
                   if w.shape[-1] > 1)


def test_fpn_levels_are_handed_on_in_nchw(pair):
    _, nhwc = pair
    with torch.no_grad():
        feats = nhwc.extract_feat(torch.randn(1, 3, *IMG_SHAPE))
    assert all(feat.is_contiguous() for feat in feats)


def test_losses_and_predictions_equal_the_default_layout(pair):
    plain, nhwc = pair
    gts = random_gt_boxes(2, 6, IMG_SHAPE, num_classes=3, min_side=8,
                          max_side=100, seed=1)
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
