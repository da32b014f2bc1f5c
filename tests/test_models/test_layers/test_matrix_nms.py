import pytest
import torch
from mmdet.models.layers import mask_matrix_nms

from mmsolo.models.layers import matrix_nms
from mmsolo.models.layers.nms import matrix as matrix_module
from mmsolo.registry import FUNCTIONS


def overlapping_masks(
    num: int, size=(48, 64), num_classes=4, seed=0, tied=False
):
    """Random boxes-as-masks around a few centres: many near-duplicates."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    centres = torch.rand(max(num // 6, 1), 2, generator=g) * torch.tensor(
        [h, w]
    )
    masks = torch.zeros(num, h, w, dtype=torch.bool)
    for i in range(num):
        cy, cx = centres[i % len(centres)] + torch.randn(2, generator=g) * 3
        ry, rx = 4 + torch.rand(2, generator=g) * 12
        y0, y1 = int(max(cy - ry, 0)), int(min(cy + ry, h - 1)) + 1
        x0, x1 = int(max(cx - rx, 0)), int(min(cx + rx, w - 1)) + 1
        masks[i, y0:y1, x0:x1] = True
        masks[i, min(y0, h - 1), min(x0, w - 1)] = True  # never empty
    labels = torch.randint(0, num_classes, (num,), generator=g)
    if tied:
        scores = torch.randint(1, 6, (num,), generator=g).float() / 5
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
        filter_thr=filter_thr,
        nms_pre=150,
        max_num=100,
        kernel=kernel,
        sigma=2.0,
    )
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
        float_masks, labels, scores, kernel=kernel, mask_area=area
    )
    ours = matrix_nms(
        float_masks, labels, scores, kernel=kernel, mask_area=area
    )
    assert_same(ours, ref)


def test_class_aware_and_exact_decay():
    masks = torch.zeros(3, 4, 4, dtype=torch.bool)
    masks[0, :2] = True  # 8 px
    masks[1, :1] = True  # 4 px, IoU 0.5 with mask 0
    masks[2, :2] = True  # duplicate of mask 0 but another class
    labels = torch.tensor([0, 0, 1])
    scores = torch.tensor([0.9, 0.8, 0.7])
    out_scores, out_labels, _, keep = matrix_nms(
        masks, labels, scores, kernel='linear'
    )
    # Mask 2 is not decayed by mask 0 (other class); mask 1 by 1 - 0.5.
    assert keep.tolist() == [0, 2, 1]
    assert out_labels.tolist() == [0, 1, 0]
    torch.testing.assert_close(out_scores, torch.tensor([0.9, 0.7, 0.4]))
    out_scores, *_ = matrix_nms(
        masks, labels, scores, kernel='gaussian', sigma=2.0
    )
    expected = 0.8 * torch.exp(torch.tensor(-2.0 * 0.25))
    torch.testing.assert_close(out_scores[2], expected)


def test_duplicates_with_linear_kernel_stay_finite():
    masks = torch.zeros(3, 4, 4, dtype=torch.bool)
    masks[:, 1:3, 1:3] = True
    out_scores, *_ = matrix_nms(
        masks,
        torch.zeros(3, dtype=torch.long),
        torch.tensor([0.9, 0.8, 0.7]),
        kernel='linear',
    )
    assert torch.isfinite(out_scores).all()
    torch.testing.assert_close(out_scores, torch.tensor([0.9, 0.0, 0.0]))


def test_empty_masks_do_not_give_nan():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    out_scores, *_ = matrix_nms(
        masks, torch.zeros(2, dtype=torch.long), torch.tensor([0.9, 0.8])
    )
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


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
@pytest.mark.parametrize('dtype', [torch.bool, torch.float, torch.uint8])
@pytest.mark.parametrize('given_area', [False, True])
@pytest.mark.parametrize('chunk', [1, 1 << 16])
def test_sparse_decay_is_bit_identical_to_dense(
    kernel, dtype, given_area, chunk, monkeypatch
):
    """With blocks of 1 word the pairs' rows are cut into many blocks (each
    of a few pairs); with the default all pairs are one block."""
    module = matrix_module
    monkeypatch.setattr(module, 'PAIR_CHUNK_WORDS', chunk)
    masks, labels, scores = overlapping_masks(120, num_classes=3, seed=7)
    masks = masks.to(dtype)
    order = torch.sort(scores, descending=True)[1][:100]
    area = masks.float().sum((1, 2))[order] if given_area else None
    dense = module.matrix_nms_decay(
        module.mask_iou_matrix(masks[order], area), labels[order], kernel
    )
    sparse = module.sparse_matrix_nms_decay(masks, labels, order, area, kernel)
    assert (dense < 1).sum() > 10, 'nothing was decayed'
    assert torch.equal(sparse, dense)


def test_bit_counts_give_exact_integer_intersections():
    """The sparse path's popcounts, and the dense float32 matmul, give the
    exact integer intersections."""
    masks = (
        torch.rand(6, 200, 304, generator=torch.Generator().manual_seed(0))
        > 0.3
    )  # about 42,000 px each, so counts well above 2**8
    flat = masks.reshape(6, -1)
    exact = (flat[:, None, :] & flat[None, :, :]).sum(-1)
    iou = matrix_module.mask_iou_matrix(masks)
    areas = flat.sum(1)
    expected = exact.double() / (areas[:, None] + areas[None, :] - exact)
    assert torch.equal(iou, expected.float())
    labels = torch.zeros(6, dtype=torch.long)
    dense = matrix_module.matrix_nms_decay(iou, labels)
    assert torch.equal(
        matrix_module.sparse_matrix_nms_decay(masks, labels), dense
    )


def test_same_class_masks_that_do_not_touch_are_not_decayed():
    masks = torch.zeros(4, 20, 20, dtype=torch.bool)
    masks[0, :5, :5] = True
    masks[1, :5, 6:11] = True  # boxes of 0 and 1 do not overlap
    masks[2, 10:, 10:] = True
    masks[3, 10:19, 10:19] = True  # inside mask 2: decayed by it only
    masks[0, 4, 4] = False
    labels = torch.zeros(4, dtype=torch.long)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    ref = mask_matrix_nms(masks, labels, scores, kernel='linear')
    out = matrix_nms(masks, labels, scores, kernel='linear')
    assert_same(out, ref)
    torch.testing.assert_close(out[0][:3], scores[:3])
    torch.testing.assert_close(out[0][3], torch.tensor(0.6 * (1 - 81 / 100)))


def test_one_mask_per_class_is_not_decayed():
    masks = torch.ones(5, 8, 8, dtype=torch.bool)  # all identical
    labels = torch.arange(5)
    scores = torch.tensor([0.5, 0.9, 0.1, 0.7, 0.3])
    out = matrix_nms(masks, labels, scores)
    assert_same(out, mask_matrix_nms(masks, labels, scores))
    assert out[3].tolist() == [1, 3, 0, 4, 2]
    assert torch.equal(out[0], scores[out[3]])


def test_empty_class_masks_and_unused_labels():
    masks, labels, scores = overlapping_masks(40, num_classes=2, seed=5)
    labels = labels * 7  # classes 0 and 7; 1..6 have no candidates
    masks[labels == 7] = False  # class 7: only empty masks
    out = matrix_nms(masks, labels, scores)
    assert torch.isfinite(out[0]).all()
    empty = out[1] == 7
    assert torch.equal(out[0][empty], scores[out[3][empty]])
    assert (out[0][~empty] < scores[out[3][~empty]]).any()


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_soft_float_masks_take_the_dense_path(kernel, monkeypatch):
    masks, labels, scores = overlapping_masks(50, seed=2)
    soft = masks.float() * torch.rand(
        masks.shape, generator=torch.Generator().manual_seed(1)
    )
    module = matrix_module

    def fail(*args, **kwargs):
        raise AssertionError('soft masks must not take the sparse path')

    monkeypatch.setattr(module, 'sparse_matrix_nms_decay', fail)
    ref = mask_matrix_nms(soft, labels, scores, kernel=kernel)
    assert_same(matrix_nms(soft, labels, scores, kernel=kernel), ref)


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_realistic_full_size_candidates_match_mmdet_exactly(kernel):
    """Near-duplicates of many objects on a 200x304 canvas, several
    classes, tied scores included: scores equal bit for bit."""
    masks, labels, scores = overlapping_masks(
        300, size=(200, 304), num_classes=6, seed=11
    )
    scores[::7] = scores[1::7][: len(scores[::7])]  # ties across classes
    ref = mask_matrix_nms(masks, labels, scores, kernel=kernel)
    ours = matrix_nms(masks, labels, scores, kernel=kernel)
    assert_same(ours, ref)
    assert torch.equal(ours[0], ref[0])


@pytest.mark.parametrize('width', [63, 64, 65, 130, 257])
def test_boxes_across_word_boundaries_count_exactly(width):
    """Boxes that start or end at, just before and just after a 64-pixel
    word boundary, masks with holes, and widths that are and are not whole
    words: the bit counts give the dense path's decays bit for bit."""
    g = torch.Generator().manual_seed(width)
    num = 120
    masks = torch.zeros(num, 24, width, dtype=torch.bool)
    edges = torch.tensor([0, 1, 62, 63, 64, 65, 127, 128, 129, 192, 256])
    edges = edges[edges < width]
    for i in range(num):
        x0 = int(edges[torch.randint(len(edges), (1,), generator=g)])
        x1 = min(x0 + 1 + int(torch.randint(140, (1,), generator=g)), width)
        y0 = int(torch.randint(12, (1,), generator=g))
        y1 = y0 + 1 + int(torch.randint(12, (1,), generator=g))
        masks[i, y0:y1, x0:x1] = (
            torch.rand(y1 - y0, x1 - x0, generator=g) > 0.2
        )
        masks[i, y0, x0] = True
    labels = torch.randint(0, 2, (num,), generator=g)
    order = torch.randperm(num, generator=g)
    iou = matrix_module.mask_iou_matrix(masks[order])
    for kernel in ('gaussian', 'linear'):
        dense = matrix_module.matrix_nms_decay(iou, labels[order], kernel)
        sparse = matrix_module.sparse_matrix_nms_decay(
            masks, labels, order, kernel=kernel
        )
        assert torch.equal(sparse, dense)
        assert (dense < 1).sum() > 30, 'nothing was decayed'


