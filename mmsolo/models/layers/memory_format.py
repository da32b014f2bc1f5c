"""The channels-last (NHWC) memory format for a convolutional trunk.

oneDNN's CPU convolutions run faster on NHWC tensors (measured on the R50
training step and the quick start's bf16 step: benchmarks/README.md), and
``module.to(memory_format=torch.channels_last)`` is how PyTorch asks for
it. Some kernels, though, read their input as NCHW memory whatever its
strides say: mmcv's deformable convolutions (``DeformConv2d`` refuses an
NHWC input, ``ModulatedDeformConv2d`` silently computes a wrong result
from one). :func:`to_channels_last` converts a module and keeps those
parts, with their offset convs, in the default format, giving them
contiguous inputs.
"""

from typing import Tuple, Type, Union

import torch
import torch.nn as nn

from mmsolo.utils import cpu_precision_choice


def resolve_channels_last(setting: Union[bool, str]) -> bool:
    """Whether a trunk should run in NHWC, from a config's
    ``channels_last``: True or False as given, or ``'auto'``: on where the
    convolutions run in reduced precision on fast NHWC kernels, that is
    with CUDA, or on a CPU that computes bfloat16 natively (the CPU
    training precision of :func:`mmsolo.utils.cpu_precision_choice`); off
    on other CPUs, where float32 convolutions are not faster in NHWC.

    Raises:
        ValueError: naming ``model.channels_last`` for any other value.
    """
    if isinstance(setting, bool):
        return setting
    if setting != 'auto':
        raise ValueError(
            f"model.channels_last must be True, False or 'auto', got "
            f'{setting!r}'
        )
    if torch.cuda.is_available():
        return True
    return cpu_precision_choice().dtype == torch.bfloat16


def nchw_only_types() -> Tuple[Type[nn.Module], ...]:
    """Module types whose kernels need (N, C, H, W)-contiguous inputs."""
    from mmcv.ops import DeformConv2d, ModulatedDeformConv2d

    return (DeformConv2d, ModulatedDeformConv2d)


def _contiguous_inputs(module: nn.Module, args: tuple) -> tuple:
    """Forward pre-hook: the tensor arguments in the default format."""
    return tuple(
        arg.contiguous() if isinstance(arg, torch.Tensor) else arg
        for arg in args
    )


def to_channels_last(module: nn.Module) -> nn.Module:
    """Hold ``module``'s 4-d parameters in the channels-last format, but
    for the submodules of :func:`nchw_only_types`, which keep the default
    format and get contiguous inputs (a forward pre-hook). Returns
    ``module``, converted in place."""
    module.to(memory_format=torch.channels_last)
    keep = nchw_only_types()
    for sub in module.modules():
        if isinstance(sub, keep):
            sub.to(memory_format=torch.contiguous_format)
            sub.register_forward_pre_hook(_contiguous_inputs)
    return module
