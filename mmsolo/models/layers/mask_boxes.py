"""Boxes derived from masks: the tight box of every pixel, or the box of
the mask's main parts, which leaves out stray pixels far from the object.

``main_parts`` works on the row and column projections of a mask (its
pixel count per row, per column). Each projection splits into runs of
non-empty rows (columns) separated by empty ones; a run is kept when it
holds at least ``min_part`` times the pixels of the projection's largest
run, and the box spans the kept runs. So a stray blob cut off from the
object by an empty row or column is left out, while an object in two big
pieces (e.g. occluded in its middle) keeps the box that spans both. A mask
whose runs are all kept (one piece, or no gap in either projection) gets
exactly its tight box.

:func:`masks_to_boxes` is the one implementation of both modes, for the
eager post-processor, the test-time augmentation, the exported ONNX graph
and the host side of a deployed graph. It uses only ops that
``torch.onnx.export`` exports (reductions, cumsum, scatter_add, gather),
without a loop over masks and without a branch on their number.

The one step that differs by where it runs is the projections of the
masks (:func:`mask_projections`): eager bool masks on the CPU are reduced
by NumPy, whose reductions of bytes are vectorised, instead of PyTorch's,
which cast every pixel to the accumulator type first
(``benchmarks/bench_postprocess.py`` times both ways). The reductions are
exact either way, so the boxes are the same.
"""

from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

# The values of ``model.test_cfg.mask_box``.
MASK_BOX_MODES = ('tight', 'main_parts')
# ``model.test_cfg.mask_box_min_part``: share of the largest run's pixels
# that a run needs to count as a main part. A cautious default, which keeps
# the smaller piece of an occluded object down to a tenth of the larger.
DEFAULT_MIN_PART = 0.1


def masks_to_boxes(
    masks: Tensor,
    mask_box: str = 'tight',
    min_part: float = DEFAULT_MIN_PART,
    probs: Optional[Tensor] = None,
    thr: Optional[float] = None,
) -> Tensor:
    """Boxes of binary masks, in pixel-edge coordinates.

    With ``mask_box='tight'`` a mask covering columns x0..x1 and rows
    y0..y1 gets the box ``(x0, y0, x1 + 1, y1 + 1)``, the convention of
    COCO and of ``mmdet.structures.mask.mask2bbox``. With
    ``'main_parts'`` the box of the runs of rows and columns that hold at
    least ``min_part`` of the largest run's pixels (see the module
    docstring), in the same convention. Empty masks get ``(0, 0, 0, 0)``.

    Args:
        masks (Tensor): (n, H, W) bool masks (uint8 or float 0/1 too).
        mask_box (str): One of :data:`MASK_BOX_MODES`.
        min_part (float): In [0, 1], read by ``'main_parts'``; 0 keeps
            every run (the tight box).
        probs (Tensor, optional): (n, H, W) probabilities whose pixels
            above ``thr`` are ``masks``. Given, tight boxes come from their
            row and column maxima: a row holds a mask pixel exactly when
            its largest probability is above ``thr``, so the boxes are the
            same, and an ONNX graph reads the probabilities it has instead
            of casting the bool masks.
        thr (float, optional): The threshold of ``probs``.

    Returns:
        Tensor: (n, 4) float32 boxes ``(x1, y1, x2, y2)``.

    Raises:
        ValueError: an unknown ``mask_box``.
    """
    if mask_box == 'main_parts':
        return main_part_bounds(*mask_projections(masks, count=True), min_part)
    if mask_box != 'tight':
        raise ValueError(
            f'mask_box={mask_box!r} is not one of {MASK_BOX_MODES}'
        )
    if probs is None:
        rows, cols = mask_projections(masks, count=False)
    else:
        rows, cols = probs.amax(2) > thr, probs.amax(1) > thr
    y0, y1 = kept_span(rows)
    x0, x1 = kept_span(cols)
    return torch.stack([x0, y0, x1, y1], 1).float()


