import torch
from mmdet.structures.mask import mask2bbox

from mmsolo.models.layers import masks_to_boxes


def test_equals_mmdet_mask2bbox_and_handles_empty():
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(20, 30, 40, generator=g) > 0.97
    masks[3] = False
    masks[4] = False
    masks[4, 7, 9] = True
    boxes = masks_to_boxes(masks)
    torch.testing.assert_close(boxes, mask2bbox(masks))
    assert boxes[3].tolist() == [0, 0, 0, 0]
    assert boxes[4].tolist() == [9, 7, 10, 8]
    assert masks_to_boxes(masks[:0]).shape == (0, 4)
