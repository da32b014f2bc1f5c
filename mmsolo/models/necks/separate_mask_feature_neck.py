"""Separate per-level mask features: the alternative to the unified mask
features that the paper's Table 3 ablates."""

from typing import Optional, Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from torch import Tensor

from mmsolo.registry import MODELS
from ..layers import LevelTower, MaskFeatures
from .base_mask_feature_neck import BaseMaskFeatureNeck


@MODELS.register_module()
class SeparateMaskFeatureNeck(BaseMaskFeatureNeck):
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
        conv_cfg: Optional[dict] = None,
        norm_cfg: dict = dict(type='GN', num_groups=32, requires_grad=True),
        init_cfg: dict = dict(type='Normal', layer='Conv2d', std=0.01),
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_levels < 1:
            raise ValueError(
                'SeparateMaskFeatureNeck: num_levels must be '
                f'positive, got {num_levels}'
            )
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.out_channels = out_channels
        self.num_levels = num_levels
        self.mask_stride = mask_stride
        self.with_coord = with_coord

        self.level_convs = nn.ModuleList(
            [
                LevelTower(
                    level,
                    in_channels,
                    feat_channels,
                    with_coord,
                    conv_cfg,
                    norm_cfg,
                )
                for level in range(num_levels)
            ]
        )
        self.out_convs = nn.ModuleList(
            [
                ConvModule(
                    feat_channels,
                    out_channels,
                    1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    inplace=False,
                )
                for _ in range(num_levels)
            ]
        )

    def forward(self, feats: Sequence[Tensor]) -> MaskFeatures:
        """Per-level mask features.

        Args:
            feats (Sequence[Tensor]): FPN levels, level ``i`` of shape
                (N, in_channels, about H / 2**i, W / 2**i) with (H, W) the
                size of level 0; levels from ``num_levels`` on are ignored.

        Returns:
            MaskFeatures: ``num_levels`` maps, each (N, out_channels, H, W),
            one per head level.
        """
        if len(feats) < self.num_levels:
            raise ValueError(
                f'SeparateMaskFeatureNeck: num_levels={self.num_levels} needs '
                f'at least {self.num_levels} input levels, got {len(feats)}'
            )
        return MaskFeatures.of_levels(
            [
                out_conv(
                    tower(
                        feats[level],
                        [
                            feats[level - step - 1].shape[-2:]
                            for step in range(len(tower))
                        ],
                    )
                )
                for level, (tower, out_conv) in enumerate(
                    zip(self.level_convs, self.out_convs)
                )
            ]
        )
