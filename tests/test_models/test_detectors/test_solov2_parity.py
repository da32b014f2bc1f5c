"""mmsolo's SOLOv2 against MMDetection 3.3's, on the same weights."""
import copy
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import solov2_head as mmdet_solov2_head

import mmsolo.models.dense_heads.solov2_head as our_head_module
from mmsolo.testing import (build_paired_solov2, demo_batch,
                            random_gt_boxes, spread_class_scores)

MASK_THR = 0.5
# Image A is a multiple of 32; image B is not and was resized from a larger
# original, so cropping and rescaling are exercised.
IMG_SHAPES = [(288, 384), (301, 425)]
ORI_SHAPES = [(288, 384), (602, 850)]


class _InterpolateSpy:
    """Stands for ``torch.nn.functional`` in mmdet's head module and keeps
    the output of each ``interpolate`` call (the last of an image is its
    final mask probabilities)."""

    def __init__(self):
        self.outputs = []

    def __getattr__(self, name):
        return getattr(F, name)

    def interpolate(self, *args, **kwargs):
        out = F.interpolate(*args, **kwargs)
        self.outputs.append(out)
        return out


class _NmsCounter:

    def __init__(self, fn):
        self.fn, self.sizes = fn, []

    def __call__(self, masks, *args, **kwargs):
        self.sizes.append(len(masks))
        return self.fn(masks, *args, **kwargs)


@pytest.fixture(scope='module')
def batch():
    return demo_batch(IMG_SHAPES, ORI_SHAPES, seed=1)


def _models(test_cfg):
    reference, ours = build_paired_solov2(
        test_cfg=test_cfg, seed=0, kernel_scale=20)
    # Spread the classes' scores so that a few hundred candidates pass.
    spread_class_scores([reference, ours], mean=-4.5)
    return reference, ours


def _top_candidates_only(original_single):
    """mmdet's per-image predict, made to see only the ``nms_pre`` best
    candidates by category score: its ``score_thr`` for the image becomes
    the ``nms_pre + 1``-th best score. That is what our bounded
    post-processing keeps when candidates exceed ``nms_pre``."""

    def single(self, kernel_preds, cls_scores, mask_feats, img_meta,
               cfg=None):
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        candidates = cls_scores[cls_scores > cfg.score_thr]
        if len(candidates) > cfg.nms_pre:
            cfg.score_thr = candidates.topk(cfg.nms_pre + 1).values[-1].item()
        return original_single(self, kernel_preds, cls_scores, mask_feats,
                               img_meta, cfg)

    return single


@pytest.mark.parametrize('kernel,nms_pre', [('gaussian', 1000),
                                            ('linear', 1000),
                                            ('gaussian', 200)])
def test_predict_matches_mmdet(batch, kernel, nms_pre):
    """With 671-771 candidates, nms_pre 1000 compares with mmdet as it is;
    nms_pre 200 with mmdet restricted to the 200 best candidates (ours
    computes masks for those only; mmdet computes all, then keeps the 200
    best after maskness)."""
    test_cfg = dict(
        score_thr=0.35,
        mask_thr=MASK_THR,
        nms_pre=nms_pre,
        max_per_img=150,
        filter_thr=0.05,
        kernel=kernel,
        sigma=2.0)
    reference, ours = _models(test_cfg)
    inputs, samples = batch
    spy = _InterpolateSpy()
    nms_counter = _NmsCounter(our_head_module.matrix_nms)
    mmdet_head_cls = mmdet_solov2_head.SOLOV2Head
    restricted = _top_candidates_only(mmdet_head_cls._predict_by_feat_single)
    with torch.no_grad(), mock.patch.object(mmdet_solov2_head, 'F', spy), \
            mock.patch.object(mmdet_head_cls, '_predict_by_feat_single',
                              restricted):
        ref_results = reference.predict(inputs, copy.deepcopy(samples))
    with torch.no_grad(), mock.patch.object(our_head_module, 'matrix_nms',
                                            nms_counter):
        our_results = ours.predict(inputs, copy.deepcopy(samples))

    # Hundreds of candidates reach Matrix NMS in every image (after the
    # area filter when nms_pre truncates them to 200).
    assert all(size >= min(200, nms_pre - 50)
               for size in nms_counter.sizes), nms_counter.sizes
    # mmdet's last resize of an image's masks gives its final probabilities.
    final_probs = [[out for out in spy.outputs if out.shape[-2:] == shape][-1]
                   for shape in ORI_SHAPES]
    near_threshold_mismatches = 0
    for ref, ours_, probs, ori_shape in zip(ref_results, our_results,
                                            final_probs, ORI_SHAPES):
        ref, ours_ = ref.pred_instances, ours_.pred_instances
        probs = probs[0]
        assert len(ref) == len(ours_) > 10
        assert torch.equal(ref.labels.long(), ours_.labels)
        score_diff = (ref.scores - ours_.scores).abs().max().item()
        assert score_diff <= 1e-5, score_diff
        assert ours_.masks.shape == (len(ref), *ori_shape)
        mismatch = ref.masks != ours_.masks
        near = (probs - MASK_THR).abs() <= 1e-5
        assert not (mismatch & ~near).any()
        near_threshold_mismatches += int(mismatch.sum())
    print(f'\nkernel={kernel} nms_pre={nms_pre}: NMS inputs '
          f'{nms_counter.sizes}, mask mismatches within 1e-5 of mask_thr: '
          f'{near_threshold_mismatches}')


def _loss_batch():
    gts = [
        dict(
            boxes=[
                [10, 12, 16, 18],  # tiny: 6 x 6 px
                [20, 30, 380, 280],  # large
                [100, 80, 190, 170],  # these two overlap
                [140, 110, 230, 200],
                [300, 40, 340, 100],
            ],
            labels=[3, 0, 7, 7, 79]),
        dict(boxes=torch.zeros(0, 4), labels=[]),  # no objects
    ]
    return demo_batch([(288, 384), (270, 400)], gt_instances=gts, seed=2)


def assert_losses_match(seed, inputs, samples):
    """mmdet's and our losses of one batch, same weights: within 1e-4."""
    reference, ours = build_paired_solov2(seed=seed, kernel_scale=5)
    reference.train()
    ours.train()
    ref_losses = reference.loss(inputs, copy.deepcopy(samples))
    our_losses = ours.loss(inputs, copy.deepcopy(samples))
    assert set(ref_losses) == set(our_losses) == {'loss_mask', 'loss_cls'}
    for name, ref_value in ref_losses.items():
        ref_value = ref_value.item()
        our_value = our_losses[name].item()
        assert ref_value > 0
        assert abs(our_value - ref_value) <= 1e-4 * abs(ref_value), (
            name, our_value, ref_value)


def test_loss_matches_mmdet():
    assert_losses_match(3, *_loss_batch())


def test_loss_matches_mmdet_with_50_objects_per_image():
    """The batch of issue 4's targets benchmark, at a smaller size: many
    overlapping objects of every level's scale range."""
    img_shape = (320, 480)
    gts = random_gt_boxes(2, 50, img_shape, num_classes=80, min_side=4,
                          max_side=300, seed=5)
    assert_losses_match(4, *demo_batch([img_shape] * 2, gt_instances=gts,
                                       seed=6))
