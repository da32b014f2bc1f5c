"""The states of the random generators a training process draws from, in a
form a checkpoint can hold (plain Python values and tensors, loadable with
``torch.load(weights_only=True)``)."""

import random
from typing import Any, Dict

import numpy as np
import torch


def get_random_states() -> Dict[str, Any]:
    """States of Python's ``random``, NumPy's global generator, torch's CPU
    generator and (when present) every CUDA device's generator."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    states = dict(
        python=random.getstate(),
        numpy=(
            kind,
            keys.tolist(),
            int(pos),
            int(has_gauss),
            float(cached_gaussian),
        ),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: Dict[str, Any]) -> None:
    """Restore states returned by :func:`get_random_states`."""
    version, internal, gauss_next = states['python']
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, cached_gaussian = states['numpy']
    np.random.set_state(
        (
            kind,
            np.asarray(keys, dtype=np.uint32),
            pos,
            has_gauss,
            cached_gaussian,
        )
    )
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])
