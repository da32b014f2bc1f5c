"""MMDetection's SOLOv2 as a reference: the same weights in ours and theirs.

Used by the parity tests and the benchmarks.
"""

import copy
import os
from typing import Optional, Tuple

import torch
from mmengine.config import ConfigDict

from .models import model_config, seeded_model

# mmsolo's config equivalent to mmdet's solov2_r50_fpn_1x_coco.py, relative
# to the configs/ directory (see mmsolo_config_path).
MMSOLO_R50_CONFIG = 'solov2/solov2_r50_fpn_1x_coco.py'
# Where mmsolo_config_path looks for configs/ when it is set.
CONFIG_ROOT_ENV = 'MMSOLO_CONFIG_ROOT'


def mmsolo_config_path(name: str = MMSOLO_R50_CONFIG) -> str:
    """Path of one of mmsolo's configs, ``name`` relative to ``configs/``.

    The configs are not part of the installed package: they are looked up
    in ``$MMSOLO_CONFIG_ROOT`` if set, else in the checkout these tests
    are in (``tests/support/`` -> ``configs/``), else in ``./configs``.

    Raises:
        FileNotFoundError: naming the places looked in.
    """
    repo_root = os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    )
    roots = [
        os.environ.get(CONFIG_ROOT_ENV),
        os.path.join(repo_root, 'configs'),
        os.path.abspath('configs'),
    ]
    roots = [root for root in roots if root]
    for root in roots:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f'mmsolo config {name} not found in {roots}; set {CONFIG_ROOT_ENV} '
        'to the configs/ directory of an mmsolo checkout'
    )


def mmdet_config_path(name: str = 'solov2_r50_fpn_1x_coco.py') -> str:
    """Path of one of the SOLOv2 configs installed with mmdet."""
    import mmdet

    path = os.path.join(
        os.path.dirname(mmdet.__file__), '.mim', 'configs', 'solov2', name
    )
    if not os.path.isfile(path):
        raise FileNotFoundError(f'mmdet config not found: {path}')
    return path


def build_paired_solov2(
    test_cfg: Optional[dict] = None,
    seed: int = 0,
    mmdet_config: str = 'solov2_r50_fpn_1x_coco.py',
    mmsolo_config: Optional[str] = None,
    kernel_scale: float = 1.0,
    model_overrides: Optional[dict] = None,
    channels_last: Optional[bool] = None,
) -> Tuple[torch.nn.Module, torch.nn.Module]:
    """mmdet's SOLOv2 with seeded random weights, and mmsolo's with the same
    weights through the checkpoint converter. Both in eval mode.

    Args:
        test_cfg (dict, optional): Overrides of both test configs.
        seed (int): Seed of the weight initialization.
        mmdet_config (str): Name of the mmdet SOLOv2 config.
        mmsolo_config (str, optional): Path of the equivalent mmsolo
            config; ``mmsolo_config_path()`` (the R50 1x) if None.
        kernel_scale (float): Multiplies the dynamic-kernel predictor's
            weights, spreading the random masks' probabilities.
        model_overrides (dict, optional): Merged into both configs'
            ``model`` (e.g. ``dict(backbone=dict(dcn=None))``).
        channels_last (bool, optional): Our model's ``channels_last``;
            the config's if None. False gives ours mmdet's memory layout,
            hence its float rounding in the convolutions (the R50 configs
            run NHWC).

    Returns:
        tuple: ``(reference, ours)``.
    """
    our_cfg = model_config(
        mmsolo_config or mmsolo_config_path(),
        test_cfg,
        model_overrides,
        channels_last,
    )
    ref_cfg = model_config(
        mmdet_config_path(mmdet_config), test_cfg, model_overrides
    )
    return _build_pair(ref_cfg, our_cfg, seed, kernel_scale)


def mmdet_equivalent_model_cfg(model_cfg: dict) -> ConfigDict:
    """mmdet's SOLOv2 model config equal to one of ours whose mask-feature
    neck is a ``MaskFeatureNeck``: mmdet holds that branch in its head
    (``mask_head.mask_feature_head``); the rest keeps its settings
    (``channels_last``, ours only, is dropped).

    Raises:
        ValueError: the neck is of another type (mmdet has no equivalent).
    """
    cfg = ConfigDict(copy.deepcopy(dict(model_cfg)))
    neck = cfg.pop('mask_feature_neck')
    if neck.pop('type') not in ('MaskFeatureNeck', 'mmsolo.MaskFeatureNeck'):
        raise ValueError('mmdet has only the shared mask-feature branch')
    neck.pop('with_coord', None)
    cfg.pop('channels_last', None)  # a memory layout, not a setting
    cfg.type = 'SOLOv2'
    cfg.mask_head.type = 'SOLOV2Head'
    cfg.mask_head.mask_feature_head = neck
    return cfg


def build_paired_from_mmsolo_config(
    mmsolo_config: str, seed: int = 0, kernel_scale: float = 1.0
) -> Tuple[torch.nn.Module, torch.nn.Module]:
    """Like :func:`build_paired_solov2`, mmdet's model being built from
    :func:`mmdet_equivalent_model_cfg` of the mmsolo config at
    ``mmsolo_config`` (e.g. the quick-start one, which mmdet does not
    ship)."""
    our_cfg = model_config(mmsolo_config)
    return _build_pair(
        mmdet_equivalent_model_cfg(our_cfg), our_cfg, seed, kernel_scale
    )


def _build_pair(
    ref_cfg: dict, our_cfg: dict, seed: int, kernel_scale: float
) -> Tuple[torch.nn.Module, torch.nn.Module]:
    """mmdet's model of ``ref_cfg`` seeded, ours of ``our_cfg`` loading its
    converted weights; both in eval mode."""
    from mmsolo.checkpoint import convert_mmdet_state_dict

    reference = seeded_model(
        ref_cfg,
        seed,
        scope='mmdet',
        kernel_scale=kernel_scale,
        reseed_before_init=True,
    )
    ours = seeded_model(our_cfg, seed=None)
    ours.load_state_dict(
        convert_mmdet_state_dict(reference.state_dict()), strict=True
    )
    return reference, ours
