"""The rule by which deployed predictions are compared with PyTorch's
(tests/support/parity.py) accepts last-bit differences at thresholds and
nothing else."""

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from support.parity import compare_samples


def sample(scores, labels, masks) -> DetDataSample:
    masks = torch.stack(masks)
    ys, xs = torch.meshgrid(torch.arange(8), torch.arange(8), indexing='ij')
    boxes = torch.stack(
        [
            torch.tensor(
                [xs[m].min(), ys[m].min(), xs[m].max() + 1, ys[m].max() + 1]
            ).float()
            for m in masks
        ]
    )
    return DetDataSample(
        pred_instances=InstanceData(
            scores=torch.tensor(scores),
            labels=torch.tensor(labels),
            masks=masks,
            bboxes=boxes,
        )
    )


def square(y: int, x: int, size: int = 4) -> torch.Tensor:
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[y : y + size, x : x + size] = True
    return mask


A, B, C = square(0, 0), square(4, 4), square(2, 2)


def test_equal_predictions_pass():
    ref = sample([0.9, 0.5], [1, 2], [A, B])
    stats = compare_samples([ref], [ref])
    assert stats['instances'] == 2 and stats['unpaired'] == 0


def test_a_score_off_where_masks_are_identical_fails():
    ref = sample([0.9, 0.5], [1, 2], [A, B])
    dep = sample([0.9, 0.5005], [1, 2], [A, B])
    with pytest.raises(AssertionError, match='masks identical'):
        compare_samples([ref], [dep])


def test_a_flipped_pixel_lets_its_class_scores_differ_slightly():
    flipped = A.clone()
    flipped[3, 3] = False
    ref = sample([0.9, 0.5], [1, 1], [A, C])
    dep = sample([0.9, 0.5005], [1, 1], [flipped, C])
    stats = compare_samples([ref], [dep])
    assert 0 < stats['max_decayed_diff'] <= 2e-3
    far = sample([0.9, 0.52], [1, 1], [flipped, C])
    with pytest.raises(AssertionError):
        compare_samples([ref], [far])


def test_missing_only_at_a_threshold():
    ref = sample([0.9, 0.5, 0.3], [1, 2, 2], [A, B, C])
    dep = sample([0.9, 0.5], [1, 2], [A, B])
    with pytest.raises(AssertionError, match='has no twin'):
        compare_samples([ref], [dep], filter_thr=0.05, max_per_img=3)
    # The deployed side is full (max_per_img), but 0.5 is far above its
    # lowest score: not at the top-k cut.
    dep_full = sample([0.9, 0.3, 0.2999], [1, 2, 1], [A, C, C])
    with pytest.raises(AssertionError, match='instance 1 .*has no twin'):
        compare_samples([ref], [dep_full], filter_thr=0.05, max_per_img=3)
    near_cut = sample([0.9, 0.5, 0.3], [1, 2, 2], [A, B, C])
    ref_cut = sample([0.9, 0.5, 0.3, 0.3003], [1, 2, 2, 1], [A, B, C, A])
    stats = compare_samples(
        [ref_cut], [near_cut], filter_thr=0.05, max_per_img=3
    )
    assert stats['unpaired'] == 1
    at_filter = sample([0.9, 0.0501], [1, 2], [A, B])
    stats = compare_samples(
        [at_filter],
        [sample([0.9], [1], [A])],
        filter_thr=0.05,
        max_per_img=100,
    )
    assert stats['unpaired'] == 1
