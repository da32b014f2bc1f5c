"""Small state-dict helpers shared by the model-zoo layouts."""

from collections import OrderedDict
from typing import Dict, Mapping

import torch

# Prefix that (Distributed)DataParallel adds to every key when a wrapped
# model's state dict is saved.
WRAPPER_PREFIX = 'module.'


def strip_wrapper_prefix(
    state_dict: Mapping[str, object],
) -> 'OrderedDict[str, object]':
    """``state_dict`` without a ``module.`` prefix, if every key has one."""
    keys = list(state_dict)
    if keys and all(key.startswith(WRAPPER_PREFIX) for key in keys):
        return OrderedDict(
            (key[len(WRAPPER_PREFIX) :], value)
            for key, value in state_dict.items()
        )
    return OrderedDict(state_dict)


def as_tensors(state_dict: Mapping[str, object]) -> Dict[str, torch.Tensor]:
    """Values as tensors: detectron2-style files may hold numpy arrays."""
    return OrderedDict(
        (
            key,
            value
            if isinstance(value, torch.Tensor)
            else torch.as_tensor(value),
        )
        for key, value in state_dict.items()
    )


def add_num_batches_tracked(
    state_dict: 'OrderedDict[str, torch.Tensor]', bn_prefixes: list
) -> 'OrderedDict[str, torch.Tensor]':
    """Add a zero ``num_batches_tracked`` to every BatchNorm (named by its
    prefix, e.g. ``backbone.bn1``) that has none: FrozenBN (detectron2)
    stores no such buffer, while mmdet's ResNet uses ``nn.BatchNorm2d``, so
    the converted file then holds exactly the keys of the model."""
    for prefix in bn_prefixes:
        key = f'{prefix}.num_batches_tracked'
        if key not in state_dict:
            state_dict[key] = torch.tensor(0, dtype=torch.long)
    return state_dict
