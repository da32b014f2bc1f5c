"""The 2x bilinear upsampling with its own backward: the same forward as
F.interpolate, and the gradient of F.interpolate's."""

import pytest
import torch
import torch.nn.functional as F

from mmsolo.models.layers import (
    bilinear_upsample_2x,
    bilinear_upsample_2x_adjoint,
)


def _reference_grad(feat, grad):
    feat = feat.detach().requires_grad_()
    F.interpolate(
        feat, scale_factor=2, mode='bilinear', align_corners=False
    ).backward(grad)
    return feat.grad


@pytest.mark.parametrize('size', [(1, 1), (1, 5), (2, 3), (7, 4), (16, 16)])
def test_adjoint_is_the_gradient_of_interpolate(size):
    torch.manual_seed(0)
    feat = torch.randn(2, 3, *size, dtype=torch.float64)
    grad = torch.randn(2, 3, 2 * size[0], 2 * size[1], dtype=torch.float64)
    ours = bilinear_upsample_2x_adjoint(grad)
    # float32 inside: float64 in, compared at float32 precision.
    torch.testing.assert_close(
        ours, _reference_grad(feat, grad), rtol=1e-6, atol=1e-6
    )


def test_forward_is_interpolate_and_backward_matches():
    torch.manual_seed(1)
    feat = torch.randn(2, 4, 9, 6, requires_grad=True)
    out = bilinear_upsample_2x(feat)
    assert torch.equal(
        out,
        F.interpolate(
            feat, scale_factor=2, mode='bilinear', align_corners=False
        ),
    )
    grad = torch.randn_like(out)
    out.backward(grad)
    torch.testing.assert_close(
        feat.grad, _reference_grad(feat, grad), rtol=1e-5, atol=1e-6
    )


def test_gradcheck_in_float64():
    torch.manual_seed(2)
    feat = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    # The backward sums in float32, so the check runs at that precision.
    assert torch.autograd.gradcheck(
        bilinear_upsample_2x, (feat,), atol=1e-5, rtol=1e-4
    )


def test_bfloat16_and_channels_last_keep_dtype_and_values():
    torch.manual_seed(3)
    feat = (
        torch.randn(2, 8, 5, 6)
        .to(torch.bfloat16, memory_format=torch.channels_last)
        .requires_grad_()
    )
    out = bilinear_upsample_2x(feat)
    grad = torch.randn_like(out)
    out.backward(grad)
    assert feat.grad.dtype == torch.bfloat16
    expected = _reference_grad(feat.float(), grad.float())
    torch.testing.assert_close(
        feat.grad.float(), expected, rtol=1e-2, atol=2e-2
    )


def test_without_grad_it_is_the_plain_call():
    feat = torch.randn(1, 2, 3, 3, requires_grad=True)
    with torch.no_grad():
        out = bilinear_upsample_2x(feat)
    assert out.grad_fn is None
    assert torch.equal(
        out,
        F.interpolate(
            feat, scale_factor=2, mode='bilinear', align_corners=False
        ),
    )
