"""SOLOv2 post-processing written for export: vectorised over the batch,
without Python loops over images or candidates and without host syncs.

The steps and their order are those of ``SOLOv2Head.predict_by_feat``
(point NMS, score filter, ``nms_pre`` best, kernel gather, dynamic conv,
mask threshold, per-level minimum area, maskness, class-aware Matrix NMS,
``filter_thr``, ``max_per_img``), laid out per image in "slots":

* every image keeps its ``k = min(nms_pre, cells * C)`` best (cell, class)
  scores by one ``topk``; slots below ``score_thr`` are invalid, and all
  tensors are cut to the largest number of valid slots of the batch, ``m``
  (data dependent), so the work follows the number of candidates;
* Matrix NMS is a dense (B, m, m) computation; pairs that are not of the
  same class, or involve an invalid slot, are masked out. The IoU of 0/1
  masks is an integer matmul in float32, exact like mmsolo's sparse path.

The outputs are flat, image after image, each image's detections by
descending score, with a batch index and a per-image count; there are no
padding rows, and an image (or a batch) with no detection gives none.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmsolo.models.layers.mask_boxes import (DEFAULT_MIN_PART, box_pixels,
                                             kept_span, main_part_bounds)

OUTPUT_NAMES = ('scores', 'labels', 'masks', 'boxes', 'batch_index',
                'counts', 'mask_probs')


def point_nms(scores: Tensor) -> Tensor:
    """Zero the scores (N, C, S, S) that are not the maximum of their 2x2
    window (cell, left, upper, upper-left), as the head's point NMS."""
    window_max = F.max_pool2d(scores, 2, stride=1, padding=1)
    return scores * (window_max[:, :, :-1, :-1] == scores).to(scores.dtype)


