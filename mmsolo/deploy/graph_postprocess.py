"""SOLOv2 post-processing of a batch as one exportable graph, without
Python loops over images or candidates and without host syncs but the one
data-dependent size.

The math is that of the eager ``SOLOv2PostProcessor``, the same functions
(:mod:`mmsolo.models.layers`: point NMS, candidate selection, area filter,
maskness, the dense Matrix NMS decay, the boxes of the masks), called on
the whole batch laid out in "slots":

* every image keeps its (at most ``nms_pre``) candidates above
  ``score_thr`` in its first slots; all images have as many slots as the
  one with the most candidates, ``m`` (data dependent), so the work follows
  the number of candidates, and the other slots are invalid;
* Matrix NMS is a dense (B, m, m) computation in which pairs of different
  classes, or with an invalid slot, are masked out. The IoU of 0/1 masks is
  a float32 matrix product of exact integers, as in mmsolo's sparse path.

What is the graph's own: the dynamic convolution is a batched matrix
product (:func:`~mmsolo.models.layers.batched_dynamic_mask_logits`), the
kept masks are upsampled by two matrix products (:func:`upsample_probs`),
and ``filter_thr`` and ``max_per_img`` are a per-image sort of the slots.
The eager path instead stops early when an image has no candidate left.

The outputs are flat, image after image, each image's detections by
descending score, with a batch index and a per-image count; there are no
padding rows, and an image (or a batch) with no detection gives none.
"""

from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor

from mmsolo.models.layers import (
    batched_dynamic_mask_logits,
    flat_cells,
    mask_iou_matrix,
    maskness,
    matrix_nms_decay,
    point_nms,
    select_candidates,
    threshold_masks,
)
from mmsolo.models.task_modules import instance_boxes

OUTPUT_NAMES = (
    'scores',
    'labels',
    'masks',
    'boxes',
    'batch_index',
    'counts',
    'mask_probs',
)


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


def nms_and_top(
    scores: Tensor, labels: Tensor, masks: Tensor, areas: Tensor, cfg: dict
) -> Tuple[Tensor, Tensor]:
    """Matrix NMS, ``filter_thr`` and ``max_per_img`` of sorted slots.

    Args:
        scores (Tensor): (B, m) maskness scores by descending order, -1 for
            dropped slots.
        labels, areas (Tensor): (B, m).
        masks (Tensor): (B, m, h, w) bool.
        cfg (dict): ``kernel``, ``sigma``, ``filter_thr``, ``max_per_img``.

    Returns:
        tuple[Tensor]: final scores (B, r) by descending order, -1 where
        there is no detection, and their slots (B, r) in the inputs;
        r = min(m, max_per_img).
    """
    valid = scores > 0
    decay = matrix_nms_decay(
        mask_iou_matrix(masks, areas),
        labels,
        cfg['kernel'],
        cfg['sigma'],
        valid,
    )
    decayed = scores * decay
    keep = (
        valid & (decayed >= cfg['filter_thr'])
        if cfg['filter_thr'] > 0
        else valid
    )
    decayed = torch.where(keep, decayed, torch.full_like(decayed, -1.0))
    decayed, slots = decayed.sort(dim=1, descending=True)
    max_num = cfg['max_per_img']
    if max_num > 0:
        decayed, slots = decayed[:, :max_num], slots[:, :max_num]
    return decayed, slots


def bilinear_weights(
    out_size: int, in_size: int, device: torch.device
) -> Tensor:
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
    index = torch.arange(in_size, device=device, dtype=torch.float32)[None, :]
    return (1.0 - frac)[:, None] * (index == low[:, None]).float() + frac[
        :, None
    ] * (index == high[:, None]).float()


