"""SOLOv2's test-time post-processing: grid cells -> instances.

Per image: point NMS of the category probabilities, the candidates above
``score_thr`` (at most ``nms_pre``), their masks from the dynamic kernels,
the area filter, maskness rescoring, the mask NMS that ``nms_type`` names,
and the kept masks resized to the image with their boxes (the tight boxes,
or with ``mask_box='main_parts'`` the boxes of their main parts, see
:func:`mmsolo.models.layers.masks_to_boxes`; with ``mask_box_thr``, of the
pixels whose probability is above it). Each stage is a public method
on tensors, with no Python loop over candidates.

The math of the stages (point NMS, candidate selection, area filter,
maskness, the dense Matrix NMS decay, the boxes) is that of
:mod:`mmsolo.models.layers` (``grid_postprocess``, ``nms``, ``mask_boxes``),
which the exported ONNX graph (``mmsolo.deploy.graph_postprocess``) calls
on a whole batch. What is this module's own: one image at a time, it
stops as soon as no candidate is left, computes the candidates' masks by
``F.conv2d`` (``MaskFeatures.logits``, per-level maps too), runs any
registered mask NMS (Matrix NMS by its sparse path on the CPU) and resizes
the kept masks by ``F.interpolate`` to the image's own size (see
docs/architecture.md, "Post-processing").

The stages are marked with :func:`mmsolo.utils.stage_timer.timed_stage`
(``candidates``, ``mask_probs``, ``mask_nms``, ``resize``, ``boxes``),
which does nothing unless ``benchmark.py --stages`` is timing them.
"""

from functools import partial
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmsolo.registry import FUNCTIONS, TASK_UTILS
from mmsolo.utils.stage_timer import timed_stage
from ..layers import (
    MaskFeatures,
    cell_levels,
    flat_cells,
    maskness,
    point_nms,
    resize_to_image,
    select_candidates,
    threshold_masks,
)
from ..layers.nms import IOU_RULES, NMSResult, iou_mask_nms
from .predict_cfg import (
    DEFAULT_NMS_TYPE,
    NMS_TYPES,
    build_test_cfg,
    instance_boxes,
)


def empty_instances(like: Tensor, out_shape: Tuple[int, int]) -> InstanceData:
    """No instances, at ``out_shape``, float32 whatever the dtype of
    ``like`` (which gives the device)."""
    results = InstanceData()
    results.scores = like.new_zeros(0, dtype=torch.float32)
    results.labels = like.new_zeros(0, dtype=torch.long)
    results.masks = like.new_zeros((0, *out_shape), dtype=torch.bool)
    results.bboxes = like.new_zeros((0, 4), dtype=torch.float32)
    return results