def flatten_levels(kernel_preds: Sequence[Tensor],
                   cls_preds: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
    """Per-level head outputs as one cell axis, in the head's cell order.

    Args:
        kernel_preds: per level (B, D, S, S).
        cls_preds: per level (B, C, S, S) logits.

    Returns:
        tuple[Tensor]: kernels (B, L, D) and point-NMS'd scores (B, L * C),
        flat index ``cell * C + class``; L is the number of cells.
    """
    batch = cls_preds[0].shape[0]
    scores = torch.cat([
        point_nms(level.sigmoid()).permute(0, 2, 3, 1).reshape(batch, -1)
        for level in cls_preds
    ], 1)
    kernels = torch.cat([
        level.permute(0, 2, 3, 1).reshape(batch, -1, level.shape[1])
        for level in kernel_preds
    ], 1)
    return kernels, scores


def select_candidates(scores: Tensor, score_thr: float,
                      nms_pre: int) -> Tuple[Tensor, Tensor, Tensor]:
    """The ``nms_pre`` best (cell, class) scores above ``score_thr`` of
    each image, cut to the largest number of candidates of the batch.

    Args:
        scores (Tensor): (B, L * C) scores.

    Returns:
        tuple[Tensor]: slot scores (B, m), flat indices (B, m) and validity
        (B, m) bool; m >= 1 (all-invalid when there is no candidate).
    """
    num = scores.shape[1]
    k = min(nms_pre, num) if nms_pre > 0 else num
    masked = torch.where(scores > score_thr, scores,
                         torch.full_like(scores, -1.0))
    top_scores, top_index = masked.topk(k, dim=1)
    valid = top_scores > score_thr
    m = valid.sum(1).max().clamp(min=1)
    m = _as_size(m, k)
    return top_scores[:, :m], top_index[:, :m], valid[:, :m]


def _as_size(value: Tensor, upper: int) -> int:
    """A data-dependent size in [1, upper] that export can trace."""
    size = value.item()
    torch._check(size >= 1)
    torch._check(size <= upper)
    return size


def gather_kernels(kernels: Tensor, cells: Tensor) -> Tensor:
    """Kernels (B, L, D) of the slots' cells (B, m): (B, m, D)."""
    index = cells[:, :, None].expand(-1, -1, kernels.shape[2])
    return torch.gather(kernels, 1, index)


def dynamic_mask_probs(mask_feats: Tensor, kernels: Tensor,
                       conv_size: int) -> Tensor:
    """Mask probabilities of each slot's dynamic kernel on its own image.

    Args:
        mask_feats (Tensor): (B, E, h, w) mask features.
        kernels (Tensor): (B, m, E * k * k) kernels.
        conv_size (int): k of the dynamic k x k conv.

    Returns:
        Tensor: (B, m, h, w) probabilities.
    """
    batch, channels, height, width = mask_feats.shape
    if conv_size == 1:
        feats = mask_feats.reshape(batch, channels, height * width)
    else:
        feats = F.unfold(mask_feats, conv_size, padding=conv_size // 2)
    logits = torch.bmm(kernels, feats)
    return logits.reshape(batch, -1, height, width).sigmoid()


def maskness_scores(probs: Tensor, scores: Tensor, valid: Tensor,
                    min_areas: Tensor,
                    mask_thr: float) -> Tuple[Tensor, Tensor, Tensor]:
    """Binary masks, areas and maskness-rescaled scores of the slots.

    Args:
        probs (Tensor): (B, m, h, w) mask probabilities.
        scores (Tensor): (B, m) category scores.
        valid (Tensor): (B, m) bool.
        min_areas (Tensor): (B, m) stride of each slot's level; a mask must
            cover more pixels.
        mask_thr (float): Threshold of the probabilities.

    Returns:
        tuple[Tensor]: masks (B, m, h * w) float 0/1, areas (B, m), scores
        (B, m) with -1 where the slot is invalid or its mask too small.
    """
    flat = probs.flatten(2)
    masks = (flat > mask_thr).to(flat.dtype)
    areas = masks.sum(2)
    keep = valid & (areas > min_areas)
    maskness = (flat * masks).sum(2) / areas.clamp(min=1.0)
    scores = torch.where(keep, scores * maskness,
                         torch.full_like(scores, -1.0))
    return masks, areas, scores


def sort_slots(scores: Tensor, *tensors: Tensor) -> List[Tensor]:
    """Sort the slots (B, m) of every image by descending score; the
    tensors (B, m, ...) follow."""
    scores, order = scores.sort(dim=1, descending=True)
    return [scores] + [take_slots(tensor, order) for tensor in tensors]


def take_slots(tensor: Tensor, slots: Tensor) -> Tensor:
    """``tensor[b, slots[b, j]]`` for (B, m, ...) ``tensor`` and (B, r)
    ``slots``: (B, r, ...)."""
    images = torch.arange(slots.shape[0], device=slots.device)[:, None]
    return tensor[images.expand_as(slots), slots]


def matrix_nms_decay(masks: Tensor, areas: Tensor, labels: Tensor,
                     valid: Tensor, kernel: str, sigma: float) -> Tensor:
    """Matrix NMS decay of every image's slots, sorted by descending score.

    ``decay[j] = min(1, min_i f(iou[i, j]) / f(comp[i]))`` over the
    higher-scored ``i`` of the same class and image (see
    :mod:`mmsolo.models.layers.matrix_nms`), with every other pair masked.

    Args:
        masks (Tensor): (B, m, P) float 0/1 masks.
        areas (Tensor): (B, m) their areas.
        labels (Tensor): (B, m) classes.
        valid (Tensor): (B, m) bool.
        kernel (str): ``'gaussian'`` or ``'linear'``.
        sigma (float): Width of the gaussian kernel.

    Returns:
        Tensor: (B, m) decay in (0, 1].
    """
    inter = torch.bmm(masks, masks.transpose(1, 2))
    union = areas[:, :, None] + areas[:, None, :] - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1e-12),
                      torch.zeros_like(inter))
    num = masks.shape[1]
    order = torch.arange(num, device=masks.device)
    suppressor = ((order[:, None] < order[None, :])[None]
                  & (labels[:, :, None] == labels[:, None, :])
                  & valid[:, :, None] & valid[:, None, :])
    pair_iou = iou * suppressor.to(iou.dtype)
    comp = pair_iou.max(dim=1).values[:, :, None]
    if kernel == 'gaussian':
        ratio = torch.exp(-sigma * pair_iou**2) / torch.exp(-sigma * comp**2)
    else:
        ratio = (1 - pair_iou) / (1 - comp)
    # An exact duplicate of a higher mask (comp == 1) gives 0/0 in the
    # linear kernel; that higher mask decays j fully already.
    usable = suppressor & ~torch.isnan(ratio)
    ratio = torch.where(usable, ratio, torch.full_like(ratio, float('inf')))
    return ratio.min(dim=1).values.clamp(max=1.0)


