from .bilinear_upsample import (
    bilinear_upsample_2x,
    bilinear_upsample_2x_adjoint,
)
from .coord import concat_coords, coord_features
from .grid_postprocess import (
    cell_levels,
    flat_cells,
    maskness,
    point_nms,
    select_candidates,
    threshold_masks,
)
from .image_resize import resize_to_image
from .mask_bits import pack_mask_rows, packed_mask_bounds
from .mask_boxes import (
    DEFAULT_MIN_PART,
    MASK_BOX_MODES,
    main_part_bounds,
    masks_to_boxes,
)
from .mask_features import (
    MaskFeatures,
    batched_dynamic_mask_logits,
    dynamic_mask_logits,
)
from .memory_format import (
    nchw_only_types,
    resolve_channels_last,
    to_channels_last,
)
from .nms import (
    fast_mask_nms,
    hard_mask_nms,
    mask_iou_matrix,
    matrix_nms,
    matrix_nms_decay,
    soft_mask_nms,
)
from .pyramid_fusion import LevelTower, PyramidFusion

__all__ = [
    'DEFAULT_MIN_PART',
    'LevelTower',
    'MASK_BOX_MODES',
    'MaskFeatures',
    'PyramidFusion',
    'bilinear_upsample_2x',
    'bilinear_upsample_2x_adjoint',
    'batched_dynamic_mask_logits',
    'cell_levels',
    'coord_features',
    'concat_coords',
    'dynamic_mask_logits',
    'flat_cells',
    'maskness',
    'fast_mask_nms',
    'hard_mask_nms',
    'main_part_bounds',
    'mask_iou_matrix',
    'masks_to_boxes',
    'matrix_nms',
    'matrix_nms_decay',
    'nchw_only_types',
    'pack_mask_rows',
    'packed_mask_bounds',
    'point_nms',
    'resize_to_image',
    'select_candidates',
    'threshold_masks',
    'soft_mask_nms',
    'resolve_channels_last',
    'to_channels_last',
]
