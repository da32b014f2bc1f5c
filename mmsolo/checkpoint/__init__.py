"""Checkpoints: safe reading, plain (weights-only) training checkpoints and
conversion of other SOLOv2 implementations' weights (foundation layer:
imports torch, NumPy, mmengine and :mod:`mmsolo.fileio` only)."""
from .converters import (LAYOUT_CONVERTERS, convert_mmdet_state_dict,
                         convert_zoo_checkpoint, detect_layout,
                         save_checkpoint_atomic)
from .plain_state import (decode_message_hub, encode_message_hub,
                          to_plain_checkpoint)
from .safe_loading import (UNSAFE_LOAD_FLAG, UnsafeCheckpointError,
                           add_unsafe_load_argument, install_safe_loaders,
                           load_checkpoint_file, load_url_safely,
                           tool_checkpoint_loading, unsafe_checkpoint_loading)

__all__ = [
    'UNSAFE_LOAD_FLAG', 'UnsafeCheckpointError', 'add_unsafe_load_argument',
    'LAYOUT_CONVERTERS', 'convert_mmdet_state_dict', 'convert_zoo_checkpoint',
    'detect_layout',
    'decode_message_hub', 'encode_message_hub', 'install_safe_loaders',
    'load_checkpoint_file', 'load_url_safely', 'save_checkpoint_atomic',
    'to_plain_checkpoint', 'tool_checkpoint_loading',
    'unsafe_checkpoint_loading'
]
