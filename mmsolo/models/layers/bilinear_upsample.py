"""The 2x bilinear upsampling of the pyramid towers, with a fast backward.

``F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)``
is what the towers compute; its CPU backward scatters every output
gradient into a zeroed input-sized buffer, and for bfloat16 inputs goes
through extra copies, which made it one of the costliest operators of the
quick-start training step's profile. With ``align_corners=False`` and a
factor of exactly 2 the weights are fixed, so the backward is a short sum
of shifted slices (the adjoint below), with no scatter and no buffer to
zero (README.md's quick start, "What this round added for speed", gives
the times). The forward is ``F.interpolate`` itself, so predictions and
exported graphs are unchanged.
"""

import torch
import torch.nn.functional as F
from torch import Tensor


def _adjoint_1d(grad: Tensor, dim: int) -> Tensor:
    """Adjoint of the 2x linear upsampling along ``dim`` (negative).

    Output ``2i`` of the upsampling is ``0.25 x[i-1] + 0.75 x[i]`` and
    output ``2i+1`` is ``0.75 x[i] + 0.25 x[i+1]``, the out-of-range
    neighbour replaced by the edge (so outputs ``0`` and ``2L-1`` are the
    edges themselves). Hence ``x[i]`` receives ``0.75 (g[2i] + g[2i+1])
    + 0.25 (g[2i-1] + g[2i+2])``, with ``g[-1] = g[0]`` and ``g[2L] =
    g[2L-1]``.

    Args:
        grad (Tensor): (..., 2L, ...) gradient of the output.
        dim (int): The upsampled dimension, negative.

    Returns:
        Tensor: (..., L, ...) gradient of the input.
    """
    pairs = grad.unflatten(dim, (grad.shape[dim] // 2, 2))
    even, odd = pairs.select(dim, 0), pairs.select(dim, 1)
    length = even.shape[dim]
    out = (even + odd).mul_(0.75)
    if length > 1:
        out.narrow(dim, 1, length - 1).add_(
            odd.narrow(dim, 0, length - 1), alpha=0.25
        )
        out.narrow(dim, 0, length - 1).add_(
            even.narrow(dim, 1, length - 1), alpha=0.25
        )
    out.narrow(dim, 0, 1).add_(even.narrow(dim, 0, 1), alpha=0.25)
    out.narrow(dim, length - 1, 1).add_(
        odd.narrow(dim, length - 1, 1), alpha=0.25
    )
    return out


def bilinear_upsample_2x_adjoint(grad: Tensor) -> Tensor:
    """Gradient of the input of the 2x bilinear upsampling
    (``align_corners=False``) from that of its output.

    Args:
        grad (Tensor): (N, C, 2H, 2W) output gradient, any float dtype
            (summed in float32).

    Returns:
        Tensor: (N, C, H, W) input gradient, in ``grad``'s dtype.
    """
    summed = _adjoint_1d(_adjoint_1d(grad.float(), -1), -2)
    return summed.to(grad.dtype)


class _BilinearUpsample2x(torch.autograd.Function):
    @staticmethod
    def forward(ctx, feat: Tensor) -> Tensor:
        return F.interpolate(
            feat, scale_factor=2, mode='bilinear', align_corners=False
        )

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        # The output, hence its gradient, has the input's dtype.
        return bilinear_upsample_2x_adjoint(grad)


def bilinear_upsample_2x(feat: Tensor) -> Tensor:
    """``F.interpolate(feat, scale_factor=2, mode='bilinear',
    align_corners=False)`` of an (N, C, H, W) map, to (N, C, 2H, 2W); when
    a gradient is needed, its backward is
    :func:`bilinear_upsample_2x_adjoint`. Without one (inference, export)
    it is the plain call."""
    if torch.is_grad_enabled() and feat.requires_grad:
        return _BilinearUpsample2x.apply(feat)
    return F.interpolate(
        feat, scale_factor=2, mode='bilinear', align_corners=False
    )
