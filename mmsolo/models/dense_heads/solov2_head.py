"""The SOLOv2 head: category and dynamic-kernel branches over S x S grids."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from mmsolo.registry import MODELS, TASK_UTILS
from ..layers import (concat_coords, fast_mask_nms, hard_mask_nms,
                      masks_to_boxes, matrix_nms, resize_to_image,
                      soft_mask_nms)

# Mask features: one (N, E, h, w) map shared by all levels (MaskFeatureNeck),
# or a list with one such map per level (SeparateMaskFeatureNeck).
MaskFeats = Union[Tensor, List[Tensor]]

# test_cfg.nms_type -> the test_cfg keys that NMS reads besides nms_pre,
# max_per_img and filter_thr.
NMS_TYPE_KEYS = dict(
    matrix=('kernel', 'sigma'),
    hard=('iou_thr', ),
    soft=('sigma', ),
    fast=('iou_thr', ))

DEFAULT_TEST_CFG = dict(
    nms_pre=500,
    score_thr=0.1,
    mask_thr=0.5,
    filter_thr=0.05,
    kernel='gaussian',
    sigma=2.0,
    max_per_img=100)


def check_nms_cfg(test_cfg: dict) -> None:
    """Raise a ValueError naming ``model.test_cfg`` if its mask NMS settings
    are unknown or incomplete."""
    nms_type = test_cfg.get('nms_type', 'matrix')
    if nms_type not in NMS_TYPE_KEYS:
        raise ValueError(
            f'model.test_cfg.nms_type={nms_type!r} is not a mask NMS; use one '
            f'of {tuple(NMS_TYPE_KEYS)}')
    missing = [key for key in NMS_TYPE_KEYS[nms_type] if key not in test_cfg]
    if missing:
        raise ValueError(
            f'model.test_cfg.nms_type={nms_type!r} needs model.test_cfg keys '
            f'{missing}')


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
        strides (Sequence[int]): Stride of each level; also the smallest
            mask area a candidate of that level may have at test time.
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
        train_cfg (dict, optional): Unused, kept for mmdet's interface.
        test_cfg (dict, optional): ``nms_pre``, ``score_thr``, ``mask_thr``,
            ``filter_thr``, ``max_per_img`` and the mask NMS: ``nms_type``
            ``'matrix'`` (the default when absent; ``kernel``, ``sigma``),
            ``'hard'`` or ``'fast'`` (``iou_thr``), or ``'soft'``
            (``sigma`` of the gaussian penalty ``exp(-iou**2 / sigma)``).
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
        scale_ranges: Sequence[Tuple[float, float]] = ((1, 96), (48, 192),
                                                        (96, 384), (192, 768),
                                                        (384, 2048)),
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
        loss_mask: dict = dict(
            type='DiceLoss', use_sigmoid=True, loss_weight=3.0),
        loss_cls: dict = dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        train_cfg: Optional[dict] = None,
        test_cfg: Optional[dict] = None,
        init_cfg: Optional[List[dict]] = [
            dict(type='Normal', layer='Conv2d', std=0.01),
            dict(
                type='Normal',
                std=0.01,
                bias_prob=0.01,
                override=dict(name='conv_cls'))
        ]
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        lengths = dict(
            num_grids=len(num_grids),
            strides=len(strides),
            scale_ranges=len(scale_ranges))
        if len(set(lengths.values())) != 1:
            raise ValueError(
                'SOLOv2Head: num_grids, strides and scale_ranges must have one '
                f'entry per level, got lengths {lengths}; fix '
                'model.mask_head.{num_grids,strides,scale_ranges}')
        if not 0 <= cls_down_index <= stacked_convs:
            raise ValueError(
                f'SOLOv2Head: cls_down_index={cls_down_index} must be in '
                f'[0, stacked_convs={stacked_convs}]')
        if dynamic_conv_size < 1 or dynamic_conv_size % 2 == 0:
            raise ValueError('SOLOv2Head: dynamic_conv_size must be odd and '
                             f'positive, got {dynamic_conv_size}')
        self.num_classes = num_classes
        self.cls_out_channels = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.strides = list(strides)
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
        self.test_cfg = ConfigDict(test_cfg if test_cfg is not None else
                                   DEFAULT_TEST_CFG)
        check_nms_cfg(self.test_cfg)
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_cls = MODELS.build(loss_cls)
        self.assigner = TASK_UTILS.build(
            dict(
                type='mmsolo.CenterRegionGridAssigner',
                num_classes=num_classes,
                num_grids=self.num_grids,
                scale_ranges=self.scale_ranges,
                pos_scale=pos_scale,
                mask_stride=mask_stride))
        self._init_layers()

    def _branch_conv(self, index: int, channels_in: int) -> ConvModule:
        use_dcn = self.dcn_cfg is not None and (
            self.dcn_apply_to_all_conv or index == self.stacked_convs - 1)
        return ConvModule(
            channels_in,
            self.feat_channels,
            3,
            padding=1,
            conv_cfg=self.dcn_cfg if use_dcn else None,
            norm_cfg=self.norm_cfg,
            bias=self.norm_cfg is None)

    def _init_layers(self) -> None:
        coord_channels = 2 if self.with_coord else 0
        self.kernel_convs = nn.ModuleList([
            self._branch_conv(
                i, self.in_channels + coord_channels if i == 0 else
                self.feat_channels) for i in range(self.stacked_convs)
        ])
        self.cls_convs = nn.ModuleList([
            self._branch_conv(
                i, self.in_channels if i == 0 else self.feat_channels)
            for i in range(self.stacked_convs)
        ])
        self.conv_kernel = nn.Conv2d(
            self.feat_channels, self.kernel_out_channels, 3, padding=1)
        self.conv_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1)

    # ------------------------------------------------------------------ forward
    def _level_inputs(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """FPN levels as the grids see them: the finest one halved, the
        coarsest one brought to the size of the level above it."""
        if len(feats) != self.num_levels:
            raise ValueError(
                f'SOLOv2Head has {self.num_levels} levels (len(num_grids)) but '
                f'got {len(feats)} feature maps: make the FPN num_outs equal '
                'to len(model.mask_head.num_grids)')
        inputs = list(feats)
        inputs[0] = F.interpolate(feats[0], scale_factor=0.5, mode='bilinear')
        inputs[-1] = F.interpolate(
            feats[-1], size=feats[-2].shape[-2:], mode='bilinear')
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
        for level_feat, num_grid in zip(self._level_inputs(feats),
                                        self.num_grids):
            kernel_feat = concat_coords(level_feat) if self.with_coord \
                else level_feat
            kernel_feat = F.interpolate(
                kernel_feat,
                size=num_grid,
                mode='bilinear',
                align_corners=False)
            if self.cls_down_index == 0:
                cls_feat = kernel_feat[:, :self.in_channels].contiguous()
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
                        align_corners=False)
                cls_feat = conv(cls_feat)
            if self.cls_down_index == self.stacked_convs > 0:
                cls_feat = F.interpolate(
                    cls_feat, size=num_grid, mode='bilinear',
                    align_corners=False)
            kernel_preds.append(self.conv_kernel(kernel_feat))
            cls_preds.append(self.conv_cls(cls_feat))
        return kernel_preds, cls_preds

    def dynamic_masks(self, mask_feats: Tensor, kernels: Tensor) -> Tensor:
        """Mask logits of dynamic kernels on one image's mask features.

        Args:
            mask_feats (Tensor): (E, h, w) mask features.
            kernels (Tensor): (K, D) kernels, D = E * k * k.

        Returns:
            Tensor: (K, h, w) mask logits.
        """
        k = self.dynamic_conv_size
        weight = kernels.view(len(kernels), -1, k, k)
        return F.conv2d(mask_feats[None], weight, padding=k // 2)[0]

    def _first_mask_feats(self, mask_feats: MaskFeats) -> Tensor:
        """The mask features, or the first level's if given per level (all
        levels share one size); checks that a list has one map per level."""
        if isinstance(mask_feats, Tensor):
            return mask_feats
        if len(mask_feats) != self.num_levels:
            raise ValueError(
                f'SOLOv2Head has {self.num_levels} levels but got '
                f'{len(mask_feats)} per-level mask feature maps: make '
                'model.mask_feature_neck.num_levels equal to '
                'len(model.mask_head.num_grids)')
        return mask_feats[0]

    # --------------------------------------------------------------------- loss
    def loss(self, feats: Sequence[Tensor], mask_feats: MaskFeats,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of a batch.

        Args:
            feats (Sequence[Tensor]): FPN levels.
            mask_feats (Tensor or list[Tensor]): (N, E, h, w) mask features,
                or a list of them, one per level (level ``i``'s kernels
                convolve level ``i``'s features).
            batch_data_samples (list[DetDataSample]): With ``gt_instances``
                (``bboxes``, ``labels``, ``masks``) and ``metainfo``.

        Returns:
            dict[str, Tensor]: ``loss_mask`` and ``loss_cls``.
        """
        kernel_preds, cls_preds = self(feats)
        return self.loss_by_feat(
            kernel_preds, cls_preds, mask_feats,
            [sample.gt_instances for sample in batch_data_samples],
            [sample.metainfo for sample in batch_data_samples])

    def loss_by_feat(self, kernel_preds: List[Tensor],
                     cls_preds: List[Tensor], mask_feats: MaskFeats,
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Losses from head outputs (shapes as returned by :meth:`forward`).

        ``loss_mask`` sums the Dice loss of every positive (cell, instance)
        sample and divides by the number of distinct positive cells;
        ``loss_cls`` is the Focal loss over all cells averaged over that
        number plus one.
        """
        first_feats = self._first_mask_feats(mask_feats)
        featmap_size = tuple(first_feats.shape[-2:])
        targets = [
            self.assigner.assign(
                get_box_tensor(gt.bboxes), gt.labels,
                gt.masks if isinstance(gt.masks, Tensor) else
                gt.masks.to_ndarray(), featmap_size)
            for gt in batch_gt_instances
        ]
        num_pos = sum(target.num_pos_cells for target in targets)

        # Dice loss image by image (level by level for per-level mask
        # features), in float32 also when the forward ran under bf16
        # autocast, and in chunks of samples: the (P, h, w) logits and
        # targets of a whole batch would be copied and traversed at memory
        # speed several times, a chunk (7.8 MB at 200x304) is traversed in
        # cache. Targets are gathered per chunk from one float copy of each
        # instance's mask.
        loss_mask = 0
        for img_id, target in enumerate(targets):
            pos_kernels = [
                level_kernels[img_id].flatten(1)[:, cells].t()
                for level_kernels, cells in zip(kernel_preds, target.pos_cells)
            ]
            instance_masks = target.instance_masks.float()
            if isinstance(mask_feats, Tensor):
                pairs = [(mask_feats[img_id], torch.cat(pos_kernels),
                          torch.cat(target.pos_instances))]
            else:
                pairs = list(
                    zip([level_feats[img_id] for level_feats in mask_feats],
                        pos_kernels, target.pos_instances))
            for feats, kernels, rows in pairs:
                if not len(kernels):
                    continue
                logits = self.dynamic_masks(feats, kernels).float()
                for chunk_logits, chunk_rows in zip(
                        logits.split(self.LOSS_CHUNK),
                        rows.split(self.LOSS_CHUNK)):
                    loss_mask = loss_mask + self.loss_mask(
                        chunk_logits,
                        instance_masks[chunk_rows],
                        reduction_override='none').sum()
        # Inputs that may have had no positive sample: per-level mask maps
        # always, the unified map and the kernels when the batch has none.
        # Each gets a zero term, so every parameter still gets a gradient:
        # DistributedDataParallel (find_unused_parameters=False) fails at
        # the next iteration otherwise.
        if num_pos > 0:
            loss_mask = loss_mask / num_pos
            maybe_unused = [] if isinstance(mask_feats,
                                            Tensor) else list(mask_feats)
        else:
            maybe_unused = [
                *([mask_feats] if isinstance(mask_feats, Tensor) else
                  mask_feats), *kernel_preds
            ]
        loss_mask = loss_mask + sum(t.sum() for t in maybe_unused) * 0

        flat_labels = torch.cat([
            target.labels[level] for level in range(self.num_levels)
            for target in targets
        ])
        flat_cls_preds = torch.cat([
            level_preds.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
            for level_preds in cls_preds
        ])
        loss_cls = self.loss_cls(
            flat_cls_preds.float(), flat_labels, avg_factor=num_pos + 1)
        return dict(loss_mask=loss_mask, loss_cls=loss_cls)

    # ------------------------------------------------------------------ predict
    def predict(self,
                feats: Sequence[Tensor],
                mask_feats: MaskFeats,
                batch_data_samples: SampleList,
                rescale: bool = True) -> InstanceList:
        """Instances of each image of a batch (see :meth:`predict_by_feat`)."""
        kernel_preds, cls_preds = self(feats)
        return self.predict_by_feat(
            kernel_preds,
            cls_preds,
            mask_feats,
            [sample.metainfo for sample in batch_data_samples],
            rescale=rescale)

    def predict_by_feat(self,
                        kernel_preds: List[Tensor],
                        cls_preds: List[Tensor],
                        mask_feats: MaskFeats,
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        cfg: Optional[dict] = None) -> InstanceList:
        """Instances from head outputs.

        Args:
            kernel_preds (list[Tensor]): Per level (N, D, S, S).
            cls_preds (list[Tensor]): Per level (N, C, S, S) logits.
            mask_feats (Tensor or list[Tensor]): (N, E, h, w) mask features,
                or one such map per level.
            batch_img_metas (list[dict]): ``img_shape``, ``ori_shape``.
            rescale (bool): Masks at ``ori_shape`` if True, else at
                ``img_shape``. Defaults to True.
            cfg (dict, optional): Test config; ``self.test_cfg`` if None.

        Returns:
            list[InstanceData]: Per image ``scores`` (n,), ``labels`` (n,),
            ``masks`` (n, H, W) bool and ``bboxes`` (n, 4), the tight boxes
            of the masks.
        """
        if cfg is None:
            cfg = self.test_cfg
        else:
            cfg = ConfigDict(cfg)
            check_nms_cfg(cfg)
        scores = [self._point_nms(level.sigmoid()) for level in cls_preds]
        first_feats = self._first_mask_feats(mask_feats)
        cell_strides = torch.cat([
            first_feats.new_full((num_grid**2, ), stride)
            for num_grid, stride in zip(self.num_grids, self.strides)
        ])
        cell_levels = torch.cat([
            first_feats.new_full((num_grid**2, ), level, dtype=torch.long)
            for level, num_grid in enumerate(self.num_grids)
        ])
        results = []
        for img_id, img_meta in enumerate(batch_img_metas):
            img_scores = torch.cat([
                level[img_id].permute(1, 2, 0).reshape(-1,
                                                       self.cls_out_channels)
                for level in scores
            ])
            img_kernels = torch.cat([
                level[img_id].permute(1, 2, 0).reshape(
                    -1, self.kernel_out_channels) for level in kernel_preds
            ])
            if isinstance(mask_feats, Tensor):
                img_mask_feats = mask_feats[img_id]
            else:
                img_mask_feats = [level[img_id] for level in mask_feats]
            results.append(
                self._predict_single(img_kernels, img_scores, cell_strides,
                                     cell_levels, img_mask_feats, img_meta,
                                     cfg, rescale))
        return results

    @staticmethod
    def _point_nms(scores: Tensor) -> Tensor:
        """Zero every score that is not the maximum of its 2x2 window (the
        cell, its left, upper and upper-left neighbours).

        Args:
            scores (Tensor): (N, C, S, S) probabilities.
        """
        window_max = F.max_pool2d(scores, 2, stride=1, padding=1)
        return scores * (window_max[:, :, :-1, :-1] == scores)

    def _predict_single(self, kernels: Tensor, cls_scores: Tensor,
                        cell_strides: Tensor, cell_levels: Tensor,
                        mask_feats: MaskFeats, img_meta: dict,
                        cfg: ConfigDict,
                        rescale: bool) -> InstanceData:
        """Instances of one image.

        Bounded post-processing: when more than ``cfg.nms_pre`` scores pass
        ``score_thr``, masks are computed only for the ``nms_pre`` best by
        category score (in cell order), so time and memory do not grow with
        the number of candidates. mmdet computes every candidate's mask,
        drops those not larger than their stride, rescales by maskness and
        then keeps the ``nms_pre`` best; so with more candidates than
        ``nms_pre`` ours ranks before maskness and does not refill places
        freed by the area filter. With at most ``nms_pre`` candidates the
        two are identical.

        Args:
            kernels (Tensor): (num_cells, D) kernels of all cells.
            cls_scores (Tensor): (num_cells, C) scores after point NMS.
            cell_strides (Tensor): (num_cells,) stride of each cell's level.
            cell_levels (Tensor): (num_cells,) level of each cell.
            mask_feats (Tensor or list[Tensor]): (E, h, w) mask features, or
                one such map per level.
            img_meta (dict): ``img_shape`` and ``ori_shape``.
            cfg (ConfigDict): Test config.
            rescale (bool): Output at ``ori_shape`` (else ``img_shape``).
        """
        out_shape = img_meta['ori_shape'][:2] if rescale \
            else img_meta['img_shape'][:2]
        is_candidate = cls_scores > cfg.score_thr
        # float32 from here on, also under bf16/fp16 autocast: a half
        # precision sum over a mask can exceed its area (maskness > 1).
        scores = cls_scores[is_candidate].float()
        if len(scores) == 0:
            return self._empty_result(kernels, out_shape)
        cells, labels = is_candidate.nonzero().unbind(1)
        if 0 < cfg.nms_pre < len(scores):
            # Bounded post-processing: masks only for the nms_pre best.
            top = scores.topk(cfg.nms_pre).indices.sort().values
            scores, cells, labels = scores[top], cells[top], labels[top]

        mask_logits = self._candidate_masks(mask_feats, kernels[cells],
                                            cell_levels[cells])
        mask_probs = mask_logits.float().sigmoid()
        masks = mask_probs > cfg.mask_thr
        areas = masks.sum((1, 2)).float()
        # A mask must cover more pixels than its level's stride.
        keep = areas > cell_strides[cells]
        if not keep.any():
            return self._empty_result(kernels, out_shape)
        mask_probs, masks, areas = mask_probs[keep], masks[keep], areas[keep]
        scores, labels = scores[keep], labels[keep]
        # Maskness: mean probability inside the mask rescales the score.
        scores = scores * ((mask_probs * masks).sum((1, 2)) / areas)

        scores, labels, _, kept = self._mask_nms(masks, labels, scores,
                                                 areas, cfg)
        if len(kept) == 0:
            return self._empty_result(kernels, out_shape)
        final_masks = resize_to_image(mask_probs[kept], self.mask_stride,
                                      img_meta, rescale) > cfg.mask_thr
        results = InstanceData()
        results.masks = final_masks
        results.labels = labels
        results.scores = scores
        results.bboxes = masks_to_boxes(final_masks)
        return results

    def _candidate_masks(self, mask_feats: MaskFeats, kernels: Tensor,
                         levels: Tensor) -> Tensor:
        """Mask logits (K, h, w) of one image's candidate kernels (K, D)
        from cells of the given levels (K,); per-level mask features
        (a list) are convolved by their own level's kernels only."""
        if isinstance(mask_feats, Tensor):
            return self.dynamic_masks(mask_feats, kernels)
        logits = kernels.new_empty(len(kernels), *mask_feats[0].shape[-2:])
        for level, level_feats in enumerate(mask_feats):
            in_level = levels == level
            if in_level.any():
                logits[in_level] = self.dynamic_masks(level_feats,
                                                      kernels[in_level])
        return logits

    @staticmethod
    def _mask_nms(masks: Tensor, labels: Tensor, scores: Tensor,
                  areas: Tensor,
                  cfg: ConfigDict) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """The NMS that ``cfg.nms_type`` names (Matrix NMS if absent) on
        masks (n, h, w) with their labels, scores and areas (n,); returns
        ``(scores, labels, masks, keep_inds)`` of the kept masks."""
        nms_type = cfg.get('nms_type', 'matrix')
        common = dict(
            mask_area=areas,
            nms_pre=cfg.nms_pre,
            max_num=cfg.max_per_img,
            filter_thr=cfg.filter_thr)
        if nms_type == 'matrix':
            return matrix_nms(
                masks,
                labels,
                scores,
                kernel=cfg.kernel,
                sigma=cfg.sigma,
                **common)
        if nms_type == 'hard':
            return hard_mask_nms(
                masks, labels, scores, iou_thr=cfg.iou_thr, **common)
        if nms_type == 'fast':
            return fast_mask_nms(
                masks, labels, scores, iou_thr=cfg.iou_thr, **common)
        return soft_mask_nms(masks, labels, scores, sigma=cfg.sigma, **common)

    @staticmethod
    def _empty_result(like: Tensor, out_shape: Tuple[int,
                                                     int]) -> InstanceData:
        """No instances, float32 whatever the dtype of ``like`` (which
        gives the device)."""
        results = InstanceData()
        results.scores = like.new_zeros(0, dtype=torch.float32)
        results.labels = like.new_zeros(0, dtype=torch.long)
        results.masks = like.new_zeros((0, *out_shape), dtype=torch.bool)
        results.bboxes = like.new_zeros((0, 4), dtype=torch.float32)
        return results
