"""The per-level conv towers that bring FPN levels to the finest scale, and
their fusion by a sum: shared by the mask-feature necks and the semantic
head."""

from typing import Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from .bilinear_upsample import bilinear_upsample_2x
from .coord import concat_coords


class LevelTower(nn.ModuleList):
    """FPN level ``i`` (P2 is level 0) brought to level 0's scale:
    ``max(i, 1)`` blocks of 3x3 conv + norm + ReLU, each but for level 0
    followed by a bilinear upsampling to the next finer level.

    Args:
        level (int): The FPN level.
        in_channels (int): Channels of the level.
        feat_channels (int): Channels of the blocks.
        with_coord (bool): Concatenate x/y coordinates to the input.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict, optional): Norm layer config.
    """

    def __init__(
        self,
        level: int,
        in_channels: int,
        feat_channels: int,
        with_coord: bool,
        conv_cfg: Optional[dict],
        norm_cfg: Optional[dict],
    ) -> None:
        first_in = in_channels + (2 if with_coord else 0)
        super().__init__(
            [
                ConvModule(
                    first_in if step == 0 else feat_channels,
                    feat_channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    inplace=False,
                )
                for step in range(max(level, 1))
            ]
        )
        self.level = level
        self.with_coord = with_coord

    def forward(
        self,
        feat: Tensor,
        finer_sizes: Optional[Sequence[Tuple[int, int]]] = None,
        last_upsample: bool = True,
    ) -> Tensor:
        """(N, in_channels, h, w) -> (N, feat_channels, h * 2**i, w * 2**i).

        Args:
            feat (Tensor): The level's features.
            finer_sizes (Sequence[tuple], optional): (h, w) of levels
                ``i - 1, i - 2, ...`` to resize to after each block; a 2x
                upsampling each when not given.
            last_upsample (bool): Apply the last resize; without it a level
                ``i >= 1`` ends at the scale of level 1 (a sum of several
                such towers is then upsampled once, see
                :meth:`PyramidFusion.fuse`).
        """
        if self.with_coord:
            feat = concat_coords(feat)
        for step, block in enumerate(self):
            feat = block(feat)
            if self.level == 0 or (
                step == len(self) - 1 and not last_upsample
            ):
                continue
            if finer_sizes is None:
                feat = bilinear_upsample_2x(feat)
            else:
                feat = F.interpolate(
                    feat,
                    size=finer_sizes[step],
                    mode='bilinear',
                    align_corners=False,
                )
        return feat


class PyramidFusion(BaseModule):
    """FPN levels ``start_level..end_level`` through their
    :class:`LevelTower`, summed at the scale of level 0, then a 1x1
    conv + norm + ReLU. The deepest level gets x/y coordinates (CoordConv)
    when ``with_coord`` and it is not the only level.

    Args:
        in_channels (int): Channels of each FPN level.
        feat_channels (int): Channels of the towers.
        out_channels (int): Channels of the output.
        start_level (int): First FPN level fused (0 is P2).
        end_level (int): Last FPN level fused.
        with_coord (bool): Coordinates on the deepest level.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict, optional): Norm layer config.
        init_cfg (dict or list[dict], optional): Initialization.
    """

    def __init__(
        self,
        in_channels: int,
        feat_channels: int,
        out_channels: int,
        start_level: int,
        end_level: int,
        with_coord: bool,
        conv_cfg: Optional[dict],
        norm_cfg: Optional[dict],
        init_cfg: Optional[dict] = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0 <= start_level <= end_level:
            raise ValueError(
                f'{type(self).__name__}: need 0 <= start_level <= end_level, '
                f'got start_level={start_level}, end_level={end_level}'
            )
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.out_channels = out_channels
        self.start_level = start_level
        self.end_level = end_level
        self.with_coord = with_coord
        self.level_convs = nn.ModuleList(
            [
                LevelTower(
                    level,
                    in_channels,
                    feat_channels,
                    self._takes_coords(level),
                    conv_cfg,
                    norm_cfg,
                )
                for level in range(start_level, end_level + 1)
            ]
        )
        self.fuse_conv = ConvModule(
            feat_channels,
            out_channels,
            1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
        )

    def _takes_coords(self, level: int) -> bool:
        return (
            self.with_coord
            and level == self.end_level
            and level != self.start_level
        )

    @property
    def num_ins(self) -> int:
        """Number of FPN levels fused."""
        return self.end_level - self.start_level + 1

    def fuse(self, feats: Sequence[Tensor]) -> Tensor:
        """FPN levels, level ``i`` (N, in_channels, H / 2**i, W / 2**i),
        -> (N, out_channels, H, W); levels beyond ``end_level`` are
        ignored.

        In training, the towers of levels >= 1, which all end with a 2x
        upsampling from level 1's scale, are summed at that scale and
        upsampled once (the upsampling is linear): one upsampling of a (N,
        C, H/2, W/2) map, forward and backward, instead of one per level,
        and the sum is taken on maps 4x smaller. That equals the sum of the
        upsampled towers up to float rounding (the additions are ordered
        differently). In eval mode each tower is upsampled on its own, so
        that predictions (and exported graphs) stay equal to mmdet's to the
        last bit.
        """
        if len(feats) <= self.end_level:
            raise ValueError(
                f'{type(self).__name__}: end_level={self.end_level} needs at '
                f'least {self.end_level + 1} input levels, got {len(feats)}'
            )
        fused, coarser = None, None
        for tower in self.level_convs:
            shared = self.training and tower.level > 0
            level_feat = tower(feats[tower.level], last_upsample=not shared)
            if shared:
                coarser = (
                    level_feat if coarser is None else coarser + level_feat
                )
            else:
                fused = level_feat if fused is None else fused + level_feat
        if coarser is not None:
            coarser = bilinear_upsample_2x(coarser)
            fused = coarser if fused is None else fused + coarser
        return self.fuse_conv(fused)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """See :meth:`fuse`."""
        return self.fuse(feats)
