"""The terms of SOLOv2's losses, from head outputs and grid targets."""

from typing import Any, Callable, List, Tuple

import torch
from mmdet.structures.bbox import get_box_tensor
from mmengine.structures import InstanceData
from torch import Tensor

from ..layers import MaskFeatures
from ..task_modules import GridTargets


def grid_targets(
    assigner: Any, gt_instances: InstanceData, featmap_size: Tuple[int, int]
) -> GridTargets:
    """Grid targets of one image's ``bboxes``, ``labels`` and ``masks``
    (``BitmapMasks`` or an (n, H, W) tensor) for mask features of
    ``featmap_size`` (h, w), by ``assigner`` (the head's)."""
    masks = gt_instances.masks
    return assigner.assign(
        get_box_tensor(gt_instances.bboxes),
        gt_instances.labels,
        masks if isinstance(masks, Tensor) else masks.to_ndarray(),
        featmap_size,
    )


def positive_mask_loss_sum(
    loss_mask: Callable,
    kernel_preds: List[Tensor],
    mask_feats: MaskFeatures,
    targets: List[GridTargets],
    kernel_size: int,
    chunk: int,
) -> Tensor:
    """The mask loss summed over the positive samples of a batch.

    Image by image, in float32 also when the forward ran under bf16
    autocast, and in chunks of ``chunk`` samples: the (P, h, w) logits and
    targets of a whole batch would be copied and traversed at memory speed
    several times, while a chunk's stay in the CPU's cache.
    Targets are gathered per chunk from one float copy of each instance's
    mask.

    Args:
        loss_mask (callable): e.g. mmdet's ``DiceLoss``, called with
            ``reduction_override='none'``.
        kernel_preds (list[Tensor]): Per level (N, D, S, S) kernels.
        mask_feats (MaskFeatures): Maps of (N, E, h, w).
        targets (list[GridTargets]): Per image.
        kernel_size (int): k of the dynamic kernels.
        chunk (int): Samples whose loss is computed at once.

    Returns:
        Tensor: the sum (0 when there is no positive sample).
    """
    loss_sum = 0
    # Per-image views by one unbind each (see MaskFeatures.image_maps).
    image_kernels = list(
        zip(*(level.flatten(2).unbind(0) for level in kernel_preds))
    )
    image_maps = mask_feats.image_maps()
    for img_id, target in enumerate(targets):
        kernels = torch.cat(
            [
                level_kernels[:, cells].t()
                for level_kernels, cells in zip(
                    image_kernels[img_id], target.pos_cells
                )
            ]
        )
        if not len(kernels):
            continue
        levels = torch.cat(
            [
                cells.new_full((len(cells),), level)
                for level, cells in enumerate(target.pos_cells)
            ]
        )
        rows = torch.cat(target.pos_instances)
        logits = mask_feats.logits(
            img_id, kernels, levels, kernel_size, image_maps[img_id]
        ).float()
        instance_masks = target.instance_masks.float()
        for chunk_logits, chunk_rows in zip(
            logits.split(chunk), rows.split(chunk)
        ):
            loss_sum = (
                loss_sum
                + loss_mask(
                    chunk_logits,
                    instance_masks[chunk_rows],
                    reduction_override='none',
                ).sum()
            )
    return loss_sum


def maybe_unused_inputs_zero(
    kernel_preds: List[Tensor], mask_feats: MaskFeatures, num_pos: int
) -> Tensor:
    """A zero that depends on the inputs that may have had no positive
    sample: per-level mask maps always, the shared map and the kernels when
    the batch has none. Added to the loss, it gives every parameter a
    gradient: DistributedDataParallel (find_unused_parameters=False) fails
    at the next iteration otherwise."""
    maybe_unused = []
    if mask_feats.per_level or num_pos == 0:
        maybe_unused += mask_feats.maps
    if num_pos == 0:
        maybe_unused += kernel_preds
    return sum(t.sum() for t in maybe_unused) * 0


def flat_cell_logits(cls_preds: List[Tensor]) -> Tensor:
    """Per-level (N, C, S, S) logits -> (num_cells_in_batch, C): level by
    level, image by image, cells row by row."""
    return torch.cat(
        [
            level_preds.permute(0, 2, 3, 1).reshape(-1, level_preds.shape[1])
            for level_preds in cls_preds
        ]
    )


def flat_cell_labels(targets: List[GridTargets], num_levels: int) -> Tensor:
    """The cells' labels in the order of :func:`flat_cell_logits`."""
    return torch.cat(
        [
            target.labels[level]
            for level in range(num_levels)
            for target in targets
        ]
    )
