"""mmsolo's DetLocalVisualizer draws PanopticSOLOv2's predictions: the
panoptic map alone, and a void map as the bare image."""

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer as MMDetLocalVisualizer
from mmengine.structures import InstanceData, PixelData

from mmsolo.registry import VISUALIZERS
from mmsolo.visualization import (
    PanopticDetLocalVisualizer as DetLocalVisualizer,
)

META = dict(
    classes=('circle', 'square', 'sky', 'ground'),
    thing_classes=('circle', 'square'),
    stuff_classes=('sky', 'ground'),
)
VOID = 4


def panoptic_sample(pan: np.ndarray, with_instances: bool) -> DetDataSample:
    sample = DetDataSample(
        metainfo=dict(img_shape=pan.shape, ori_shape=pan.shape)
    )
    sample.pred_panoptic_seg = PixelData(
        sem_seg=torch.from_numpy(pan[None].astype(np.int32))
    )
    if with_instances:
        masks = torch.zeros(1, *pan.shape, dtype=torch.bool)
        masks[0, 40:, :20] = True  # an instance the fusion dropped
        sample.pred_instances = InstanceData(
            masks=masks,
            labels=torch.tensor([1]),
            scores=torch.tensor([0.9]),
            bboxes=torch.tensor([[0.0, 40.0, 20.0, 64.0]]),
        )
    return sample


def draw(visualizer, sample, image) -> np.ndarray:
    np.random.seed(0)
    visualizer.dataset_meta = META
    visualizer.add_datasample(
        'x', image, data_sample=sample, draw_gt=False, pred_score_thr=0.3
    )
    return visualizer.get_image()


@pytest.fixture
def image():
    return np.full((64, 80, 3), 128, dtype=np.uint8)


def test_scope_builds_mmsolos_visualizer():
    built = VISUALIZERS.build(
        dict(type='mmsolo.PanopticDetLocalVisualizer', name='scope_check')
    )
    assert type(built) is DetLocalVisualizer


def test_panoptic_map_is_drawn_alone(image):
    pan = np.full((64, 80), 2)  # sky
    pan[32:] = 3  # ground
    pan[8:24, 30:50] = 0 + 1000  # a circle
    ours = DetLocalVisualizer(name='panoptic_alone')
    with_instances = draw(ours, panoptic_sample(pan, True), image)
    without = draw(ours, panoptic_sample(pan, False), image)
    assert np.array_equal(with_instances, without)
    assert (np.abs(without.astype(int) - image).max(-1) > 10).mean() > 0.9
    # mmdet's paints the dropped instance over the map.
    theirs = MMDetLocalVisualizer(name='panoptic_mmdet')
    assert not np.array_equal(
        draw(theirs, panoptic_sample(pan, True), image), without
    )


def test_void_map_draws_the_bare_image(image):
    pan = np.full((64, 80), VOID)
    drawn = draw(
        DetLocalVisualizer(name='void_ours'),
        panoptic_sample(pan, False),
        image,
    )
    assert np.array_equal(drawn, image)
