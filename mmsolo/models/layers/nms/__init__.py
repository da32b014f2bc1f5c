"""Mask NMS: Matrix NMS and the hard, soft and Fast NMS it is compared
with, on one scaffolding (:mod:`.common`)."""

from .classic import (
    fast_mask_nms,
    fast_rule,
    hard_mask_nms,
    hard_rule,
    soft_mask_nms,
    soft_rule,
)
from .common import NMSResult, iou_mask_nms, mask_iou_matrix, run_mask_nms
from .matrix import (
    DECAY_KERNELS,
    linked_pairs,
    matrix_nms,
    matrix_nms_decay,
    matrix_rule,
    pair_intersections,
    sparse_matrix_nms_decay,
)

# Each mask NMS's rule on a given IoU (see :mod:`.common`), by the NMS's
# name in the FUNCTIONS registry.
IOU_RULES = {
    'matrix_nms': matrix_rule,
    'hard_mask_nms': hard_rule,
    'soft_mask_nms': soft_rule,
    'fast_mask_nms': fast_rule,
}

__all__ = [
    'DECAY_KERNELS',
    'IOU_RULES',
    'NMSResult',
    'fast_mask_nms',
    'hard_mask_nms',
    'iou_mask_nms',
    'linked_pairs',
    'mask_iou_matrix',
    'matrix_nms',
    'matrix_nms_decay',
    'pair_intersections',
    'run_mask_nms',
    'soft_mask_nms',
    'sparse_matrix_nms_decay',
]
