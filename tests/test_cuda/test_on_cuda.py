"""mmsolo on CUDA: the parity checks against mmdet (predict, losses,
targets, Matrix NMS), against ours on the CPU, no candidates, odd data and a
training step with AMP (fp16 with the loss scaler, and bf16). Skipped where
CUDA is absent (see conftest.py): ``pytest -m cuda tests`` on a GPU."""

import copy
import os

import numpy as np
import pytest
import torch
from mmdet.models.layers import mask_matrix_nms
from mmdet.structures.mask import BitmapMasks
from mmengine.optim import AmpOptimWrapper
from support import build_paired_solov2, spread_class_scores

from mmsolo.engine import BF16OptimWrapper
from mmsolo.models.layers import matrix_nms
from mmsolo.models.task_modules import CenterRegionGridAssigner
from mmsolo.testing import demo_batch, random_gt_boxes

# MMSOLO_CUDA_TESTS_DEVICE=cpu runs these tests on the CPU (a dry run of
# their logic where no GPU is lent); conftest.py reads the same variable.
CUDA = torch.device(os.environ.get('MMSOLO_CUDA_TESTS_DEVICE', 'cuda'))
TEST_CFG = dict(
    nms_pre=500,
    score_thr=0.1,
    mask_thr=0.5,
    filter_thr=0.05,
    kernel='gaussian',
    sigma=2.0,
    max_per_img=100,
)


@pytest.fixture(scope='module')
def paired():
    """mmdet's and mmsolo's R50 SOLOv2, same seeded weights, a few hundred
    candidates per image (as a trained model gives)."""
    reference, ours = build_paired_solov2(
        test_cfg=TEST_CFG, kernel_scale=20, channels_last=False
    )
    spread_class_scores([reference, ours], mean=-5.5)
    return reference, ours


def random_masks(num: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(
        torch.arange(96.0), torch.arange(128.0), indexing='ij'
    )
    centres = torch.rand(num, 2, generator=generator) * torch.tensor(
        [96.0, 128.0]
    )
    radii = 5 + torch.rand(num, 1, 1, generator=generator) * 30
    masks = (
        (ys - centres[:, 0, None, None]) ** 2
        + (xs - centres[:, 1, None, None]) ** 2
    ) <= radii**2
    labels = torch.randint(0, 5, (num,), generator=generator)
    scores = torch.rand(num, generator=generator)
    return masks, labels, scores


@pytest.mark.parametrize('num', [0, 1, 37, 500])
@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_matrix_nms_on_cuda_equals_mmdet_and_cpu(num, kernel):
    masks, labels, scores = random_masks(num, seed=num)
    on_cpu = matrix_nms(masks, labels, scores, kernel=kernel)
    cuda_inputs = [t.to(CUDA) for t in (masks, labels, scores)]
    ours = matrix_nms(*cuda_inputs, kernel=kernel)
    reference = mask_matrix_nms(*cuda_inputs, kernel=kernel)
    assert ours[0].device.type == CUDA.type
    for got, cpu, ref in zip(ours, on_cpu, reference):
        torch.testing.assert_close(got.cpu(), cpu, rtol=0, atol=1e-6)
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-6)


def assert_same_instances(got, want, atol=1e-4):
    got, want = got.pred_instances, want.pred_instances
    assert len(got) == len(want)
    assert torch.equal(got.labels.cpu(), want.labels.cpu().long())
    torch.testing.assert_close(
        got.scores.cpu(), want.scores.cpu(), rtol=0, atol=atol
    )


def test_predict_on_cuda_equals_mmdet_and_ours_on_cpu(paired):
    reference, ours = (copy.deepcopy(model) for model in paired)
    inputs, samples = demo_batch(
        [(288, 384), (301, 425)], [(288, 384), (602, 850)], seed=3
    )
    with torch.no_grad():
        on_cpu = ours.predict(inputs, copy.deepcopy(samples))
        reference.to(CUDA)
        ours.to(CUDA)
        cuda_inputs = inputs.to(CUDA)
        ref_out = reference.predict(cuda_inputs, copy.deepcopy(samples))
        our_out = ours.predict(cuda_inputs, copy.deepcopy(samples))
    assert len(our_out[0].pred_instances) > 0
    for got, ref, cpu in zip(our_out, ref_out, on_cpu):
        assert got.pred_instances.masks.device.type == CUDA.type
        assert_same_instances(got, ref)
        assert_same_instances(got, cpu)


