"""Matrix NMS (SOLOv2, section 3.3.2): soft-NMS of masks done in one pass.

Every candidate ``j`` is decayed by the masks of its own class that score
higher than it. With ``iou[i, j]`` the mask IoU of a higher-scored ``i`` with
``j`` and ``comp[i]`` the largest IoU of ``i`` with any mask of its class scoring
higher than ``i`` (how much ``i`` itself is suppressed), the decay of ``j`` is::

    decay[j] = min(1, min_i f(iou[i, j]) / f(comp[i]))
    gaussian: f(x) = exp(-sigma * x**2)        linear: f(x) = 1 - x

All decays come from a few matrix operations over the (n, n) IoU matrix, so
nothing is sequential.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmsolo.registry import FUNCTIONS

DECAY_KERNELS = ('gaussian', 'linear')


def mask_iou_matrix(masks: Tensor, areas: Optional[Tensor] = None) -> Tensor:
    """IoU of every pair of masks.

    Args:
        masks (Tensor): (n, H, W) bool or float masks.
        areas (Tensor, optional): (n,) mask areas; computed when not given.

    Returns:
        Tensor: (n, n) float IoU, 0 where both masks are empty.
    """
    flat = masks.reshape(len(masks), -1).float()
    if areas is None:
        areas = flat.sum(1)
    inter = flat @ flat.t()
    union = areas[:, None] + areas[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12),
                       inter.new_zeros(()))


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


def _empty_result(masks: Tensor, labels: Tensor,
                  scores: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    return (scores.new_zeros(0), labels.new_zeros(0),
            masks.new_zeros(0, *masks.shape[1:]), labels.new_zeros(0))


@FUNCTIONS.register_module()
def matrix_nms(masks: Tensor,
               labels: Tensor,
               scores: Tensor,
               filter_thr: float = -1,
               nms_pre: int = -1,
               max_num: int = -1,
               kernel: str = 'gaussian',
               sigma: float = 2.0,
               mask_area: Optional[Tensor] = None
               ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
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

    Returns:
        tuple[Tensor]: ``(scores, labels, masks, keep_inds)`` of the kept masks
        sorted by descending decayed score: scores (k,), labels (k,),
        masks (k, H, W) and keep_inds (k,), their indices in the input.
    """
    if kernel not in DECAY_KERNELS:
        raise ValueError(f'matrix_nms: kernel must be one of {DECAY_KERNELS}, '
                         f'got {kernel!r}')
    if masks.dim() != 3 or not (len(masks) == len(labels) == len(scores)):
        raise ValueError(
            'matrix_nms: expected masks (n, H, W), labels (n,) and scores '
            f'(n,), got {tuple(masks.shape)}, {tuple(labels.shape)} and '
            f'{tuple(scores.shape)}')
    if mask_area is not None and len(mask_area) != len(masks):
        raise ValueError(f'matrix_nms: mask_area has {len(mask_area)} entries '
                         f'for {len(masks)} masks')
    if len(scores) == 0:
        return _empty_result(masks, labels, scores)

    sorted_scores, order = torch.sort(scores, descending=True)
    if 0 < nms_pre < len(order):
        sorted_scores, order = sorted_scores[:nms_pre], order[:nms_pre]
    areas = None if mask_area is None else mask_area[order].float()
    iou = mask_iou_matrix(masks[order], areas)
    decayed = sorted_scores * matrix_nms_decay(iou, labels[order], kernel,
                                               sigma)

    if filter_thr > 0:
        keep = decayed >= filter_thr
        if not keep.any():
            return _empty_result(masks, labels, scores)
        decayed, order = decayed[keep], order[keep]
    final_scores, rank = torch.sort(decayed, descending=True)
    if 0 < max_num < len(rank):
        final_scores, rank = final_scores[:max_num], rank[:max_num]
    keep_inds = order[rank]
    return final_scores, labels[keep_inds], masks[keep_inds], keep_inds