def mask_projections(masks: Tensor, count: bool) -> Tuple[Tensor, Tensor]:
    """Row and column projections of masks: pixel counts, or whether any.

    Args:
        masks (Tensor): (n, H, W) bool masks (uint8 or float 0/1 too).
        count (bool): Counts of mask pixels if True, else whether a row
            (column) holds any.

    Returns:
        tuple[Tensor]: (n, H) and (n, W); int32 counts, or bool.
    """
    if not _numpy_reduces(masks):
        if count:
            return masks.sum(2, dtype=torch.int32), masks.sum(
                1, dtype=torch.int32
            )
        return masks.amax(2) != 0, masks.amax(1) != 0
    pixels = masks.numpy()
    if count:
        # Counts reach at most H (W): a narrow accumulator where it fits.
        accumulator = np.uint16 if max(masks.shape[1:]) < 2**16 else np.int32
        projections = (
            pixels.sum(2, dtype=accumulator),
            pixels.sum(1, dtype=accumulator),
        )
        return tuple(torch.from_numpy(p.astype(np.int32)) for p in projections)
    return torch.from_numpy(pixels.any(2)), torch.from_numpy(pixels.any(1))


def _numpy_reduces(masks: Tensor) -> bool:
    """Whether :func:`mask_projections` hands ``masks`` to NumPy: eager
    (not traced, exported or compiled) bool or uint8 CPU tensors."""
    return (
        masks.device.type == 'cpu'
        and masks.dtype in (torch.bool, torch.uint8)
        and not masks.requires_grad
        and not torch.jit.is_tracing()
        and not torch.onnx.is_in_onnx_export()
        and not torch.compiler.is_compiling()
    )


def main_part_bounds(
    row_counts: Tensor, col_counts: Tensor, min_part: float
) -> Tensor:
    """Boxes of the main parts of masks from their projections.

    Args:
        row_counts (Tensor): (n, H) pixels per row of each mask.
        col_counts (Tensor): (n, W) pixels per column.
        min_part (float): Share of the largest run's pixels a run needs.

    Returns:
        Tensor: (n, 4) float32 ``(x0, y0, x1, y1)``, end exclusive; zeros
        for an empty mask.
    """
    y0, y1 = kept_span(main_runs(row_counts, min_part))
    x0, x1 = kept_span(main_runs(col_counts, min_part))
    return torch.stack([x0, y0, x1, y1], 1).float()


def main_runs(counts: Tensor, min_part: float) -> Tensor:
    """The entries of projections that lie in a main run.

    A run is a maximal stretch of non-zero entries of a mask's projection;
    it is main when its sum is at least ``min_part`` times that of the
    projection's largest run (which is always main).

    Args:
        counts (Tensor): (n, L) non-negative pixel counts.
        min_part (float): Share of the largest run's sum.

    Returns:
        Tensor: (n, L) bool, False outside the main runs.
    """
    counts = counts.float()  # integers below 2**24: exact
    filled = counts > 0
    before = torch.cat([torch.zeros_like(filled[:, :1]), filled[:, :-1]], 1)
    starts = filled & ~before
    # Each entry's run (0 before the first run; it holds nothing there).
    run_ids = (starts.long().cumsum(1) - 1).clamp(min=0)
    run_sums = torch.zeros_like(counts).scatter_add(1, run_ids, counts)
    largest = run_sums.amax(1, keepdim=True)
    is_main = run_sums >= largest * min_part
    return filled & is_main.gather(1, run_ids)


def kept_span(kept: Tensor) -> Tuple[Tensor, Tensor]:
    """First index and last index + 1 of the True entries of (n, L) bool
    ``kept``, each (n,) int64; both 0 where none is True."""
    length = kept.shape[1]
    index = torch.arange(length, device=kept.device)
    start = torch.where(kept, index, length).amin(1)
    end = torch.where(kept, index + 1, 0).amax(1)
    return start * kept.any(1), end
