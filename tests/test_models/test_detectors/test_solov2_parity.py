"""mmsolo's SOLOv2 against MMDetection 3.3's, on the same weights."""

import copy
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import solov2_head as mmdet_solov2_head
from mmdet.models.layers import mask_matrix_nms
from support import build_paired_solov2, spread_class_scores

from mmsolo.registry import FUNCTIONS
from mmsolo.testing import demo_batch, random_gt_boxes

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
    # mmdet's memory layout (the R50 config runs its backbone in NHWC, whose
    # float rounding reorders near-tied scores): the same arithmetic up to
    # the head, so predictions are compared exactly.
    reference, ours = build_paired_solov2(
        test_cfg=test_cfg, seed=0, kernel_scale=20, channels_last=False
    )
    # Spread the classes' scores so that a few hundred candidates pass.
    spread_class_scores([reference, ours], mean=-4.5)
    return reference, ours


def _test_cfg(kernel, nms_pre):
    return dict(
        score_thr=0.35,
        mask_thr=MASK_THR,
        nms_pre=nms_pre,
        max_per_img=150,
        filter_thr=0.05,
        kernel=kernel,
        sigma=2.0,
    )


def _mmdet_predict(reference, inputs, samples):
    """mmdet's predictions as they are, and each image's final mask
    probabilities (its last resize)."""
    spy = _InterpolateSpy()
    with torch.no_grad(), mock.patch.object(mmdet_solov2_head, 'F', spy):
        results = reference.predict(inputs, copy.deepcopy(samples))
    final_probs = [
        [out for out in spy.outputs if out.shape[-2:] == shape][-1]
        for shape in ORI_SHAPES
    ]
    return [r.pred_instances for r in results], [p[0] for p in final_probs]


def _bounded_reference(model, inputs, samples, cfg):
    """SOLOv2's post-processing as mmdet does it, written out on ``model``'s
    raw outputs with mmdet's Matrix NMS, except where mmsolo departs from
    it by design: only the ``nms_pre`` best candidates by category score
    (kept in cell order) get masks. Returns per image (labels, scores,
    masks) and the final mask probabilities."""
    head = model.mask_head
    with torch.no_grad():
        kernel_preds, cls_preds, (mask_feats,) = model(inputs, mode='tensor')
        outputs = []
        for img_id, sample in enumerate(samples):
            probs, kernels, strides = [], [], []
            for level, (level_kernels, level_logits) in enumerate(
                zip(kernel_preds, cls_preds)
            ):
                level_probs = level_logits[img_id : img_id + 1].sigmoid()
                peak = F.max_pool2d(level_probs, 2, stride=1, padding=1)
                level_probs = level_probs * (
                    peak[:, :, :-1, :-1] == level_probs
                )
                probs.append(level_probs[0].flatten(1).t())
                kernels.append(level_kernels[img_id].flatten(1).t())
                strides += [head.min_mask_areas[level]] * kernels[-1].shape[0]
            probs, kernels = torch.cat(probs), torch.cat(kernels)
            cells, labels = (probs > cfg['score_thr']).nonzero().unbind(1)
            scores = probs[cells, labels]
            top = scores.topk(cfg['nms_pre']).indices.sort().values
            cells, labels, scores = cells[top], labels[top], scores[top]
            mask_probs = F.conv2d(
                mask_feats[img_id : img_id + 1],
                kernels[cells][:, :, None, None],
            )[0].sigmoid()
            masks = mask_probs > cfg['mask_thr']
            areas = masks.sum((1, 2)).float()
            keep = areas > torch.tensor(strides, dtype=torch.float)[cells]
            mask_probs, masks = mask_probs[keep], masks[keep]
            areas, scores = areas[keep], scores[keep]
            scores = scores * ((mask_probs * masks).sum((1, 2)) / areas)
            scores, labels, _, kept = mask_matrix_nms(
                masks,
                labels[keep],
                scores,
                mask_area=areas,
                nms_pre=cfg['nms_pre'],
                max_num=cfg['max_per_img'],
                kernel=cfg['kernel'],
                sigma=cfg['sigma'],
                filter_thr=cfg['filter_thr'],
            )
            height, width = sample.metainfo['img_shape'][:2]
            final = F.interpolate(
                mask_probs[kept][None],
                size=tuple(4 * n for n in mask_feats.shape[-2:]),
                mode='bilinear',
            )[:, :, :height, :width]
            final = F.interpolate(
                final, size=sample.metainfo['ori_shape'][:2], mode='bilinear'
            )[0]
            outputs.append((labels, scores, final > cfg['mask_thr'], final))
    return outputs


