import math
from functools import partial

import pytest
import torch

from mmsolo.models.layers import (
    fast_mask_nms,
    hard_mask_nms,
    matrix_nms,
    soft_mask_nms,
)
from mmsolo.models.layers.nms import IOU_RULES, iou_mask_nms, mask_iou_matrix
from mmsolo.registry import FUNCTIONS

NMS_FUNCTIONS = [hard_mask_nms, soft_mask_nms, fast_mask_nms]


def strip_masks(spans, width=20):
    """Masks of one row; mask k covers columns ``spans[k][0]`` up to, not
    including, ``spans[k][1]``."""
    masks = torch.zeros(len(spans), 1, width, dtype=torch.bool)
    for k, (start, stop) in enumerate(spans):
        masks[k, 0, start:stop] = True
    return masks


def chain():
    """A (0.9), B (0.8), C (0.7), one class, 8 px each:
    IoU(A, B) = IoU(B, C) = 6/10 = 0.6 and IoU(A, C) = 4/12 = 1/3."""
    return (
        strip_masks([(0, 8), (2, 10), (4, 12)]),
        torch.tensor([0, 0, 0]),
        torch.tensor([0.9, 0.8, 0.7]),
    )


def random_masks(num, size=(24, 32), num_classes=3, seed=0):
    """Random rectangles around a few centres: many overlaps."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    centres = torch.rand(max(num // 5, 1), 2, generator=g) * torch.tensor(
        [h, w]
    )
    masks = torch.zeros(num, h, w, dtype=torch.bool)
    for i in range(num):
        cy, cx = (
            centres[i % len(centres)] + torch.randn(2, generator=g) * 2
        ).tolist()
        ry, rx = (3 + torch.rand(2, generator=g) * 6).tolist()
        y0, x0 = max(int(cy - ry), 0), max(int(cx - rx), 0)
        y1, x1 = max(int(cy + ry), y0 + 1), max(int(cx + rx), x0 + 1)
        masks[i, y0:y1, x0:x1] = True
    labels = torch.randint(0, num_classes, (num,), generator=g)
    scores = torch.rand(num, generator=g)
    return masks, labels, scores


def loop_iou(a, b):
    inter = (a & b).sum().item()
    union = (a | b).sum().item()
    return inter / union if union else 0.0


def loop_hard_nms(masks, labels, scores, iou_thr):
    order = sorted(range(len(scores)), key=lambda i: -scores[i].item())
    kept = []
    for j in order:
        if all(
            labels[i] != labels[j] or loop_iou(masks[i], masks[j]) <= iou_thr
            for i in kept
        ):
            kept.append(j)
    return kept, [scores[i].item() for i in kept]


def loop_fast_nms(masks, labels, scores, iou_thr):
    order = sorted(range(len(scores)), key=lambda i: -scores[i].item())
    kept = [
        j
        for rank, j in enumerate(order)
        if all(
            labels[i] != labels[j] or loop_iou(masks[i], masks[j]) <= iou_thr
            for i in order[:rank]
        )
    ]
    return kept, [scores[i].item() for i in kept]


def loop_soft_nms(masks, labels, scores, sigma):
    current = {i: scores[i].item() for i in range(len(scores))}
    picked = []
    while current:
        top = max(current, key=lambda i: (current[i], -i))
        picked.append((top, current.pop(top)))
        for j in current:
            if labels[j] == labels[top]:
                current[j] *= math.exp(
                    -(loop_iou(masks[top], masks[j]) ** 2) / sigma
                )
    picked.sort(key=lambda p: -p[1])
    return [i for i, _ in picked], [s for _, s in picked]


def test_hand_computed_chain():
    masks, labels, scores = chain()
    # Hard NMS: A removes B; B is gone, so C (IoU 1/3 with A) stays.
    out_scores, out_labels, out_masks, keep = hard_mask_nms(
        masks, labels, scores, iou_thr=0.5
    )
    assert keep.tolist() == [0, 2]
    assert out_labels.tolist() == [0, 0]
    assert torch.equal(out_masks, masks[[0, 2]])
    torch.testing.assert_close(out_scores, torch.tensor([0.9, 0.7]))
    # Fast NMS: B, though removed, still removes C.
    _, _, _, keep = fast_mask_nms(masks, labels, scores, iou_thr=0.5)
    assert keep.tolist() == [0]
    # Both keep everything below the threshold (IoU 0.6 is not > 0.6).
    assert hard_mask_nms(masks, labels, scores, iou_thr=0.6)[3].tolist() == [
        0,
        1,
        2,
    ]
    assert fast_mask_nms(masks, labels, scores, iou_thr=0.6)[3].tolist() == [
        0,
        1,
        2,
    ]


def test_soft_nms_hand_computed():
    masks, labels, scores = chain()
    out_scores, _, _, keep = soft_mask_nms(masks, labels, scores, sigma=0.5)
    # A picks first: B -> 0.8 e^(-0.36/0.5), C -> 0.7 e^(-(1/3)^2/0.5);
    # C is now the highest (0.5602 > 0.3894) and decays B again.
    b = 0.8 * math.exp(-(0.6**2) / 0.5)
    c = 0.7 * math.exp(-((1 / 3) ** 2) / 0.5)
    b *= math.exp(-(0.6**2) / 0.5)
    assert keep.tolist() == [0, 2, 1]
    torch.testing.assert_close(
        out_scores, torch.tensor([0.9, c, b]), rtol=1e-6, atol=1e-7
    )
    # filter_thr drops masks whose decayed score is below it.
    assert soft_mask_nms(masks, labels, scores, sigma=0.5, filter_thr=0.2)[
        3
    ].tolist() == [0, 2]


@pytest.mark.parametrize('nms', NMS_FUNCTIONS)
def test_class_aware(nms):
    masks, _, scores = chain()
    labels = torch.tensor([0, 1, 2])
    out_scores, out_labels, _, keep = nms(masks, labels, scores)
    assert keep.tolist() == [0, 1, 2]
    assert out_labels.tolist() == [0, 1, 2]
    torch.testing.assert_close(out_scores, scores)


@pytest.mark.parametrize('num', [1, 2, 30, 90])
@pytest.mark.parametrize('float_masks', [False, True])
def test_match_plain_loops(num, float_masks):
    masks, labels, scores = random_masks(num, seed=num)
    given = masks.float() if float_masks else masks
    for nms, ref in (
        (hard_mask_nms, loop_hard_nms),
        (fast_mask_nms, loop_fast_nms),
    ):
        ref_keep, ref_scores = ref(masks, labels, scores, 0.4)
        out_scores, out_labels, out_masks, keep = nms(
            given, labels, scores, iou_thr=0.4
        )
        assert keep.tolist() == ref_keep, nms.__name__
        torch.testing.assert_close(out_scores, torch.tensor(ref_scores))
        assert torch.equal(out_labels, labels[keep])
        assert torch.equal(out_masks, given[keep])
    ref_keep, ref_scores = loop_soft_nms(masks, labels, scores, 0.5)
    out_scores, _, _, keep = soft_mask_nms(given, labels, scores, sigma=0.5)
    assert keep.tolist() == ref_keep
    torch.testing.assert_close(out_scores, torch.tensor(ref_scores))
    if num == 90:
        hard = hard_mask_nms(masks, labels, scores, iou_thr=0.4)[3]
        fast = fast_mask_nms(masks, labels, scores, iou_thr=0.4)[3]
        assert len(hard) < num, 'nothing was suppressed'
        assert set(fast.tolist()) < set(hard.tolist())


@pytest.mark.parametrize('nms', NMS_FUNCTIONS + [matrix_nms])
def test_empty_and_single(nms):
    empty = nms(
        torch.zeros(0, 5, 6, dtype=torch.bool),
        torch.zeros(0, dtype=torch.long),
        torch.zeros(0),
    )
    assert [tuple(t.shape) for t in empty] == [(0,), (0,), (0, 5, 6), (0,)]
    mask = torch.zeros(1, 5, 6, dtype=torch.bool)
    mask[0, 1:3, 2:4] = True
    out_scores, out_labels, out_masks, keep = nms(
        mask, torch.tensor([4]), torch.tensor([0.3])
    )
    assert keep.tolist() == [0] and out_labels.tolist() == [4]
    torch.testing.assert_close(out_scores, torch.tensor([0.3]))
    assert torch.equal(out_masks, mask)


@pytest.mark.parametrize('nms', NMS_FUNCTIONS)
def test_nms_pre_max_num_filter_thr_and_area(nms):
    masks, labels, scores = random_masks(40, seed=7)
    top10 = torch.sort(scores, descending=True)[1][:10]
    _, _, _, keep = nms(masks, labels, scores, nms_pre=10)
    assert set(keep.tolist()) <= set(top10.tolist())
    full = nms(masks, labels, scores)
    assert len(full[3]) > 5
    limited = nms(masks, labels, scores, max_num=5)
    assert torch.equal(limited[3], full[3][:5])
    thr = full[0][len(full[0]) // 2].item()
    filtered = nms(masks, labels, scores, filter_thr=thr)
    assert torch.equal(filtered[3], full[3][full[0] >= thr])
    assert len(nms(masks, labels, scores, filter_thr=2.0)[3]) == 0
    with_area = nms(masks, labels, scores, mask_area=masks.sum((1, 2)))
    assert torch.equal(with_area[3], full[3])


@pytest.mark.parametrize('nms', NMS_FUNCTIONS)
def test_bad_input_is_explained(nms):
    masks, labels, scores = chain()
    with pytest.raises(ValueError, match=nms.__name__):
        nms(masks, labels[:2], scores)
    with pytest.raises(ValueError, match='mask_area'):
        nms(masks, labels, scores, mask_area=torch.ones(2))
    if nms is soft_mask_nms:
        with pytest.raises(ValueError, match='sigma'):
            nms(masks, labels, scores, sigma=0)


def test_registered_as_functions():
    for nms in NMS_FUNCTIONS:
        assert FUNCTIONS.get(nms.__name__) is nms


@pytest.mark.parametrize(
    'name, keys',
    [
        ('matrix_nms', dict(kernel='gaussian', sigma=2.0)),
        ('matrix_nms', dict(kernel='linear', sigma=2.0)),
        ('hard_mask_nms', dict(iou_thr=0.5)),
        ('soft_mask_nms', dict(sigma=0.5)),
        ('fast_mask_nms', dict(iou_thr=0.5)),
    ],
)
@pytest.mark.parametrize('num', [0, 1, 40])
def test_rule_on_a_given_iou_equals_the_mask_nms(name, keys, num):
    """Each NMS's rule on the IoU counted outside (iou_mask_nms, as the
    sliced merge runs it) keeps the same masks with the same scores as
    the NMS on the masks themselves."""
    masks, labels, scores = random_masks(num, seed=3)
    nms = FUNCTIONS.get(name)
    expected = nms(masks, labels, scores, filter_thr=0.1, max_num=25, **keys)
    got = iou_mask_nms(
        partial(IOU_RULES[name], **keys),
        mask_iou_matrix(masks),
        labels,
        scores,
        filter_thr=0.1,
        max_num=25,
    )
    assert torch.equal(got[0], expected[0])
    assert torch.equal(got[1], expected[1])
    assert torch.equal(got[2], expected[3])


def test_iou_mask_nms_names_a_bad_shape():
    masks, labels, scores = random_masks(4)
    with pytest.raises(ValueError, match='iou_mask_nms: expected iou'):
        iou_mask_nms(
            partial(IOU_RULES['fast_mask_nms'], iou_thr=0.5),
            mask_iou_matrix(masks)[:3],
            labels,
            scores,
        )


def test_every_configurable_nms_has_a_rule_on_a_given_iou():
    """Sliced inference's merge runs test_cfg.nms_type's rule."""
    from mmsolo.models.task_modules.predict_cfg import NMS_TYPES

    assert {t.function for t in NMS_TYPES.values()} == set(IOU_RULES)