def configured_nms(cfg: ConfigDict) -> Tuple[str, dict]:
    """The mask NMS ``cfg.nms_type`` names: its name in the FUNCTIONS
    registry and its own keys' values in ``cfg``."""
    nms_type = NMS_TYPES[cfg.get('nms_type', DEFAULT_NMS_TYPE)]
    return nms_type.function, {key: cfg[key] for key in nms_type.keys}


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
            ``mask_box`` (see :mod:`.predict_cfg`); merged with the defaults
            and checked here.
    """

    def __init__(
        self,
        num_grids: Sequence[int],
        min_mask_areas: Sequence[int],
        mask_stride: int,
        kernel_size: int,
        test_cfg: Optional[dict] = None,
    ) -> None:
        self.num_grids = list(num_grids)
        self.min_mask_areas = list(min_mask_areas)
        self.mask_stride = mask_stride
        self.kernel_size = kernel_size
        self.test_cfg = build_test_cfg(test_cfg)

    def __call__(
        self,
        kernel_preds: List[Tensor],
        cls_preds: List[Tensor],
        mask_feats: MaskFeatures,
        batch_img_metas: List[dict],
        rescale: bool = True,
        cfg: Optional[dict] = None,
    ) -> InstanceList:
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
        with timed_stage('candidates'):
            cell_probs = flat_cells(
                [point_nms(level.sigmoid()) for level in cls_preds]
            )
            cell_kernels = flat_cells(kernel_preds)
        return [
            self.predict_image(
                cell_kernels[img_id],
                cell_probs[img_id],
                mask_feats,
                img_id,
                img_meta,
                cfg,
                rescale,
            )
            for img_id, img_meta in enumerate(batch_img_metas)
        ]

    def predict_image(
        self,
        kernels: Tensor,
        cell_probs: Tensor,
        mask_feats: MaskFeatures,
        img_id: int,
        img_meta: dict,
        cfg: ConfigDict,
        rescale: bool,
    ) -> InstanceData:
        """Instances of one image from its (num_cells, D) kernels and
        (num_cells, C) category probabilities after point NMS."""
        out_shape = (
            img_meta['ori_shape'][:2] if rescale else img_meta['img_shape'][:2]
        )
        with timed_stage('candidates'):
            cls_scores, cells, labels = self.select_candidates(cell_probs, cfg)
        if len(cls_scores) == 0:
            return empty_instances(kernels, out_shape)
        with timed_stage('mask_probs'):
            levels = cell_levels(self.num_grids, kernels.device)[cells]
            mask_probs = self.candidate_mask_probs(
                mask_feats, img_id, kernels[cells], levels
            )
            min_areas = mask_probs.new_tensor(self.min_mask_areas)[levels]
            masks, areas, keep = threshold_masks(
                mask_probs, cfg.mask_thr, min_areas
            )
            if not keep.any():
                return empty_instances(kernels, out_shape)
            mask_probs, masks = mask_probs[keep], masks[keep]
            areas = areas[keep]
            mask_scores = cls_scores[keep] * maskness(mask_probs, masks, areas)
        with timed_stage('mask_nms'):
            nms_scores, nms_labels, _, kept = self.mask_nms(
                masks, labels[keep], mask_scores, areas, cfg
            )
        if len(kept) == 0:
            return empty_instances(kernels, out_shape)
        results = InstanceData()
        with timed_stage('resize'):
            image_probs = self.resize_probs(
                mask_probs[kept], img_meta, rescale
            )
            results.masks = image_probs > cfg.mask_thr
        results.labels = nms_labels
        results.scores = nms_scores
        with timed_stage('boxes'):
            results.bboxes = instance_boxes(results.masks, image_probs, cfg)
        return results

    @staticmethod
    def select_candidates(
        cell_probs: Tensor, cfg: ConfigDict
    ) -> Tuple[Tensor, Tensor, Tensor]:
        """The (cell, class) pairs scoring above ``cfg.score_thr``; the
        ``cfg.nms_pre`` best of them (in cell order) when there are more
        (:func:`mmsolo.models.layers.select_candidates` on one image).

        Args:
            cell_probs (Tensor): (num_cells, C) probabilities after point
                NMS.

        Returns:
            tuple[Tensor]: ``(cls_scores, cells, labels)``, each (K,);
            the scores in float32, also under bf16/fp16 autocast (a half
            precision sum over a mask can exceed its area: maskness > 1).
        """
        scores, cells, labels, valid = select_candidates(
            cell_probs[None], cfg.score_thr, cfg.nms_pre
        )
        count = int(valid.sum())  # the valid slots come first
        return scores[0, :count], cells[0, :count], labels[0, :count]

    def candidate_mask_probs(
        self,
        mask_feats: MaskFeatures,
        img_id: int,
        kernels: Tensor,
        levels: Tensor,
    ) -> Tensor:
        """(K, h, w) mask probabilities of image ``img_id``'s candidate
        kernels (K, D) from cells of the given levels (K,)."""
        return (
            mask_feats.logits(img_id, kernels, levels, self.kernel_size)
            .float()
            .sigmoid()
        )

    @staticmethod
    def mask_nms(
        masks: Tensor,
        labels: Tensor,
        scores: Tensor,
        areas: Tensor,
        cfg: ConfigDict,
    ) -> NMSResult:
        """The NMS that ``cfg.nms_type`` names (looked up in the FUNCTIONS
        registry) on masks (n, h, w) with their labels, scores and areas
        (n,); returns ``(scores, labels, None, keep_inds)`` of the kept
        masks: the caller takes the kept masks' probabilities by
        ``keep_inds``, so the NMS copies no masks. The candidates are at
        most ``nms_pre`` already."""
        function, keys = configured_nms(cfg)
        return FUNCTIONS.get(function)(
            masks,
            labels,
            scores,
            mask_area=areas,
            max_num=cfg.max_per_img,
            filter_thr=cfg.filter_thr,
            return_masks=False,
            **keys,
        )

    @staticmethod
    def iou_nms(
        iou: Tensor, labels: Tensor, scores: Tensor, cfg: ConfigDict
    ) -> Tuple[Tensor, Tensor, Tensor]:
        """The NMS of :meth:`mask_nms` on the (n, n) IoU of the candidates,
        counted by the caller (sliced inference's merge counts it from
        cropped masks); returns ``(scores, labels, keep_inds)``."""
        function, keys = configured_nms(cfg)
        return iou_mask_nms(
            partial(IOU_RULES[function], **keys),
            iou,
            labels,
            scores,
            filter_thr=cfg.filter_thr,
            max_num=cfg.max_per_img,
        )

    def resize_probs(
        self, mask_probs: Tensor, img_meta: dict, rescale: bool
    ) -> Tensor:
        """(n, h, w) mask probabilities at the mask stride -> (n, H, W)
        at the image (``ori_shape`` if ``rescale``); the masks are those
        ``> mask_thr``."""
        return resize_to_image(mask_probs, self.mask_stride, img_meta, rescale)
