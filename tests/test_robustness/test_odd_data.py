"""Odd but valid data trains and predicts without error, with finite losses
and gradients: an image with no objects, objects whose mask has zero pixels
or lies partly outside the image, 300 objects in one image, a 32x32 image,
sides that are not multiples of 32, a grayscale image, and a batch mixing
all of them (the set of :mod:`support.odd_coco`)."""

import copy
import math
from typing import Dict, List, Sequence, Tuple

import cv2
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.optim import OptimWrapper
from support.odd_coco import ODD_IMAGES, OddCoco

# Test cfg overrides under which the random model predicts instances, so
# that the non-empty prediction path runs too.
PERMISSIVE_TEST_CFG = dict(
    score_thr=0.0, filter_thr=-1, nms_pre=100, max_per_img=20
)


class GradCheckingOptimWrapper(OptimWrapper):
    """Plain SGD wrapper that, before each step, records the trainable
    parameters whose gradient is missing or not finite.

    Args:
        model (torch.nn.Module): The model whose parameters it steps.
        lr (float): SGD learning rate. Defaults to 0.01.
    """

    def __init__(self, model: torch.nn.Module, lr: float = 0.01) -> None:
        self.named_params = [
            (name, param)
            for name, param in model.named_parameters()
            if param.requires_grad
        ]
        super().__init__(
            torch.optim.SGD(
                [param for _, param in self.named_params], lr=lr, momentum=0.9
            )
        )
        self.steps = 0
        self.missing_grads: List[str] = []
        self.non_finite_grads: List[str] = []

    def step(self, **kwargs) -> None:
        """Record the parameters without a finite gradient, then step."""
        self.steps += 1
        self.missing_grads = [
            name for name, param in self.named_params if param.grad is None
        ]
        self.non_finite_grads = [
            name
            for name, param in self.named_params
            if param.grad is not None and not param.grad.isfinite().all()
        ]
        super().step(**kwargs)


def assert_valid_predictions(
    outputs: Sequence[DetDataSample], ori_shapes: Sequence[Tuple[int, int]]
) -> List[int]:
    """Check each output's ``pred_instances`` (types, dtypes and shapes at
    the original image size, one n per image); return the n's."""
    assert len(outputs) == len(ori_shapes)
    counts = []
    for output, (height, width) in zip(outputs, ori_shapes):
        assert isinstance(output, DetDataSample)
        pred = output.pred_instances
        n = len(pred.scores)
        assert pred.masks.dtype == torch.bool
        assert pred.masks.shape == (n, height, width)
        assert pred.bboxes.dtype == torch.float32
        assert pred.bboxes.shape == (n, 4)
        assert pred.scores.dtype == torch.float32
        assert pred.scores.shape == (n,)
        assert pred.labels.dtype == torch.int64
        assert pred.labels.shape == (n,)
        assert len(pred) == n
        assert pred.scores.isfinite().all()
        assert ((pred.labels >= 0) & (pred.labels < 3)).all()
        xs, ys = pred.bboxes[:, 0::2], pred.bboxes[:, 1::2]
        assert ((xs >= 0) & (xs <= width)).all()
        assert ((ys >= 0) & (ys <= height)).all()
        counts.append(n)
    return counts


def test_odd_images_load_as_intended(odd_coco: OddCoco, collate) -> None:
    """The set holds what the tests claim once CocoDataset and mmdet's
    LoadAnnotations have read it: no resize, the sliver's mask has zero
    pixels while its box is kept, boxes cross the border, 300 instances,
    RLE masks decode, and the grayscale PNG has one channel on disk but
    three as loaded."""
    batch = collate(ODD_IMAGES)
    samples: Dict[str, DetDataSample] = dict(
        zip(ODD_IMAGES, batch['data_samples'])
    )
    for name, inputs, image in zip(
        ODD_IMAGES, batch['inputs'], odd_coco.data['images']
    ):
        shape = (image['height'], image['width'])
        assert inputs.shape == (3, *shape), name
        assert samples[name].ori_shape == samples[name].img_shape == shape
        gt = samples[name].gt_instances
        assert len(gt) == len(odd_coco.annotations(name)), name
        assert gt.masks.masks.shape == (len(gt), *shape)

    assert len(samples['no_objects'].gt_instances) == 0
    assert len(samples['objects_300'].gt_instances) == 300
    rle_annotations = [
        ann
        for ann in odd_coco.data['annotations']
        if isinstance(ann['segmentation'], dict)
    ]
    assert len(rle_annotations) >= 2
    for name in ODD_IMAGES:
        if name in ('no_objects', 'empty_and_border_masks'):
            continue
        areas = samples[name].gt_instances.masks.areas
        assert (areas > 0).all(), name

    odd_gt = samples['empty_and_border_masks'].gt_instances
    width = samples['empty_and_border_masks'].ori_shape[1]
    assert odd_gt.masks.areas[0] == 0  # the sliver: no pixel at all
    assert (odd_gt.bboxes.widths[0] >= 1) and (odd_gt.bboxes.heights[0] >= 1)
    assert (odd_gt.masks.areas[1:] > 0).all()
    boxes = odd_gt.bboxes.tensor
    crossing = (boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > width)
    assert crossing.sum() == 2

    gray_path = samples['grayscale'].img_path
    assert cv2.imread(gray_path, cv2.IMREAD_UNCHANGED).ndim == 2
    gray_inputs = batch['inputs'][ODD_IMAGES.index('grayscale')]
    assert torch.equal(gray_inputs[0], gray_inputs[1])


# A lone 32x32 image: padded to 64 by the quick-start config, it reaches
# ResNet's stage 4 as 2x2 (padded to 32 it was 1x1, one value per channel,
# which a training BatchNorm refuses).
TRAIN_PREDICT_CASES = [
    pytest.param((name,), id=name) for name in ODD_IMAGES
] + [pytest.param(ODD_IMAGES, id='mixed_batch')]


@pytest.mark.parametrize('names', TRAIN_PREDICT_CASES)
def test_odd_data_trains_and_predicts(
    quickstart_model: torch.nn.Module, collate, names: Tuple[str, ...]
) -> None:
    """On the quick-start model:

    - predicting the batch with a permissive test cfg gives well-formed
      instances, at least one per image, at each image's original size;
    - one SGD training step gives finite losses, a finite gradient for
      every trainable parameter (also without any positive sample) and
      finite weights;
    - the trained model's predictions with the config's test cfg are
      well-formed too (here often empty).
    """
    model = quickstart_model
    config_test_cfg = copy.deepcopy(model.mask_head.test_cfg)
    batch = collate(names)
    ori_shapes = [sample.ori_shape for sample in batch['data_samples']]

    model.eval()
    model.mask_head.test_cfg.update(PERMISSIVE_TEST_CFG)
    with torch.no_grad():
        counts = assert_valid_predictions(model.test_step(batch), ori_shapes)
    assert all(count > 0 for count in counts), counts

    model.train()
    model.mask_head.test_cfg = config_test_cfg
    optim_wrapper = GradCheckingOptimWrapper(model)
    log_vars = model.train_step(collate(names), optim_wrapper)
    assert {'loss', 'loss_mask', 'loss_cls'} <= set(log_vars)
    for key, value in log_vars.items():
        assert math.isfinite(float(value)), (key, value)
    assert optim_wrapper.steps == 1
    assert optim_wrapper.missing_grads == []
    assert optim_wrapper.non_finite_grads == []
    assert all(param.isfinite().all() for param in model.parameters())

    model.eval()
    with torch.no_grad():
        assert_valid_predictions(model.test_step(collate(names)), ori_shapes)
