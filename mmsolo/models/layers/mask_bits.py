"""Fast reads of 0/1 byte masks: 8 pixels at a time as int64 words."""
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