def _assert_predictions_match(reference, ours, final_probs):
    """Labels equal, scores within 1e-5, masks equal but for pixels whose
    probability lies within 1e-5 of mask_thr; returns how many such
    pixels differ."""
    near_threshold_mismatches = 0
    for (ref_labels, ref_scores, ref_masks), ours_, probs, ori_shape in zip(
        reference, ours, final_probs, ORI_SHAPES
    ):
        assert len(ref_labels) == len(ours_) > 10
        assert torch.equal(ref_labels.long(), ours_.labels)
        score_diff = (ref_scores - ours_.scores).abs().max().item()
        assert score_diff <= 1e-5, score_diff
        assert ours_.masks.shape == (len(ref_labels), *ori_shape)
        mismatch = ref_masks != ours_.masks
        near = (probs - MASK_THR).abs() <= 1e-5
        assert not (mismatch & ~near).any()
        near_threshold_mismatches += int(mismatch.sum())
    return near_threshold_mismatches


def _our_predict(ours, inputs, samples):
    """Our predictions and the sizes of the Matrix NMS inputs."""
    counter = _NmsCounter(FUNCTIONS.get('matrix_nms'))
    with (
        torch.no_grad(),
        mock.patch.dict(FUNCTIONS.module_dict, {'matrix_nms': counter}),
    ):
        results = ours.predict(inputs, copy.deepcopy(samples))
    return [r.pred_instances for r in results], counter.sizes


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_predict_matches_mmdet(batch, kernel):
    """With 671-771 candidates and nms_pre 1000, ours and mmdet (as it is)
    must agree."""
    reference, ours = _models(_test_cfg(kernel, 1000))
    inputs, samples = batch
    ref_results, final_probs = _mmdet_predict(reference, inputs, samples)
    our_results, nms_sizes = _our_predict(ours, inputs, samples)
    # Hundreds of candidates reach Matrix NMS in every image.
    assert all(size >= 200 for size in nms_sizes), nms_sizes
    mismatches = _assert_predictions_match(
        [(r.labels, r.scores, r.masks) for r in ref_results],
        our_results,
        final_probs,
    )
    print(
        f'\nkernel={kernel}: NMS inputs {nms_sizes}, mask mismatches '
        f'within 1e-5 of mask_thr: {mismatches}'
    )


def test_predict_with_nms_pre_cut_matches_the_bounded_reference(batch):
    """nms_pre 200 of 671-771 candidates, where ours departs from mmdet by
    design (masks for the 200 best by category score only; mmdet computes
    all, then keeps the 200 best after maskness): against the bounded
    post-processing written out with mmdet's Matrix NMS."""
    cfg = _test_cfg('gaussian', 200)
    _, ours = _models(cfg)
    inputs, samples = batch
    reference = _bounded_reference(ours, inputs, samples, cfg)
    our_results, nms_sizes = _our_predict(ours, inputs, samples)
    # Hundreds of candidates reach Matrix NMS after the area filter.
    assert all(size >= 150 for size in nms_sizes), nms_sizes
    mismatches = _assert_predictions_match(
        [ref[:3] for ref in reference],
        our_results,
        [ref[3] for ref in reference],
    )
    print(
        f'\nnms_pre=200: NMS inputs {nms_sizes}, mask mismatches within '
        f'1e-5 of mask_thr: {mismatches}'
    )


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
            labels=[3, 0, 7, 7, 79],
        ),
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
            name,
            our_value,
            ref_value,
        )


def test_loss_matches_mmdet():
    assert_losses_match(3, *_loss_batch())


def test_loss_matches_mmdet_with_50_objects_per_image():
    """The batch of the targets benchmark (benchmarks/bench_targets.py), at
    a smaller size: many overlapping objects of every level's scale
    range."""
    img_shape = (320, 480)
    gts = random_gt_boxes(
        2, 50, img_shape, num_classes=80, min_side=4, max_side=300, seed=5
    )
    assert_losses_match(
        4, *demo_batch([img_shape] * 2, gt_instances=gts, seed=6)
    )
