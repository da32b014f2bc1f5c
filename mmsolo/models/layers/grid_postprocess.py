"""The tensor math of SOLOv2's prediction from grid cells, written once for
the eager post-processor (``SOLOv2PostProcessor``) and the exported graph
(``mmsolo.deploy.graph_postprocess``).

Each function takes leading batch axes: the graph passes the B images of a
batch, the eager post-processor one image at a time. Nothing returns early
or loops over images or candidates: a candidate that does not exist is an
invalid slot (a validity mask), so that ``torch.onnx.export`` traces one
graph for any number of candidates, none included. The one data-dependent
size, the number of candidate slots, is checked for the exporter.

The eager path stops early where an image has no candidate left, and
computes maskness only for the masks that pass the area filter; both give
the values these functions give for those slots.
"""

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def point_nms(cls_probs: Tensor) -> Tensor:
    """Zero every probability that is not the maximum of its 2x2 window
    (the cell, its left, upper and upper-left neighbours), so that one
    object seen by neighbouring cells keeps one peak.

    Args:
        cls_probs (Tensor): (N, C, S, S) category probabilities.

    Returns:
        Tensor: (N, C, S, S), the maxima kept, the rest 0.
    """
    window_max = F.max_pool2d(cls_probs, 2, stride=1, padding=1)
    is_max = window_max[:, :, :-1, :-1] == cls_probs
    return cls_probs * is_max.to(cls_probs.dtype)


def flat_cells(level_maps: Sequence[Tensor]) -> Tensor:
    """Per-level (N, X, S, S) maps as one cell axis: (N, L, X), the cells
    of level 0 first, each level's row by row (the head's cell order); L
    is the number of cells of all levels."""
    return torch.cat([level.flatten(2) for level in level_maps], 2).transpose(
        1, 2
    )


def cell_levels(
    num_grids: Sequence[int], device: torch.device = None
) -> Tensor:
    """(L,) int64 head level of each cell of :func:`flat_cells`."""
    return torch.cat(
        [
            torch.full((num_grid**2,), level, dtype=torch.long, device=device)
            for level, num_grid in enumerate(num_grids)
        ]
    )


def select_candidates(
    cell_scores: Tensor, score_thr: float, nms_pre: int
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """The (cell, class) pairs scoring above ``score_thr``, at most the
    ``nms_pre`` best of each image (``nms_pre <= 0``: all), in cell order.

    Each image's candidates fill its first slots, cell after cell (class
    after class within a cell, as mmdet lists them); every image has as
    many slots as the image with the most candidates, at least one, and
    the slots after its own candidates are invalid.

    Args:
        cell_scores (Tensor): (B, L, C) category probabilities after
            :func:`point_nms`, cells as :func:`flat_cells` orders them.
        score_thr (float): A candidate scores above it.
        nms_pre (int): Candidates kept per image, the best by score.

    Returns:
        tuple[Tensor]: ``(scores, cells, labels, valid)``, each (B, m):
        float32 scores, int64 cell and class indices (in range also in
        invalid slots) and bool validity.
    """
    batch, num_cells, num_classes = cell_scores.shape
    num = num_cells * num_classes
    flat = cell_scores.reshape(batch, num)
    flat = torch.where(flat > score_thr, flat, torch.full_like(flat, -1.0))
    if 0 < nms_pre < num:
        flat, index = flat.topk(nms_pre, dim=1)
    else:
        index = torch.arange(num, device=flat.device).expand(batch, num)
    valid = flat > score_thr
    # Valid slots first, in cell order: the order the eager path and mmdet
    # give the candidates (it decides which of tied scores ranks first).
    order = torch.where(valid, index, num).sort(dim=1).indices
    size = _slot_count(valid.sum(1).max(), index.shape[1])
    order = order[:, :size]
    index = index.gather(1, order)
    cells = torch.div(index, num_classes, rounding_mode='floor')
    return (
        flat.gather(1, order).float(),
        cells,
        index - cells * num_classes,
        valid.gather(1, order),
    )


def _slot_count(count: Tensor, upper: int) -> int:
    """The number of slots, ``count`` (a 0-dim tensor) but at least 1, as
    an int that the exporter traces as a size in [1, upper]."""
    size = count.clamp(min=1).item()
    torch._check(size >= 1)
    torch._check(size <= upper)
    return size


def threshold_masks(
    mask_probs: Tensor, mask_thr: float, min_areas: Tensor
) -> Tuple[Tensor, Tensor, Tensor]:
    """Masks of candidates' probabilities, their areas, and whether each
    is larger than the minimum area of its level.

    Args:
        mask_probs (Tensor): (..., K, h, w) float mask probabilities.
        mask_thr (float): A mask holds the pixels above it.
        min_areas (Tensor): (..., K) area (pixels at the mask stride) a
            candidate's mask must exceed: its level's stride.

    Returns:
        tuple[Tensor]: ``(masks, areas, keep)``: (..., K, h, w) bool,
        (..., K) float32 pixel counts and (..., K) bool.
    """
    masks = mask_probs > mask_thr
    areas = masks.sum((-2, -1)).float()
    return masks, areas, areas > min_areas


def maskness(mask_probs: Tensor, masks: Tensor, areas: Tensor) -> Tensor:
    """Mean probability inside each thresholded mask, the factor SOLOv2
    rescales a candidate's category score by.

    Args:
        mask_probs (Tensor): (..., K, h, w) mask probabilities.
        masks (Tensor): (..., K, h, w) bool, ``mask_probs > mask_thr``.
        areas (Tensor): (..., K) float pixel counts of ``masks``.

    Returns:
        Tensor: (..., K) maskness, 0 for an empty mask.
    """
    inside = (mask_probs * masks.to(mask_probs.dtype)).sum((-2, -1))
    return inside / areas.clamp(min=1.0)


__all__: List[str] = [
    'cell_levels',
    'flat_cells',
    'maskness',
    'point_nms',
    'select_candidates',
    'threshold_masks',
]
