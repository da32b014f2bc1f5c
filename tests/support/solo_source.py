"""The official SOLO repository's SOLOv2 state-dict layout, key by key.

Built from the module definitions of WXinlong/SOLO (mmdet v1.0.0 fork):
its ResNet / ResNeXt (``conv1``/``bn1``, ``layer{1-4}.{b}.conv{n}``/
``bn{n}``, ``downsample.{0,1}``; a DCN ``conv2`` holds ``conv_offset``),
FPN (``lateral_convs``/``fpn_convs``, ConvModule ``.conv``), ``SOLOv2Head``
/ ``SOLOv2LightHead`` (``kernel_convs``/``cate_convs`` ConvModules with GN
and no bias, ``solo_cate`` with ``num_classes - 1`` outputs,
``solo_kernel``) and ``MaskFeatHead`` (``convs_all_levels.{l}.conv{j}``,
``conv_pred.0``). Shapes follow from the official config's values; no
mmdet 3 or mmsolo module is used, so the table checks the converter and
the mmsolo configs independently.
"""

import math
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple

import torch

Shapes = 'OrderedDict[str, Tuple[int, ...]]'
# Offset channels per 3x3 kernel position and deformable group.
DCN_OFFSETS = dict(DCN=2, DCNv2=3)
RESNET_BLOCKS = {
    18: ('basic', (2, 2, 2, 2)),
    34: ('basic', (3, 4, 6, 3)),
    50: ('bottleneck', (3, 4, 6, 3)),
    101: ('bottleneck', (3, 4, 23, 3)),
}


def _bn(shapes: Shapes, prefix: str, channels: int) -> None:
    for name in ('weight', 'bias', 'running_mean', 'running_var'):
        shapes[f'{prefix}.{name}'] = (channels,)
    shapes[f'{prefix}.num_batches_tracked'] = ()


