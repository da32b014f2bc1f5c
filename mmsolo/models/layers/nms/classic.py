"""Hard, soft and Fast NMS of masks: the alternatives to Matrix NMS that
the paper compares it with (Table 3).

All three are class-aware (a mask is only ever suppressed by masks of its
own class), work on mask IoU, and share the calling convention and the
scaffolding of :func:`~mmsolo.models.layers.nms.matrix.matrix_nms`
(:func:`~.common.run_mask_nms`): candidates are sorted by descending score,
truncated to ``nms_pre``, suppressed, masks whose final score is below
``filter_thr`` are dropped, and at most ``max_num`` are returned, sorted by
descending final score, as ``(scores, labels, masks, keep_inds)``.

- :func:`hard_mask_nms`: the classic sequential NMS; a mask is removed when
  its IoU with a higher-scored mask that is *kept* exceeds ``iou_thr``.
- :func:`soft_mask_nms`: Soft-NMS (Bodla et al., 2017) with the gaussian
  penalty: picking the highest remaining score repeatedly, every remaining
  mask of its class has its score multiplied by ``exp(-iou**2 / sigma)``.
- :func:`fast_mask_nms`: Fast NMS (YOLACT, Bolya et al., 2019); a mask is
  removed when its IoU with *any* higher-scored mask exceeds ``iou_thr``,
  even one that is itself removed. One matrix operation, nothing sequential.
"""

from functools import partial
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmsolo.registry import FUNCTIONS
from .common import NMSResult, mask_iou_matrix, run_mask_nms


def same_class(iou: Tensor, sorted_labels: Tensor) -> Tensor:
    """``iou`` (k, k) with 0 between candidates of different classes."""
    return iou * (sorted_labels[:, None] == sorted_labels[None, :])


def hard_rule(
    iou: Tensor, sorted_labels: Tensor, sorted_scores: Tensor, iou_thr: float
) -> Tuple[Tensor, Tensor]:
    """Keep a candidate unless a kept, higher-scored one of its class
    overlaps it by more than ``iou_thr`` (sequential over the kept)."""
    overlaps = (same_class(iou, sorted_labels) > iou_thr).triu(1)
    keep = torch.ones(len(iou), dtype=torch.bool, device=iou.device)
    for i in range(len(iou)):
        if keep[i]:
            keep &= ~overlaps[i]
    return sorted_scores[keep], keep


def soft_rule(
    iou: Tensor, sorted_labels: Tensor, sorted_scores: Tensor, sigma: float
) -> Tuple[Tensor, None]:
    """Decay every remaining candidate of its class by ``exp(-iou**2 /
    sigma)`` of each pick of the highest remaining score."""
    penalty = torch.exp(-(same_class(iou, sorted_labels) ** 2) / sigma)
    current = sorted_scores.clone()
    remaining = torch.ones(len(iou), dtype=torch.bool, device=iou.device)
    for _ in range(len(iou)):
        top = torch.where(
            remaining, current, current.new_full((), -float('inf'))
        ).argmax()
        remaining[top] = False
        current = torch.where(remaining, current * penalty[top], current)
    return current, None


def fast_rule(
    iou: Tensor, sorted_labels: Tensor, sorted_scores: Tensor, iou_thr: float
) -> Tuple[Tensor, Tensor]:
    """Remove a candidate that any higher-scored one of its class overlaps
    by more than ``iou_thr``, in one matrix operation."""
    overlap = same_class(iou, sorted_labels).triu(1).max(dim=0).values
    keep = overlap <= iou_thr
    return sorted_scores[keep], keep


def suppress_by(
    rule,
    masks: Tensor,
    labels: Tensor,
    order: Tensor,
    sorted_scores: Tensor,
    sorted_areas: Optional[Tensor],
    **keys,
) -> Tuple[Tensor, Optional[Tensor]]:
    """The suppression of ``rule``: the IoU of ``masks[order]``, then the
    rule (with its ``keys``)."""
    iou = mask_iou_matrix(masks[order], sorted_areas)
    return rule(iou, labels[order], sorted_scores, **keys)


