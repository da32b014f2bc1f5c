"""The unified mask-feature branch of SOLOv2 (section 3.2.2), as a neck."""
from typing import List, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmsolo.registry import MODELS
from ..layers import concat_coords


@MODELS.register_module()
class MaskFeatureNeck(BaseModule):
    """Fuses FPN levels into one mask feature map at the finest level's scale.

    FPN level ``i`` (P2 is level 0) goes through ``max(i, 1)`` blocks of
    3x3 conv + norm + ReLU, each but for level 0 followed by a 2x bilinear
    upsampling, so that every level reaches the scale of P2 (1/4 of the
    image). The levels are summed, and a 1x1 conv + norm + ReLU gives the
    output. The deepest level used gets normalized x/y coordinates
    concatenated before its first conv (CoordConv), which gives the masks
    position sensitivity.

    Args:
        in_channels (int): Channels of each FPN level. Defaults to 256.
        feat_channels (int): Channels inside the branch. Defaults to 128.
        out_channels (int): Channels E of the output, the mask features that
            the dynamic kernels convolve. Defaults to 256.
        start_level (int): First FPN level used (0 is P2). Defaults to 0.
        end_level (int): Last FPN level used (3 is P5). Defaults to 3.
        mask_stride (int): Stride of the output w.r.t. the image, that of
            FPN level 0. Defaults to 4.
        with_coord (bool): Concatenate coordinates to the deepest level.
            Defaults to True (False for the Table 3 ablation).
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict, optional): Norm layer config. Defaults to GN, 32
            groups.
        init_cfg (dict or list[dict], optional): Initialization.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 128,
                 out_channels: int = 256,
                 start_level: int = 0,
                 end_level: int = 3,
                 mask_stride: int = 4,
                 with_coord: bool = True,
                 conv_cfg: dict = None,
                 norm_cfg: dict = dict(
                     type='GN', num_groups=32, requires_grad=True),
                 init_cfg: dict = dict(
                     type='Normal', layer='Conv2d', std=0.01)) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0 <= start_level <= end_level:
            raise ValueError(
                'MaskFeatureNeck: need 0 <= start_level <= end_level, got '
                f'start_level={start_level}, end_level={end_level}')
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.out_channels = out_channels
        self.start_level = start_level
        self.end_level = end_level
        self.mask_stride = mask_stride
        self.with_coord = with_coord

        def block(channels_in: int) -> ConvModule:
            return ConvModule(
                channels_in,
                feat_channels,
                3,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                inplace=False)

        self.level_convs = nn.ModuleList()
        for level in range(start_level, end_level + 1):
            first_in = in_channels + (2 if self._takes_coords(level) else 0)
            num_blocks = max(level, 1)
            self.level_convs.append(
                nn.ModuleList([block(first_in)] + [
                    block(feat_channels) for _ in range(num_blocks - 1)
                ]))
        self.fuse_conv = ConvModule(
            feat_channels,
            out_channels,
            1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)

    def _takes_coords(self, level: int) -> bool:
        return self.with_coord and level == self.end_level \
            and level != self.start_level

    @property
    def num_ins(self) -> int:
        """Number of FPN levels the neck reads."""
        return self.end_level - self.start_level + 1

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Fuse FPN features.

        Args:
            feats (Sequence[Tensor]): FPN levels, level ``i`` of shape
                (N, in_channels, H / 2**i, W / 2**i) with (H, W) the size
                of level 0; levels beyond ``end_level`` are ignored.

        Returns:
            Tensor: (N, out_channels, H, W) mask features.
        """
        if len(feats) <= self.end_level:
            raise ValueError(
                f'MaskFeatureNeck: end_level={self.end_level} needs at least '
                f'{self.end_level + 1} input levels, got {len(feats)}')
        fused = None
        for level, convs in zip(range(self.start_level, self.end_level + 1),
                                self.level_convs):
            level_feat = feats[level]
            if self._takes_coords(level):
                level_feat = concat_coords(level_feat)
            for conv in convs:
                level_feat = conv(level_feat)
                if level > 0:
                    level_feat = F.interpolate(
                        level_feat,
                        scale_factor=2,
                        mode='bilinear',
                        align_corners=False)
            fused = level_feat if fused is None else fused + level_feat
        return self.fuse_conv(fused)


def mask_neck_out_spec(neck: nn.Module) -> Tuple[int, int]:
    """``(out_channels, mask_stride)`` of a built mask-feature neck."""
    missing: List[str] = [
        name for name in ('out_channels', 'mask_stride')
        if not hasattr(neck, name)
    ]
    if missing:
        raise AttributeError(
            f'{type(neck).__name__} used as mask_feature_neck lacks the '
            f'attributes {missing} that the SOLOv2 head needs')
    return neck.out_channels, neck.mask_stride
