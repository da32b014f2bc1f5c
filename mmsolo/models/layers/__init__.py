from .bilinear_upsample import (bilinear_upsample_2x,
                                bilinear_upsample_2x_adjoint)
from .coord import concat_coords, coord_features
from .image_resize import resize_to_image
from .mask_bits import mask_bounds, mask_projections, viewable_as_words
from .mask_boxes import (DEFAULT_MIN_PART, MASK_BOX_MODES, box_pixels,
                         main_part_bounds, masks_to_boxes)
from .mask_features import MaskFeatures, dynamic_mask_logits
from .memory_format import nchw_only_types, to_channels_last
from .nms import (fast_mask_nms, hard_mask_nms, mask_iou_matrix, matrix_nms,
                  matrix_nms_decay, soft_mask_nms)
from .pyramid_fusion import LevelTower, PyramidFusion

__all__ = [
    'DEFAULT_MIN_PART', 'LevelTower', 'MASK_BOX_MODES', 'MaskFeatures',
    'PyramidFusion', 'bilinear_upsample_2x', 'bilinear_upsample_2x_adjoint',
    'box_pixels', 'coord_features', 'concat_coords', 'dynamic_mask_logits',
    'fast_mask_nms', 'hard_mask_nms', 'main_part_bounds', 'mask_bounds',
    'mask_iou_matrix', 'mask_projections', 'masks_to_boxes', 'matrix_nms',
    'matrix_nms_decay', 'nchw_only_types', 'resize_to_image',
    'soft_mask_nms', 'to_channels_last', 'viewable_as_words'
]