def masks_to_boxes(masks: Tensor,
                   mask_box: str = 'tight',
                   min_part: float = DEFAULT_MIN_PART,
                   probs: Optional[Tensor] = None,
                   mask_thr: float = 0.5) -> Tensor:
    """Boxes (n, 4) float of bool masks (n, H, W), as
    :func:`mmsolo.models.layers.masks_to_boxes` computes them: ``'tight'``
    ``(x0, y0, x1 + 1, y1 + 1)``, or ``'main_parts'`` (the runs of rows and
    columns holding at least ``min_part`` of the largest run's pixels, by
    the same :func:`~mmsolo.models.layers.main_part_bounds`); empty masks
    get zeros.

    ``probs`` (n, H, W), the probabilities the masks are ``> mask_thr``
    of, lets tight boxes skip the casts of the masks: a row holds a mask
    pixel exactly when its largest probability is above the threshold, so
    the projections are two max-reductions of ``probs`` (same boxes)."""
    if mask_box == 'main_parts':
        counts = masks.to(torch.float32)
        return main_part_bounds(counts.sum(2), counts.sum(1), min_part)
    if probs is None:
        rows, cols = masks.any(2), masks.any(1)
    else:
        rows, cols = probs.amax(2) > mask_thr, probs.amax(1) > mask_thr
    y0, y1 = kept_span(rows)
    x0, x1 = kept_span(cols)
    return torch.stack([x0, y0, x1, y1], 1).float()


def nms_and_top(scores: Tensor, labels: Tensor, masks: Tensor,
                areas: Tensor, cfg: dict) -> Tuple[Tensor, Tensor]:
    """Matrix NMS, ``filter_thr`` and ``max_per_img`` of sorted slots.

    Args:
        scores (Tensor): (B, m) maskness scores by descending order, -1 for
            dropped slots.
        labels, areas (Tensor): (B, m).
        masks (Tensor): (B, m, P) float 0/1.
        cfg (dict): ``kernel``, ``sigma``, ``filter_thr``, ``max_per_img``.

    Returns:
        tuple[Tensor]: final scores (B, r) by descending order, -1 where
        there is no detection, and their slots (B, r) in the inputs;
        r = min(m, max_per_img).
    """
    valid = scores > 0
    decay = matrix_nms_decay(masks, areas, labels, valid, cfg['kernel'],
                             cfg['sigma'])
    decayed = scores * decay
    keep = valid & (decayed >= cfg['filter_thr']) if cfg['filter_thr'] > 0 \
        else valid
    decayed = torch.where(keep, decayed, torch.full_like(decayed, -1.0))
    decayed, slots = decayed.sort(dim=1, descending=True)
    max_num = cfg['max_per_img']
    if max_num > 0:
        decayed, slots = decayed[:, :max_num], slots[:, :max_num]
    return decayed, slots


def bilinear_weights(out_size: int, in_size: int,
                     device: torch.device) -> Tensor:
    """(out_size, in_size) weights of ``F.interpolate``'s bilinear
    resizing along one axis (``align_corners=False``): row ``y`` holds the
    two weights of the input entries that output ``y`` mixes, computed in
    float32 as PyTorch computes them (source ``scale * (y + 0.5) - 0.5``,
    clamped at 0, ``scale = in_size / out_size``)."""
    scale = in_size / out_size
    dst = torch.arange(out_size, device=device, dtype=torch.float32)
    src = (scale * (dst + 0.5) - 0.5).clamp(min=0.0)
    low = src.floor().clamp(max=in_size - 1)
    high = (low + 1).clamp(max=in_size - 1)
    frac = src - low
    index = torch.arange(in_size, device=device,
                         dtype=torch.float32)[None, :]
    return ((1.0 - frac)[:, None] * (index == low[:, None]).float() +
            frac[:, None] * (index == high[:, None]).float())


