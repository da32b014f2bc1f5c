"""Normalized coordinate maps (CoordConv inputs).

Each axis holds ``torch.linspace(-1, 1, size)``'s float32 values, built
from ``arange`` of the feature's own size so that ``torch.onnx.export``
traces them for any input size (the exporter folds ``linspace`` of a
symbolic length into a constant of the traced length). ``linspace``
computes ``-1 + i * step`` for the first half and ``1 - (size - 1 - i) *
step`` for the second, ``step = 2 / (size - 1)`` in float32, with one
rounding at the end (a fused multiply-add); :func:`coord_axis` computes
the same in float64, where the product and the sum are exact, and rounds
once to float32.
"""

import torch
from torch import Tensor


def coord_axis(size: int, like: Tensor) -> Tensor:
    """(size,) values from -1 to 1, those of ``torch.linspace(-1, 1,
    size)`` in float32 (see the module docstring), in ``like``'s dtype and
    on its device."""
    index = torch.arange(size, device=like.device, dtype=torch.float64)
    last = index[-1:]  # size - 1
    step = (2.0 / last.float().clamp(min=1.0)).double()
    lower = (index < size // 2) | (index == 0)
    values = torch.where(
        lower, step * index - 1.0, 1.0 - step * (last - index)
    )
    return values.float().to(like.dtype)


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
    xs = coord_axis(w, feats)[None, :].expand(h, w)
    ys = coord_axis(h, feats)[:, None].expand(h, w)
    return torch.stack([xs, ys])[None].expand(n, 2, h, w)


def concat_coords(feats: Tensor) -> Tensor:
    """``feats`` (N, C, H, W) with its coordinate maps appended:
    (N, C + 2, H, W)."""
    return torch.cat([feats, coord_features(feats)], dim=1)
