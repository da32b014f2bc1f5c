"""0/1 masks packed to one bit per pixel, the form the sparse Matrix NMS
(:mod:`.nms.matrix`) reads them in: 8x less memory to stream, and a pair's
shared pixels are the set bits of the AND of its masks' words.

The packing is endian-safe: ``np.packbits`` writes bytes, and the 64-bit
words are only used through operations that treat every bit alike
(set-bit counts, AND, OR, comparison with 0) or viewed back as the same
bytes, so which byte of a word holds which pixels never matters.
"""

import numpy as np
import torch
from torch import Tensor


def pack_mask_rows(masks: Tensor) -> np.ndarray:
    """0/1 masks as bits, each row padded with 0 bits to whole 64-bit words.

    Pixel ``x`` of a row is bit ``x % 8`` (counted from the most significant
    bit) of byte ``x // 8``, as :func:`numpy.packbits` lays them out; the
    words are those bytes, 8 at a time, in memory order (see the module
    docstring for why their byte order never matters).

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
    """Tight integer bounds of masks packed by :func:`pack_mask_rows`.

    A mask covering columns x0..x1 and rows y0..y1 gets ``(x0, y0, x1 + 1,
    y1 + 1)``, as :func:`~mmsolo.models.layers.masks_to_boxes` (``'tight'``)
    gives them; an empty mask gets ``(0, 0, 0, 0)``.

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
