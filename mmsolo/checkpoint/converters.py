"""Conversion of other SOLOv2 implementations' weights to mmsolo's."""

import hashlib
import os
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from mmsolo.fileio import open_atomically
from .plain_state import to_plain
from .safe_loading import UnsafeCheckpointError, load_checkpoint_file

# (pattern, replacement) pairs tried in order on MMDetection 3.x SOLOv2 keys.
MMDET_SOLOV2_KEY_RULES: List[Tuple[str, str]] = [
    (
        r'^mask_head\.mask_feature_head\.convs_all_levels\.(\d+)\.conv(\d+)\.',
        r'mask_feature_neck.level_convs.\1.\2.',
    ),
    (
        r'^mask_head\.mask_feature_head\.conv_pred\.',
        'mask_feature_neck.fuse_conv.',
    ),
    (
        r'^mask_head\.(kernel_convs|cls_convs|conv_kernel|conv_cls)\.',
        r'mask_head.\1.',
    ),
    (r'^(backbone|neck)\.', r'\1.'),
]


def _rename(key: str, rules: List[Tuple[str, str]]) -> Optional[str]:
    for pattern, replacement in rules:
        new_key, count = re.subn(pattern, replacement, key)
        if count:
            return new_key
    return None


def convert_state_dict(
    state_dict: Dict[str, torch.Tensor],
    rules: List[Tuple[str, str]],
    source: str,
) -> 'OrderedDict[str, torch.Tensor]':
    """Rename every key of ``state_dict`` with ``rules``.

    Raises:
        KeyError: Listing every key no rule maps, so nothing is dropped
            silently.
    """
    converted = OrderedDict()
    unmapped = []
    for key, value in state_dict.items():
        new_key = _rename(key, rules)
        if new_key is None:
            unmapped.append(key)
        else:
            converted[new_key] = value
    if unmapped:
        shown = ', '.join(unmapped[:20])
        more = (
            f' (and {len(unmapped) - 20} more)' if len(unmapped) > 20 else ''
        )
        raise KeyError(
            f'not a {source} SOLOv2 state dict: {len(unmapped)} key(s) cannot '
            f'be mapped to mmsolo: {shown}{more}'
        )
    return converted


def convert_mmdet_state_dict(
    state_dict: Dict[str, torch.Tensor],
) -> 'OrderedDict[str, torch.Tensor]':
    """MMDetection 3.x ``SOLOv2`` state dict -> mmsolo ``SOLOv2`` state dict.

    The mask-feature branch, inside mmdet's head, becomes mmsolo's
    ``mask_feature_neck``; the rest keeps its names.
    """
    return convert_state_dict(
        state_dict, MMDET_SOLOV2_KEY_RULES, 'MMDetection'
    )


def load_state_dict_file(path: str, unsafe: bool = False) -> Tuple[dict, dict]:
    """The state dict in a checkpoint file (under ``state_dict`` or
    ``model`` if the file holds a dict with such a key) and the file's
    ``meta`` (empty if it has none), read by :func:`load_checkpoint_file`
    (safe unless ``unsafe``)."""
    try:
        checkpoint = load_checkpoint_file(path, 'cpu', unsafe=unsafe)
    except (FileNotFoundError, UnsafeCheckpointError):
        raise
    except Exception as error:  # corrupt, truncated, not a torch file
        raise ValueError(
            f'{path} is not a readable PyTorch checkpoint: {error}'
        ) from error
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f'{path} holds a {type(checkpoint).__name__}, '
            'not a checkpoint dict'
        )
    meta = checkpoint.get('meta')
    meta = dict(meta) if isinstance(meta, dict) else {}
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key], meta
    return checkpoint, meta


def converted_meta(
    source_meta: dict, src: str, layout: str, num_keys: int
) -> dict:
    """The output's ``meta``: the source's (``CLASSES`` of mmdet 1.x/2.x
    also as ``dataset_meta['classes']``, which mmdet 3's ``init_detector``
    reads) and ``converted_from``, a record of the source file."""
    meta = to_plain(dict(source_meta), "the source's meta")
    if 'dataset_meta' not in meta and meta.get('CLASSES'):
        meta['dataset_meta'] = dict(classes=tuple(meta['CLASSES']))
    meta['converted_from'] = dict(
        file=os.path.basename(src),
        sha256=_sha256(src),
        layout=layout,
        num_keys=num_keys,
    )
    return meta


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint_atomic(checkpoint: dict, path: str) -> None:
    """``torch.save`` ``checkpoint`` to ``path`` atomically (the old file or
    the whole new one; :func:`mmsolo.fileio.open_atomically`)."""
    with open_atomically(path) as file:
        torch.save(checkpoint, file)
