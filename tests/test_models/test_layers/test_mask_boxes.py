import pytest
import torch
from mmdet.structures.mask import mask2bbox

from mmsolo.models.layers import masks_to_boxes


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
    assert torch.equal(
        masks_to_boxes(masks.to(torch.uint8)), masks_to_boxes(masks)
    )


# ------------------------------------------------------------- main parts
def canvas(height=40, width=50):
    return torch.zeros(height, width, dtype=torch.bool)


def square(mask, x0, y0, x1, y1):
    """``mask`` with the block of columns x0..x1 - 1, rows y0..y1 - 1
    set."""
    mask[y0:y1, x0:x1] = True
    return mask


def main_box(mask, **kwargs):
    return masks_to_boxes(mask[None], 'main_parts', **kwargs)[0].tolist()


def tight_box(mask):
    return masks_to_boxes(mask[None], 'tight')[0].tolist()


def test_a_far_stray_pixel_is_left_out():
    mask = square(canvas(), 5, 6, 20, 22)
    mask[38, 47] = True
    assert tight_box(mask) == [5, 6, 48, 39]
    assert main_box(mask) == [5, 6, 20, 22]


def test_a_stray_blob_diagonal_to_the_object_is_left_out():
    # 16 pixels against 15 x 16 = 240 (under a tenth of it).
    mask = square(square(canvas(), 5, 6, 20, 22), 40, 30, 44, 34)
    assert tight_box(mask) == [5, 6, 44, 34]
    assert main_box(mask) == [5, 6, 20, 22]


@pytest.mark.parametrize('stray', [(12, 45), (37, 10)])
def test_a_stray_beside_the_object_in_its_rows_or_columns_is_left_out(stray):
    """(row 12, column 45): in the object's rows, cut off by empty columns;
    (row 37, column 10): in its columns, cut off by empty rows."""
    mask = square(canvas(), 5, 6, 20, 22)
    mask[stray] = True
    assert main_box(mask) == [5, 6, 20, 22]


def test_an_object_in_two_big_pieces_keeps_the_box_spanning_both():
    """An object occluded in its middle (columns 15..24 hidden): its two
    pieces of 160 and 240 pixels both count, as its ground-truth box
    spans both; a stray pixel is still left out."""
    mask = square(square(canvas(), 5, 6, 15, 22), 25, 6, 40, 22)
    mask[35, 47] = True
    assert main_box(mask) == [5, 6, 40, 22]


def test_min_part_is_the_share_of_the_largest_run():
    """A piece of 16 pixels next to one of 160: kept at min_part 0.1
    (exactly a tenth), left out above; 0 keeps everything (tight)."""
    mask = square(square(canvas(), 5, 6, 15, 22), 30, 6, 31, 22)
    assert main_box(mask, min_part=0.1) == [5, 6, 31, 22]
    assert main_box(mask, min_part=0.11) == [5, 6, 15, 22]
    mask[38, 47] = True
    assert main_box(mask, min_part=0.0) == tight_box(mask)


def test_empty_masks_get_zero_boxes():
    masks = torch.zeros(3, 20, 30, dtype=torch.bool)
    masks[1, 4:9, 2:5] = True
    boxes = masks_to_boxes(masks, 'main_parts')
    assert boxes.dtype == torch.float32
    assert boxes.tolist() == [[0, 0, 0, 0], [2, 4, 5, 9], [0, 0, 0, 0]]
    assert masks_to_boxes(masks[:0], 'main_parts').shape == (0, 4)


def test_masks_without_strays_get_exactly_their_tight_box():
    """A disc, a ring, an L and a diagonal line: no empty row or column
    inside any of them."""
    ys, xs = torch.meshgrid(torch.arange(40), torch.arange(50), indexing='ij')
    radius = ((ys - 20) ** 2 + (xs - 24) ** 2).float().sqrt()
    ell = square(square(canvas(), 3, 3, 8, 35), 3, 30, 45, 35)
    line = (ys == xs) & (ys < 37)
    masks = torch.stack([radius < 13, (radius > 8) & (radius < 14), ell, line])
    torch.testing.assert_close(
        masks_to_boxes(masks, 'main_parts'), mask2bbox(masks)
    )


def test_main_part_boxes_lie_in_the_tight_boxes_and_keep_the_largest_run():
    g = torch.Generator().manual_seed(2)
    masks = torch.rand(30, 32, 48, generator=g) > 0.995
    masks[:, 10:20, 12:30] |= torch.rand(30, 10, 18, generator=g) > 0.3
    main = masks_to_boxes(masks, 'main_parts')
    tight = masks_to_boxes(masks)
    assert (main[:, :2] >= tight[:, :2]).all()
    assert (main[:, 2:] <= tight[:, 2:]).all()
    assert (main[:, :2] <= torch.tensor([12.0, 10.0])).all()
    assert (main[:, 2:] >= torch.tensor([30.0, 20.0])).all()
    assert not torch.equal(main, tight)  # some strays were cut off


def test_main_parts_of_uint8_and_float_masks_equal_those_of_bool():
    mask = square(canvas(), 5, 6, 20, 22)
    mask[38, 47] = True
    for dtype in (torch.uint8, torch.float32):
        assert main_box(mask.to(dtype)) == [5, 6, 20, 22]


def test_tight_stays_the_default_and_unknown_modes_are_refused():
    mask = square(canvas(), 5, 6, 20, 22)
    mask[38, 47] = True
    assert masks_to_boxes(mask[None])[0].tolist() == [5, 6, 48, 39]
    with pytest.raises(ValueError, match=r"mask_box='largest'.*'tight'"):
        masks_to_boxes(mask[None], 'largest')


# Widths that are and are not multiples of 8 bytes, a tall and a wide mask.
@pytest.mark.parametrize('height, width', [(30, 40), (300, 37), (4, 2100)])
@pytest.mark.parametrize('mask_box', ['tight', 'main_parts'])
def test_any_layout_and_dtype_of_the_masks_gives_the_same_boxes(
    height, width, mask_box
):
    """Bool, uint8 and float 0/1 masks, a non-contiguous view, and tight
    boxes read from probabilities (``probs``, ``thr``) all give the boxes
    of mmdet's mask2bbox for tight boxes."""
    g = torch.Generator().manual_seed(3)
    probs = torch.rand(6, height, width, generator=g)
    probs[:, :, : width // 3] *= 0.5  # a third of the columns stay empty
    probs[2] = 0.9
    probs[3] = 0.1
    masks = probs > 0.6
    expected = masks_to_boxes(masks, mask_box)
    if mask_box == 'tight':
        torch.testing.assert_close(expected, mask2bbox(masks))
    for given in (
        masks.to(torch.uint8),
        masks.float(),
        torch.cat([masks, masks], 2)[:, :, :width],
    ):
        assert torch.equal(masks_to_boxes(given, mask_box), expected)
    assert torch.equal(
        masks_to_boxes(masks, mask_box, probs=probs, thr=0.6), expected
    )
    assert masks_to_boxes(masks[:0], mask_box).shape == (0, 4)
