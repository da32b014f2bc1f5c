"""What every mask NMS of mmsolo shares: the calling convention of
``mmdet.models.layers.mask_matrix_nms``, its input checks, the sort and
``nms_pre`` cut before suppression, and the ``filter_thr`` / sort /
``max_num`` ending after it.

A suppression is a function ``suppress(masks, labels, order,
sorted_scores, sorted_areas) -> (final_scores, positions)``: given the
inputs and the candidates sorted by descending score (``order`` indexes
``masks`` and ``labels``; the areas are those of ``masks[order]``), the
final scores of the survivors and their positions in ``order`` (a bool
mask or indices; None when all survive).
"""

from typing import Callable, Optional, Tuple

import torch
from torch import Tensor

# (scores (k,), labels (k,), masks (k, H, W), keep_inds (k,)); masks is None
# when the caller asked for the indices only (``return_masks=False``).
NMSResult = Tuple[Tensor, Tensor, Optional[Tensor], Tensor]
Suppression = Callable[
    [Tensor, Tensor, Tensor, Tensor, Optional[Tensor]],
    Tuple[Tensor, Optional[Tensor]],
]
Rule = Callable[[Tensor, Tensor, Tensor], Tuple[Tensor, Optional[Tensor]]]


def mask_iou_matrix(masks: Tensor, areas: Optional[Tensor] = None) -> Tensor:
    """IoU of every pair of masks, of each batch element.

    Args:
        masks (Tensor): (..., n, H, W) bool or float masks.
        areas (Tensor, optional): (..., n) mask areas; computed when not
            given.

    Returns:
        Tensor: (..., n, n) float IoU, 0 where both masks are empty. For
        0/1 masks below 2**24 pixels the intersections are exact integers
        (a float32 matrix product of 0/1 values).
    """
    flat = masks.flatten(-2).float()
    if areas is None:
        areas = flat.sum(-1)
    inter = flat @ flat.transpose(-1, -2)
    union = areas[..., :, None] + areas[..., None, :] - inter
    return torch.where(
        union > 0, inter / union.clamp(min=1e-12), inter.new_zeros(())
    )


def check_nms_inputs(
    name: str,
    masks: Tensor,
    labels: Tensor,
    scores: Tensor,
    mask_area: Optional[Tensor],
) -> None:
    """Raise a ValueError, prefixed by ``name``, unless masks are
    (n, H, W) with n labels, n scores and (if given) n areas."""
    if masks.dim() != 3 or not (len(masks) == len(labels) == len(scores)):
        raise ValueError(
            f'{name}: expected masks (n, H, W), labels (n,) and scores (n,), '
            f'got {tuple(masks.shape)}, {tuple(labels.shape)} and '
            f'{tuple(scores.shape)}'
        )
    if mask_area is not None and len(mask_area) != len(masks):
        raise ValueError(
            f'{name}: mask_area has {len(mask_area)} entries '
            f'for {len(masks)} masks'
        )


def empty_nms_result(
    masks: Tensor, labels: Tensor, scores: Tensor, return_masks: bool = True
) -> NMSResult:
    """No mask kept, typed like the inputs."""
    kept_masks = masks.new_zeros(0, *masks.shape[1:]) if return_masks else None
    return (
        scores.new_zeros(0),
        labels.new_zeros(0),
        kept_masks,
        labels.new_zeros(0),
    )


