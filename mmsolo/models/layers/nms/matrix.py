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
cannot decay anything), so 0/1 masks take a sparse path: candidates are
linked when they share a class and their bounding boxes overlap, and the
IoU is only computed inside each connected group, by small matmuls
cropped to the boxes where the masks can meet. Intersections of 0/1 masks
are integers that float32 holds exactly (below 2**24), so the result is
bit-identical to the dense (n, H*W) x (H*W, n) product. Float masks with
other values use the dense path.

Which path runs (``path='auto'``, :func:`matrix_nms_path`): the sparse one
for 0/1 masks on the CPU, where it was measured 13-20x faster than mmdet's
dense product at 500 masks (benchmarks/README.md); the dense one on other
devices, where one large matmul is what the hardware does best and the
sparse path's group loop would synchronise the device at every group (not
yet measured on a GPU: ``benchmarks/bench_gpu.py`` times both paths).
"""
from functools import partial
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from mmsolo.registry import FUNCTIONS
from ..mask_bits import mask_bounds, viewable_as_words
from .common import NMSResult, mask_iou_matrix, run_mask_nms

DECAY_KERNELS = ('gaussian', 'linear')
MATRIX_NMS_PATHS = ('auto', 'dense', 'sparse')
# Masks per matmul block of an overlap group (see _group_pair_ious).
GROUP_CHUNK = 16


def matrix_nms_decay(iou: Tensor,
                     labels: Tensor,
                     kernel: str = 'gaussian',
                     sigma: float = 2.0) -> Tensor:
    """Decay coefficients of masks sorted by descending score.

    Args:
        iou (Tensor): (n, n) mask IoU of the sorted masks.
        labels (Tensor): (n,) class of each sorted mask.
        kernel (str): ``'gaussian'`` or ``'linear'``.
        sigma (float): Width of the gaussian kernel.

    Returns:
        Tensor: (n,) decay of each mask, in (0, 1].
    """
    n = len(labels)
    # suppressor[i, j]: i scores higher than j and has the same class.
    higher = torch.ones(n, n, dtype=torch.bool, device=iou.device).triu(1)
    suppressor = higher & (labels[:, None] == labels[None, :])
    pair_iou = iou * suppressor
    # comp[i]: how much i is itself overlapped by a higher-scored mask.
    comp = pair_iou.max(dim=0).values[:, None]
    if kernel == 'gaussian':
        ratio = torch.exp(-sigma * pair_iou**2) / torch.exp(-sigma * comp**2)
    else:
        ratio = (1 - pair_iou) / (1 - comp)
    # A suppressor that is the exact duplicate of a higher mask (comp == 1)
    # gives 0/0 in the linear kernel; that higher mask decays j fully already.
    ratio = torch.where(suppressor & ~ratio.isnan(), ratio,
                        ratio.new_full((), float('inf')))
    return ratio.min(dim=0).values.clamp(max=1.0)


def _is_binary(masks: Tensor) -> bool:
    """Whether every value of ``masks`` is 0 or 1 (always true for bool)."""
    if masks.dtype == torch.bool:
        return True
    return bool(((masks == 0) | (masks == 1)).all())


def _overlap_groups(boxes: Tensor, labels: Tensor) -> Tensor:
    """Connected groups of masks linked by same class and overlapping boxes.

    Args:
        boxes (Tensor): (n, 4) ``(x0, y0, x1, y1)`` bounds (see
            :func:`mask_bounds`), all 0 if empty.
        labels (Tensor): (n,) classes.

    Returns:
        Tensor: (n,) group id of each mask; ids are arbitrary, equal for
        masks of one group. An empty mask is a group of its own.
    """
    x0, y0, x1, y1 = boxes.unbind(1)
    linked = ((labels[:, None] == labels[None, :])
              & (y0[:, None] < y1[None, :]) & (y0[None, :] < y1[:, None])
              & (x0[:, None] < x1[None, :]) & (x0[None, :] < x1[:, None]))
    group = torch.arange(len(boxes), device=boxes.device)
    big = len(boxes)
    while True:  # propagate the smallest index through each group
        spread = torch.where(linked, group[None, :], big).amin(1)
        new_group = torch.minimum(group, spread)
        if torch.equal(new_group, group):
            return group
        group = new_group


def _crop_rows(masks: Tensor, ids: Tensor, box: list) -> Tensor:
    """(len(ids), h * w) float crops of ``masks[ids]`` to ``box``.

    Byte masks whose width is a multiple of 8 are gathered 8 pixels at a
    time as int64 words, the box widened to whole words: the extra pixels
    lie outside every mask of the block or are counted for all of them
    alike, so intersections do not change.
    """
    x0, y0, x1, y1 = box
    if viewable_as_words(masks):
        words = masks.view(torch.uint8).view(torch.int64)
        crop = words[:, y0:y1,
                     x0 // 8:(x1 + 7) // 8].index_select(0,
                                                         ids).view(torch.uint8)
    else:
        crop = masks[:, y0:y1, x0:x1].index_select(0, ids)
    return crop.reshape(len(ids), -1).float()


# One block of pair intersections: (first, second, intersection), each (p,).
Block = Tuple[Tensor, Tensor, Tensor]


def _within_chunk_blocks(masks: Tensor, order: Tensor, chunks: List[Tensor],
                         chunk_boxes: List[list]
                         ) -> Tuple[List[Tensor], List[Block]]:
    """Per chunk, the areas of its masks (the matmul's diagonal) and the
    intersections of its pairs, one matmul over its union box each."""
    areas, blocks = [], []
    for chunk, box in zip(chunks, chunk_boxes):
        flat = _crop_rows(masks, order[chunk], box)
        inter = flat @ flat.t()
        areas.append(inter.diagonal())
        i, j = torch.triu_indices(
            len(chunk), len(chunk), 1, device=masks.device)
        blocks.append((chunk[i], chunk[j], inter[i, j]))
    return areas, blocks


def _between_chunk_blocks(masks: Tensor, order: Tensor, chunks: List[Tensor],
                          chunk_boxes: List[list]) -> List[Block]:
    """The intersections of every pair of masks from two chunks whose union
    boxes meet, one matmul over the boxes' intersection each."""
    blocks = []
    for a in range(len(chunks)):
        for b in range(a + 1, len(chunks)):
            box_a, box_b = chunk_boxes[a], chunk_boxes[b]
            box = [
                max(box_a[0], box_b[0]),
                max(box_a[1], box_b[1]),
                min(box_a[2], box_b[2]),
                min(box_a[3], box_b[3])
            ]
            if box[0] >= box[2] or box[1] >= box[3]:
                continue
            inter = (
                _crop_rows(masks, order[chunks[a]], box) @ _crop_rows(
                    masks, order[chunks[b]], box).t())
            blocks.append((chunks[a][:, None].expand_as(inter).reshape(-1),
                           chunks[b][None, :].expand_as(inter).reshape(-1),
                           inter.reshape(-1)))
    return blocks


def _group_pair_ious(
        masks: Tensor,
        order: Tensor,
        boxes: Tensor,
        idx: Tensor,
        given_areas: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """IoU of every pair of one overlap group.

    The group is cut into chunks of at most ``GROUP_CHUNK`` masks, ordered
    left to right; two chunks only meet inside the intersection of their
    union boxes, so each pair of chunks is one matmul over that box, and
    chunks whose union boxes miss each other are skipped (IoU 0).

    Args:
        masks (Tensor): (N, H, W) 0/1 masks.
        order (Tensor): (n,) indices in ``masks`` of the sorted candidates.
        boxes (Tensor): (n, 4) boxes of the sorted candidates.
        idx (Tensor): (m,) sorted positions of the group's members.
        given_areas (Tensor, optional): (n,) areas of the sorted candidates;
            taken from the matmuls' diagonals when not given.

    Returns:
        tuple[Tensor]: ``(src, dst, iou)``, each (p,): every pair once as
        sorted positions ``src < dst`` and their IoU.
    """
    idx = idx[torch.argsort(boxes[idx, 0] + boxes[idx, 2], stable=True)]
    chunks = idx.split(GROUP_CHUNK)
    chunk_boxes = [
        boxes[c, :2].amin(0).tolist() + boxes[c, 2:].amax(0).tolist()
        for c in chunks
    ]
    areas, blocks = _within_chunk_blocks(masks, order, chunks, chunk_boxes)
    blocks += _between_chunk_blocks(masks, order, chunks, chunk_boxes)
    first, second, inter = (torch.cat(t) for t in zip(*blocks))
    if given_areas is None:
        area = torch.zeros(len(boxes), device=masks.device)
        area[torch.cat(chunks)] = torch.cat(areas)
    else:
        area = given_areas
    iou = inter / (area[first] + area[second] - inter)
    return (torch.minimum(first, second), torch.maximum(first, second), iou)


def sparse_matrix_nms_decay(masks: Tensor,
                            labels: Tensor,
                            order: Optional[Tensor] = None,
                            areas: Optional[Tensor] = None,
                            kernel: str = 'gaussian',
                            sigma: float = 2.0) -> Tensor:
    """:func:`matrix_nms_decay` of 0/1 masks without the dense IoU matrix.

    Gives bit-identical decays to ``matrix_nms_decay(mask_iou_matrix(
    masks[order], areas), labels[order], kernel, sigma)`` but only computes
    the IoU of same-class masks in one overlap group (see
    :func:`_overlap_groups`), by matmuls cropped to where they can meet
    (see :func:`_group_pair_ious`).

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
    n = len(order)
    areas = None if areas is None else areas.float()
    boxes = mask_bounds(masks)[order]
    group = _overlap_groups(boxes, labels[order])
    group_sorted, members = torch.sort(group, stable=True)
    sizes = torch.unique_consecutive(group_sorted, return_counts=True)[1]
    sources, targets, pair_ious = [], [], []
    start = 0
    for size in sizes.tolist():
        if size > 1:
            group_pairs = _group_pair_ious(masks, order, boxes,
                                           members[start:start + size], areas)
            sources.append(group_pairs[0])
            targets.append(group_pairs[1])
            pair_ious.append(group_pairs[2])
        start += size
    decay = torch.ones(n, device=masks.device)
    if not sources:
        return decay
    src, dst = torch.cat(sources), torch.cat(targets)
    pair_iou = torch.cat(pair_ious)
    comp = decay.new_zeros(n).scatter_reduce(0, dst, pair_iou, 'amax')
    if kernel == 'gaussian':
        ratio = (
            torch.exp(-sigma * pair_iou**2) / torch.exp(-sigma * comp[src]**2))
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


def suppress_matrix(masks: Tensor,
                    labels: Tensor,
                    order: Tensor,
                    sorted_scores: Tensor,
                    sorted_areas: Optional[Tensor],
                    kernel: str,
                    sigma: float,
                    path: str = 'auto') -> Tuple[Tensor, None]:
    """Every sorted candidate's score times its Matrix NMS decay, by the
    path :func:`matrix_nms_path` picks."""
    if matrix_nms_path(masks, path) == 'sparse':
        decay = sparse_matrix_nms_decay(masks, labels, order, sorted_areas,
                                        kernel, sigma)
    else:
        iou = mask_iou_matrix(masks[order], sorted_areas)
        decay = matrix_nms_decay(iou, labels[order], kernel, sigma)
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
    path: str = 'auto'
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

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` of the kept masks
        sorted by descending decayed score: scores (k,), labels (k,),
        masks (k, H, W) and keep_inds (k,), their indices in the input.
    """
    if kernel not in DECAY_KERNELS:
        raise ValueError(f'matrix_nms: kernel must be one of {DECAY_KERNELS}, '
                         f'got {kernel!r}')
    if path not in MATRIX_NMS_PATHS:
        raise ValueError(f'matrix_nms: path must be one of '
                         f'{MATRIX_NMS_PATHS}, got {path!r}')
    return run_mask_nms('matrix_nms',
                        partial(suppress_matrix, kernel=kernel, sigma=sigma,
                                path=path),
                        masks, labels, scores, filter_thr, nms_pre, max_num,
                        mask_area)
