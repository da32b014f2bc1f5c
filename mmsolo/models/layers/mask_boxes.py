"""Boxes derived from masks."""
from torch import Tensor

from .mask_bits import mask_bounds


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
    return mask_bounds(masks).float()
