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
    if positions is not None:
        order = order[positions]
    if filter_thr > 0:
        keep = final_scores >= filter_thr
        final_scores, order = final_scores[keep], order[keep]
    if len(order) == 0:
        return empty_nms_result(masks, labels, scores, return_masks)
    final_scores, rank = torch.sort(final_scores, descending=True)
    if 0 < max_num < len(rank):
        final_scores, rank = final_scores[:max_num], rank[:max_num]
    keep_inds = order[rank]
    return (
        final_scores,
        labels[keep_inds],
        masks[keep_inds] if return_masks else None,
        keep_inds,
    )
