"""Masks packed to bits: bounds equal to the byte masks', set bits equal to
the pixels, for widths that are and are not whole words."""
import numpy as np
import pytest
import torch

from mmsolo.models.layers.mask_bits import (mask_bounds, pack_mask_rows,
                                            packed_mask_bounds)
from mmsolo.models.layers.nms.common import take_masks


@pytest.mark.parametrize('width', [1, 7, 64, 70, 304])
@pytest.mark.parametrize('dtype', [torch.bool, torch.uint8, torch.float])
def test_packed_bounds_and_counts_equal_the_masks(width, dtype):
    generator = torch.Generator().manual_seed(width)
    masks = torch.rand(9, 13, width, generator=generator) > 0.9
    masks[0] = False  # empty
    masks[1] = False
    masks[1, 12, width - 1] = True  # the last pixel only
    masks = masks.to(dtype)
    words = pack_mask_rows(masks)
    assert words.shape == (9, 13, -(-width // 64))
    assert torch.equal(packed_mask_bounds(words, width), mask_bounds(masks))
    counts = np.bitwise_count(words).reshape(9, -1).sum(1)
    assert counts.tolist() == masks.sum((1, 2)).long().tolist()
    bits = np.unpackbits(words.view(np.uint8), axis=-1)[..., :width]
    assert np.array_equal(bits, masks.bool().numpy())


@pytest.mark.parametrize('dtype', [torch.bool, torch.float, torch.bfloat16])
def test_take_masks_equals_indexing(dtype):
    masks = (torch.rand(6, 5, 7) > 0.5).to(dtype)
    index = torch.tensor([4, 0, 0, 2])
    taken = take_masks(masks, index)
    assert taken.dtype == dtype and torch.equal(taken, masks[index])
    assert take_masks(masks, index[:0]).shape == (0, 5, 7)


def test_take_masks_names_an_index_out_of_range():
    masks = torch.zeros(3, 2, 2, dtype=torch.bool)
    with pytest.raises(IndexError, match=r'take_masks: .*\[0, 3\), got 0..3'):
        take_masks(masks, torch.tensor([0, 3]))
    with pytest.raises(IndexError, match='got -1..1'):
        take_masks(masks, torch.tensor([1, -1]))
