"""``to_channels_last``: NHWC parameters, but mmcv's deformable convs keep
NCHW and get contiguous inputs, so the results equal the default layout's
(an NHWC input gives ``ModulatedDeformConv2d`` a wrong result, and makes
``DeformConv2d`` raise)."""

import copy

import pytest
import torch
import torch.nn as nn
from mmcv.ops import DeformConv2dPack, ModulatedDeformConv2dPack

from mmsolo.models.layers import nchw_only_types, to_channels_last


def _trunk(dcn_type) -> nn.Module:
    torch.manual_seed(0)
    trunk = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        dcn_type(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 8, 3, padding=1),
    )
    with torch.no_grad():  # offsets far from zero: the sampling matters
        trunk[2].conv_offset.weight.normal_(0, 0.1)
    return trunk


def _output_and_grads(trunk: nn.Module, inputs: torch.Tensor):
    inputs = inputs.clone().requires_grad_()
    out = trunk(inputs)
    grads = torch.autograd.grad(
        out.square().sum(), [inputs, *trunk.parameters()]
    )
    return out, grads


@pytest.mark.parametrize(
    'dcn_type', [ModulatedDeformConv2dPack, DeformConv2dPack]
)
def test_deformable_convs_keep_nchw_and_results(dcn_type):
    plain = _trunk(dcn_type)
    nhwc = to_channels_last(copy.deepcopy(plain))
    assert nhwc[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert nhwc[4].weight.is_contiguous(memory_format=torch.channels_last)
    assert nhwc[2].weight.is_contiguous()
    assert nhwc[2].conv_offset.weight.is_contiguous()
    inputs = torch.randn(2, 3, 20, 24)
    out, grads = _output_and_grads(plain, inputs)
    nhwc_out, nhwc_grads = _output_and_grads(
        nhwc, inputs.contiguous(memory_format=torch.channels_last)
    )
    torch.testing.assert_close(nhwc_out, out, rtol=1e-4, atol=1e-5)
    for ours, ref in zip(nhwc_grads, grads):
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_the_kernel_needs_it():
    """Without the guard, the modulated DCN on NHWC memory is wrong: the
    reason to_channels_last exists (if mmcv fixes it, this fails and the
    guard can go)."""
    plain = _trunk(ModulatedDeformConv2dPack)[2]
    inputs = torch.randn(2, 16, 20, 24)
    raw = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    with torch.no_grad():
        wrong = raw(inputs.contiguous(memory_format=torch.channels_last))
        assert not torch.allclose(wrong, plain(inputs), atol=1e-3)


def test_nchw_only_types_are_mmcv_deformable_convs():
    types = nchw_only_types()
    assert issubclass(ModulatedDeformConv2dPack, types)
    assert issubclass(DeformConv2dPack, types)
    assert not issubclass(nn.Conv2d, types)
