"""Fast reads of 0/1 byte masks: 8 pixels at a time as int64 words."""
from typing import Tuple

import torch
from torch import Tensor


def viewable_as_words(masks: Tensor) -> bool:
    """Whether (n, H, W) byte masks can be viewed as (n, H, W / 8) int64
    words, 8 pixels per word."""
    return (masks.dtype in (torch.bool, torch.uint8)
            and masks.shape[2] % 8 == 0 and masks.is_contiguous()
            and masks.storage_offset() % 8 == 0)


def mask_bounds(masks: Tensor) -> Tensor:
    """Tight integer bounds of 0/1 masks, end exclusive.

    A mask covering columns x0..x1 and rows y0..y1 gets ``(x0, y0, x1 + 1,
    y1 + 1)``; an empty mask gets ``(0, 0, 0, 0)``.

    Args:
        masks (Tensor): (n, H, W) bool, uint8 or float 0/1 masks.

    Returns:
        Tensor: (n, 4) int64 ``(x0, y0, x1, y1)``.
    """
    n, height, width = masks.shape
    if n == 0:
        return torch.zeros((0, 4), dtype=torch.long, device=masks.device)
    values = masks.view(torch.uint8) if masks.dtype == torch.bool else masks
    # Maxima are far cheaper than sums; a row of 0/1 bytes is read 8 bytes
    # at a time as int64 words (nonzero, and positive, iff any byte is 1).
    if viewable_as_words(values):
        words = values.view(torch.int64)
        rows = words.amax(2) > 0  # (n, H)
        if height < 256:
            # Per byte lane the sum over H counts the 1s of that column; it
            # stays below 256, so no lane carries into the next.
            cols = words.sum(1).view(torch.uint8) > 0  # (n, W)
        else:
            cols = values.amax(1) > 0
    else:
        rows = values.amax(2) > 0
        cols = values.amax(1) > 0
    y0 = rows.byte().argmax(1)
    y1 = height - rows.flip(1).byte().argmax(1)
    x0 = cols.byte().argmax(1)
    x1 = width - cols.flip(1).byte().argmax(1)
    return torch.stack([x0, y0, x1, y1], 1) * rows.any(1, keepdim=True)


# Bytes of 0/1 summed per lane of int64 words: a lane holds at most 255.
_LANE_MAX = 255


def mask_projections(masks: Tensor) -> Tuple[Tensor, Tensor]:
    """Pixel counts of 0/1 masks per row and per column.

    Byte masks are summed 8 pixels at a time as int64 words, each byte
    lane counting its own column; the words are summed over at most 255
    rows (or words) at a time so that no lane carries into the next.
    Masks of a width that is not a multiple of 8 are padded with empty
    columns first; float masks are summed as they are.

    Args:
        masks (Tensor): (n, H, W) bool, uint8 or float 0/1 masks.

    Returns:
        tuple[Tensor]: (n, H) and (n, W) int32 counts.
    """
    if masks.dtype not in (torch.bool, torch.uint8):
        return masks.sum(2).int(), masks.sum(1).int()
    n, height, width = masks.shape
    values = masks.view(torch.uint8) if masks.dtype == torch.bool else masks
    if not viewable_as_words(values):
        padded = values.new_zeros((n, height, -(-width // 8) * 8))
        padded[:, :, :width] = values
        values = padded
    words = values.view(torch.int64)  # (n, H, W8 / 8)
    rows = _byte_lane_sums(words, 2).view(n, height, 8).sum(
        2, dtype=torch.int32)
    cols = _byte_lane_sums(words, 1)[:, :width]
    return rows, cols


def _byte_lane_sums(words: Tensor, dim: int) -> Tensor:
    """Sums over ``dim`` (1 or 2) of (n, H, V) int64 words of 0/1 bytes,
    per byte lane: (n, 8 * V) for ``dim=1`` (a lane per column), (n, 8 * H)
    for ``dim=2`` (8 lanes per row), int32."""
    total = None
    for start in range(0, words.shape[dim], _LANE_MAX):
        block = words.narrow(dim, start,
                             min(_LANE_MAX, words.shape[dim] - start))
        lanes = block.sum(dim).view(torch.uint8).flatten(1).int()
        total = lanes if total is None else total + lanes
    if total is None:  # no rows or no words: nothing to count
        other = words.shape[3 - dim]
        total = words.new_zeros((len(words), 8 * other), dtype=torch.int32)
    return total
