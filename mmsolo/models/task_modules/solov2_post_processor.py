"""SOLOv2's test-time post-processing: grid cells -> instances.

Per image: point NMS of the category probabilities, the candidates above
``score_thr`` (at most ``nms_pre``), their masks from the dynamic kernels,
the area filter, maskness rescoring, the mask NMS that ``nms_type`` names,
and the kept masks resized to the image with their boxes (the tight boxes,
or with ``mask_box='main_parts'`` the boxes of their main parts, see
:func:`mmsolo.models.layers.masks_to_boxes`; with ``mask_box_thr``, of the
pixels whose probability is above it). Each stage is a public method
on tensors, with no Python loop over candidates.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmsolo.registry import FUNCTIONS, TASK_UTILS
from ..layers import (MaskFeatures, box_pixels, masks_to_boxes,
                      resize_to_image)
from .test_cfg import (DEFAULT_NMS_TYPE, NMS_TYPES, build_test_cfg,
                       mask_box_settings, mask_box_threshold)

NMSResult = Tuple[Tensor, Tensor, Tensor, Tensor]


def point_nms(cls_probs: Tensor) -> Tensor:
    """Zero every probability that is not the maximum of its 2x2 window
    (the cell, its left, upper and upper-left neighbours).

    Args:
        cls_probs (Tensor): (N, C, S, S) category probabilities.

    Returns:
        Tensor: (N, C, S, S), the maxima kept, the rest 0.
    """
    window_max = F.max_pool2d(cls_probs, 2, stride=1, padding=1)
    return cls_probs * (window_max[:, :, :-1, :-1] == cls_probs)


def maskness(mask_probs: Tensor, masks: Tensor, areas: Tensor) -> Tensor:
    """Mean probability inside each thresholded mask.

    Args:
        mask_probs (Tensor): (K, h, w) mask probabilities.
        masks (Tensor): (K, h, w) bool, ``mask_probs > mask_thr``.
        areas (Tensor): (K,) float ``masks.sum((1, 2))``, all positive.

    Returns:
        Tensor: (K,) maskness.
    """
    return (mask_probs * masks).sum((1, 2)) / areas


def empty_instances(like: Tensor, out_shape: Tuple[int,
                                                   int]) -> InstanceData:
    """No instances, at ``out_shape``, float32 whatever the dtype of
    ``like`` (which gives the device)."""
    results = InstanceData()
    results.scores = like.new_zeros(0, dtype=torch.float32)
    results.labels = like.new_zeros(0, dtype=torch.long)
    results.masks = like.new_zeros((0, *out_shape), dtype=torch.bool)
    results.bboxes = like.new_zeros((0, 4), dtype=torch.float32)
    return results


@TASK_UTILS.register_module()
class SOLOv2PostProcessor:
    """Instances from SOLOv2's per-level kernels and category logits.

    Bounded: when more than ``nms_pre`` category scores pass ``score_thr``,
    masks are computed only for the ``nms_pre`` best (kept in cell order),
    so time and memory do not grow with the number of candidates. mmdet
    computes every candidate's mask, drops those not larger than their
    level's minimum area, rescales by maskness and then keeps the
    ``nms_pre`` best; so with more candidates than ``nms_pre`` this ranks
    before maskness and does not refill places freed by the area filter.
    With at most ``nms_pre`` candidates the two are identical.

    Args:
        num_grids (Sequence[int]): S of each head level.
        min_mask_areas (Sequence[int]): Per level, the area (pixels at the
            mask-feature scale) that a candidate's mask must exceed; the
            head's ``strides``.
        mask_stride (int): Stride of the mask features.
        kernel_size (int): k of the dynamic k x k kernels.
        test_cfg (dict, optional): ``nms_pre``, ``score_thr``, ``mask_thr``,
            ``filter_thr``, ``max_per_img``, the mask NMS and the box mode
            ``mask_box`` (see :mod:`.test_cfg`); merged with the defaults
            and checked here.
    """

    def __init__(self,
                 num_grids: Sequence[int],
                 min_mask_areas: Sequence[int],
                 mask_stride: int,
                 kernel_size: int,
                 test_cfg: Optional[dict] = None) -> None:
        self.num_grids = list(num_grids)
        self.min_mask_areas = list(min_mask_areas)
        self.mask_stride = mask_stride
        self.kernel_size = kernel_size
        self.test_cfg = build_test_cfg(test_cfg)

    def __call__(self,
                 kernel_preds: List[Tensor],
                 cls_preds: List[Tensor],
                 mask_feats: MaskFeatures,
                 batch_img_metas: List[dict],
                 rescale: bool = True,
                 cfg: Optional[dict] = None) -> InstanceList:
        """Instances of each image of a batch.

        Args:
            kernel_preds (list[Tensor]): Per level (N, D, S, S) kernels.
            cls_preds (list[Tensor]): Per level (N, C, S, S) logits.
            mask_feats (MaskFeatures): Maps of (N, E, h, w).
            batch_img_metas (list[dict]): ``img_shape``, ``ori_shape``.
            rescale (bool): Masks at ``ori_shape`` if True, else at
                ``img_shape``.
            cfg (dict, optional): A test config used instead of
                ``self.test_cfg`` (merged and checked the same way).

        Returns:
            list[InstanceData]: Per image ``scores`` (n,), ``labels`` (n,),
            ``masks`` (n, H, W) bool and ``bboxes`` (n, 4), the boxes of the
            masks that ``cfg.mask_box`` names.
        """
        cfg = self.test_cfg if cfg is None else build_test_cfg(cfg)
        cell_probs = self.flat_cells(
            [point_nms(level.sigmoid()) for level in cls_preds])
        cell_kernels = self.flat_cells(kernel_preds)
        return [
            self.predict_image(cell_kernels[img_id], cell_probs[img_id],
                               mask_feats, img_id, img_meta, cfg, rescale)
            for img_id, img_meta in enumerate(batch_img_metas)
        ]

    @staticmethod
    def flat_cells(level_maps: List[Tensor]) -> Tensor:
        """Per-level (N, X, S, S) maps -> (N, num_cells, X), the cells of
        level 0 first, each level's row by row."""
        return torch.cat([level.flatten(2) for level in level_maps],
                         2).transpose(1, 2)

    def cell_levels(self, like: Tensor) -> Tensor:
        """(num_cells,) head level of each cell (long, on ``like``'s
        device)."""
        return torch.cat([
            like.new_full((num_grid**2, ), level, dtype=torch.long)
            for level, num_grid in enumerate(self.num_grids)
        ])

    def predict_image(self, kernels: Tensor, cell_probs: Tensor,
                      mask_feats: MaskFeatures, img_id: int, img_meta: dict,
                      cfg: ConfigDict, rescale: bool) -> InstanceData:
        """Instances of one image from its (num_cells, D) kernels and
        (num_cells, C) category probabilities after point NMS."""
        out_shape = img_meta['ori_shape'][:2] if rescale \
            else img_meta['img_shape'][:2]
        cls_scores, cells, labels = self.select_candidates(cell_probs, cfg)
        if len(cls_scores) == 0:
            return empty_instances(kernels, out_shape)
        levels = self.cell_levels(kernels)[cells]
        mask_probs = self.candidate_mask_probs(mask_feats, img_id,
                                               kernels[cells], levels)
        masks = mask_probs > cfg.mask_thr
        areas = masks.sum((1, 2)).float()
        keep = areas > areas.new_tensor(self.min_mask_areas)[levels]
        if not keep.any():
            return empty_instances(kernels, out_shape)
        mask_probs, masks, areas = mask_probs[keep], masks[keep], areas[keep]
        mask_scores = cls_scores[keep] * maskness(mask_probs, masks, areas)
        nms_scores, nms_labels, _, kept = self.mask_nms(
            masks, labels[keep], mask_scores, areas, cfg)
        if len(kept) == 0:
            return empty_instances(kernels, out_shape)
        results = InstanceData()
        image_probs = self.resize_probs(mask_probs[kept], img_meta, rescale)
        results.masks = image_probs > cfg.mask_thr
        results.labels = nms_labels
        results.scores = nms_scores
        results.bboxes = masks_to_boxes(
            box_pixels(results.masks, image_probs, mask_box_threshold(cfg)),
            *mask_box_settings(cfg))
        return results

    @staticmethod
    def select_candidates(cell_probs: Tensor,
                          cfg: ConfigDict) -> Tuple[Tensor, Tensor, Tensor]:
        """The (cell, class) pairs scoring above ``cfg.score_thr``; the
        ``cfg.nms_pre`` best of them (in cell order) when there are more.

        Args:
            cell_probs (Tensor): (num_cells, C) probabilities after point
                NMS.

        Returns:
            tuple[Tensor]: ``(cls_scores, cells, labels)``, each (K,).
        """
        is_candidate = cell_probs > cfg.score_thr
        # float32 from here on, also under bf16/fp16 autocast: a half
        # precision sum over a mask can exceed its area (maskness > 1).
        cls_scores = cell_probs[is_candidate].float()
        cells, labels = is_candidate.nonzero().unbind(1)
        if 0 < cfg.nms_pre < len(cls_scores):
            top = cls_scores.topk(cfg.nms_pre).indices.sort().values
            cls_scores, cells, labels = cls_scores[top], cells[top], labels[top]
        return cls_scores, cells, labels

    def candidate_mask_probs(self, mask_feats: MaskFeatures, img_id: int,
                             kernels: Tensor, levels: Tensor) -> Tensor:
        """(K, h, w) mask probabilities of image ``img_id``'s candidate
        kernels (K, D) from cells of the given levels (K,)."""
        return mask_feats.logits(img_id, kernels, levels,
                                 self.kernel_size).float().sigmoid()

    @staticmethod
    def mask_nms(masks: Tensor, labels: Tensor, scores: Tensor, areas: Tensor,
                 cfg: ConfigDict) -> NMSResult:
        """The NMS that ``cfg.nms_type`` names (looked up in the FUNCTIONS
        registry) on masks (n, h, w) with their labels, scores and areas
        (n,); returns ``(scores, labels, masks, keep_inds)`` of the kept
        masks. The candidates are at most ``nms_pre`` already."""
        nms_type = NMS_TYPES[cfg.get('nms_type', DEFAULT_NMS_TYPE)]
        nms = FUNCTIONS.get(nms_type.function)
        return nms(
            masks,
            labels,
            scores,
            mask_area=areas,
            max_num=cfg.max_per_img,
            filter_thr=cfg.filter_thr,
            **{key: cfg[key]
               for key in nms_type.keys})

    def resize_probs(self, mask_probs: Tensor, img_meta: dict,
                     rescale: bool) -> Tensor:
        """(n, h, w) mask probabilities at the mask stride -> (n, H, W)
        at the image (``ori_shape`` if ``rescale``); the masks are those
        ``> mask_thr``."""
        return resize_to_image(mask_probs, self.mask_stride, img_meta,
                               rescale)
