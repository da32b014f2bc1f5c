"""bfloat16 mixed-precision training that also runs on CPU, where the CPU
computes bfloat16 natively."""

from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from torch import nn

from mmsolo.registry import OPTIM_WRAPPERS
from mmsolo.utils import PRECISION_ENV, cpu_precision_choice


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward pass runs under
    ``torch.autocast(dtype=torch.bfloat16)`` where that is fast.

    mmengine's ``AmpOptimWrapper`` refuses to run without a GPU. Weights,
    gradients and the optimizer state stay in float32, and bfloat16 has
    float32's exponent range, so no loss scaling is needed. The SOLOv2 head
    computes its losses in float32 either way.

    On the CPU, bfloat16 is used only where the CPU runs it on native
    instructions (AVX512-BF16 or AMX, asked of PyTorch and oneDNN by
    :func:`mmsolo.utils.cpu_precision_choice`); elsewhere PyTorch would
    emulate it, many times slower than float32, so the wrapper trains in
    float32 and logs one line saying why. ``MMSOLO_CPU_PRECISION=float32``
    asks for float32 on every CPU. :attr:`dtype` holds the choice.

    Args:
        device_type (str): ``'cpu'`` or ``'cuda'``: where autocast applies.
            Defaults to ``'cpu'``.
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self, device_type: str = 'cpu', **kwargs) -> None:
        if device_type not in ('cpu', 'cuda'):
            raise ValueError(
                f"optim_wrapper.device_type must be 'cpu' or 'cuda', got "
                f'{device_type!r}'
            )
        super().__init__(**kwargs)
        self.device_type = device_type
        self.dtype = torch.bfloat16
        if device_type == 'cpu':
            self.dtype, reason = cpu_precision_choice()
            precision = (
                'bfloat16 autocast'
                if self.dtype == torch.bfloat16
                else 'float32, no autocast'
            )
            MMLogger.get_current_instance().info(
                f'BF16OptimWrapper: training in {precision} ({reason}; '
                f'{PRECISION_ENV}=float32 forces float32)'
            )

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        autocast = (
            torch.autocast(self.device_type, dtype=torch.bfloat16)
            if self.dtype == torch.bfloat16
            else nullcontext()
        )
        with super().optim_context(model), autocast:
            yield
