"""The unified mask-feature branch of SOLOv2 (section 3.2.2), as a neck."""

from typing import Optional, Sequence

from torch import Tensor

from mmsolo.registry import MODELS
from ..layers import MaskFeatures, PyramidFusion
from .base_mask_feature_neck import BaseMaskFeatureNeck


@MODELS.register_module()
class MaskFeatureNeck(PyramidFusion, BaseMaskFeatureNeck):
    """Fuses FPN levels into one mask feature map at the finest level's scale.

    FPN level ``i`` (P2 is level 0) goes through ``max(i, 1)`` blocks of
    3x3 conv + norm + ReLU, each but for level 0 followed by a 2x bilinear
    upsampling, so that every level reaches the scale of P2 (1/4 of the
    image). The levels are summed, and a 1x1 conv + norm + ReLU gives the
    output (see :class:`PyramidFusion`). The deepest level used gets
    normalized x/y coordinates concatenated before its first conv
    (CoordConv), which gives the masks position sensitivity. The one map
    serves the kernels of every head level.

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

    def __init__(
        self,
        in_channels: int = 256,
        feat_channels: int = 128,
        out_channels: int = 256,
        start_level: int = 0,
        end_level: int = 3,
        mask_stride: int = 4,
        with_coord: bool = True,
        conv_cfg: Optional[dict] = None,
        norm_cfg: Optional[dict] = dict(
            type='GN', num_groups=32, requires_grad=True
        ),
        init_cfg: Optional[dict] = dict(
            type='Normal', layer='Conv2d', std=0.01
        ),
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            feat_channels=feat_channels,
            out_channels=out_channels,
            start_level=start_level,
            end_level=end_level,
            with_coord=with_coord,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
        )
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.out_channels = out_channels
        self.mask_stride = mask_stride
        self.num_levels = None

    def forward(self, feats: Sequence[Tensor]) -> MaskFeatures:
        """Fuse FPN features.

        Args:
            feats (Sequence[Tensor]): FPN levels, level ``i`` of shape
                (N, in_channels, H / 2**i, W / 2**i) with (H, W) the size
                of level 0; levels beyond ``end_level`` are ignored.

        Returns:
            MaskFeatures: one shared (N, out_channels, H, W) map.
        """
        return MaskFeatures.shared(self.fuse(feats))
