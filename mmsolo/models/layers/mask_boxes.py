"""Boxes derived from masks."""
import torch
from torch import Tensor


def masks_to_boxes(masks: Tensor) -> Tensor:
    """Tight boxes of binary masks, in pixel-edge coordinates.

    A mask covering columns x0..x1 and rows y0..y1 gets the box
    ``(x0, y0, x1 + 1, y1 + 1)``, the convention of COCO and of
    ``mmdet.structures.mask.mask2bbox``. Empty masks get ``(0, 0, 0, 0)``.

    Args:
        masks (Tensor): (n, H, W) bool masks.

    Returns:
        Tensor: (n, 4) float32 boxes ``(x1, y1, x2, y2)``.
    """
    n, h, w = masks.shape
    if n == 0:
        return masks.new_zeros((0, 4), dtype=torch.float32)
    cols = masks.any(dim=1)  # (n, W)
    rows = masks.any(dim=2)  # (n, H)
    x_idx = torch.arange(w, device=masks.device)
    y_idx = torch.arange(h, device=masks.device)
    x0 = torch.where(cols, x_idx, w).min(dim=1).values
    x1 = torch.where(cols, x_idx, -1).max(dim=1).values + 1
    y0 = torch.where(rows, y_idx, h).min(dim=1).values
    y1 = torch.where(rows, y_idx, -1).max(dim=1).values + 1
    boxes = torch.stack([x0, y0, x1, y1], dim=1).float()
    return boxes * cols.any(dim=1, keepdim=True)
