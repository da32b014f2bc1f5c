"""Stop training at the first non-finite loss, before it reaches the
weights."""

import math
from typing import Mapping

import torch
from mmengine.logging import MessageHub


class NonFiniteLossError(FloatingPointError):
    """A loss term is NaN or infinite; raised before the optimizer step, so
    the weights (and every checkpoint) are those of the last good step."""


def check_finite_losses(log_vars: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`NonFiniteLossError` if a loss term is not finite.

    Args:
        log_vars: The reduced loss terms (``BaseModel.parse_losses``' second
            output), e.g. ``{'loss': ..., 'loss_mask': ..., 'loss_cls': ...}``;
            each value a scalar tensor. Entries without ``loss`` in their
            name (which mmengine leaves out of the total) are not checked.

    Raises:
        NonFiniteLossError: naming every non-finite term (the total ``loss``
            only when no term explains it) and, inside a runner's training
            loop, the iteration and epoch as the training log counts them
            (from 1).
    """
    losses = {
        name: value for name, value in log_vars.items() if 'loss' in name
    }  # what mmengine sums into the total
    if not losses:
        return
    stacked = torch.stack(
        [value.detach().float().reshape(()) for value in losses.values()]
    )
    if bool(torch.isfinite(stacked).all()):  # one device sync per step
        return
    values = dict(zip(losses, stacked.tolist()))
    bad = {
        name: value
        for name, value in values.items()
        if not math.isfinite(value) and name != 'loss'
    }
    if not bad and not math.isfinite(values.get('loss', 0.0)):
        bad = {'loss': values['loss']}
    terms = ', '.join(f'{name}={value}' for name, value in bad.items())
    raise NonFiniteLossError(
        f'non-finite loss {terms}{_where()}; training stopped before the '
        'optimizer step: no weight was updated, and the last checkpoint '
        'holds the last finite step'
    )


def _where() -> str:
    """`` at iteration I (epoch E)`` inside a runner's training loop; the
    epoch only when there are several (an iteration-based loop has one)."""
    hub = MessageHub.get_current_instance()
    if hub.get_info('loop_stage') != 'train':
        return ''
    where = f' at iteration {hub.get_info("iter") + 1}'
    if (hub.get_info('max_epochs') or 1) > 1:
        where += f' (epoch {hub.get_info("epoch") + 1})'
    return where
