import pytest
import torch
from mmdet.structures.mask import mask2bbox

from mmsolo.models.layers import masks_to_boxes


# (30, 40): rows and columns read as 8-byte words; (300, 40): columns by
# byte (too many rows for the word sums); (30, 37): bytes only.
@pytest.mark.parametrize('height, width', [(30, 40), (300, 40), (30, 37)])
def test_equals_mmdet_mask2bbox_and_handles_empty(height, width):
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(20, height, width, generator=g) > 0.97
    masks[3] = False
    masks[4] = False
    masks[4, 7, 9] = True
    boxes = masks_to_boxes(masks)
    torch.testing.assert_close(boxes, mask2bbox(masks))
    assert boxes[3].tolist() == [0, 0, 0, 0]
    assert boxes[4].tolist() == [9, 7, 10, 8]
    assert masks_to_boxes(masks[:0]).shape == (0, 4)


def test_uint8_masks_give_the_bool_boxes():
    g = torch.Generator().manual_seed(1)
    masks = torch.rand(10, 24, 48, generator=g) > 0.9
    assert torch.equal(masks_to_boxes(masks.to(torch.uint8)),
                       masks_to_boxes(masks))
