"""ProgressiveResize: the schedule, what a resized batch holds, and that it
only acts in training, through DetDataPreprocessor's batch_augments."""
import numpy as np
import pytest
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData

from mmsolo.models.data_preprocessors import ProgressiveResize
from mmsolo.models.data_preprocessors.progressive_resize import (
    resized_shape, scale_at)


@pytest.fixture
def at_iter():
    """Set the message hub's ``iter``; restored afterwards."""
    hub = MessageHub.get_current_instance()
    before = hub.get_info('iter', None)

    def set_iter(iteration):
        hub.update_info('iter', iteration)

    yield set_iter
    hub.update_info('iter', 0 if before is None else before)


def square_sample(size=128, box=(32, 16, 96, 80), masks_as='bitmap',
                  boxes_as='tensor'):
    """A sample of one ``size`` x ``size`` image with one rectangle
    instance filling ``box`` (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    mask = np.zeros((1, size, size), dtype=np.uint8)
    mask[0, y1:y2, x1:x2] = 1
    sample = DetDataSample(metainfo=dict(
        img_shape=(size, size), pad_shape=(size, size),
        ori_shape=(size, size), scale_factor=(1.0, 1.0),
        batch_input_shape=(size, size)))
    boxes = torch.tensor([box], dtype=torch.float32)
    sample.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(boxes) if boxes_as == 'boxes' else boxes,
        labels=torch.tensor([1]),
        masks=BitmapMasks(mask, size, size) if masks_as == 'bitmap'
        else torch.from_numpy(mask))
    return sample


def test_schedule_phases():
    scales, milestones = [0.5, 0.75, 1.0], [10, 20]
    assert [scale_at(i, scales, milestones) for i in (0, 9, 10, 19, 20, 99)
            ] == [0.5, 0.5, 0.75, 0.75, 1.0, 1.0]
    assert resized_shape((256, 256), 0.5, 64) == (128, 128)
    assert resized_shape((256, 384), 0.75, 64) == (192, 320)  # 288 -> 320
    assert resized_shape((64, 64), 0.25, 64) == (64, 64)  # at least one


@pytest.mark.parametrize('kwargs, culprit', [
    (dict(scales=[0.5, 1.0], milestones=[]), 'one more than milestones'),
    (dict(scales=[0.5, 1.5], milestones=[3]), 'scales'),
    (dict(scales=[0.0, 1.0], milestones=[3]), 'scales'),
    (dict(scales=[True, 1.0], milestones=[3]), 'scales'),
    (dict(scales=[0.5, 0.7, 1.0], milestones=[5, 5]), 'increase'),
    (dict(scales=[0.5, 1.0], milestones=[2.5]), 'milestones'),
    (dict(scales=[0.5, 1.0], milestones=[4], size_divisor=0),
     'size_divisor'),
])
def test_bad_schedule_names_the_field(kwargs, culprit):
    with pytest.raises(ValueError, match=culprit):
        ProgressiveResize(**kwargs)


@pytest.mark.parametrize('masks_as', ['bitmap', 'tensor'])
@pytest.mark.parametrize('boxes_as', ['tensor', 'boxes'])
def test_half_scale_resizes_images_boxes_masks_and_metainfo(
        at_iter, masks_as, boxes_as):
    at_iter(0)
    resize = ProgressiveResize([0.5, 1.0], [100], size_divisor=32)
    inputs = torch.rand(2, 3, 128, 128)
    samples = [square_sample(masks_as=masks_as, boxes_as=boxes_as)
               for _ in range(2)]
    out, samples = resize(inputs, samples)
    assert out.shape == (2, 3, 64, 64)
    # antialiased bilinear at 1/2: each output pixel the mean of 2x2 input
    # pixels (up to the filter's edge weights: a constant image stays)
    const, _ = resize(torch.full((1, 3, 128, 128), 0.3),
                      [square_sample(masks_as=masks_as)])
    torch.testing.assert_close(const, torch.full((1, 3, 64, 64), 0.3))
    sample = samples[0]
    boxes = sample.gt_instances.bboxes
    boxes = boxes.tensor if boxes_as == 'boxes' else boxes
    torch.testing.assert_close(boxes, torch.tensor([[16., 8., 48., 40.]]))
    masks = sample.gt_instances.masks
    masks = masks.masks if masks_as == 'bitmap' else masks.numpy()
    expected = np.zeros((1, 64, 64), dtype=np.uint8)
    expected[0, 8:40, 16:48] = 1
    np.testing.assert_array_equal(masks, expected)
    assert sample.img_shape == (64, 64)
    assert sample.pad_shape == (64, 64)
    assert sample.batch_input_shape == (64, 64)
    assert sample.scale_factor == (0.5, 0.5)
    assert sample.ori_shape == (128, 128)


def test_full_scale_passes_the_batch_through(at_iter):
    at_iter(100)
    resize = ProgressiveResize([0.5, 1.0], [100])
    inputs = torch.rand(1, 3, 128, 128)
    sample = square_sample()
    out, samples = resize(inputs, [sample])
    assert out is inputs and samples[0] is sample
    assert sample.gt_instances.masks.height == 128


def test_empty_image_resizes(at_iter):
    at_iter(0)
    sample = square_sample(masks_as='tensor')
    sample.gt_instances = sample.gt_instances[torch.zeros(1, dtype=torch.bool)]
    out, samples = ProgressiveResize([0.5, 1.0], [10])(
        torch.rand(1, 3, 128, 128), [sample])
    assert out.shape[-2:] == (64, 64)
    assert samples[0].gt_instances.masks.shape == (0, 64, 64)


def test_only_in_training_through_the_preprocessor(at_iter):
    at_iter(0)
    preprocessor = DetDataPreprocessor(
        mean=[0, 0, 0], std=[1, 1, 1], pad_mask=True, pad_size_divisor=32,
        batch_augments=[dict(type='mmsolo.ProgressiveResize',
                             scales=[0.5, 1.0], milestones=[10])])
    def data():
        return dict(inputs=[torch.randint(0, 255, (3, 128, 128),
                                          dtype=torch.uint8)],
                    data_samples=[square_sample()])
    assert preprocessor(data(), training=True)['inputs'].shape[-2:] == (64,
                                                                        64)
    assert preprocessor(data(), training=False)['inputs'].shape[-2:] == (
        128, 128)
    at_iter(10)
    assert preprocessor(data(), training=True)['inputs'].shape[-2:] == (
        128, 128)
