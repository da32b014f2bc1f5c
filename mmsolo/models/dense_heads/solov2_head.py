"""The SOLOv2 head: category and dynamic-kernel branches over S x S grids."""

from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.structures import SampleList
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from torch import Tensor

from mmsolo.registry import MODELS, TASK_UTILS
from ..layers import MaskFeatures, concat_coords
from ..task_modules import build_test_cfg
from .solov2_head_losses import (
    flat_cell_labels,
    flat_cell_logits,
    grid_targets,
    maybe_unused_inputs_zero,
    positive_mask_loss_sum,
)
from .solov2_head_settings import build_assigner, check_level_settings

DEFAULT_LOSS_MASK = dict(type='DiceLoss', use_sigmoid=True, loss_weight=3.0)
DEFAULT_LOSS_CLS = dict(
    type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0
)
DEFAULT_INIT_CFG = [
    dict(type='Normal', layer='Conv2d', std=0.01),
    dict(
        type='Normal', std=0.01, bias_prob=0.01, override=dict(name='conv_cls')
    ),
]


@MODELS.register_module()
class SOLOv2Head(BaseModule):
    """SOLOv2 head (Wang et al., NeurIPS 2020).

    Each FPN level is resized to an S x S grid. There, a *category branch*
    predicts C class scores per cell, and a *kernel branch* (CoordConv: x/y
    coordinates appended to its input) predicts D = E * k * k weights per
    cell: a dynamic k x k conv that turns the E-channel mask features of the
    mask-feature neck into that cell's instance mask. The branches share
    their weights across levels.

    Args:
        num_classes (int): Number of foreground classes C.
        in_channels (int): Channels of the FPN levels. Defaults to 256.
        feat_channels (int): Channels of the branches. Defaults to 512.
        stacked_convs (int): 3x3 convs in each branch. Defaults to 4.
        strides (Sequence[int]): Per level, the mask area (pixels at the
            mask-feature scale) that a candidate's mask must exceed at test
            time (mmdet's name; held as ``min_mask_areas``).
        scale_ranges (Sequence[tuple]): ``(low, high)`` of ``sqrt(w * h)``
            of the ground-truth boxes assigned to each level.
        pos_scale (float): Centre-region half-size relative to the box.
        num_grids (Sequence[int]): S of each level.
        cls_down_index (int): Category convs run at the level's own
            resolution before its features are resized to S x S; 0 resizes
            before the first conv, as SOLOv2 does. Defaults to 0.
        mask_feat_channels (int): Channels E of the mask features. Defaults
            to 256; the detector sets it from its mask-feature neck.
        mask_stride (int): Stride of the mask features. Defaults to 4; the
            detector sets it from its mask-feature neck.
        dynamic_conv_size (int): k of the dynamic k x k mask kernels.
            Defaults to 1.
        with_coord (bool): Append coordinates to the kernel branch input.
            Defaults to True.
        dcn_cfg (dict, optional): Conv config (e.g. DCNv2) used in the branch
            convs. Defaults to None.
        dcn_apply_to_all_conv (bool): Use ``dcn_cfg`` in every branch conv,
            or only in the last one (the light-weight models). Defaults to
            True.
        norm_cfg (dict): Norm of the branch convs. Defaults to GN, 32 groups.
        loss_mask (dict): Mask loss. Defaults to Dice loss, weight 3.
        loss_cls (dict): Category loss. Defaults to Focal loss.
        train_cfg (dict, optional): ``assigner``, the target assigner
            config; ``CenterRegionGridAssigner`` when absent.
        test_cfg (dict, optional): ``nms_pre``, ``score_thr``, ``mask_thr``,
            ``filter_thr``, ``max_per_img`` (defaults merged in) and the
            mask NMS: ``nms_type`` ``'matrix'`` (the default when absent;
            ``kernel``, ``sigma``), ``'hard'`` or ``'fast'`` (``iou_thr``),
            or ``'soft'`` (``sigma`` of the gaussian penalty
            ``exp(-iou**2 / sigma)``). It configures the
            :class:`SOLOv2PostProcessor`.
        init_cfg (dict or list[dict], optional): Initialization.
    """

    # Positive samples whose mask loss is computed at once (see
    # loss_by_feat).
    LOSS_CHUNK = 32

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 256,
        feat_channels: int = 512,
        stacked_convs: int = 4,
        strides: Sequence[int] = (8, 8, 16, 32, 32),
        scale_ranges: Sequence[Tuple[float, float]] = (
            (1, 96),
            (48, 192),
            (96, 384),
            (192, 768),
            (384, 2048),
        ),
        pos_scale: float = 0.2,
        num_grids: Sequence[int] = (40, 36, 24, 16, 12),
        cls_down_index: int = 0,
        mask_feat_channels: int = 256,
        mask_stride: int = 4,
        dynamic_conv_size: int = 1,
        with_coord: bool = True,
        dcn_cfg: Optional[dict] = None,
        dcn_apply_to_all_conv: bool = True,
        norm_cfg: dict = dict(type='GN', num_groups=32, requires_grad=True),
        loss_mask: dict = DEFAULT_LOSS_MASK,
        loss_cls: dict = DEFAULT_LOSS_CLS,
        train_cfg: Optional[dict] = None,
        test_cfg: Optional[dict] = None,
        init_cfg: Optional[List[dict]] = DEFAULT_INIT_CFG,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        check_level_settings(
            num_grids,
            strides,
            scale_ranges,
            cls_down_index,
            stacked_convs,
            dynamic_conv_size,
        )
        self.num_classes = num_classes
        self.cls_out_channels = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.min_mask_areas = list(strides)
        self.num_grids = list(num_grids)
        self.scale_ranges = [tuple(r) for r in scale_ranges]
        self.num_levels = len(num_grids)
        self.pos_scale = pos_scale
        self.cls_down_index = cls_down_index
        self.mask_feat_channels = mask_feat_channels
        self.mask_stride = mask_stride
        self.dynamic_conv_size = dynamic_conv_size
        self.kernel_out_channels = mask_feat_channels * dynamic_conv_size**2
        self.with_coord = with_coord
        self.dcn_cfg = dcn_cfg
        self.dcn_apply_to_all_conv = dcn_apply_to_all_conv
        self.norm_cfg = norm_cfg
        self.train_cfg = train_cfg
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_cls = MODELS.build(loss_cls)
        self._init_task_modules(train_cfg, test_cfg)
        self._init_layers()

    def _init_task_modules(
        self, train_cfg: Optional[dict], test_cfg: Optional[dict]
    ) -> None:
        """The target assigner (``train_cfg.assigner``) and the
        post-processor (``test_cfg``), given the head's level settings."""
        self.assigner = build_assigner(
            train_cfg,
            dict(
                num_classes=self.num_classes,
                num_grids=self.num_grids,
                scale_ranges=self.scale_ranges,
                pos_scale=self.pos_scale,
                mask_stride=self.mask_stride,
            ),
        )
        self.post_processor = TASK_UTILS.build(
            dict(
                type='mmsolo.SOLOv2PostProcessor',
                num_grids=self.num_grids,
                min_mask_areas=self.min_mask_areas,
                mask_stride=self.mask_stride,
                kernel_size=self.dynamic_conv_size,
                test_cfg=test_cfg,
            )
        )

    @property
    def test_cfg(self) -> ConfigDict:
        """The post-processor's test config (defaults merged, checked when
        set)."""
        return self.post_processor.test_cfg

    @test_cfg.setter
    def test_cfg(self, test_cfg: Optional[dict]) -> None:
        self.post_processor.test_cfg = build_test_cfg(test_cfg)

    def _branch_conv(self, index: int, channels_in: int) -> ConvModule:
        use_dcn = self.dcn_cfg is not None and (
            self.dcn_apply_to_all_conv or index == self.stacked_convs - 1
        )
        return ConvModule(
            channels_in,
            self.feat_channels,
            3,
            padding=1,
            conv_cfg=self.dcn_cfg if use_dcn else None,
            norm_cfg=self.norm_cfg,
            bias=self.norm_cfg is None,
        )

    def _init_layers(self) -> None:
        coord_channels = 2 if self.with_coord else 0
        self.kernel_convs = nn.ModuleList(
            [
                self._branch_conv(
                    i,
                    self.in_channels + coord_channels
                    if i == 0
                    else self.feat_channels,
                )
                for i in range(self.stacked_convs)
            ]
        )
        self.cls_convs = nn.ModuleList(
            [
                self._branch_conv(
                    i, self.in_channels if i == 0 else self.feat_channels
                )
                for i in range(self.stacked_convs)
            ]
        )
        self.conv_kernel = nn.Conv2d(
            self.feat_channels, self.kernel_out_channels, 3, padding=1
        )
        self.conv_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1
        )

    # ----------------------------------------------------------------- forward
    def _level_inputs(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """FPN levels as the grids see them: the finest one halved, the
        coarsest one brought to the size of the level above it."""
        if len(feats) != self.num_levels:
            raise ValueError(
                f'SOLOv2Head has {self.num_levels} levels (len(num_grids)) '
                f'but got {len(feats)} feature maps: make the FPN num_outs '
                'equal to len(model.mask_head.num_grids)'
            )
        inputs = list(feats)
        inputs[0] = F.interpolate(feats[0], scale_factor=0.5, mode='bilinear')
        inputs[-1] = F.interpolate(
            feats[-1], size=feats[-2].shape[-2:], mode='bilinear'
        )
        return inputs

    def forward(self, feats: Sequence[Tensor]) -> Tuple[List[Tensor], ...]:
        """Kernel and category predictions of every level.

        Args:
            feats (Sequence[Tensor]): FPN levels, each (N, in_channels, h, w).

        Returns:
            tuple[list[Tensor], list[Tensor]]:

            - kernel_preds: per level (N, D, S, S) dynamic kernels,
              D = E * k * k.
            - cls_preds: per level (N, C, S, S) category logits.
        """
        kernel_preds, cls_preds = [], []
        for level_feat, num_grid in zip(
            self._level_inputs(feats), self.num_grids
        ):
            kernel_feat = (
                concat_coords(level_feat) if self.with_coord else level_feat
            )
            kernel_feat = F.interpolate(
                kernel_feat,
                size=num_grid,
                mode='bilinear',
                align_corners=False,
            )
            if self.cls_down_index == 0:
                cls_feat = kernel_feat[:, : self.in_channels].contiguous()
            else:
                cls_feat = level_feat
            for conv in self.kernel_convs:
                kernel_feat = conv(kernel_feat)
            for index, conv in enumerate(self.cls_convs):
                if index == self.cls_down_index and index > 0:
                    cls_feat = F.interpolate(
                        cls_feat,
                        size=num_grid,
                        mode='bilinear',
                        align_corners=False,
                    )
                cls_feat = conv(cls_feat)
            if self.cls_down_index == self.stacked_convs > 0:
                cls_feat = F.interpolate(
                    cls_feat,
                    size=num_grid,
                    mode='bilinear',
                    align_corners=False,
                )
            kernel_preds.append(self.conv_kernel(kernel_feat))
            cls_preds.append(self.conv_cls(cls_feat))
        return kernel_preds, cls_preds

    # -------------------------------------------------------------------- loss
    def loss(
        self,
        feats: Sequence[Tensor],
        mask_feats: MaskFeatures,
        batch_data_samples: SampleList,
    ) -> Dict[str, Tensor]:
        """Losses of a batch.

        Args:
            feats (Sequence[Tensor]): FPN levels.
            mask_feats (MaskFeatures): Maps of (N, E, h, w).
            batch_data_samples (list[DetDataSample]): With ``gt_instances``
                (``bboxes``, ``labels``, ``masks``) and ``metainfo``.

        Returns:
            dict[str, Tensor]: ``loss_mask`` and ``loss_cls``.
        """
        kernel_preds, cls_preds = self(feats)
        return self.loss_by_feat(
            kernel_preds,
            cls_preds,
            mask_feats,
            [sample.gt_instances for sample in batch_data_samples],
            [sample.metainfo for sample in batch_data_samples],
        )

    def loss_by_feat(
        self,
        kernel_preds: List[Tensor],
        cls_preds: List[Tensor],
        mask_feats: MaskFeatures,
        batch_gt_instances: InstanceList,
        batch_img_metas: List[dict],
    ) -> Dict[str, Tensor]:
        """Losses from head outputs (shapes as returned by :meth:`forward`).

        ``loss_mask`` sums the Dice loss of every positive (cell, instance)
        sample and divides by the number of distinct positive cells;
        ``loss_cls`` is the Focal loss over all cells averaged over that
        number plus one.
        """
        mask_feats.check_levels(self.num_levels)
        targets = [
            grid_targets(self.assigner, gt, mask_feats.featmap_size)
            for gt in batch_gt_instances
        ]
        num_pos = sum(target.num_pos_cells for target in targets)
        loss_mask = positive_mask_loss_sum(
            self.loss_mask,
            kernel_preds,
            mask_feats,
            targets,
            self.dynamic_conv_size,
            self.LOSS_CHUNK,
        )
        if num_pos > 0:
            loss_mask = loss_mask / num_pos
        loss_mask = loss_mask + maybe_unused_inputs_zero(
            kernel_preds, mask_feats, num_pos
        )
        loss_cls = self.loss_cls(
            flat_cell_logits(cls_preds).float(),
            flat_cell_labels(targets, self.num_levels),
            avg_factor=num_pos + 1,
        )
        return dict(loss_mask=loss_mask, loss_cls=loss_cls)

    # ----------------------------------------------------------------- predict
    def predict(
        self,
        feats: Sequence[Tensor],
        mask_feats: MaskFeatures,
        batch_data_samples: SampleList,
        rescale: bool = True,
    ) -> InstanceList:
        """Instances of each image of a batch (see :meth:`predict_by_feat`)."""
        kernel_preds, cls_preds = self(feats)
        return self.predict_by_feat(
            kernel_preds,
            cls_preds,
            mask_feats,
            [sample.metainfo for sample in batch_data_samples],
            rescale=rescale,
        )

    def predict_by_feat(
        self,
        kernel_preds: List[Tensor],
        cls_preds: List[Tensor],
        mask_feats: MaskFeatures,
        batch_img_metas: List[dict],
        rescale: bool = True,
        cfg: Optional[dict] = None,
    ) -> InstanceList:
        """Instances from head outputs (per level (N, D, S, S) kernels and
        (N, C, S, S) logits), by :attr:`post_processor`, whose call takes
        the same arguments: per image ``scores``, ``labels``, ``masks``
        (n, H, W) bool and ``bboxes``; ``cfg`` replaces ``self.test_cfg``."""
        mask_feats.check_levels(self.num_levels)
        return self.post_processor(
            kernel_preds, cls_preds, mask_feats, batch_img_metas, rescale, cfg
        )