def run_mask_nms(
    name: str,
    suppress: Suppression,
    masks: Tensor,
    labels: Tensor,
    scores: Tensor,
    filter_thr: float,
    nms_pre: int,
    max_num: int,
    mask_area: Optional[Tensor],
    return_masks: bool = True,
) -> NMSResult:
    """Check, sort by descending score and keep the ``nms_pre`` best
    (<= 0: all), ``suppress``, drop final scores below ``filter_thr``
    (<= 0: none), sort by final score and keep ``max_num`` (<= 0: all).

    Args:
        name (str): The NMS's name, for error messages.
        suppress (callable): Its suppression (see the module docstring).
        masks (Tensor): (n, H, W) masks, bool or float.
        labels (Tensor): (n,) class of each mask.
        scores (Tensor): (n,) score of each mask.
        filter_thr (float): Drop masks whose final score is below it.
        nms_pre (int): Candidates kept before the suppression.
        max_num (int): Masks kept after it.
        mask_area (Tensor, optional): (n,) precomputed areas of ``masks``.
        return_masks (bool): Return the kept masks (a copy); False returns
            None in their place, for a caller that indexes its own masks
            by ``keep_inds``.

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` of the kept
        masks by descending final score, ``keep_inds`` their indices in the
        input.
    """
    check_nms_inputs(name, masks, labels, scores, mask_area)
    if len(scores) == 0:
        return empty_nms_result(masks, labels, scores, return_masks)
    sorted_scores, order = torch.sort(scores, descending=True)
    if 0 < nms_pre < len(order):
        sorted_scores, order = sorted_scores[:nms_pre], order[:nms_pre]
    areas = None if mask_area is None else mask_area[order].float()
    final_scores, positions = suppress(
        masks, labels, order, sorted_scores, areas
    )
    kept = final_ranking(final_scores, positions, order, filter_thr, max_num)
    if kept is None:
        return empty_nms_result(masks, labels, scores, return_masks)
    final_scores, keep_inds = kept
    return (
        final_scores,
        labels[keep_inds],
        masks[keep_inds] if return_masks else None,
        keep_inds,
    )


def final_ranking(
    final_scores: Tensor,
    positions: Optional[Tensor],
    order: Tensor,
    filter_thr: float,
    max_num: int,
) -> Optional[Tuple[Tensor, Tensor]]:
    """After a suppression: the survivors (``positions`` in ``order``),
    those scoring at least ``filter_thr`` (<= 0: all), by descending final
    score, at most ``max_num`` (<= 0: all). Returns ``(final_scores,
    keep_inds)`` (indices into the input), or None when none is kept."""
    if positions is not None:
        order = order[positions]
    if filter_thr > 0:
        keep = final_scores >= filter_thr
        final_scores, order = final_scores[keep], order[keep]
    if len(order) == 0:
        return None
    final_scores, rank = torch.sort(final_scores, descending=True)
    if 0 < max_num < len(rank):
        final_scores, rank = final_scores[:max_num], rank[:max_num]
    return final_scores, order[rank]


def iou_mask_nms(
    rule: Rule,
    iou: Tensor,
    labels: Tensor,
    scores: Tensor,
    filter_thr: float = -1,
    max_num: int = -1,
) -> Tuple[Tensor, Tensor, Tensor]:
    """A mask NMS's ``rule`` on the IoU of its candidates, given: the same
    sort, suppression and ending as :func:`run_mask_nms` (no ``nms_pre``
    cut), for callers that count the IoU without the (n, H, W) masks.

    Args:
        rule (callable): The NMS's rule (see the module docstring).
        iou (Tensor): (n, n) float IoU of the candidates, in input order.
        labels (Tensor): (n,) class of each.
        scores (Tensor): (n,) score of each.
        filter_thr (float): Drop final scores below it (<= 0: none).
        max_num (int): Keep at most this many (<= 0: all).

    Returns:
        tuple[Tensor]: ``(scores, labels, keep_inds)`` of the kept
        candidates by descending final score.
    """
    if iou.shape != (len(scores), len(scores)) or len(labels) != len(scores):
        raise ValueError(
            f'iou_mask_nms: expected iou (n, n), labels (n,) and scores '
            f'(n,), got {tuple(iou.shape)}, {tuple(labels.shape)} and '
            f'{tuple(scores.shape)}'
        )
    empty = (scores.new_zeros(0), labels.new_zeros(0), labels.new_zeros(0))
    if len(scores) == 0:
        return empty
    sorted_scores, order = torch.sort(scores, descending=True)
    final_scores, positions = rule(
        iou[order][:, order], labels[order], sorted_scores
    )
    kept = final_ranking(final_scores, positions, order, filter_thr, max_num)
    if kept is None:
        return empty
    final_scores, keep_inds = kept
    return final_scores, labels[keep_inds], keep_inds
