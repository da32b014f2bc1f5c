from .coord import concat_coords, coord_features
from .image_resize import resize_to_image
from .mask_boxes import masks_to_boxes
from .mask_nms import fast_mask_nms, hard_mask_nms, soft_mask_nms
from .matrix_nms import mask_iou_matrix, matrix_nms, matrix_nms_decay

__all__ = [
    'coord_features', 'concat_coords', 'masks_to_boxes', 'mask_iou_matrix',
    'matrix_nms', 'matrix_nms_decay', 'hard_mask_nms', 'soft_mask_nms',
    'fast_mask_nms', 'resize_to_image'
]
