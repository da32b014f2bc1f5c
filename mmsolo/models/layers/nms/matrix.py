"""Matrix NMS (SOLOv2, section 3.3.2): soft-NMS of masks done in one pass.

Every candidate ``j`` is decayed by the masks of its own class that score
higher than it. With ``iou[i, j]`` the mask IoU of a higher-scored ``i``
with ``j`` and ``comp[i]`` the largest IoU of ``i`` with any mask of its
class scoring higher than ``i`` (how much ``i`` itself is suppressed), the
decay of ``j`` is::

    decay[j] = min(1, min_i f(iou[i, j]) / f(comp[i]))
    gaussian: f(x) = exp(-sigma * x**2)        linear: f(x) = 1 - x

All decays come from a few matrix operations over the (n, n) IoU matrix, so
nothing is sequential.

Only same-class pairs that overlap matter (any other pair has IoU 0 and
cannot decay anything: its ratio is >= 1), so 0/1 masks take a sparse
path. The masks are packed to one bit per pixel (NumPy's ``packbits``, one
pass, 8x smaller); their bounds come from the bits; pairs of one class are
listed per class (no (n, n) matrix) and kept where their boxes overlap;
each pair's intersection is the popcount of the AND of its two masks' rows
where both boxes lie, all pairs' rows laid one after another and handled a
cache-sized block at a time in buffers reused across blocks (no group loop,
no float copy of the masks, nothing large allocated). The counts are exact
integers, and float32 holds them exactly below 2**24 pixels, as it holds
the dense (n, H*W) x (H*W, n) float32 product's, so the IoUs, and the
decays computed from them by the same float32 operations, are bit-identical
to the dense path's and mmdet's. Float masks with other values use the
dense path.

Which path runs (``path='auto'``, :func:`matrix_nms_path`): the sparse one
for 0/1 masks on the CPU; the dense one on other devices, where one large
matmul is what the hardware does best and the sparse path would first copy
the masks to the CPU, where its bit operations run
(``benchmarks/bench_gpu.py`` times both paths).

The dense decay, :func:`matrix_nms_decay`, takes leading batch axes and a
validity mask, so the exported ONNX graph (``mmsolo.deploy``) computes the
decays of a whole batch with it; ``benchmarks/bench_matrix_nms.py --phases``
times each step of the sparse path.
"""

from functools import partial
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from mmsolo.registry import FUNCTIONS
from ..mask_bits import pack_mask_rows, packed_mask_bounds
from .common import NMSResult, mask_iou_matrix, run_mask_nms

DECAY_KERNELS = ('gaussian', 'linear')
MATRIX_NMS_PATHS = ('auto', 'dense', 'sparse')
# Words of mask rows per block of pair intersections (see _shared_bits):
# 512 KiB per buffer, so that the blocks stay in cache.
PAIR_CHUNK_WORDS = 1 << 16


def matrix_nms_decay(
    iou: Tensor,
    labels: Tensor,
    kernel: str = 'gaussian',
    sigma: float = 2.0,
    valid: Optional[Tensor] = None,
) -> Tensor:
    """Decay coefficients of masks sorted by descending score.

    Args:
        iou (Tensor): (..., n, n) mask IoU of the sorted masks.
        labels (Tensor): (..., n) class of each sorted mask.
        kernel (str): ``'gaussian'`` or ``'linear'``.
        sigma (float): Width of the gaussian kernel.
        valid (Tensor, optional): (..., n) bool; an invalid mask (an empty
            slot of a batch) neither decays nor is decayed. None: all valid.

    Returns:
        Tensor: (..., n) decay of each mask, in (0, 1].
    """
    rank = torch.arange(labels.shape[-1], device=labels.device)
    # suppressor[..., i, j]: i scores higher than j and has the same class.
    suppressor = (rank[:, None] < rank[None, :]) & (
        labels[..., :, None] == labels[..., None, :]
    )
    if valid is not None:
        suppressor = suppressor & valid[..., :, None] & valid[..., None, :]
    pair_iou = iou * suppressor.to(iou.dtype)
    # comp[i]: how much i is itself overlapped by a higher-scored mask.
    comp = pair_iou.amax(dim=-2)[..., :, None]
    if kernel == 'gaussian':
        ratio = torch.exp(-sigma * pair_iou**2) / torch.exp(-sigma * comp**2)
    else:
        ratio = (1 - pair_iou) / (1 - comp)
    # A suppressor that is the exact duplicate of a higher mask (comp == 1)
    # gives 0/0 in the linear kernel; that higher mask decays j fully already.
    ratio = torch.where(
        suppressor & ~ratio.isnan(), ratio, ratio.new_full((), float('inf'))
    )
    return ratio.amin(dim=-2).clamp(max=1.0)


