"""Graph outputs to data samples: boxes re-derived on the host follow the
exported test_cfg's box mode and mask_box_thr."""

import pytest
import torch

from mmsolo.deploy.results import to_instances
from mmsolo.models.layers import masks_to_boxes, resize_to_image


def padded_detection():
    """One detection at a padded size of 8 x 12: a 4 x 4 square and a
    stray pixel cut off from it by an empty row and columns; the graph's
    box (a dummy) is not used since the masks are cropped."""
    masks = torch.zeros(1, 8, 12, dtype=torch.bool)
    masks[0, 0:4, 0:4] = True
    masks[0, 5, 7] = True
    return dict(
        scores=torch.tensor([0.9]),
        labels=torch.tensor([2]),
        masks=masks,
        boxes=torch.full((1, 4), -1.0),
        mask_probs=masks[:, ::4, ::4].float(),
    )


@pytest.mark.parametrize(
    'box_cfg,box',
    [
        (None, [0, 0, 8, 6]),
        (dict(mask_thr=0.5), [0, 0, 8, 6]),  # an export without the keys
        (dict(mask_box='tight', mask_box_min_part=0.1), [0, 0, 8, 6]),
        (dict(mask_box='main_parts', mask_box_min_part=0.1), [0, 0, 4, 4]),
    ],
)
def test_cropped_masks_get_the_boxes_of_the_exported_mode(box_cfg, box):
    meta = dict(img_shape=(6, 8), ori_shape=(6, 8))
    instances = to_instances(padded_detection(), meta, 4, 0.5, True, box_cfg)
    assert instances.masks.shape == (1, 6, 8)
    assert instances.bboxes.tolist() == [box]


def test_host_boxes_with_mask_box_thr_come_from_the_graphs_probs():
    """With the exported mask_box_thr, boxes re-derived on the host (masks
    cropped, or rescaled to ori_shape) are those of the graph's
    ``mask_probs`` made as PyTorch makes them, above that threshold."""
    probs = torch.zeros(1, 2, 3)
    probs[0, 0, 0] = 0.9  # one confident cell, its neighbours fade out
    probs[0, 0, 1] = 0.4
    probs[0, 1, 0] = 0.35
    masks = resize_to_image(probs, 4, dict(img_shape=(8, 12)), False) > 0.5
    detection = dict(
        scores=torch.tensor([0.9]),
        labels=torch.tensor([1]),
        masks=masks,
        boxes=torch.full((1, 4), -1.0),
        mask_probs=probs,
    )
    box_cfg = dict(mask_box='tight', mask_box_thr=0.3)
    for meta in (
        dict(img_shape=(6, 8), ori_shape=(6, 8)),
        dict(img_shape=(6, 8), ori_shape=(12, 16)),
    ):
        rescale = meta['ori_shape'] != meta['img_shape']
        instances = to_instances(detection, meta, 4, 0.5, True, box_cfg)
        full = resize_to_image(probs, 4, meta, rescale)
        assert torch.equal(instances.masks, full > 0.5)
        assert torch.equal(instances.bboxes, masks_to_boxes(full > 0.3))
        mask_box = masks_to_boxes(instances.masks)
        assert (instances.bboxes[:, 2:] > mask_box[:, 2:]).all()
    empty = dict(
        detection,
        scores=torch.zeros(0),
        labels=torch.zeros(0),
        masks=masks[:0],
        boxes=torch.zeros(0, 4),
        mask_probs=probs[:0],
    )
    instances = to_instances(
        empty, dict(img_shape=(6, 8), ori_shape=(6, 8)), 4, 0.5, True, box_cfg
    )
    assert instances.bboxes.shape == (0, 4)
