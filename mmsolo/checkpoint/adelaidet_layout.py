"""Weights of AdelaiDet's SOLOv2 (aim-uofa/AdelaiDet, detectron2) for mmsolo.

AdelaiDet's ``SOLOv2`` holds a detectron2 ``build_resnet_fpn_backbone``
(``backbone.bottom_up``: an MSRA, caffe-style ResNet with FrozenBN and the
stride in the 1x1 conv; ``backbone.fpn_*``: FPN with the ``LastLevelMaxPool``
top block), ``ins_head`` (``SOLOv2InsHead``: category and kernel towers)
and ``mask_head`` (``SOLOv2MaskHead``: the unified mask features). Its key
names (R50, ``MODEL.SOLOV2.NORM = "GN"``)::

    backbone.bottom_up.stem.conv1.weight
    backbone.bottom_up.stem.conv1.norm.{weight,bias,running_mean,running_var}
    backbone.bottom_up.res{2-5}.{b}.conv{1-3}.weight   (+ .norm.* as above)
    backbone.bottom_up.res{2-5}.0.shortcut.weight      (+ .norm.*)
    backbone.fpn_lateral{2-5}.{weight,bias}
    backbone.fpn_output{2-5}.{weight,bias}
    ins_head.{cate,kernel}_tower.{3i}.weight           conv i, no bias
    ins_head.{cate,kernel}_tower.{3i+1}.{weight,bias}  its GroupNorm
    ins_head.{cate,kernel}_pred.{weight,bias}
    mask_head.convs_all_levels.{l}.conv{j}.0.weight    conv, no bias
    mask_head.convs_all_levels.{l}.conv{j}.1.{weight,bias}  GroupNorm
    mask_head.conv_pred.0.weight                       1x1 conv, no bias
    mask_head.conv_pred.1.{weight,bias}                GroupNorm

They map onto mmdet's ``ResNet(style='caffe')`` + ``FPN`` and mmsolo's
``SOLOv2Head`` + ``MaskFeatureNeck``; tensors are kept as they are. A tower
without GroupNorm (``NORM = "none"``: convs with bias, ReLU at odd
indices) does not match these rules and is reported as unmapped keys: its
mask head would keep a GroupNorm after ``conv_pred`` but none elsewhere,
which ``MaskFeatureNeck`` cannot express.
"""

from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from .converters import convert_state_dict
from .key_utils import (
    add_num_batches_tracked,
    as_tensors,
    strip_wrapper_prefix,
)

# Convs per tower that the rules cover (AdelaiDet's default is 4).
MAX_TOWER_CONVS = 8
_NORM_PARAMS = r'(weight|bias|running_mean|running_var|num_batches_tracked)'


def _backbone_rules() -> List[Tuple[str, str]]:
    """detectron2 ResNet (res2..res5) and FPN -> mmdet ResNet and FPN."""
    rules = [
        (
            r'^backbone\.bottom_up\.stem\.conv1\.weight$',
            'backbone.conv1.weight',
        ),
        (
            rf'^backbone\.bottom_up\.stem\.conv1\.norm\.{_NORM_PARAMS}$',
            r'backbone.bn1.\1',
        ),
    ]
    for stage in range(2, 6):
        src = rf'^backbone\.bottom_up\.res{stage}\.(\d+)\.'
        dst = f'backbone.layer{stage - 1}.\\1.'
        rules += [
            (src + r'conv(\d)\.weight$', dst + r'conv\2.weight'),
            (src + rf'conv(\d)\.norm\.{_NORM_PARAMS}$', dst + r'bn\2.\3'),
            (src + r'shortcut\.weight$', dst + 'downsample.0.weight'),
            (
                src + rf'shortcut\.norm\.{_NORM_PARAMS}$',
                dst + r'downsample.1.\2',
            ),
        ]
        level = stage - 2
        rules += [
            (
                rf'^backbone\.fpn_lateral{stage}\.(weight|bias)$',
                f'neck.lateral_convs.{level}.conv.\\1',
            ),
            (
                rf'^backbone\.fpn_output{stage}\.(weight|bias)$',
                f'neck.fpn_convs.{level}.conv.\\1',
            ),
        ]
    return rules


def _head_rules() -> List[Tuple[str, str]]:
    """``ins_head`` and ``mask_head`` -> mmsolo's head and mask neck."""
    rules = []
    for tower, ours in (('cate', 'cls_convs'), ('kernel', 'kernel_convs')):
        for i in range(MAX_TOWER_CONVS):
            src = rf'^ins_head\.{tower}_tower\.'
            dst = f'mask_head.{ours}.{i}.'
            rules += [
                (src + rf'{3 * i}\.weight$', dst + 'conv.weight'),
                (src + rf'{3 * i + 1}\.(weight|bias)$', dst + r'gn.\1'),
            ]
    rules += [
        (r'^ins_head\.cate_pred\.(weight|bias)$', r'mask_head.conv_cls.\1'),
        (
            r'^ins_head\.kernel_pred\.(weight|bias)$',
            r'mask_head.conv_kernel.\1',
        ),
        (
            r'^mask_head\.convs_all_levels\.(\d+)\.conv(\d+)\.0\.weight$',
            r'mask_feature_neck.level_convs.\1.\2.conv.weight',
        ),
        (
            r'^mask_head\.convs_all_levels\.(\d+)\.conv(\d+)\.1\.(weight|bias)$',
            r'mask_feature_neck.level_convs.\1.\2.gn.\3',
        ),
        (
            r'^mask_head\.conv_pred\.0\.weight$',
            'mask_feature_neck.fuse_conv.conv.weight',
        ),
        (
            r'^mask_head\.conv_pred\.1\.(weight|bias)$',
            r'mask_feature_neck.fuse_conv.gn.\1',
        ),
    ]
    return rules


ADELAIDET_SOLOV2_KEY_RULES: List[Tuple[str, str]] = (
    _backbone_rules() + _head_rules()
)


def convert_adelaidet_state_dict(
    state_dict: Dict[str, torch.Tensor],
) -> 'OrderedDict[str, torch.Tensor]':
    """AdelaiDet (detectron2) ``SOLOv2`` state dict -> mmsolo's.

    The result fits a config with ``ResNet(style='caffe')`` (e.g.
    ``configs/solov2/solov2_r50-caffe_fpn_ms-3x_coco.py``). FrozenBN
    statistics become BatchNorm buffers; a zero ``num_batches_tracked`` is
    added for each. numpy values (detectron2 ``.pkl`` style) become tensors.

    Raises:
        KeyError: Listing every key that is not part of an AdelaiDet SOLOv2
            model with GroupNorm heads.
    """
    converted = convert_state_dict(
        as_tensors(strip_wrapper_prefix(state_dict)),
        ADELAIDET_SOLOV2_KEY_RULES,
        'AdelaiDet (detectron2)',
    )
    bn_prefixes = [
        key[: -len('.running_var')]
        for key in converted
        if key.startswith('backbone.') and key.endswith('.running_var')
    ]
    return add_num_batches_tracked(converted, bn_prefixes)