def upsample_probs(probs: Tensor, stride: int) -> Tensor:
    """Probabilities (n, h, w) bilinearly upsampled to the padded input:
    (n, h * stride, w * stride); ``> mask_thr`` of them are the masks.

    ``F.interpolate``'s resizing as two matrix products with the weights
    of :func:`bilinear_weights`, along the width, then the height (the
    order of PyTorch's kernel): ONNX Runtime and OpenVINO run two GEMMs
    several times faster than their ``Resize`` of the same size (and a
    ``Resize`` of (n, 1, h, w) needs its channel axis dropped after;
    timings in README, "Deploy"). The values are PyTorch's up to float
    rounding (a mask pixel flips only within an ulp of ``mask_thr``)."""
    height, width = probs.shape[-2:]
    across = bilinear_weights(width * stride, width, probs.device)
    down = bilinear_weights(height * stride, height, probs.device)
    return torch.matmul(down, torch.matmul(probs, across.t()))


def candidate_slots(
    kernel_preds: Sequence[Tensor],
    cls_preds: Sequence[Tensor],
    mask_feats: Tensor,
    cell_strides: Tensor,
    spec: dict,
) -> List[Tensor]:
    """Each image's candidates with their masks and maskness scores.

    Returns:
        list[Tensor]: ``scores`` (B, m) (-1 in an invalid slot or one whose
        mask is not larger than its level's stride), ``labels`` (B, m),
        ``masks`` (B, m, h, w) bool, ``areas`` (B, m) and ``probs``
        (B, m, h, w) float, the slots sorted by descending score.
    """
    scores, cells, labels, valid = select_candidates(
        flat_cells([point_nms(level.sigmoid()) for level in cls_preds]),
        spec['score_thr'],
        spec['nms_pre'],
    )
    kernels = take_slots(flat_cells(kernel_preds), cells)
    probs = batched_dynamic_mask_logits(
        mask_feats, kernels, spec['conv_size']
    ).sigmoid()
    masks, areas, keep = threshold_masks(
        probs, spec['mask_thr'], cell_strides[cells]
    )
    scores = torch.where(
        valid & keep,
        scores * maskness(probs, masks, areas),
        torch.full_like(scores, -1.0),
    )
    return sort_slots(scores, labels, masks, areas, probs)


def graph_predict(
    kernel_preds: Sequence[Tensor],
    cls_preds: Sequence[Tensor],
    mask_feats: Tensor,
    cell_strides: Tensor,
    spec: dict,
) -> Dict[str, Tensor]:
    """Detections of a batch from the SOLOv2 head's outputs.

    Args:
        kernel_preds: per level (B, D, S, S) dynamic kernels.
        cls_preds: per level (B, C, S, S) category logits.
        mask_feats (Tensor): (B, E, h, w) mask features.
        cell_strides (Tensor): (L,) float stride of each cell's level, the
            area a cell's mask must exceed.
        spec (dict): the head's ``test_cfg`` keys (``score_thr``,
            ``nms_pre``, ``mask_thr``, ``filter_thr``, ``kernel``, ``sigma``,
            ``max_per_img``, ``mask_box``, ``mask_box_min_part``,
            ``mask_box_thr``: None or absent for boxes of the masks), plus
            ``conv_size`` and ``mask_stride``.

    Returns:
        dict[str, Tensor]: with n detections in all, image after image,
        each image's by descending score: ``scores`` (n,) float,
        ``labels`` (n,) int64, ``masks`` (n, H, W) bool at the padded input
        size, ``boxes`` (n, 4) float ``(x0, y0, x1, y1)`` of the masks
        (as ``spec['mask_box']`` says), ``batch_index`` (n,) int64,
        ``counts`` (B,) int64 and ``mask_probs`` (n, h, w) float.
    """
    scores, labels, masks, areas, probs = candidate_slots(
        kernel_preds, cls_preds, mask_feats, cell_strides, spec
    )
    final_scores, slots = nms_and_top(scores, labels, masks, areas, spec)
    detected = final_scores > 0
    images, ranks = detected.nonzero().unbind(1)
    chosen = slots[images, ranks]
    out_probs = probs[images, chosen]
    full_probs = upsample_probs(out_probs, spec['mask_stride'])
    out_masks = full_probs > spec['mask_thr']
    return dict(
        scores=final_scores[images, ranks],
        labels=labels[images, chosen],
        masks=out_masks,
        boxes=instance_boxes(out_masks, full_probs, spec, from_probs=True),
        batch_index=images,
        counts=detected.sum(1),
        mask_probs=out_probs,
    )
