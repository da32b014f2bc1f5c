"""SOLOv2's ``model.test_cfg`` (the prediction settings): its defaults, the
mask NMS it names, the check that runs when the model is built, and the
boxes it derives from the predicted masks.

Besides the NMS, ``mask_box`` says how a predicted instance's box is
derived from its mask (:func:`mmsolo.models.layers.masks_to_boxes`):
``'tight'`` (the default, mmdet's ``mask2bbox``: the box of every pixel)
or ``'main_parts'`` (stray pixels cut off from the object by an empty row
or column left out; a run of rows or columns is kept when it holds at
least ``mask_box_min_part`` of the largest run's pixels). With
``mask_box_thr`` the box is that of the pixels whose mask probability is
above it rather than above ``mask_thr`` (None, the default: the mask's own
pixels): a lower threshold reaches into corners that the 1/4-scale mask
rounds off.
"""

from numbers import Number
from typing import Dict, NamedTuple, Optional, Tuple

from mmengine.config import ConfigDict
from torch import Tensor

from ..layers.mask_boxes import (
    DEFAULT_MIN_PART,
    MASK_BOX_MODES,
    masks_to_boxes,
)
from ..layers.nms import DECAY_KERNELS


class NMSType(NamedTuple):
    """A mask NMS that ``test_cfg.nms_type`` can name."""

    function: str  # its name in mmsolo's FUNCTIONS registry
    keys: Tuple[str, ...]  # the test_cfg keys it reads besides the common


NMS_TYPES: Dict[str, NMSType] = dict(
    matrix=NMSType('matrix_nms', ('kernel', 'sigma')),
    hard=NMSType('hard_mask_nms', ('iou_thr',)),
    soft=NMSType('soft_mask_nms', ('sigma',)),
    fast=NMSType('fast_mask_nms', ('iou_thr',)),
)
DEFAULT_NMS_TYPE = 'matrix'

# Merged into every test_cfg; the NMS's own keys must be given with it.
COMMON_TEST_CFG = dict(
    nms_pre=500,
    score_thr=0.1,
    mask_thr=0.5,
    filter_thr=0.05,
    max_per_img=100,
    mask_box='tight',
    mask_box_min_part=DEFAULT_MIN_PART,
    mask_box_thr=None,
)
# The test_cfg of a head built without one.
DEFAULT_TEST_CFG = dict(COMMON_TEST_CFG, kernel='gaussian', sigma=2.0)

_NUMBER_KEYS = (
    'score_thr',
    'mask_thr',
    'filter_thr',
    'sigma',
    'iou_thr',
    'mask_box_min_part',
)
_INT_KEYS = ('nms_pre', 'max_per_img')


def predict_cfg_keys(nms_type: str = DEFAULT_NMS_TYPE) -> Tuple[str, ...]:
    """The keys of a checked test_cfg whose mask NMS is ``nms_type``: the
    common ones (:data:`COMMON_TEST_CFG`) and the NMS's own."""
    return tuple(COMMON_TEST_CFG) + NMS_TYPES[nms_type].keys


def build_test_cfg(test_cfg: Optional[dict]) -> ConfigDict:
    """``test_cfg`` over :data:`COMMON_TEST_CFG` (:data:`DEFAULT_TEST_CFG`
    when None), checked.

    Raises:
        ValueError: naming the ``model.test_cfg`` field that is unknown,
            missing or of the wrong type.
    """
    if test_cfg is None:
        cfg = ConfigDict(DEFAULT_TEST_CFG)
    else:
        cfg = ConfigDict(COMMON_TEST_CFG, **test_cfg)
    check_test_cfg(cfg)
    return cfg


def _is_a(value, wanted: type) -> bool:
    """``value`` is a ``wanted`` (int or Number) and not a bool."""
    return isinstance(value, wanted) and not isinstance(value, bool)


