"""Conversion of other SOLOv2 implementations' weights to mmsolo's."""
import os
import re
import tempfile
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Tuple

import torch

# (pattern, replacement) pairs tried in order on MMDetection 3.x SOLOv2 keys.
MMDET_SOLOV2_KEY_RULES: List[Tuple[str, str]] = [
    (r'^mask_head\.mask_feature_head\.convs_all_levels\.(\d+)\.conv(\d+)\.',
     r'mask_feature_neck.level_convs.\1.\2.'),
    (r'^mask_head\.mask_feature_head\.conv_pred\.',
     'mask_feature_neck.fuse_conv.'),
    (r'^mask_head\.(kernel_convs|cls_convs|conv_kernel|conv_cls)\.',
     r'mask_head.\1.'),
    (r'^(backbone|neck)\.', r'\1.'),
]


def _rename(key: str, rules: List[Tuple[str, str]]) -> Optional[str]:
    for pattern, replacement in rules:
        new_key, count = re.subn(pattern, replacement, key)
        if count:
            return new_key
    return None


def convert_state_dict(state_dict: Dict[str, torch.Tensor],
                       rules: List[Tuple[str, str]],
                       source: str) -> 'OrderedDict[str, torch.Tensor]':
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
        more = f' (and {len(unmapped) - 20} more)' if len(unmapped) > 20 \
            else ''
        raise KeyError(
            f'not a {source} SOLOv2 state dict: {len(unmapped)} key(s) cannot '
            f'be mapped to mmsolo: {shown}{more}')
    return converted


def convert_mmdet_state_dict(
        state_dict: Dict[str, torch.Tensor]
) -> 'OrderedDict[str, torch.Tensor]':
    """MMDetection 3.x ``SOLOv2`` state dict -> mmsolo ``SOLOv2`` state dict.

    The mask-feature branch, inside mmdet's head, becomes mmsolo's
    ``mask_feature_neck``; the rest keeps its names.
    """
    return convert_state_dict(state_dict, MMDET_SOLOV2_KEY_RULES,
                              'MMDetection')


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """The state dict in a checkpoint file (under ``state_dict`` or
    ``model`` if the file holds a dict with such a key)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as error:  # corrupt, truncated, not a torch file
        raise ValueError(
            f'{path} is not a readable PyTorch checkpoint: {error}') from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path} holds a {type(checkpoint).__name__}, '
                         'not a checkpoint dict')
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def save_checkpoint_atomic(checkpoint: dict, path: str) -> None:
    """Write ``checkpoint`` to ``path`` through a temporary file in the same
    folder, so that ``path`` is either the old file or the whole new one."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(dir=folder, suffix='.tmp')
    try:
        with os.fdopen(handle, 'wb') as tmp_file:
            torch.save(checkpoint, tmp_file)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def convert_checkpoint_file(src: str, dst: str,
                            convert: Callable[[dict], dict]) -> int:
    """Convert the checkpoint ``src`` into ``dst``; returns the key count."""
    state_dict = convert(load_state_dict_file(src))
    save_checkpoint_atomic(
        dict(state_dict=state_dict, meta=dict(converted_from=src)), dst)
    return len(state_dict)
