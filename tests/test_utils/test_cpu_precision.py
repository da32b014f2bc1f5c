"""The CPU training precision is chosen by what the CPU computes natively:
bfloat16 autocast with AVX512-BF16 or AMX, float32 (and one log line saying
why) elsewhere; the same choice for BF16OptimWrapper, ``tools/train.py
--amp`` and ``channels_last='auto'``. The capability query is mocked both
ways, so both paths run on every machine."""

import logging

import pytest
import torch
from mmengine.logging import MMLogger
from torch import nn

from mmsolo.models.layers import resolve_channels_last
from mmsolo.registry import OPTIM_WRAPPERS
from mmsolo.utils import PRECISION_ENV, cpu_bf16_support, cpu_precision
from mmsolo.utils.cpu_precision import Bf16Support


@pytest.fixture
def cpu_with_bf16(monkeypatch):
    """Make the capability query answer ``native`` (True or False)."""

    def mock(native: bool):
        reason = (
            'the CPU has AMX'
            if native
            else 'the CPU has neither AVX512-BF16 nor AMX, so bfloat16 '
            'would be emulated'
        )
        monkeypatch.setattr(
            cpu_precision,
            'cpu_bf16_support',
            lambda: Bf16Support(native, reason),
        )
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)

    monkeypatch.delenv(PRECISION_ENV, raising=False)
    return mock


def build_wrapper(model: nn.Module):
    return OPTIM_WRAPPERS.build(
        dict(
            type='mmsolo.BF16OptimWrapper',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        )
    )


def tiny_model_and_input():
    torch.manual_seed(0)
    return nn.Conv2d(3, 4, 3), torch.randn(1, 3, 8, 8)


def test_without_native_bf16_the_wrapper_trains_in_float32_and_says_why(
    cpu_with_bf16,
):
    cpu_with_bf16(False)
    model, inputs = tiny_model_and_input()
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        wrapper = build_wrapper(model)
    finally:
        logger.removeHandler(handler)
    assert wrapper.dtype == torch.float32
    with wrapper.optim_context(model):
        assert model(inputs).dtype == torch.float32
    lines = [
        r.getMessage()
        for r in records
        if r.getMessage().startswith('BF16OptimWrapper:')
    ]
    assert len(lines) == 1
    assert 'float32, no autocast' in lines[0]
    assert 'neither AVX512-BF16 nor AMX' in lines[0]


def test_with_native_bf16_the_wrapper_autocasts(cpu_with_bf16):
    cpu_with_bf16(True)
    model, inputs = tiny_model_and_input()
    wrapper = build_wrapper(model)
    assert wrapper.dtype == torch.bfloat16
    with wrapper.optim_context(model):
        assert model(inputs).dtype == torch.bfloat16
    assert model(inputs).dtype == torch.float32  # outside: no autocast


def test_float32_forced_by_the_environment(cpu_with_bf16, monkeypatch):
    cpu_with_bf16(True)
    monkeypatch.setenv(PRECISION_ENV, 'float32')
    choice = cpu_precision.cpu_precision_choice()
    assert choice.dtype == torch.float32
    assert PRECISION_ENV in choice.reason
    assert build_wrapper(nn.Linear(2, 2)).dtype == torch.float32
    assert resolve_channels_last('auto') is False


def test_a_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(PRECISION_ENV, 'bf16')
    with pytest.raises(ValueError, match=PRECISION_ENV):
        cpu_precision.cpu_precision_choice()


@pytest.mark.parametrize('native', [True, False])
def test_channels_last_auto_follows_the_precision(cpu_with_bf16, native):
    cpu_with_bf16(native)
    assert resolve_channels_last('auto') is native
    assert resolve_channels_last(True) is True
    assert resolve_channels_last(False) is False


def test_channels_last_auto_on_cuda(cpu_with_bf16, monkeypatch):
    cpu_with_bf16(False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert resolve_channels_last('auto') is True


def test_bad_channels_last_names_the_field():
    with pytest.raises(ValueError, match='model.channels_last'):
        resolve_channels_last('yes')


@pytest.mark.parametrize(
    'amx, avx512_bf16, native',
    [
        (True, True, True),
        (False, True, True),
        (True, False, True),
        (False, False, False),
    ],
)
def test_the_query_asks_torch_for_the_instructions(
    monkeypatch, amx, avx512_bf16, native
):
    monkeypatch.delenv('ONEDNN_MAX_CPU_ISA', raising=False)
    monkeypatch.setattr(
        torch.cpu, '_is_amx_tile_supported', lambda: amx, raising=False
    )
    monkeypatch.setattr(
        torch.cpu,
        '_is_avx512_bf16_supported',
        lambda: avx512_bf16,
        raising=False,
    )
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        native = False  # no AVX-512 at all on this machine: oneDNN says no
    support = cpu_bf16_support()
    assert support.native is native
    assert support.reason


def test_a_onednn_isa_cap_below_bf16_means_float32(monkeypatch):
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX2')
    support = cpu_bf16_support()
    assert not support.native
    assert 'ONEDNN_MAX_CPU_ISA=AVX2' in support.reason