def check_test_cfg(cfg: dict) -> None:
    """Raise a ValueError naming ``model.test_cfg`` if its mask NMS is
    unknown or incomplete, a value has the wrong type, or its box mode
    (``mask_box``, ``mask_box_min_part``, ``mask_box_thr``) is unknown or
    out of range."""
    nms_type = cfg.get('nms_type', DEFAULT_NMS_TYPE)
    if nms_type not in NMS_TYPES:
        raise ValueError(
            f'model.test_cfg.nms_type={nms_type!r} is not a mask NMS; use one '
            f'of {tuple(NMS_TYPES)}'
        )
    missing = [key for key in NMS_TYPES[nms_type].keys if key not in cfg]
    if missing:
        raise ValueError(
            f'model.test_cfg.nms_type={nms_type!r} needs model.test_cfg keys '
            f'{missing}'
        )
    for key in _NUMBER_KEYS + _INT_KEYS:
        value = cfg.get(key, 0)
        wanted = int if key in _INT_KEYS else Number
        if not _is_a(value, wanted):
            raise ValueError(
                f'model.test_cfg.{key}={value!r} must be a '
                f'{"whole " if wanted is int else ""}number'
            )
    if nms_type == 'matrix' and cfg.kernel not in DECAY_KERNELS:
        raise ValueError(
            f'model.test_cfg.kernel={cfg.kernel!r} must be one '
            f'of {DECAY_KERNELS}'
        )
    check_mask_box(cfg)


def mask_box_settings(cfg: Optional[dict]) -> Tuple[str, float]:
    """``(mask_box, mask_box_min_part)`` of a test config, the defaults
    for keys it lacks (or for None): the arguments of
    :func:`mmsolo.models.layers.masks_to_boxes`."""
    cfg = cfg or {}
    return (
        cfg.get('mask_box', COMMON_TEST_CFG['mask_box']),
        cfg.get('mask_box_min_part', DEFAULT_MIN_PART),
    )


def mask_box_threshold(cfg: Optional[dict]) -> Optional[float]:
    """``mask_box_thr`` of a test config: the probability above which a
    pixel counts for the box, or None (the default) for the mask's own
    pixels."""
    return (cfg or {}).get('mask_box_thr')


def instance_boxes(
    masks: Tensor,
    probs: Optional[Tensor],
    cfg: Optional[dict],
    from_probs: bool = False,
) -> Tensor:
    """Boxes (n, 4) float ``(x0, y0, x1, y1)`` of predicted instances, as
    a test config says (:func:`mask_box_settings`,
    :func:`mask_box_threshold`): of the masks' pixels, or with
    ``mask_box_thr`` of the pixels whose probability is above it.

    Args:
        masks (Tensor): (n, H, W) bool masks, ``probs > mask_thr``.
        probs (Tensor, optional): (n, H, W) the probabilities they were
            thresholded from; needed with ``mask_box_thr`` or
            ``from_probs``.
        cfg (dict, optional): A test config (None: tight boxes of the
            masks).
        from_probs (bool): Tight boxes from the row and column maxima of
            ``probs`` (the same boxes, see
            :func:`~mmsolo.models.layers.masks_to_boxes`), which spares an
            ONNX graph the casts of the bool masks.
    """
    mask_box, min_part = mask_box_settings(cfg)
    box_thr = mask_box_threshold(cfg)
    thr = (cfg or {}).get('mask_thr') if box_thr is None else box_thr
    pixels = masks if box_thr is None else probs > box_thr
    return masks_to_boxes(
        pixels, mask_box, min_part, probs if from_probs else None, thr
    )


def check_mask_box(cfg: dict) -> None:
    """Raise a ValueError naming the field if ``cfg.mask_box`` is not one
    of :data:`MASK_BOX_MODES`, ``cfg.mask_box_min_part`` is not in [0, 1]
    or ``cfg.mask_box_thr`` is neither None nor in (0, 1)."""
    mask_box, min_part = mask_box_settings(cfg)
    if mask_box not in MASK_BOX_MODES:
        raise ValueError(
            f'model.test_cfg.mask_box={mask_box!r} is not a box '
            f'mode; use one of {MASK_BOX_MODES}'
        )
    if not 0 <= min_part <= 1:
        raise ValueError(
            f'model.test_cfg.mask_box_min_part={min_part!r} must be in [0, 1]'
        )
    box_thr = mask_box_threshold(cfg)
    if box_thr is not None and not (
        _is_a(box_thr, Number) and 0 < box_thr < 1
    ):
        raise ValueError(
            f'model.test_cfg.mask_box_thr={box_thr!r} must be '
            'None (boxes of the masks) or a probability in '
            '(0, 1)'
        )
