"""Which floating-point precision CPU training runs in, decided by what the
CPU computes natively (asked of PyTorch and oneDNN, never read from a model
name).

bfloat16 autocast pays only where oneDNN has bfloat16 instructions to run
(AVX512-BF16 or AMX). Elsewhere (AVX2-only CPUs, AVX-512 without BF16)
PyTorch emulates it, many times slower than float32, so training stays in
float32 there.

The environment variable ``MMSOLO_CPU_PRECISION`` overrides the choice:

* ``auto`` (or unset): bfloat16 where native, float32 otherwise;
* ``float32``: float32 on every CPU (to measure or reproduce the float32
  path on a CPU that has bfloat16).

Forcing bfloat16 onto a CPU without it is not offered: the emulated path
makes a training run take many times longer and gains nothing.
"""

import os
from typing import NamedTuple

import torch

PRECISION_ENV = 'MMSOLO_CPU_PRECISION'
PRECISION_CHOICES = ('auto', 'float32')

# oneDNN's ISA names (ONEDNN_MAX_CPU_ISA) that include bfloat16 instructions;
# a cap at any other ISA makes oneDNN emulate bfloat16.
ONEDNN_BF16_ISAS = frozenset(
    {
        'AVX512_CORE_BF16',
        'AVX512_CORE_FP16',
        'AVX512_CORE_AMX',
        'AVX512_CORE_AMX_FP16',
        'AVX10_1_512',
        'AVX10_1_512_AMX',
        'AVX10_1_512_AMX_FP16',
        'AVX10_2_512',
        'AVX10_2_512_AMX_2',
        'ALL',
        'DEFAULT',
    }
)


class Bf16Support(NamedTuple):
    """Whether this CPU runs bfloat16 natively, and in words why."""

    native: bool
    reason: str


def _torch_cpu_flag(name: str) -> bool:
    """A CPU feature as PyTorch's ``torch.cpu`` reports it (cpuinfo); False
    where this PyTorch does not have the query."""
    query = getattr(torch.cpu, name, None)
    return bool(query()) if query is not None else False


def cpu_bf16_support() -> Bf16Support:
    """Ask PyTorch and oneDNN whether bfloat16 convolutions and matmuls run
    on native instructions here."""
    if not torch.backends.mkldnn.is_available():
        return Bf16Support(False, 'this PyTorch was built without oneDNN')
    isa_cap = os.environ.get('ONEDNN_MAX_CPU_ISA', '').strip().upper()
    if isa_cap and isa_cap not in ONEDNN_BF16_ISAS:
        return Bf16Support(
            False,
            f'ONEDNN_MAX_CPU_ISA={isa_cap} keeps oneDNN below its '
            'bfloat16 instructions',
        )
    mkldnn_bf16 = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', None)
    if mkldnn_bf16 is not None and not mkldnn_bf16():
        return Bf16Support(
            False, 'oneDNN has no bfloat16 kernels for this CPU (no AVX-512)'
        )
    if _torch_cpu_flag('_is_amx_tile_supported'):
        return Bf16Support(True, 'the CPU has AMX')
    if _torch_cpu_flag('_is_avx512_bf16_supported'):
        return Bf16Support(True, 'the CPU has AVX512-BF16')
    return Bf16Support(
        False,
        'the CPU has neither AVX512-BF16 nor AMX, so bfloat16 would '
        'be emulated',
    )


def requested_cpu_precision() -> str:
    """``MMSOLO_CPU_PRECISION`` (``auto`` when unset).

    Raises:
        ValueError: naming the variable and the values it takes.
    """
    value = os.environ.get(PRECISION_ENV, 'auto').strip().lower() or 'auto'
    if value not in PRECISION_CHOICES:
        raise ValueError(
            f'{PRECISION_ENV}={value!r}: expected one of '
            f'{", ".join(PRECISION_CHOICES)}'
        )
    return value


class PrecisionChoice(NamedTuple):
    """The dtype CPU training autocasts to, and in words why."""

    dtype: torch.dtype
    reason: str


def cpu_precision_choice() -> PrecisionChoice:
    """``torch.bfloat16`` where the CPU computes it natively and
    ``MMSOLO_CPU_PRECISION`` does not ask for float32, else
    ``torch.float32``; with the reason, for the log."""
    if requested_cpu_precision() == 'float32':
        return PrecisionChoice(torch.float32, f'{PRECISION_ENV}=float32')
    support = cpu_bf16_support()
    dtype = torch.bfloat16 if support.native else torch.float32
    return PrecisionChoice(dtype, support.reason)
