import pytest
import torch
from mmdet.models.layers import mask_matrix_nms

from mmsolo.models.layers import matrix_nms
from mmsolo.registry import FUNCTIONS


def overlapping_masks(num: int, size=(48, 64), num_classes=4, seed=0,
                      tied=False):
    """Random boxes-as-masks around a few centres: many near-duplicates."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    centres = torch.rand(max(num // 6, 1), 2, generator=g) * torch.tensor(
        [h, w])
    masks = torch.zeros(num, h, w, dtype=torch.bool)
    for i in range(num):
        cy, cx = centres[i % len(centres)] + torch.randn(2, generator=g) * 3
        ry, rx = 4 + torch.rand(2, generator=g) * 12
        y0, y1 = int(max(cy - ry, 0)), int(min(cy + ry, h - 1)) + 1
        x0, x1 = int(max(cx - rx, 0)), int(min(cx + rx, w - 1)) + 1
        masks[i, y0:y1, x0:x1] = True
        masks[i, min(y0, h - 1), min(x0, w - 1)] = True  # never empty
    labels = torch.randint(0, num_classes, (num, ), generator=g)
    if tied:
        scores = torch.randint(1, 6, (num, ), generator=g).float() / 5
    else:
        scores = torch.rand(num, generator=g)
    return masks, labels, scores


def assert_same(ours, ref):
    assert len(ours[0]) == len(ref[0])
    torch.testing.assert_close(ours[0], ref[0], rtol=0, atol=1e-6)
    assert torch.equal(ours[1], ref[1])
    assert torch.equal(ours[2], ref[2])
    assert torch.equal(ours[3], ref[3])


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
@pytest.mark.parametrize('filter_thr', [-1, 0.1])
@pytest.mark.parametrize('num', [0, 1, 2, 37, 200])
@pytest.mark.parametrize('tied', [False, True])
def test_matches_mmdet(kernel, filter_thr, num, tied):
    masks, labels, scores = overlapping_masks(num, seed=num, tied=tied)
    kwargs = dict(
        filter_thr=filter_thr, nms_pre=150, max_num=100, kernel=kernel,
        sigma=2.0)
    ref = mask_matrix_nms(masks, labels, scores, **kwargs)
    ours = matrix_nms(masks, labels, scores, **kwargs)
    assert_same(ours, ref)
    if num >= 37 and filter_thr < 0:
        assert (ours[0] < scores[ours[3]]).any(), 'nothing was decayed'


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_float_masks_and_given_area_match_mmdet(kernel):
    masks, labels, scores = overlapping_masks(60, seed=3)
    float_masks = masks.float()
    area = masks.sum((1, 2)).float()
    ref = mask_matrix_nms(
        float_masks, labels, scores, kernel=kernel, mask_area=area)
    ours = matrix_nms(float_masks, labels, scores, kernel=kernel,
                      mask_area=area)
    assert_same(ours, ref)


def test_class_aware_and_exact_decay():
    masks = torch.zeros(3, 4, 4, dtype=torch.bool)
    masks[0, :2] = True  # 8 px
    masks[1, :1] = True  # 4 px, IoU 0.5 with mask 0
    masks[2, :2] = True  # duplicate of mask 0 but another class
    labels = torch.tensor([0, 0, 1])
    scores = torch.tensor([0.9, 0.8, 0.7])
    out_scores, out_labels, _, keep = matrix_nms(
        masks, labels, scores, kernel='linear')
    # Mask 2 is not decayed by mask 0 (other class); mask 1 by 1 - 0.5.
    assert keep.tolist() == [0, 2, 1]
    assert out_labels.tolist() == [0, 1, 0]
    torch.testing.assert_close(out_scores, torch.tensor([0.9, 0.7, 0.4]))
    out_scores, *_ = matrix_nms(masks, labels, scores, kernel='gaussian',
                                sigma=2.0)
    expected = 0.8 * torch.exp(torch.tensor(-2.0 * 0.25))
    torch.testing.assert_close(out_scores[2], expected)


def test_duplicates_with_linear_kernel_stay_finite():
    masks = torch.zeros(3, 4, 4, dtype=torch.bool)
    masks[:, 1:3, 1:3] = True
    out_scores, *_ = matrix_nms(masks, torch.zeros(3, dtype=torch.long),
                                torch.tensor([0.9, 0.8, 0.7]), kernel='linear')
    assert torch.isfinite(out_scores).all()
    torch.testing.assert_close(out_scores, torch.tensor([0.9, 0.0, 0.0]))


def test_empty_masks_do_not_give_nan():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    out_scores, *_ = matrix_nms(masks, torch.zeros(2, dtype=torch.long),
                                torch.tensor([0.9, 0.8]))
    torch.testing.assert_close(out_scores, torch.tensor([0.9, 0.8]))


def test_filter_removing_everything_returns_empty():
    masks, labels, scores = overlapping_masks(10)
    out = matrix_nms(masks, labels, scores * 0.01, filter_thr=0.5)
    assert [len(t) for t in out] == [0, 0, 0, 0]
    assert out[2].shape == (0, *masks.shape[1:])


def test_bad_arguments_are_named():
    masks, labels, scores = overlapping_masks(4)
    with pytest.raises(ValueError, match='kernel'):
        matrix_nms(masks, labels, scores, kernel='box')
    with pytest.raises(ValueError, match='labels'):
        matrix_nms(masks, labels[:2], scores)


def test_registered_as_function():
    assert FUNCTIONS.get('matrix_nms') is matrix_nms
