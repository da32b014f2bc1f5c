"""Which SOLOv2 model zoo a state dict comes from, and its conversion.

Layouts (distinctive key prefixes, after a ``module.`` wrapper prefix is
dropped):

- ``'mmdet'``: MMDetection 3.x, ``mask_head.mask_feature_head.*``;
- ``'solo'``: the official WXinlong/SOLO (mmdet v1), ``bbox_head.*`` and
  ``mask_feat_head.*``;
- ``'adelaidet'``: AdelaiDet (detectron2), ``ins_head.*`` and
  ``backbone.bottom_up.*``.
"""

from collections import OrderedDict
from typing import Callable, Dict, Mapping, Optional, Tuple

import torch

from .adelaidet_layout import convert_adelaidet_state_dict
from .converters import (
    convert_mmdet_state_dict,
    converted_meta,
    load_state_dict_file,
    save_checkpoint_atomic,
)
from .key_utils import strip_wrapper_prefix
from .solo_layout import convert_solo_state_dict

LAYOUT_PREFIXES: Dict[str, Tuple[str, ...]] = dict(
    mmdet=('mask_head.mask_feature_head.',),
    solo=('bbox_head.', 'mask_feat_head.'),
    adelaidet=('ins_head.', 'backbone.bottom_up.', 'backbone.fpn_lateral'),
)
# Keys of a state dict that already is mmsolo's.
MMSOLO_PREFIXES = ('mask_feature_neck.',)

LAYOUT_CONVERTERS: Dict[
    str, Callable[[Dict[str, torch.Tensor]], 'OrderedDict[str, torch.Tensor]']
] = dict(
    mmdet=convert_mmdet_state_dict,
    solo=convert_solo_state_dict,
    adelaidet=convert_adelaidet_state_dict,
)


def _shown(keys: list, count: int = 5) -> str:
    more = f', ... ({len(keys)} keys)' if len(keys) > count else ''
    return ', '.join(keys[:count]) + more


def detect_layout(state_dict: Mapping[str, object]) -> str:
    """``'mmdet'``, ``'solo'`` or ``'adelaidet'``: the zoo whose key names
    ``state_dict`` has.

    Raises:
        ValueError: No layout (or more than one) matches, or the state dict
            already is mmsolo's; the message shows a few of its keys.
    """
    keys = list(strip_wrapper_prefix(state_dict))
    found = [
        name
        for name, prefixes in LAYOUT_PREFIXES.items()
        if any(key.startswith(prefixes) for key in keys)
    ]
    if len(found) == 1:
        return found[0]
    if not found and any(key.startswith(MMSOLO_PREFIXES) for key in keys):
        raise ValueError(
            "the state dict already has mmsolo's key names "
            f'(mask_feature_neck.*); nothing to convert. Keys: '
            f'{_shown(keys)}'
        )
    what = (
        'several layouts (' + ', '.join(found) + ')'
        if found
        else 'no known SOLOv2 layout'
    )
    raise ValueError(
        f'the state dict matches {what}: expected key prefixes '
        + '; '.join(
            f'{name}: {", ".join(prefixes)}'
            for name, prefixes in LAYOUT_PREFIXES.items()
        )
        + f'. Keys: {_shown(keys)}'
    )


def convert_zoo_state_dict(
    state_dict: Dict[str, torch.Tensor], layout: Optional[str] = None
) -> 'OrderedDict[str, torch.Tensor]':
    """Convert a SOLOv2 state dict of any supported zoo to mmsolo's.

    Args:
        state_dict: The source model's state dict.
        layout: ``'mmdet'``, ``'solo'`` or ``'adelaidet'``; detected from
            the key names (:func:`detect_layout`) when None.

    Raises:
        ValueError: Unknown ``layout`` or none detected.
        KeyError: Keys the layout's rules cannot map (listed).
    """
    state_dict = strip_wrapper_prefix(state_dict)
    if layout is None:
        layout = detect_layout(state_dict)
    if layout not in LAYOUT_CONVERTERS:
        raise ValueError(
            f'unknown layout {layout!r}; use one of {tuple(LAYOUT_CONVERTERS)}'
        )
    return LAYOUT_CONVERTERS[layout](state_dict)


def convert_zoo_checkpoint(
    src: str, dst: str, layout: str = 'auto', unsafe: bool = False
) -> str:
    """Convert the checkpoint file ``src`` of ``layout`` (one of
    :data:`LAYOUT_CONVERTERS`, or ``'auto'``: :func:`detect_layout`) into
    the mmsolo checkpoint ``dst``, keeping ``src``'s meta
    (:func:`~mmsolo.checkpoint.converters.converted_meta`). The source is
    read safely unless ``unsafe``; nothing is written when a key cannot be
    mapped. Returns a one-line report."""
    state_dict, source_meta = load_state_dict_file(src, unsafe=unsafe)
    if layout == 'auto':
        layout = detect_layout(state_dict)
    state_dict = convert_zoo_state_dict(state_dict, layout)
    meta = converted_meta(source_meta, src, layout, len(state_dict))
    save_checkpoint_atomic(dict(state_dict=state_dict, meta=meta), dst)
    classes = meta.get('dataset_meta', {}).get('classes')
    kept = f'{len(classes)} class names' if classes else 'no class names'
    return (
        f'converted {len(state_dict)} keys ({layout} layout): {src} -> '
        f'{dst}; meta kept ({kept}) with converted_from'
    )
