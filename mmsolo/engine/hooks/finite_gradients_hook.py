"""Stop training at the first non-finite gradient, before the optimizer step
writes it into the weights."""

from typing import Dict, List

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from torch import Tensor

from mmsolo.registry import HOOKS
from mmsolo.utils.messages import abbreviated

# How many parameter names a message spells out before "... N in all".
MAX_NAMES_SHOWN = 5


class NonFiniteGradientError(FloatingPointError):
    """A gradient holds NaN or infinity; raised before the optimizer step,
    so the weights (and every checkpoint) are those of the last good step."""


@HOOKS.register_module()
class FiniteGradientsHook(Hook):
    """Check, before every optimizer step, that all gradients are finite.

    A finite loss can still give an infinite gradient (an overflow in the
    backward pass); the step would then turn the weights into NaN, and the
    next checkpoint would keep them. This hook registers a step pre-hook on
    each optimizer of the run: a non-finite gradient raises
    :class:`NonFiniteGradientError` naming the parameters and the iteration,
    before anything is updated. With mixed precision (``AmpOptimWrapper``)
    the loss scaler skips steps with overflowing gradients itself, and the
    check only sees the steps it lets through. Cost: one fused norm over the
    gradients and one device sync per step.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = (
            runner.model.module
            if is_model_wrapper(runner.model)
            else runner.model
        )
        names = {id(param): name for name, param in model.named_parameters()}
        wrappers = (
            runner.optim_wrapper.values()
            if isinstance(runner.optim_wrapper, OptimWrapperDict)
            else [runner.optim_wrapper]
        )
        self._handles = [
            wrapper.optimizer.register_step_pre_hook(
                lambda optimizer, args, kwargs: check_finite_gradients(
                    optimizer, names, runner.iter
                )
            )
            for wrapper in wrappers
        ]

    def after_train(self, runner) -> None:
        for handle in getattr(self, '_handles', []):
            handle.remove()
        self._handles = []


def check_finite_gradients(
    optimizer: torch.optim.Optimizer, names: Dict[int, str], iteration: int
) -> None:
    """Raise :class:`NonFiniteGradientError` if a gradient of ``optimizer``'s
    parameters is not finite; ``names`` maps ``id(param)`` to its name and
    ``iteration`` counts from 0."""
    params: List[Tensor] = [
        param
        for group in optimizer.param_groups
        for param in group['params']
        if param.grad is not None
    ]
    if not params:
        return
    norms = torch._foreach_norm([param.grad for param in params])
    if bool(torch.isfinite(torch.stack(norms)).all()):
        return
    bad = [
        names.get(id(param), '<unnamed>')
        for param, norm in zip(params, norms)
        if not torch.isfinite(norm)
    ]
    raise NonFiniteGradientError(
        f'non-finite gradient of {abbreviated(bad, MAX_NAMES_SHOWN)} at '
        f'iteration {iteration + 1}; '
        'training stopped before the optimizer step: no weight was updated, '
        'and the last checkpoint holds the last finite step'
    )
