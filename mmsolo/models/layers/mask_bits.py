"""Fast reads of 0/1 masks: bytes 8 pixels at a time as int64 words, and
masks packed to one bit per pixel."""
from typing import Tuple

import numpy as np
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


def pack_mask_rows(masks: Tensor) -> np.ndarray:
    """0/1 masks as bits, each row padded with 0 bits to whole 64-bit words.

    Pixel ``x`` of a row is bit ``x % 8`` (counted from the most significant
    bit) of byte ``x // 8``, as :func:`numpy.packbits` lays them out; only
    counts of set bits are read from the words, so the layout inside a word
    never matters.

    Args:
        masks (Tensor): (n, H, W) bool, uint8 or float 0/1 masks on the CPU.

    Returns:
        np.ndarray: (n, H, ceil(W / 64)) uint64 words.
    """
    if masks.dtype not in (torch.bool, torch.uint8):
        masks = masks != 0
    packed = np.packbits(masks.numpy(), axis=-1)  # (n, H, ceil(W / 8)) bytes
    n, height, num_bytes = packed.shape
    if num_bytes % 8:
        padded = np.zeros((n, height, -(-num_bytes // 8) * 8), np.uint8)
        padded[..., :num_bytes] = packed
        packed = padded
    return packed.view(np.uint64)


def packed_mask_bounds(words: np.ndarray, width: int) -> Tensor:
    """:func:`mask_bounds` of masks packed by :func:`pack_mask_rows`.

    Args:
        words (np.ndarray): (n, H, ceil(W / 64)) uint64 words.
        width (int): W, the masks' width in pixels.

    Returns:
        Tensor: (n, 4) int64 ``(x0, y0, x1, y1)``, end exclusive, all 0 for
        an empty mask.
    """
    n, height, _ = words.shape
    if n == 0:
        return torch.zeros((0, 4), dtype=torch.long)
    # OR of a row's few words, one word column at a time: far cheaper than
    # a reduction along the short last axis.
    row_words = words[..., 0].copy()
    for column in range(1, words.shape[2]):
        row_words |= words[..., column]
    rows = row_words != 0  # (n, H)
    column_words = np.bitwise_or.reduce(words, axis=1)  # (n, ceil(W / 64))
    cols = np.unpackbits(column_words.view(np.uint8), axis=-1)[:, :width]
    y0 = rows.argmax(1)
    y1 = height - rows[:, ::-1].argmax(1)
    x0 = cols.argmax(1)
    x1 = width - cols[:, ::-1].argmax(1)
    bounds = np.stack([x0, y0, x1, y1], 1) * rows.any(1, keepdims=True)
    return torch.from_numpy(bounds.astype(np.int64))


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
