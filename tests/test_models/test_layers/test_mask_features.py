"""MaskFeatures: one map for every level, or one per level."""

import pytest
import torch

from mmsolo.models.layers import MaskFeatures, dynamic_mask_logits


def test_per_level_maps_convolve_their_own_levels_kernels():
    """(Moved from the head's variant tests, which spied on the head's
    private ``_candidate_masks``.)"""
    g = torch.Generator().manual_seed(0)
    maps = [torch.randn(1, 16, 8, 12, generator=g) for _ in range(5)]
    kernels = torch.randn(7, 16 * 9, generator=g)
    levels = torch.tensor([4, 0, 2, 2, 1, 0, 3])
    logits = MaskFeatures.of_levels(maps).logits(0, kernels, levels, 3)
    for row, level in enumerate(levels.tolist()):
        expected = dynamic_mask_logits(
            maps[level][0], kernels[row : row + 1], 3
        )[0]
        torch.testing.assert_close(logits[row], expected)


def test_a_shared_map_is_convolved_by_every_kernel():
    g = torch.Generator().manual_seed(1)
    mask_map = torch.randn(2, 16, 8, 12, generator=g)
    kernels = torch.randn(4, 16, generator=g)
    logits = MaskFeatures.shared(mask_map).logits(
        1, kernels, torch.tensor([0, 4, 2, 1]), 1
    )
    expected = torch.einsum('kc,chw->khw', kernels, mask_map[1])
    torch.testing.assert_close(logits, expected)


def test_per_level_maps_must_match_the_head_levels():
    features = MaskFeatures.of_levels([torch.zeros(1, 4, 2, 2)] * 4)
    features.check_levels(4)
    with pytest.raises(ValueError, match='mask_feature_neck.num_levels'):
        features.check_levels(5)
    MaskFeatures.shared(torch.zeros(1, 4, 2, 2)).check_levels(5)


@pytest.mark.parametrize('per_level', [False, True])
def test_image_maps_give_the_same_logits_and_gradients(per_level):
    g = torch.Generator().manual_seed(2)
    maps = [
        torch.randn(3, 8, 5, 6, generator=g).requires_grad_()
        for _ in range(3 if per_level else 1)
    ]
    features = MaskFeatures(maps, per_level=per_level)
    kernels = torch.randn(4, 8, generator=g)
    levels = torch.tensor([0, 2, 1, 2])

    def grads(use_views):
        for m in maps:
            m.grad = None
        views = features.image_maps() if use_views else [None] * 3
        total = sum(
            (features.logits(i, kernels, levels, 1, views[i]) * (i + 1)).sum()
            for i in range(3)
        )
        total.backward()
        return [m.grad.clone() for m in maps]

    views = features.image_maps()
    assert len(views) == 3 and all(len(v) == len(maps) for v in views)
    assert all(
        v[k].shape == (8, 5, 6) for v in views for k in range(len(maps))
    )
    for ours, plain in zip(grads(True), grads(False)):
        torch.testing.assert_close(ours, plain)
