"""SOLOv2's ``model.test_cfg``: its defaults, the mask NMS it names, and the
check that runs when the model is built."""
from numbers import Number
from typing import Dict, NamedTuple, Optional, Tuple

from mmengine.config import ConfigDict

from ..layers.nms import DECAY_KERNELS


class NMSType(NamedTuple):
    """A mask NMS that ``test_cfg.nms_type`` can name."""
    function: str  # its name in mmsolo's FUNCTIONS registry
    keys: Tuple[str, ...]  # the test_cfg keys it reads besides the common


NMS_TYPES: Dict[str, NMSType] = dict(
    matrix=NMSType('matrix_nms', ('kernel', 'sigma')),
    hard=NMSType('hard_mask_nms', ('iou_thr', )),
    soft=NMSType('soft_mask_nms', ('sigma', )),
    fast=NMSType('fast_mask_nms', ('iou_thr', )))
DEFAULT_NMS_TYPE = 'matrix'

# Merged into every test_cfg; the NMS's own keys must be given with it.
COMMON_TEST_CFG = dict(
    nms_pre=500,
    score_thr=0.1,
    mask_thr=0.5,
    filter_thr=0.05,
    max_per_img=100)
# The test_cfg of a head built without one.
DEFAULT_TEST_CFG = dict(COMMON_TEST_CFG, kernel='gaussian', sigma=2.0)

_NUMBER_KEYS = ('score_thr', 'mask_thr', 'filter_thr', 'sigma', 'iou_thr')
_INT_KEYS = ('nms_pre', 'max_per_img')


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


def check_test_cfg(cfg: dict) -> None:
    """Raise a ValueError naming ``model.test_cfg`` if its mask NMS is
    unknown or incomplete, or a value has the wrong type."""
    nms_type = cfg.get('nms_type', DEFAULT_NMS_TYPE)
    if nms_type not in NMS_TYPES:
        raise ValueError(
            f'model.test_cfg.nms_type={nms_type!r} is not a mask NMS; use one '
            f'of {tuple(NMS_TYPES)}')
    missing = [key for key in NMS_TYPES[nms_type].keys if key not in cfg]
    if missing:
        raise ValueError(
            f'model.test_cfg.nms_type={nms_type!r} needs model.test_cfg keys '
            f'{missing}')
    for key in _NUMBER_KEYS + _INT_KEYS:
        value = cfg.get(key, 0)
        wanted = int if key in _INT_KEYS else Number
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise ValueError(f'model.test_cfg.{key}={value!r} must be a '
                             f'{"whole " if wanted is int else ""}number')
    if nms_type == 'matrix' and cfg.kernel not in DECAY_KERNELS:
        raise ValueError(f'model.test_cfg.kernel={cfg.kernel!r} must be one '
                         f'of {DECAY_KERNELS}')
