"""Mask NMS: Matrix NMS and the hard, soft and Fast NMS it is compared
with, on one scaffolding (:mod:`.common`)."""

from .classic import fast_mask_nms, hard_mask_nms, soft_mask_nms
from .common import NMSResult, mask_iou_matrix, run_mask_nms
from .matrix import (
    DECAY_KERNELS,
    linked_pairs,
    matrix_nms,
    matrix_nms_decay,
    pair_intersections,
    sparse_matrix_nms_decay,
)

__all__ = [
    'DECAY_KERNELS',
    'NMSResult',
    'fast_mask_nms',
    'hard_mask_nms',
    'linked_pairs',
    'mask_iou_matrix',
    'matrix_nms',
    'matrix_nms_decay',
    'pair_intersections',
    'run_mask_nms',
    'soft_mask_nms',
    'sparse_matrix_nms_decay',
]
