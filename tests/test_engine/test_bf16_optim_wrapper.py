"""BF16OptimWrapper: bfloat16 autocast in the forward, float32 weights
(the capability query answers "native bfloat16" here; its float32 side is
in tests/test_utils/test_cpu_precision.py)."""

import pytest
import torch
from support import build_paired_solov2
from torch import nn

from mmsolo.registry import OPTIM_WRAPPERS
from mmsolo.testing import demo_batch
from mmsolo.utils import cpu_bf16_support, cpu_precision
from mmsolo.utils.cpu_precision import Bf16Support


@pytest.fixture(autouse=True)
def native_bf16(monkeypatch):
    monkeypatch.delenv(cpu_precision.PRECISION_ENV, raising=False)
    monkeypatch.setattr(
        cpu_precision, 'cpu_bf16_support', lambda: Bf16Support(True, 'mocked')
    )


def build_wrapper(model: nn.Module, **kwargs):
    return OPTIM_WRAPPERS.build(
        dict(
            type='BF16OptimWrapper',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            **kwargs,
        )
    )


def test_forward_runs_in_bfloat16_and_weights_stay_float32():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(1))
    inputs = torch.randn(2, 3, 8, 8)
    model(inputs)
    wrapper = build_wrapper(model)
    before = model[0].weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(inputs)
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert model[0].weight.dtype == torch.float32
    assert not torch.equal(model[0].weight, before)
    assert model(inputs).dtype == torch.float32  # outside: no autocast


@pytest.mark.skipif(
    not cpu_bf16_support().native,
    reason='an R50 forward in emulated bfloat16 is slow on this CPU',
)
def test_solov2_losses_are_float32_under_bf16_and_close_to_fp32():
    _, model = build_paired_solov2(seed=0)
    inputs, samples = demo_batch(
        img_shapes=[(96, 128)],
        gt_instances=[
            dict(boxes=[[10, 12, 60, 70], [50, 20, 120, 90]], labels=[3, 7])
        ],
    )
    model.train()
    losses_fp32 = model.loss(inputs, samples)
    with build_wrapper(model).optim_context(model):
        losses_bf16 = model.loss(inputs, samples)
    assert losses_fp32['loss_mask'] > 0
    for key, value in losses_bf16.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value)
        # bfloat16 keeps about 3 significant digits of the features.
        assert value.item() == pytest.approx(
            losses_fp32[key].item(), rel=0.05
        ), key


def test_unknown_device_type_names_the_field():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match='optim_wrapper.device_type'):
        build_wrapper(model, device_type='tpu')
