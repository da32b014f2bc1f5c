"""The post-processing math shared by the eager post-processor and the
exported graph: batched candidate slots (an image without candidates
included), maskness, and the dense Matrix NMS decay with invalid slots."""

import torch

from mmsolo.models.layers import (
    cell_levels,
    flat_cells,
    mask_iou_matrix,
    maskness,
    matrix_nms_decay,
    select_candidates,
    threshold_masks,
)


def test_cells_of_all_levels_in_the_heads_order():
    levels = [
        torch.arange(2 * 4).view(1, 2, 2, 2),
        torch.arange(2 * 1).view(1, 2, 1, 1) + 100,
    ]
    cells = flat_cells(levels)
    assert cells.shape == (1, 5, 2)
    assert cells[0, :, 0].tolist() == [0, 1, 2, 3, 100]  # row by row
    assert cells[0, :, 1].tolist() == [4, 5, 6, 7, 101]
    assert cell_levels([2, 1]).tolist() == [0, 0, 0, 0, 1]


def test_candidate_slots_of_a_batch():
    """Each image's candidates fill its first slots in cell order (class
    after class within a cell); an image without any has invalid slots
    only; slots are cut to the image with the most candidates."""
    scores = torch.zeros(3, 4, 2)
    scores[0] = torch.tensor(
        [[0.5, 0.95], [0.2, 0.8], [0.9, 0.1], [0.7, 0.05]]
    )
    scores[2, 3, 1] = 0.6
    got, cells, labels, valid = select_candidates(scores, 0.3, 4)
    assert got.shape == (3, 4) and got.dtype == torch.float32
    assert valid.tolist() == [
        [True] * 4,
        [False] * 4,
        [True, False, False, False],
    ]
    # Image 0: five above 0.3, the 4 best (0.95, 0.9, 0.8, 0.7) by cell.
    assert cells[0].tolist() == [0, 1, 2, 3]
    assert labels[0].tolist() == [1, 1, 0, 0]
    assert torch.equal(got[0], torch.tensor([0.95, 0.8, 0.9, 0.7]))
    assert (cells[2, 0], labels[2, 0]) == (3, 1)
    assert (
        (0 <= cells) & (cells < 4) & (0 <= labels) & (labels < 2)
    ).all()  # in range in invalid slots too
    none = select_candidates(scores[1:2], 0.3, 4)
    assert none[0].shape == (1, 1) and not none[3].any()
    all_kept = select_candidates(scores, 0.3, -1)
    assert all_kept[3].sum(1).tolist() == [5, 0, 1]


def test_area_filter_and_maskness():
    probs = torch.zeros(2, 3, 4, 4)
    probs[0, 0, :2, :2] = 0.8  # 4 px at 0.8
    probs[0, 1, :, :] = 0.6  # 16 px at 0.6
    probs[1, 2, 0, 0] = 0.9  # 1 px
    masks, areas, keep = threshold_masks(probs, 0.5, torch.full((2, 3), 2.0))
    assert areas.tolist() == [[4, 16, 0], [0, 0, 1]]
    assert keep.tolist() == [[True, True, False], [False, False, False]]
    torch.testing.assert_close(
        maskness(probs, masks, areas),
        torch.tensor([[0.8, 0.6, 0.0], [0.0, 0.0, 0.9]]),
    )


def test_batched_decay_with_invalid_slots_equals_each_images_own():
    """One (B, m, m) decay whose invalid slots are masked equals every
    image's decay of its valid slots alone, bit for bit."""
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(2, 6, 10, 12, generator=g) > 0.4
    labels = torch.randint(0, 2, (2, 6), generator=g)
    valid = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    areas = masks.sum((-2, -1)).float()
    for kernel in ('gaussian', 'linear'):
        batched = matrix_nms_decay(
            mask_iou_matrix(masks, areas), labels, kernel, 2.0, valid
        )
        for image in range(2):
            own = valid[image]
            alone = matrix_nms_decay(
                mask_iou_matrix(masks[image][own], areas[image][own]),
                labels[image][own],
                kernel,
                2.0,
            )
            assert torch.equal(batched[image][own], alone)
        assert (batched[0] < 1).any(), 'nothing was decayed'
