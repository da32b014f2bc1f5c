"""Masks packed to bits: bounds equal to the masks' tight boxes, set bits
equal to the pixels, for widths that are and are not whole words; what
the mask NMS returns with and without the kept masks."""

import numpy as np
import pytest
import torch

from mmsolo.models.layers import (
    fast_mask_nms,
    hard_mask_nms,
    masks_to_boxes,
    matrix_nms,
    soft_mask_nms,
)
from mmsolo.models.layers.mask_bits import pack_mask_rows, packed_mask_bounds


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
    assert torch.equal(
        packed_mask_bounds(words, width), masks_to_boxes(masks).long()
    )
    counts = np.bitwise_count(words).reshape(9, -1).sum(1)
    assert counts.tolist() == masks.sum((1, 2)).long().tolist()
    bits = np.unpackbits(words.view(np.uint8), axis=-1)[..., :width]
    assert np.array_equal(bits, masks.bool().numpy())


@pytest.mark.parametrize(
    'nms', [matrix_nms, hard_mask_nms, soft_mask_nms, fast_mask_nms]
)
@pytest.mark.parametrize('dtype', [torch.bool, torch.float, torch.bfloat16])
def test_nms_returns_the_kept_masks_or_only_their_indices(nms, dtype):
    """The kept masks are those of ``keep_inds``, of the input's dtype;
    ``return_masks=False`` gives the same scores, labels and indices and
    None for the masks (nothing copied), also when nothing is kept."""
    generator = torch.Generator().manual_seed(0)
    masks = (torch.rand(8, 6, 9, generator=generator) > 0.5).to(dtype)
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    scores = torch.rand(8, generator=generator)
    full = nms(masks, labels, scores)
    assert full[2].dtype == dtype and torch.equal(full[2], masks[full[3]])
    bare = nms(masks, labels, scores, return_masks=False)
    assert bare[2] is None
    for got, want in zip(bare[:2] + bare[3:], full[:2] + full[3:]):
        assert torch.equal(got, want)
    none_kept = nms(masks, labels, scores, filter_thr=2.0)
    assert none_kept[2].shape == (0, 6, 9)
    assert (
        nms(masks, labels, scores, filter_thr=2.0, return_masks=False)[2]
        is None
    )
