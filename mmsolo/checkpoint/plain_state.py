"""Training checkpoints made of tensors and plain containers only, so that
``torch.load(weights_only=True)`` reads them (mmsolo, mmdet's
``init_detector`` and ``DetInferencer``, mmdet's ``tools/test.py``).

mmengine's runner puts its ``MessageHub`` state in every checkpoint: a dict
of ``HistoryBuffer`` objects (NumPy arrays inside), which the restricted
unpickler refuses. :func:`encode_message_hub` stores each buffer as a dict of
two tensors (bit-exact: the arrays' dtypes are kept) and
:func:`decode_message_hub` gives ``MessageHub.load_state_dict`` its buffers
back; :func:`to_plain` turns NumPy values anywhere else into tensors and
Python numbers and names the place of anything it cannot store.
"""

import numbers
from collections import Counter, OrderedDict
from typing import Any, Dict

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

#: Marks a message hub stored by :func:`encode_message_hub`.
PLAIN_MESSAGE_HUB = 'mmsolo.plain_message_hub.v1'

_LEAF_TYPES = (
    str,
    bytes,
    bool,
    int,
    float,
    complex,
    type(None),
    torch.Tensor,
    torch.Size,
    torch.dtype,
    torch.device,
)


def encode_history_buffer(buffer: HistoryBuffer) -> Dict[str, Any]:
    """``{'log_history': Tensor (N,), 'count_history': Tensor (N,),
    'max_length': int}`` holding the buffer's arrays as they are."""
    log_history, count_history = buffer.data
    return dict(
        log_history=torch.from_numpy(np.array(log_history)),
        count_history=torch.from_numpy(np.array(count_history)),
        max_length=int(buffer.max_length),
    )


def decode_history_buffer(stored: Dict[str, Any]) -> HistoryBuffer:
    """The ``HistoryBuffer`` :func:`encode_history_buffer` stored."""
    return HistoryBuffer(
        log_history=stored['log_history'].numpy(),
        count_history=stored['count_history'].numpy(),
        max_length=stored['max_length'],
    )


def encode_message_hub(state: Dict[str, Any]) -> Dict[str, Any]:
    """``MessageHub.state_dict()`` with every ``HistoryBuffer`` stored as
    tensors and its runtime info made plain (:func:`to_plain`)."""
    if state.get('format') == PLAIN_MESSAGE_HUB:
        return state
    log_scalars = OrderedDict(
        (
            key,
            encode_history_buffer(value)
            if isinstance(value, HistoryBuffer)
            else to_plain(value, f"message_hub['log_scalars'][{key!r}]"),
        )
        for key, value in state['log_scalars'].items()
    )
    return dict(
        format=PLAIN_MESSAGE_HUB,
        log_scalars=log_scalars,
        runtime_info=to_plain(
            state['runtime_info'], "message_hub['runtime_info']"
        ),
        resumed_keys=to_plain(
            state['resumed_keys'], "message_hub['resumed_keys']"
        ),
    )


def decode_message_hub(state: Dict[str, Any]) -> Dict[str, Any]:
    """What ``MessageHub.load_state_dict`` takes, from a message hub stored
    by :func:`encode_message_hub` or by mmengine itself (returned as is)."""
    if state.get('format') != PLAIN_MESSAGE_HUB:
        return state
    log_scalars = OrderedDict(
        (key, decode_history_buffer(value))
        for key, value in state['log_scalars'].items()
    )
    return dict(
        log_scalars=log_scalars,
        runtime_info=state['runtime_info'],
        resumed_keys=state['resumed_keys'],
    )


def to_plain(value: Any, where: str = 'checkpoint') -> Any:
    """``value`` with NumPy arrays as tensors and NumPy scalars as Python
    numbers, containers rebuilt of the same kind.

    Raises:
        TypeError: Naming ``where`` (e.g. ``checkpoint['meta']['x']``) for a
            value of any other type, which ``weights_only`` loading refuses.
    """
    if isinstance(value, np.generic) and isinstance(
        value.item(), numbers.Number
    ):
        return value.item()  # before the leaves: np.float64 is a float
    if isinstance(value, _LEAF_TYPES):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        items = [
            (key, to_plain(item, f'{where}[{key!r}]'))
            for key, item in value.items()
        ]
        if all(new is value[key] for key, new in items) and type(value) in (
            dict,
            OrderedDict,
            Counter,
        ):
            return value  # unchanged: keeps e.g. a state dict's _metadata
        return (
            type(value) if type(value) in (OrderedDict, Counter) else dict
        )(items)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [
            to_plain(item, f'{where}[{index}]')
            for index, item in enumerate(value)
        ]
        if isinstance(value, (set, frozenset)):
            return set(items)
        if type(value) in (list, tuple) and all(
            new is old for new, old in zip(items, value)
        ):
            return value
        return tuple(items) if isinstance(value, tuple) else list(items)
    raise TypeError(
        f'{where} holds a {type(value).__module__}.{type(value).__name__}, '
        'which a checkpoint loadable with torch.load(weights_only=True) '
        'cannot hold; store tensors, numbers, strings and plain containers '
        'there'
    )


def to_plain_checkpoint(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """A checkpoint dict (as ``Runner.save_checkpoint`` builds it) made
    loadable with ``weights_only=True``: the message hub encoded, the rest
    made plain."""
    plain = {}
    for key, value in checkpoint.items():
        if key == 'message_hub':
            plain[key] = encode_message_hub(value)
        else:
            plain[key] = to_plain(value, f'checkpoint[{key!r}]')
    return plain
