"""Checkpoints: safe reading, plain (weights-only) training checkpoints and
conversion of other SOLOv2 implementations' weights, fitting a checkpoint
of other classes for fine-tuning (foundation layer:
imports torch, NumPy, mmengine and :mod:`mmsolo.fileio` only)."""

from .adelaidet_layout import convert_adelaidet_state_dict
from .converters import convert_mmdet_state_dict, save_checkpoint_atomic
from .finetune_loading import (
    CLASSIFIERS,
    CheckpointMismatchError,
    ShapeMismatch,
    find_shape_mismatches,
    fit_checkpoint_to_model,
)
from .plain_state import (
    decode_message_hub,
    encode_message_hub,
    to_plain_checkpoint,
)
from .safe_loading import (
    UNSAFE_LOAD_FLAG,
    UnsafeCheckpointError,
    add_unsafe_load_argument,
    install_safe_loaders,
    load_checkpoint_file,
    load_url_safely,
    tool_checkpoint_loading,
    unsafe_checkpoint_loading,
)
from .solo_layout import convert_solo_state_dict
from .zoo_layouts import (
    LAYOUT_CONVERTERS,
    convert_zoo_checkpoint,
    convert_zoo_state_dict,
    detect_layout,
)

__all__ = [
    'CLASSIFIERS',
    'CheckpointMismatchError',
    'LAYOUT_CONVERTERS',
    'ShapeMismatch',
    'UNSAFE_LOAD_FLAG',
    'UnsafeCheckpointError',
    'add_unsafe_load_argument',
    'convert_adelaidet_state_dict',
    'convert_mmdet_state_dict',
    'convert_solo_state_dict',
    'convert_zoo_checkpoint',
    'convert_zoo_state_dict',
    'decode_message_hub',
    'detect_layout',
    'encode_message_hub',
    'find_shape_mismatches',
    'fit_checkpoint_to_model',
    'install_safe_loaders',
    'load_checkpoint_file',
    'load_url_safely',
    'save_checkpoint_atomic',
    'to_plain_checkpoint',
    'tool_checkpoint_loading',
    'unsafe_checkpoint_loading',
]
