"""Weights of the official SOLO repository (WXinlong/SOLO) for mmsolo.

The official SOLOv2 code is a fork of MMDetection v1.0.0. Its detector
holds ``backbone`` (mmdet's ResNet / ResNeXt), ``neck`` (mmdet's FPN),
``bbox_head`` (``SOLOv2Head`` or ``SOLOv2LightHead``: the category and
kernel branches) and ``mask_feat_head`` (``MaskFeatHead``: the unified mask
features). Its key names, for a layout with a DCN in the head::

    bbox_head.cate_convs.{i}.conv.weight            3x3 conv (no bias, GN)
    bbox_head.cate_convs.{i}.gn.{weight,bias}
    bbox_head.kernel_convs.{i}.conv.conv_offset.{weight,bias}   DCN offsets
    bbox_head.solo_cate.{weight,bias}               C = num_classes - 1
    bbox_head.solo_kernel.{weight,bias}             E * 1 * 1 kernels
    mask_feat_head.convs_all_levels.{l}.conv{j}.conv.weight
    mask_feat_head.convs_all_levels.{l}.conv{j}.gn.{weight,bias}
    mask_feat_head.conv_pred.0.conv.weight          1x1 conv, GN
    backbone.layer{s}.{b}.conv2.conv_offset.{weight,bias}       DCN offsets

The modules are the same as mmsolo's up to their names (mmdet v1's
``DeformConvPack`` / ``ModulatedDeformConvPack`` store the offset conv as
``conv_offset`` like mmcv 2's ``DCN`` / ``DCNv2``), so conversion renames
keys only; every tensor is kept as it is.
"""

from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from .converters import convert_state_dict
from .key_utils import strip_wrapper_prefix

# (pattern, replacement) pairs tried in order on official SOLOv2 keys.
SOLO_SOLOV2_KEY_RULES: List[Tuple[str, str]] = [
    (r'^bbox_head\.cate_convs\.', 'mask_head.cls_convs.'),
    (r'^bbox_head\.kernel_convs\.', 'mask_head.kernel_convs.'),
    (r'^bbox_head\.solo_cate\.', 'mask_head.conv_cls.'),
    (r'^bbox_head\.solo_kernel\.', 'mask_head.conv_kernel.'),
    (
        r'^mask_feat_head\.convs_all_levels\.(\d+)\.conv(\d+)\.',
        r'mask_feature_neck.level_convs.\1.\2.',
    ),
    (r'^mask_feat_head\.conv_pred\.0\.', 'mask_feature_neck.fuse_conv.'),
    # mmdet before v1.0rc1 kept a backbone DCN's offset conv beside it
    # (``conv2_offset``); mmcv's own loader renames it the same way.
    (
        r'^backbone\.(layer\d+\.\d+)\.conv2_offset\.',
        r'backbone.\1.conv2.conv_offset.',
    ),
    (r'^(backbone|neck)\.', r'\1.'),
]


def convert_solo_state_dict(
    state_dict: Dict[str, torch.Tensor],
) -> 'OrderedDict[str, torch.Tensor]':
    """Official SOLO (WXinlong/SOLO) ``SOLOv2`` state dict -> mmsolo's.

    ``bbox_head`` becomes ``mask_head`` (``cate_convs`` -> ``cls_convs``,
    ``solo_cate`` -> ``conv_cls``, ``solo_kernel`` -> ``conv_kernel``) and
    ``mask_feat_head`` becomes ``mask_feature_neck`` (``convs_all_levels.l.
    convj`` -> ``level_convs.l.j``, ``conv_pred.0`` -> ``fuse_conv``).

    Raises:
        KeyError: Listing every key that is not part of an official SOLOv2
            model (e.g. a SOLOv1 or Decoupled SOLO checkpoint).
    """
    return convert_state_dict(
        strip_wrapper_prefix(state_dict),
        SOLO_SOLOV2_KEY_RULES,
        'official SOLO (WXinlong/SOLO)',
    )