def _is_binary(masks: Tensor) -> bool:
    """Whether every value of ``masks`` is 0 or 1 (always true for bool)."""
    if masks.dtype == torch.bool:
        return True
    return bool(((masks == 0) | (masks == 1)).all())


def _same_class_pairs(labels: Tensor) -> Tuple[Tensor, Tensor]:
    """Every pair of candidates of one class, without the (n, n) matrix.

    Args:
        labels (Tensor): (n,) classes of the candidates.

    Returns:
        tuple[Tensor]: ``(first, second)``, each (p,): positions with
        ``first < second``.
    """
    by_class = torch.sort(labels, stable=True)[1]  # increasing per class
    counts = torch.unique_consecutive(labels[by_class], return_counts=True)[1]
    class_end = torch.repeat_interleave(counts.cumsum(0), counts)
    # The k-th of by_class pairs with every later one of its class.
    partners = class_end - 1 - torch.arange(len(labels))
    first = torch.repeat_interleave(torch.arange(len(labels)), partners)
    pair_start = torch.repeat_interleave(
        partners.cumsum(0) - partners, partners
    )
    second = first + 1 + torch.arange(len(first)) - pair_start
    return by_class[first], by_class[second]


def linked_pairs(boxes: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
    """Pairs of masks of one class whose bounding boxes overlap: the only
    pairs whose IoU can be above 0, the only ones the sparse path counts.

    Args:
        boxes (Tensor): (n, 4) ``(x0, y0, x1, y1)`` tight integer bounds,
            end exclusive (see :func:`~..mask_bits.packed_mask_bounds`),
            all 0 if empty (so never linked).
        labels (Tensor): (n,) classes.

    Returns:
        tuple[Tensor]: ``(first, second)``, each (p,): positions with
        ``first < second``.
    """
    first, second = _same_class_pairs(labels)
    box_a, box_b = boxes[first], boxes[second]
    overlap = (
        (box_a[:, :2] < box_b[:, 2:]) & (box_b[:, :2] < box_a[:, 2:])
    ).all(1)
    return first[overlap], second[overlap]


def _candidate_words(
    masks: Tensor, order: Tensor
) -> Tuple[np.ndarray, np.ndarray]:
    """The candidates' masks packed to bits (see :func:`pack_mask_rows`).

    All masks are packed when the candidates are at least half of them
    (packing is one cheap pass), else only the candidates, gathered first.

    Returns:
        tuple[np.ndarray]: ``(words, index)``: (M, H, ceil(W / 64)) uint64
        words and (n,) int64 index in ``words`` of each candidate.
    """
    masks = masks.detach().cpu()
    order = order.cpu()
    if 2 * len(order) >= len(masks):
        return pack_mask_rows(masks), order.numpy()
    return (
        pack_mask_rows(masks.index_select(0, order)),
        np.arange(len(order)),
    )


def pair_intersections(
    words: np.ndarray,
    boxes: Tensor,
    first: Tensor,
    second: Tensor,
    index: np.ndarray,
) -> np.ndarray:
    """Pixels shared by each pair of packed masks, as exact integers.

    A pair's intersection is the number of set bits of the AND of the rows
    both masks' boxes span (see :func:`_shared_bits`).

    Args:
        words (np.ndarray): (M, H, w) uint64 masks packed by
            :func:`~..mask_bits.pack_mask_rows`.
        boxes (Tensor): (n, 4) int64 bounds of the candidates' masks.
        first (Tensor): (p,) position of each pair's first candidate, the
            boxes of the pair overlapping (see :func:`linked_pairs`).
        second (Tensor): (p,) the same for the second.
        index (np.ndarray): (n,) index in ``words`` of each candidate.

    Returns:
        np.ndarray: (p,) uint32 intersections.
    """
    if len(first) == 0:
        return np.zeros(0, np.uint32)
    return _shared_bits(
        words.reshape(-1, words.shape[2]),
        *_pair_rows(boxes, first, second, index, words.shape[1]),
    )


def _shared_bits(
    rows: np.ndarray,
    first_rows: np.ndarray,
    second_rows: np.ndarray,
    heights: np.ndarray,
) -> np.ndarray:
    """Set bits of the AND of each pair's rows.

    The rows of all pairs are laid one after another and handled
    ``PAIR_CHUNK_WORDS`` words at a time in the same few buffers, so that
    the work stays in the cache and allocates nothing large.

    Args:
        rows (np.ndarray): (R, w) uint64, every row of every packed mask.
        first_rows (np.ndarray): (p,) int64 index in ``rows`` of the first
            overlapping row of each pair's first mask.
        second_rows (np.ndarray): (p,) the same for the second mask.
        heights (np.ndarray): (p,) int64 number of overlapping rows, >= 1.

    Returns:
        np.ndarray: (p,) uint32 intersections.
    """
    width = rows.shape[1]
    starts = np.cumsum(heights) - heights  # first laid row of each pair
    chunk_rows = max(PAIR_CHUNK_WORDS // width, int(heights.max()))
    cuts = np.searchsorted(starts, np.arange(0, starts[-1] + 1, chunk_rows))
    cuts = np.append(cuts, len(heights))
    size = chunk_rows + int(heights.max())  # a chunk's rows at most
    ramp = np.arange(size)
    first_buf = np.empty((size, width), np.uint64)
    second_buf = np.empty((size, width), np.uint64)
    counts = np.empty((size, width), np.uint8)
    inter = np.empty(len(heights), np.uint32)
    for a, b in zip(cuts[:-1], cuts[1:]):
        if a == b:
            continue
        local = starts[a:b] - starts[a]
        num = int(local[-1] + heights[b - 1])
        first, second = first_buf[:num], second_buf[:num]
        offsets = ramp[:num]
        np.take(
            rows,
            np.repeat(first_rows[a:b] - local, heights[a:b]) + offsets,
            axis=0,
            out=first,
            mode='clip',
        )
        np.take(
            rows,
            np.repeat(second_rows[a:b] - local, heights[a:b]) + offsets,
            axis=0,
            out=second,
            mode='clip',
        )
        np.bitwise_and(first, second, out=first)
        np.bitwise_count(first, out=counts[:num])
        inter[a:b] = np.add.reduceat(
            counts[:num].reshape(-1), local * width, dtype=np.uint32
        )
    return inter


def _pair_rows(
    boxes: Tensor,
    first: Tensor,
    second: Tensor,
    index: np.ndarray,
    height: int,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where :func:`_shared_bits` reads each pair: the rows both boxes
    span.

    Args:
        boxes (Tensor): (n, 4) bounds of the candidates.
        first (Tensor): (p,) position of each pair's first candidate.
        second (Tensor): (p,) the same for the second.
        index (np.ndarray): (n,) index of each candidate's mask among the
            packed masks.
        height (int): Rows per mask.

    Returns:
        tuple[np.ndarray]: ``(first_rows, second_rows, heights)``, each
        (p,) int64: the first overlapping row of each pair's two masks
        among all packed rows, and how many rows overlap.
    """
    top = torch.maximum(boxes[first, 1], boxes[second, 1]).numpy()
    bottom = torch.minimum(boxes[first, 3], boxes[second, 3]).numpy()
    return (
        index[first.numpy()] * height + top,
        index[second.numpy()] * height + top,
        bottom - top,
    )


def _pair_ious(
    masks: Tensor, labels: Tensor, order: Tensor, areas: Optional[Tensor]
) -> Tuple[Tensor, Tensor, Tensor]:
    """IoU of every linked pair (see :func:`linked_pairs`) of candidates.

    Args:
        masks (Tensor): (N, H, W) 0/1 masks.
        labels (Tensor): (n,) classes of the sorted candidates.
        order (Tensor): (n,) indices in ``masks`` of the sorted candidates.
        areas (Tensor, optional): (n,) float areas of ``masks[order]``;
            counted from the bits when not given.

    Returns:
        tuple[Tensor]: ``(first, second, iou)``, each (p,) on the CPU:
        sorted positions ``first < second`` and their IoU.
    """
    words, index = _candidate_words(masks, order)
    boxes = packed_mask_bounds(words, masks.shape[2])[index]
    first, second = linked_pairs(boxes, labels.cpu())
    if areas is None:
        areas = torch.from_numpy(
            np.bitwise_count(words)
            .reshape(len(words), -1)
            .sum(1, dtype=np.int64)[index]
        ).float()
    if len(first) == 0:
        return first, second, areas.new_zeros(0)
    inter = torch.from_numpy(
        pair_intersections(words, boxes, first, second, index)
    ).float()
    # Below 2**24 pixels the float32 counts are exact, as in a float matmul.
    areas = areas.cpu()
    return first, second, inter / (areas[first] + areas[second] - inter)


def sparse_matrix_nms_decay(
    masks: Tensor,
    labels: Tensor,
    order: Optional[Tensor] = None,
    areas: Optional[Tensor] = None,
    kernel: str = 'gaussian',
    sigma: float = 2.0,
) -> Tensor:
    """:func:`matrix_nms_decay` of 0/1 masks without the dense IoU matrix.

    Gives bit-identical decays to ``matrix_nms_decay(mask_iou_matrix(
    masks[order], areas), labels[order], kernel, sigma)`` but only computes
    the IoU of same-class masks whose boxes overlap (see
    :func:`linked_pairs`), from bit-packed masks (see :func:`_pair_ious`).
    Any other pair has IoU 0, which decays nothing.

    Args:
        masks (Tensor): (N, H, W) bool or 0/1 float masks.
        labels (Tensor): (N,) class of each mask.
        order (Tensor, optional): (n,) indices of the candidates in
            ``masks`` by descending score; all N in their order if not given.
        areas (Tensor, optional): (n,) areas of ``masks[order]``; computed
            when not given.
        kernel (str): ``'gaussian'`` or ``'linear'``.
        sigma (float): Width of the gaussian kernel.

    Returns:
        Tensor: (n,) decay of each candidate of ``order``, in (0, 1].
    """
    if order is None:
        order = torch.arange(len(masks), device=masks.device)
    areas = None if areas is None else areas.float()
    src, dst, pair_iou = (
        t.to(masks.device)
        for t in _pair_ious(masks, labels[order], order, areas)
    )
    decay = torch.ones(len(order), device=masks.device)
    if len(src) == 0:
        return decay
    comp = decay.new_zeros(len(decay)).scatter_reduce(0, dst, pair_iou, 'amax')
    if kernel == 'gaussian':
        ratio = torch.exp(-sigma * pair_iou**2) / torch.exp(
            -sigma * comp[src] ** 2
        )
    else:
        ratio = (1 - pair_iou) / (1 - comp[src])
    # Same 0/0 rule as matrix_nms_decay: an exact duplicate is skipped.
    ratio = torch.where(ratio.isnan(), ratio.new_full((), float('inf')), ratio)
    return decay.scatter_reduce(0, dst, ratio, 'amin')


def matrix_nms_path(masks: Tensor, path: str = 'auto') -> str:
    """``'sparse'`` or ``'dense'``: the path :func:`matrix_nms` takes for
    ``masks`` (see the module docstring); ``'sparse'`` only for 0/1 masks,
    whatever ``path`` asks."""
    if path == 'dense' or (path == 'auto' and masks.device.type != 'cpu'):
        return 'dense'
    return 'sparse' if _is_binary(masks) else 'dense'


def suppress_matrix(
    masks: Tensor,
    labels: Tensor,
    order: Tensor,
    sorted_scores: Tensor,
    sorted_areas: Optional[Tensor],
    kernel: str,
    sigma: float,
    path: str = 'auto',
) -> Tuple[Tensor, None]:
    """Every sorted candidate's score times its Matrix NMS decay, by the
    path :func:`matrix_nms_path` picks."""
    if matrix_nms_path(masks, path) == 'sparse':
        decay = sparse_matrix_nms_decay(
            masks, labels, order, sorted_areas, kernel, sigma
        )
        return sorted_scores * decay, None
    iou = mask_iou_matrix(masks[order], sorted_areas)
    return matrix_rule(iou, labels[order], sorted_scores, kernel, sigma)


def matrix_rule(
    iou: Tensor,
    sorted_labels: Tensor,
    sorted_scores: Tensor,
    kernel: str = 'gaussian',
    sigma: float = 2.0,
) -> Tuple[Tensor, None]:
    """Matrix NMS's rule (see :mod:`.common`): every sorted candidate's
    score times its decay (:func:`matrix_nms_decay`) from the (k, k) IoU
    of the sorted candidates."""
    decay = matrix_nms_decay(iou, sorted_labels, kernel, sigma)
    return sorted_scores * decay, None


@FUNCTIONS.register_module()
def matrix_nms(
    masks: Tensor,
    labels: Tensor,
    scores: Tensor,
    filter_thr: float = -1,
    nms_pre: int = -1,
    max_num: int = -1,
    kernel: str = 'gaussian',
    sigma: float = 2.0,
    mask_area: Optional[Tensor] = None,
    path: str = 'auto',
    return_masks: bool = True,
) -> NMSResult:
    """Class-aware Matrix NMS of masks.

    The arguments and results follow ``mmdet.models.layers.mask_matrix_nms``,
    so it is a drop-in replacement.

    Args:
        masks (Tensor): (n, H, W) masks, bool or float.
        labels (Tensor): (n,) class of each mask.
        scores (Tensor): (n,) score of each mask.
        filter_thr (float): Drop masks whose decayed score is below it;
            <= 0 keeps all. Defaults to -1.
        nms_pre (int): Keep only the ``nms_pre`` highest scores before NMS;
            <= 0 keeps all. Defaults to -1.
        max_num (int): Keep at most ``max_num`` masks after NMS; <= 0 keeps
            all. Defaults to -1.
        kernel (str): Decay kernel, ``'gaussian'`` or ``'linear'``.
        sigma (float): Width of the gaussian kernel. Defaults to 2.0.
        mask_area (Tensor, optional): (n,) precomputed areas of ``masks``.
        path (str): ``'auto'`` (default: by device, see
            :func:`matrix_nms_path`), ``'dense'`` or ``'sparse'``; both give
            bit-identical results for 0/1 masks.
        return_masks (bool): Return the kept masks (a copy of them); with
            False their place holds None, for a caller that reads only
            ``keep_inds``. Defaults to True.

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` of the kept masks
        sorted by descending decayed score: scores (k,), labels (k,),
        masks (k, H, W) and keep_inds (k,), their indices in the input.
    """
    if kernel not in DECAY_KERNELS:
        raise ValueError(
            f'matrix_nms: kernel must be one of {DECAY_KERNELS}, '
            f'got {kernel!r}'
        )
    if path not in MATRIX_NMS_PATHS:
        raise ValueError(
            f'matrix_nms: path must be one of {MATRIX_NMS_PATHS}, got {path!r}'
        )
    return run_mask_nms(
        'matrix_nms',
        partial(suppress_matrix, kernel=kernel, sigma=sigma, path=path),
        masks,
        labels,
        scores,
        filter_thr,
        nms_pre,
        max_num,
        mask_area,
        return_masks,
    )