@FUNCTIONS.register_module()
def hard_mask_nms(
    masks: Tensor,
    labels: Tensor,
    scores: Tensor,
    iou_thr: float = 0.5,
    filter_thr: float = -1,
    nms_pre: int = -1,
    max_num: int = -1,
    mask_area: Optional[Tensor] = None,
    return_masks: bool = True,
) -> NMSResult:
    """Class-aware hard NMS of masks (sequential).

    The other arguments (``masks``, ``labels``, ``scores``, ``filter_thr``,
    ``nms_pre``, ``max_num``, ``mask_area``, ``return_masks``) are those
    of :func:`~mmsolo.models.layers.nms.matrix.matrix_nms`.

    Args:
        iou_thr (float): A mask whose IoU with a kept, higher-scored mask of
            its class is above it is removed. Defaults to 0.5.

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` of the kept
        masks, sorted by descending score (scores are unchanged).
    """
    return run_mask_nms(
        'hard_mask_nms',
        partial(suppress_by, hard_rule, iou_thr=iou_thr),
        masks,
        labels,
        scores,
        filter_thr,
        nms_pre,
        max_num,
        mask_area,
        return_masks,
    )


@FUNCTIONS.register_module()
def soft_mask_nms(
    masks: Tensor,
    labels: Tensor,
    scores: Tensor,
    sigma: float = 0.5,
    filter_thr: float = -1,
    nms_pre: int = -1,
    max_num: int = -1,
    mask_area: Optional[Tensor] = None,
    return_masks: bool = True,
) -> NMSResult:
    """Class-aware gaussian Soft-NMS of masks (sequential).

    Repeatedly the remaining mask with the highest current score is taken,
    and the score of every other remaining mask of its class is multiplied
    by ``exp(-iou**2 / sigma)``. Note that ``sigma`` divides here, as in
    Soft-NMS, while Matrix NMS's gaussian ``sigma`` multiplies.

    The other arguments (``masks``, ``labels``, ``scores``, ``filter_thr``,
    ``nms_pre``, ``max_num``, ``mask_area``, ``return_masks``) are those
    of :func:`~mmsolo.models.layers.nms.matrix.matrix_nms`.

    Args:
        sigma (float): Width of the gaussian penalty; must be positive.
            Defaults to 0.5 (Soft-NMS's).

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` sorted by
        descending decayed score.
    """
    if sigma <= 0:
        raise ValueError(f'soft_mask_nms: sigma must be positive, got {sigma}')
    return run_mask_nms(
        'soft_mask_nms',
        partial(suppress_by, soft_rule, sigma=sigma),
        masks,
        labels,
        scores,
        filter_thr,
        nms_pre,
        max_num,
        mask_area,
        return_masks,
    )


@FUNCTIONS.register_module()
def fast_mask_nms(
    masks: Tensor,
    labels: Tensor,
    scores: Tensor,
    iou_thr: float = 0.5,
    filter_thr: float = -1,
    nms_pre: int = -1,
    max_num: int = -1,
    mask_area: Optional[Tensor] = None,
    return_masks: bool = True,
) -> NMSResult:
    """Class-aware Fast NMS of masks (YOLACT): all decisions in parallel.

    With masks sorted by descending score, mask ``j`` is removed when
    ``max_{i < j} iou[i, j] > iou_thr`` over masks ``i`` of its class, whether
    or not ``i`` is kept. It therefore removes at least what hard NMS
    removes.

    The other arguments (``masks``, ``labels``, ``scores``, ``filter_thr``,
    ``nms_pre``, ``max_num``, ``mask_area``, ``return_masks``) are those
    of :func:`~mmsolo.models.layers.nms.matrix.matrix_nms`.

    Args:
        iou_thr (float): IoU above which a higher-scored mask of the same
            class removes a mask. Defaults to 0.5.

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` of the kept
        masks, sorted by descending score (scores are unchanged).
    """
    return run_mask_nms(
        'fast_mask_nms',
        partial(suppress_by, fast_rule, iou_thr=iou_thr),
        masks,
        labels,
        scores,
        filter_thr,
        nms_pre,
        max_num,
        mask_area,
        return_masks,
    )