def _conv(
    shapes: Shapes,
    prefix: str,
    out: int,
    in_: int,
    k: int,
    dcn: Optional[str] = None,
    groups: int = 1,
    bias: bool = False,
) -> None:
    """A conv (``prefix.weight``) and, if it is a DCN, its offset conv."""
    shapes[f'{prefix}.weight'] = (out, in_ // groups, k, k)
    if bias:
        shapes[f'{prefix}.bias'] = (out,)
    if dcn is not None:
        offsets = DCN_OFFSETS[dcn] * k * k
        shapes[f'{prefix}.conv_offset.weight'] = (offsets, in_, k, k)
        shapes[f'{prefix}.conv_offset.bias'] = (offsets,)


def _block(
    shapes: Shapes,
    prefix: str,
    kind: str,
    in_: int,
    planes: int,
    stride: int,
    dcn: Optional[str],
    groups: int,
    base_width: int,
) -> int:
    """One residual block; returns its output channels."""
    if kind == 'basic':
        out = planes
        _conv(shapes, f'{prefix}.conv1', planes, in_, 3)
        _bn(shapes, f'{prefix}.bn1', planes)
        _conv(shapes, f'{prefix}.conv2', planes, planes, 3)
        _bn(shapes, f'{prefix}.bn2', planes)
    else:
        out = planes * 4
        width = (
            planes
            if groups == 1
            else math.floor(planes * base_width / 64) * groups
        )
        _conv(shapes, f'{prefix}.conv1', width, in_, 1)
        _bn(shapes, f'{prefix}.bn1', width)
        _conv(shapes, f'{prefix}.conv2', width, width, 3, dcn, groups)
        _bn(shapes, f'{prefix}.bn2', width)
        _conv(shapes, f'{prefix}.conv3', out, width, 1)
        _bn(shapes, f'{prefix}.bn3', out)
    if stride != 1 or in_ != out:
        _conv(shapes, f'{prefix}.downsample.0', out, in_, 1)
        _bn(shapes, f'{prefix}.downsample.1', out)
    return out


def _resnet(
    shapes: Shapes,
    depth: int,
    groups: int,
    base_width: int,
    dcn: Optional[str],
    stage_with_dcn: Sequence[bool],
) -> list:
    """``backbone.*``; returns the channels of C2..C5."""
    kind, blocks = RESNET_BLOCKS[depth]
    _conv(shapes, 'backbone.conv1', 64, 3, 7)
    _bn(shapes, 'backbone.bn1', 64)
    in_, stage_out = 64, []
    for stage, num_blocks in enumerate(blocks):
        for b in range(num_blocks):
            in_ = _block(
                shapes,
                f'backbone.layer{stage + 1}.{b}',
                kind,
                in_,
                64 * 2**stage,
                1 if stage == 0 or b else 2,
                dcn if stage_with_dcn[stage] else None,
                groups,
                base_width,
            )
        stage_out.append(in_)
    return stage_out


def _fpn(shapes: Shapes, in_channels: Sequence[int], out: int = 256) -> None:
    for i, channels in enumerate(in_channels):
        _conv(
            shapes, f'neck.lateral_convs.{i}.conv', out, channels, 1, bias=True
        )
        _conv(shapes, f'neck.fpn_convs.{i}.conv', out, out, 3, bias=True)


def _conv_gn(
    shapes: Shapes, prefix: str, out: int, in_: int, k: int, dcn: Optional[str]
) -> None:
    """An mmdet v1 ConvModule with GN (so no conv bias)."""
    _conv(shapes, f'{prefix}.conv', out, in_, k, dcn)
    shapes[f'{prefix}.gn.weight'] = (out,)
    shapes[f'{prefix}.gn.bias'] = (out,)


def _bbox_head(
    shapes: Shapes,
    num_classes: int,
    stacked_convs: int,
    seg_feat_channels: int,
    ins_out_channels: int,
    type_dcn: Optional[str],
    light: bool,
    in_channels: int = 256,
) -> None:
    """``SOLOv2Head`` (DCN in every tower conv) or ``SOLOv2LightHead`` (in
    the last one only); ``type_dcn`` None for ``use_dcn_in_tower=False``."""
    for i in range(stacked_convs):
        dcn = type_dcn if not light or i == stacked_convs - 1 else None
        first = i == 0
        _conv_gn(
            shapes,
            f'bbox_head.kernel_convs.{i}',
            seg_feat_channels,
            in_channels + 2 if first else seg_feat_channels,
            3,
            dcn,
        )
        _conv_gn(
            shapes,
            f'bbox_head.cate_convs.{i}',
            seg_feat_channels,
            in_channels if first else seg_feat_channels,
            3,
            dcn,
        )
    _conv(
        shapes,
        'bbox_head.solo_cate',
        num_classes - 1,
        seg_feat_channels,
        3,
        bias=True,
    )
    _conv(
        shapes,
        'bbox_head.solo_kernel',
        ins_out_channels,
        seg_feat_channels,
        3,
        bias=True,
    )


def _mask_feat_head(
    shapes: Shapes,
    out_channels: int,
    num_classes: int,
    conv_dcn: Optional[str],
    in_channels: int = 256,
    num_levels: int = 4,
) -> None:
    """``MaskFeatHead`` (start_level 0, end_level 3): level ``l`` has
    ``max(l, 1)`` convs; the first conv of level 3 gets the coordinates."""
    prefix = 'mask_feat_head.convs_all_levels'
    for level in range(num_levels):
        for j in range(max(level, 1)):
            in_ = out_channels if j else in_channels + 2 * (level == 3)
            _conv_gn(
                shapes,
                f'{prefix}.{level}.conv{j}',
                out_channels,
                in_,
                3,
                conv_dcn,
            )
    _conv_gn(
        shapes,
        'mask_feat_head.conv_pred.0',
        num_classes,
        out_channels,
        1,
        conv_dcn,
    )


def official_solov2_shapes(spec: dict) -> Shapes:
    """Key -> shape of an official SOLOv2 state dict.

    Args:
        spec (dict): The official config's values: ``depth``, ``groups``
            and ``base_width`` (ResNeXt), ``dcn`` (backbone DCN type or
            None, on stages 2-4), ``fpn_in``, ``stacked_convs``,
            ``seg_feat_channels``, ``ins_out_channels``, ``type_dcn``
            (head DCN type or None), ``light`` (``SOLOv2LightHead``),
            ``mask_out_channels``, ``mask_num_classes`` and
            ``mask_conv_dcn`` (``mask_feat_head.conv_cfg`` type or None).
    """
    shapes: Shapes = OrderedDict()
    _resnet(
        shapes,
        spec['depth'],
        spec.get('groups', 1),
        spec.get('base_width', 4),
        spec.get('dcn'),
        (False, True, True, True),
    )
    _fpn(shapes, spec['fpn_in'])
    _bbox_head(
        shapes,
        81,
        spec['stacked_convs'],
        spec['seg_feat_channels'],
        spec['ins_out_channels'],
        spec.get('type_dcn'),
        spec.get('light', False),
    )
    _mask_feat_head(
        shapes,
        spec['mask_out_channels'],
        spec['mask_num_classes'],
        spec.get('mask_conv_dcn'),
    )
    return shapes


_FULL = dict(
    fpn_in=(256, 512, 1024, 2048),
    stacked_convs=4,
    seg_feat_channels=512,
    ins_out_channels=256,
    mask_out_channels=128,
    mask_num_classes=256,
)
_LIGHT = dict(
    _FULL,
    stacked_convs=2,
    seg_feat_channels=256,
    ins_out_channels=128,
    mask_num_classes=128,
)
_DCNV2 = dict(dcn='DCNv2', type_dcn='DCNv2', mask_conv_dcn='DCNv2')
_SMALL_FPN = (64, 128, 256, 512)

# The official README's SOLOv2 models -> (their config's values, the mmsolo
# config a converted checkpoint needs).
OFFICIAL_SOLOV2_ZOO: Dict[str, Tuple[dict, str]] = {
    'SOLOv2_R50_1x': (dict(_FULL, depth=50), 'solov2_r50_fpn_1x_coco.py'),
    'SOLOv2_R50_3x': (dict(_FULL, depth=50), 'solov2_r50_fpn_ms-3x_coco.py'),
    'SOLOv2_R101_3x': (
        dict(_FULL, depth=101),
        'solov2_r101_fpn_ms-3x_coco.py',
    ),
    'SOLOv2_R101_DCN_3x': (
        dict(_FULL, depth=101, **_DCNV2),
        'solov2_r101-dcn_fpn_ms-3x_coco.py',
    ),
    'SOLOv2_X101_DCN_3x': (
        dict(_FULL, depth=101, groups=64, base_width=4, **_DCNV2),
        'solov2_x101-dcn_fpn_ms-3x_coco.py',
    ),
    'SOLOv2_Light_448_R18_3x': (
        dict(_LIGHT, depth=18, fpn_in=_SMALL_FPN),
        'solov2-light_r18_fpn_ms-3x_coco.py',
    ),
    'SOLOv2_Light_448_R34_3x': (
        dict(_LIGHT, depth=34, fpn_in=_SMALL_FPN),
        'solov2-light_r34_fpn_ms-3x_coco.py',
    ),
    'SOLOv2_Light_448_R50_3x': (
        dict(_LIGHT, depth=50),
        'solov2-light_r50_fpn_ms-3x_coco.py',
    ),
    'SOLOv2_Light_512_DCN_R50_3x': (
        dict(
            _LIGHT,
            depth=50,
            stacked_convs=3,
            dcn='DCN',
            type_dcn='DCN',
            light=True,
        ),
        'solov2-light_r50-dcnv1_fpn_ms-3x_coco.py',
    ),
}


def random_state_dict(
    shapes: Shapes, seed: int = 0, std: float = 0.05
) -> 'OrderedDict[str, torch.Tensor]':
    """Seeded random tensors of the given shapes (BN variances positive,
    ``num_batches_tracked`` an int64 scalar)."""
    generator = torch.Generator().manual_seed(seed)
    state_dict = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            state_dict[key] = torch.tensor(7, dtype=torch.long)
        elif key.endswith('running_var'):
            state_dict[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state_dict[key] = torch.randn(shape, generator=generator) * std
    return state_dict
