"""Normalized coordinate maps (CoordConv inputs)."""
import torch
from torch import Tensor


def coord_features(feats: Tensor) -> Tensor:
    """x and y coordinates in [-1, 1] for every position of ``feats``.

    Args:
        feats (Tensor): (N, C, H, W) features; only shape, dtype and device
            are used.

    Returns:
        Tensor: (N, 2, H, W) maps, channel 0 is x (left -1 to right 1),
        channel 1 is y (top -1 to bottom 1).
    """
    n, _, h, w = feats.shape
    xs = torch.linspace(-1, 1, w, device=feats.device, dtype=feats.dtype)
    ys = torch.linspace(-1, 1, h, device=feats.device, dtype=feats.dtype)
    grid = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w)])
    return grid[None].expand(n, 2, h, w)


def concat_coords(feats: Tensor) -> Tensor:
    """``feats`` (N, C, H, W) with its coordinate maps appended: (N, C+2, H, W)."""
    return torch.cat([feats, coord_features(feats)], dim=1)