def upsample_probs(probs: Tensor, stride: int) -> Tensor:
    """Probabilities (n, h, w) bilinearly upsampled to the padded input:
    (n, h * stride, w * stride); ``> mask_thr`` of them are the masks.

    ``F.interpolate``'s resizing as two matrix products with the weights
    of :func:`bilinear_weights`, along the width, then the height (the
    order of PyTorch's kernel): in ONNX Runtime and OpenVINO two GEMMs
    are several times faster than their Resize of the same size
    (4x of 100 masks to 448x768: 240 ms in ORT's Resize and 150 ms more to
    drop its channel axis). The values are PyTorch's up to float rounding
    (a mask pixel flips only within an ulp of ``mask_thr``)."""
    height, width = probs.shape[-2:]
    across = bilinear_weights(width * stride, width, probs.device)
    down = bilinear_weights(height * stride, height, probs.device)
    return torch.matmul(down, torch.matmul(probs, across.t()))


def graph_predict(kernel_preds: Sequence[Tensor], cls_preds: Sequence[Tensor],
                  mask_feats: Tensor, cell_strides: Tensor, spec: dict
                  ) -> Dict[str, Tensor]:
    """Detections of a batch from the SOLOv2 head's outputs.

    Args:
        kernel_preds: per level (B, D, S, S) dynamic kernels.
        cls_preds: per level (B, C, S, S) category logits.
        mask_feats (Tensor): (B, E, h, w) mask features.
        cell_strides (Tensor): (L,) float stride of each cell's level.
        spec (dict): the head's ``test_cfg`` keys (``score_thr``,
            ``nms_pre``, ``mask_thr``, ``filter_thr``, ``kernel``, ``sigma``,
            ``max_per_img``, ``mask_box``, ``mask_box_min_part``,
            ``mask_box_thr``: None or absent for boxes of the masks), plus
            ``num_classes``, ``conv_size`` and ``mask_stride``.

    Returns:
        dict[str, Tensor]: with n detections in all, image after image,
        each image's by descending score: ``scores`` (n,) float,
        ``labels`` (n,) int64, ``masks`` (n, H, W) bool at the padded input
        size, ``boxes`` (n, 4) float ``(x0, y0, x1, y1)`` of the masks
        (as ``spec['mask_box']`` says),
        ``batch_index`` (n,) int64 and ``counts`` (B,) int64.
    """
    kernels, scores = flatten_levels(kernel_preds, cls_preds)
    scores, flat_index, valid = select_candidates(scores, spec['score_thr'],
                                                  spec['nms_pre'])
    num_classes = spec['num_classes']
    cells = torch.div(flat_index, num_classes, rounding_mode='floor')
    labels = flat_index - cells * num_classes
    probs = dynamic_mask_probs(mask_feats, gather_kernels(kernels, cells),
                               spec['conv_size'])
    masks, areas, scores = maskness_scores(probs, scores, valid,
                                           cell_strides[cells],
                                           spec['mask_thr'])
    scores, labels, masks, areas, probs = sort_slots(scores, labels, masks,
                                                     areas, probs)
    final_scores, slots = nms_and_top(scores, labels, masks, areas, spec)
    detected = final_scores > 0
    images, ranks = detected.nonzero().unbind(1)
    chosen = slots[images, ranks]
    out_probs = probs[images, chosen]
    full_probs = upsample_probs(out_probs, spec['mask_stride'])
    out_masks = full_probs > spec['mask_thr']
    box_thr = spec.get('mask_box_thr')
    return dict(
        scores=final_scores[images, ranks],
        labels=labels[images, chosen],
        masks=out_masks,
        boxes=masks_to_boxes(
            box_pixels(out_masks, full_probs, box_thr), spec['mask_box'],
            spec['mask_box_min_part'], full_probs,
            spec['mask_thr'] if box_thr is None else box_thr),
        batch_index=images,
        counts=detected.sum(1),
        mask_probs=out_probs)