@pytest.mark.parametrize('start', [0, 1, 8])
def test_byte_masks_at_any_memory_offset(start):
    """Byte masks viewed at any memory offset, not contiguous, of a width
    that is not a multiple of 8: mmdet's results."""
    masks, labels, scores = overlapping_masks(60, size=(40, 64), seed=4)
    storage = torch.cat([masks.reshape(-1), masks.reshape(-1)])
    shifted = storage[start : start + masks.numel()].view(masks.shape)
    if start == 0:
        shifted = shifted[..., :60]  # not contiguous, width 60
    masks = shifted
    ref = mask_matrix_nms(masks, labels, scores)
    assert_same(matrix_nms(masks, labels, scores), ref)


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_dense_and_sparse_paths_give_identical_results(kernel):
    """The path chosen per device (``path='auto'``) never changes a result:
    forced dense and forced sparse agree bit for bit on 0/1 masks."""
    masks, labels, scores = overlapping_masks(150, num_classes=3, seed=11)
    dense = matrix_nms(masks, labels, scores, kernel=kernel, path='dense')
    sparse = matrix_nms(masks, labels, scores, kernel=kernel, path='sparse')
    for got, want in zip(sparse, dense):
        assert torch.equal(got, want)
    assert (dense[0] < scores[dense[3]]).sum() > 10, 'nothing was decayed'


def test_path_is_chosen_by_device_and_mask_values():
    masks = overlapping_masks(4)[0]
    assert matrix_module.matrix_nms_path(masks) == 'sparse'  # CPU, 0/1
    assert matrix_module.matrix_nms_path(masks.float() * 0.7) == 'dense'
    assert matrix_module.matrix_nms_path(masks, 'dense') == 'dense'
    meta = torch.zeros(2, 4, 4, device='meta')
    assert matrix_module.matrix_nms_path(meta) == 'dense'  # not the CPU
    with pytest.raises(ValueError, match='path must be one of'):
        matrix_nms(masks, torch.zeros(4), torch.ones(4), path='fastest')