def test_no_candidates_on_cuda(paired):
    ours = copy.deepcopy(paired[1]).to(CUDA)
    ours.mask_head.test_cfg.update(score_thr=1.0)
    inputs, samples = demo_batch([(128, 160)], seed=0)
    with torch.no_grad():
        result = ours.predict(inputs.to(CUDA), samples)[0].pred_instances
    assert len(result) == 0
    assert result.masks.shape[1:] == (128, 160)
    assert result.scores.dtype == torch.float32
    assert result.bboxes.shape == (0, 4)


def training_batch(num_objects: int, shapes, device):
    inputs, samples = demo_batch(
        shapes,
        gt_instances=random_gt_boxes(len(shapes), num_objects, shapes[0], 80),
    )
    return dict(
        inputs=[image.to(device) for image in inputs],
        data_samples=[sample.to(device) for sample in samples],
    )


def test_losses_on_cuda_equal_mmdet(paired):
    reference, ours = (
        copy.deepcopy(model).to(CUDA).train() for model in paired
    )
    batch = training_batch(20, [(320, 480), (320, 480)], CUDA)
    ref_data = reference.data_preprocessor(copy.deepcopy(batch), True)
    our_data = ours.data_preprocessor(copy.deepcopy(batch), True)
    ref_losses = reference.loss(ref_data['inputs'], ref_data['data_samples'])
    our_losses = ours.loss(our_data['inputs'], our_data['data_samples'])
    for name in ('loss_mask', 'loss_cls'):
        torch.testing.assert_close(
            our_losses[name], ref_losses[name], rtol=1e-4, atol=0
        )


def test_assigner_targets_on_cuda_equal_cpu():
    rng = np.random.default_rng(0)
    masks = np.zeros((12, 320, 480), dtype=np.uint8)
    boxes = []
    for k in range(12):
        y, x = rng.integers(0, 250), rng.integers(0, 400)
        h, w = rng.integers(8, 70, 2)
        masks[k, y : y + h, x : x + w] = 1
        boxes.append([x, y, x + w, y + h])
    bboxes = torch.tensor(boxes, dtype=torch.float32)
    labels = torch.as_tensor(rng.integers(0, 80, 12))
    assigner = CenterRegionGridAssigner(
        num_classes=80,
        num_grids=[40, 36, 24, 16, 12],
        scale_ranges=((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048)),
    )
    bitmap = BitmapMasks(masks, 320, 480)
    on_cpu = assigner.assign(bboxes, labels, bitmap.masks, (80, 120))
    on_cuda = assigner.assign(
        bboxes.to(CUDA),
        labels.to(CUDA),
        bitmap.to_tensor(torch.bool, CUDA),
        (80, 120),
    )
    for level in range(5):
        assert on_cuda.labels[level].device.type == CUDA.type
        assert torch.equal(on_cuda.labels[level].cpu(), on_cpu.labels[level])
        assert torch.equal(
            on_cuda.mask_targets[level].cpu(), on_cpu.mask_targets[level]
        )


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_training_step_with_amp_on_cuda(paired, precision):
    model = copy.deepcopy(paired[1]).to(CUDA).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    if precision == 'fp16':
        wrapper = AmpOptimWrapper(optimizer=optimizer, loss_scale='dynamic')
    else:
        wrapper = BF16OptimWrapper(optimizer=optimizer, device_type=CUDA.type)
    before = [p.detach().clone() for p in model.parameters()]
    # Odd data in the batch: an image without objects beside a full one.
    batch = training_batch(30, [(256, 320), (256, 320)], CUDA)
    batch['data_samples'][1].gt_instances = batch['data_samples'][
        1
    ].gt_instances[:0]
    log_vars = model.train_step(batch, wrapper)
    assert all(np.isfinite(float(value)) for value in log_vars.values())
    changed = sum(
        not torch.equal(p, q) for p, q in zip(before, model.parameters())
    )
    assert changed > 0
