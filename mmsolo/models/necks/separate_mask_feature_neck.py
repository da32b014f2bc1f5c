"""Separate per-level mask features: the alternative to the unified mask
features that the paper's Table 3 ablates."""
from typing import List, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmsolo.registry import MODELS
from ..layers import concat_coords


@MODELS.register_module()
class SeparateMaskFeatureNeck(BaseModule):
    """One mask-feature map per head level instead of one shared map.

    Head level ``i`` gets its features from FPN level ``i`` alone (P2 is
    level 0), through the blocks the unified :class:`MaskFeatureNeck` gives
    that level: ``max(i, 1)`` times 3x3 conv + norm + ReLU, each but for
    level 0 followed by a bilinear resize to the next finer FPN level's size,
    so that every map ends at the scale of P2 (``mask_stride``). A 1x1
    conv + norm + ReLU of its own then gives the level's E output channels.
    As the unified neck gives its one output coordinates (CoordConv on the
    input of its deepest level), every level here gets normalized x/y
    coordinates concatenated to its input, since its map is the only one
    its kernels see.

    The head then convolves level ``i``'s dynamic kernels with level
    ``i``'s map only, in the loss and at test time.

    Args:
        in_channels (int): Channels of each FPN level. Defaults to 256.
        feat_channels (int): Channels inside each level's branch. Defaults
            to 128.
        out_channels (int): Channels E of each output map. Defaults to 256.
        num_levels (int): Number of head levels, FPN levels ``0`` to
            ``num_levels - 1``; must equal ``len(mask_head.num_grids)``.
            Defaults to 5 (P2-P6).
        mask_stride (int): Stride of the outputs w.r.t. the image, that of
            FPN level 0. Defaults to 4.
        with_coord (bool): Concatenate coordinates to every level's input.
            Defaults to True.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict, optional): Norm layer config. Defaults to GN, 32
            groups.
        init_cfg (dict or list[dict], optional): Initialization.
    """

    def __init__(
        self,
        in_channels: int = 256,
        feat_channels: int = 128,
        out_channels: int = 256,
        num_levels: int = 5,
        mask_stride: int = 4,
        with_coord: bool = True,
        conv_cfg: dict = None,
        norm_cfg: dict = dict(type='GN', num_groups=32, requires_grad=True),
        init_cfg: dict = dict(type='Normal', layer='Conv2d', std=0.01)
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_levels < 1:
            raise ValueError('SeparateMaskFeatureNeck: num_levels must be '
                             f'positive, got {num_levels}')
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.out_channels = out_channels
        self.num_levels = num_levels
        self.mask_stride = mask_stride
        self.with_coord = with_coord

        def conv(channels_in: int, channels_out: int,
                 kernel_size: int) -> ConvModule:
            return ConvModule(
                channels_in,
                channels_out,
                kernel_size,
                padding=kernel_size // 2,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                inplace=False)

        first_in = in_channels + (2 if with_coord else 0)
        self.level_convs = nn.ModuleList()
        self.out_convs = nn.ModuleList()
        for level in range(num_levels):
            num_blocks = max(level, 1)
            self.level_convs.append(
                nn.ModuleList([conv(first_in, feat_channels, 3)] + [
                    conv(feat_channels, feat_channels, 3)
                    for _ in range(num_blocks - 1)
                ]))
            self.out_convs.append(conv(feat_channels, out_channels, 1))

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Per-level mask features.

        Args:
            feats (Sequence[Tensor]): FPN levels, level ``i`` of shape
                (N, in_channels, about H / 2**i, W / 2**i) with (H, W) the
                size of level 0; levels from ``num_levels`` on are ignored.

        Returns:
            list[Tensor]: ``num_levels`` maps, each (N, out_channels, H, W).
        """
        if len(feats) < self.num_levels:
            raise ValueError(
                f'SeparateMaskFeatureNeck: num_levels={self.num_levels} needs '
                f'at least {self.num_levels} input levels, got {len(feats)}')
        outs = []
        for level, (convs, out_conv) in enumerate(
                zip(self.level_convs, self.out_convs)):
            level_feat = feats[level]
            if self.with_coord:
                level_feat = concat_coords(level_feat)
            for step, block in enumerate(convs):
                level_feat = block(level_feat)
                if level > 0:
                    level_feat = F.interpolate(
                        level_feat,
                        size=feats[level - step - 1].shape[-2:],
                        mode='bilinear',
                        align_corners=False)
            outs.append(out_conv(level_feat))
        return outs
