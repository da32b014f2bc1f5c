"""Shared by the zoo-layout tests: rename keys, compare outputs (the
configs' models come from ``support.seeded_model``)."""

import os
import re
from typing import List, Tuple

import torch

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
CONFIG_DIR = os.path.join(REPO_ROOT, 'configs', 'solov2')


def rename(state_dict: dict, rules: List[Tuple[str, str]]) -> dict:
    """Keys renamed by the first matching (pattern, replacement) rule."""
    out = {}
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            new_key, count = re.subn(pattern, replacement, key)
            if count:
                out[new_key] = value
                break
        else:
            raise AssertionError(f'no rule for {key}')
    return out


def assert_outputs_close(
    ref: torch.Tensor, ours: torch.Tensor, rtol: float = 1e-4
) -> None:
    """Two tensors equal up to float error relative to their scale."""
    assert ref.shape == ours.shape, (ref.shape, ours.shape)
    scale = ref.abs().max().item()
    diff = (ref - ours).abs().max().item()
    assert diff <= rtol * max(scale, 1e-6), (diff, scale)
