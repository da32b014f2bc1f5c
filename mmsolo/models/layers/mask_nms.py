"""Hard, soft and Fast NMS of masks: the alternatives to Matrix NMS that
the paper compares it with (Table 3).

All three are class-aware (a mask is only ever suppressed by masks of its
own class), work on mask IoU, and share the calling convention and the
results of :func:`~mmsolo.models.layers.matrix_nms.matrix_nms`: candidates
are sorted by descending score, truncated to ``nms_pre``, suppressed, masks
whose final score is below ``filter_thr`` are dropped, and at most
``max_num`` are returned, sorted by descending final score, as
``(scores, labels, masks, keep_inds)``.

- :func:`hard_mask_nms`: the classic sequential NMS; a mask is removed when
  its IoU with a higher-scored mask that is *kept* exceeds ``iou_thr``.
- :func:`soft_mask_nms`: Soft-NMS (Bodla et al., 2017) with the gaussian
  penalty: picking the highest remaining score repeatedly, every remaining
  mask of its class has its score multiplied by ``exp(-iou**2 / sigma)``.
- :func:`fast_mask_nms`: Fast NMS (YOLACT, Bolya et al., 2019); a mask is
  removed when its IoU with *any* higher-scored mask exceeds ``iou_thr``,
  even one that is itself removed. One matrix operation, nothing sequential.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmsolo.registry import FUNCTIONS
from .matrix_nms import mask_iou_matrix

NMSResult = Tuple[Tensor, Tensor, Tensor, Tensor]


def _check_inputs(name: str, masks: Tensor, labels: Tensor, scores: Tensor,
                  mask_area: Optional[Tensor]) -> None:
    if masks.dim() != 3 or not (len(masks) == len(labels) == len(scores)):
        raise ValueError(
            f'{name}: expected masks (n, H, W), labels (n,) and scores (n,), '
            f'got {tuple(masks.shape)}, {tuple(labels.shape)} and '
            f'{tuple(scores.shape)}')
    if mask_area is not None and len(mask_area) != len(masks):
        raise ValueError(f'{name}: mask_area has {len(mask_area)} entries '
                         f'for {len(masks)} masks')


def _empty_result(masks: Tensor, labels: Tensor, scores: Tensor) -> NMSResult:
    return (scores.new_zeros(0), labels.new_zeros(0),
            masks.new_zeros(0, *masks.shape[1:]), labels.new_zeros(0))


def _sorted_class_iou(
        masks: Tensor, labels: Tensor, scores: Tensor, nms_pre: int,
        mask_area: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    """Scores sorted in descending order (truncated to ``nms_pre``), their
    input indices and the (k, k) IoU of those masks, 0 between classes."""
    sorted_scores, order = torch.sort(scores, descending=True)
    if 0 < nms_pre < len(order):
        sorted_scores, order = sorted_scores[:nms_pre], order[:nms_pre]
    areas = None if mask_area is None else mask_area[order].float()
    iou = mask_iou_matrix(masks[order], areas)
    sorted_labels = labels[order]
    same_class = sorted_labels[:, None] == sorted_labels[None, :]
    return sorted_scores, order, iou * same_class


def _finish(masks: Tensor, labels: Tensor, scores: Tensor,
            final_scores: Tensor, order: Tensor, filter_thr: float,
            max_num: int) -> NMSResult:
    """Apply ``filter_thr``, sort by final score and apply ``max_num``.

    Args:
        final_scores (Tensor): (k,) scores of the surviving masks.
        order (Tensor): (k,) their indices in the input.
    """
    if filter_thr > 0:
        keep = final_scores >= filter_thr
        final_scores, order = final_scores[keep], order[keep]
    if len(order) == 0:
        return _empty_result(masks, labels, scores)
    final_scores, rank = torch.sort(final_scores, descending=True)
    if 0 < max_num < len(rank):
        final_scores, rank = final_scores[:max_num], rank[:max_num]
    keep_inds = order[rank]
    return final_scores, labels[keep_inds], masks[keep_inds], keep_inds


@FUNCTIONS.register_module()
def hard_mask_nms(masks: Tensor,
                  labels: Tensor,
                  scores: Tensor,
                  iou_thr: float = 0.5,
                  filter_thr: float = -1,
                  nms_pre: int = -1,
                  max_num: int = -1,
                  mask_area: Optional[Tensor] = None) -> NMSResult:
    """Class-aware hard NMS of masks (sequential).

    Args:
        masks (Tensor): (n, H, W) masks, bool or float.
        labels (Tensor): (n,) class of each mask.
        scores (Tensor): (n,) score of each mask.
        iou_thr (float): A mask whose IoU with a kept, higher-scored mask of
            its class is above it is removed. Defaults to 0.5.
        filter_thr (float): Drop masks scoring below it; <= 0 keeps all.
            Defaults to -1.
        nms_pre (int): Keep only the ``nms_pre`` highest scores before NMS;
            <= 0 keeps all. Defaults to -1.
        max_num (int): Keep at most ``max_num`` masks after NMS; <= 0 keeps
            all. Defaults to -1.
        mask_area (Tensor, optional): (n,) precomputed areas of ``masks``.

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` of the kept
        masks, sorted by descending score (scores are unchanged).
    """
    _check_inputs('hard_mask_nms', masks, labels, scores, mask_area)
    if len(scores) == 0:
        return _empty_result(masks, labels, scores)
    sorted_scores, order, iou = _sorted_class_iou(masks, labels, scores,
                                                  nms_pre, mask_area)
    overlaps = (iou > iou_thr).triu(1)
    keep = torch.ones(len(order), dtype=torch.bool, device=scores.device)
    for i in range(len(order)):
        if keep[i]:
            keep &= ~overlaps[i]
    return _finish(masks, labels, scores, sorted_scores[keep], order[keep],
                   filter_thr, max_num)


@FUNCTIONS.register_module()
def soft_mask_nms(masks: Tensor,
                  labels: Tensor,
                  scores: Tensor,
                  sigma: float = 0.5,
                  filter_thr: float = -1,
                  nms_pre: int = -1,
                  max_num: int = -1,
                  mask_area: Optional[Tensor] = None) -> NMSResult:
    """Class-aware gaussian Soft-NMS of masks (sequential).

    Repeatedly the remaining mask with the highest current score is taken,
    and the score of every other remaining mask of its class is multiplied
    by ``exp(-iou**2 / sigma)``. Note that ``sigma`` divides here, as in
    Soft-NMS, while Matrix NMS's gaussian ``sigma`` multiplies.

    Args:
        masks (Tensor): (n, H, W) masks, bool or float.
        labels (Tensor): (n,) class of each mask.
        scores (Tensor): (n,) score of each mask.
        sigma (float): Width of the gaussian penalty; must be positive.
            Defaults to 0.5 (Soft-NMS's).
        filter_thr (float): Drop masks whose decayed score is below it;
            <= 0 keeps all. Defaults to -1.
        nms_pre (int): Keep only the ``nms_pre`` highest scores before NMS;
            <= 0 keeps all. Defaults to -1.
        max_num (int): Keep at most ``max_num`` masks after NMS; <= 0 keeps
            all. Defaults to -1.
        mask_area (Tensor, optional): (n,) precomputed areas of ``masks``.

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` sorted by
        descending decayed score.
    """
    _check_inputs('soft_mask_nms', masks, labels, scores, mask_area)
    if sigma <= 0:
        raise ValueError(f'soft_mask_nms: sigma must be positive, got {sigma}')
    if len(scores) == 0:
        return _empty_result(masks, labels, scores)
    sorted_scores, order, iou = _sorted_class_iou(masks, labels, scores,
                                                  nms_pre, mask_area)
    penalty = torch.exp(-iou**2 / sigma)
    current = sorted_scores.clone()
    remaining = torch.ones(len(order), dtype=torch.bool, device=scores.device)
    for _ in range(len(order)):
        top = torch.where(remaining, current,
                          current.new_full((), -float('inf'))).argmax()
        remaining[top] = False
        current = torch.where(remaining, current * penalty[top], current)
    return _finish(masks, labels, scores, current, order, filter_thr, max_num)


@FUNCTIONS.register_module()
def fast_mask_nms(masks: Tensor,
                  labels: Tensor,
                  scores: Tensor,
                  iou_thr: float = 0.5,
                  filter_thr: float = -1,
                  nms_pre: int = -1,
                  max_num: int = -1,
                  mask_area: Optional[Tensor] = None) -> NMSResult:
    """Class-aware Fast NMS of masks (YOLACT): all decisions in parallel.

    With masks sorted by descending score, mask ``j`` is removed when
    ``max_{i < j} iou[i, j] > iou_thr`` over masks ``i`` of its class, whether
    or not ``i`` is kept. It therefore removes at least what hard NMS
    removes.

    Args:
        masks (Tensor): (n, H, W) masks, bool or float.
        labels (Tensor): (n,) class of each mask.
        scores (Tensor): (n,) score of each mask.
        iou_thr (float): IoU above which a higher-scored mask of the same
            class removes a mask. Defaults to 0.5.
        filter_thr (float): Drop masks scoring below it; <= 0 keeps all.
            Defaults to -1.
        nms_pre (int): Keep only the ``nms_pre`` highest scores before NMS;
            <= 0 keeps all. Defaults to -1.
        max_num (int): Keep at most ``max_num`` masks after NMS; <= 0 keeps
            all. Defaults to -1.
        mask_area (Tensor, optional): (n,) precomputed areas of ``masks``.

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` of the kept
        masks, sorted by descending score (scores are unchanged).
    """
    _check_inputs('fast_mask_nms', masks, labels, scores, mask_area)
    if len(scores) == 0:
        return _empty_result(masks, labels, scores)
    sorted_scores, order, iou = _sorted_class_iou(masks, labels, scores,
                                                  nms_pre, mask_area)
    max_higher_iou = iou.triu(1).max(dim=0).values
    keep = max_higher_iou <= iou_thr
    return _finish(masks, labels, scores, sorted_scores[keep], order[keep],
                   filter_thr, max_num)
