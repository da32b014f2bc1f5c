from .base_mask_feature_neck import (
    BaseMaskFeatureNeck,
    check_neck_levels,
    mask_neck_out_spec,
)
from .mask_feature_neck import MaskFeatureNeck
from .separate_mask_feature_neck import SeparateMaskFeatureNeck

__all__ = [
    'BaseMaskFeatureNeck',
    'MaskFeatureNeck',
    'SeparateMaskFeatureNeck',
    'check_neck_levels',
    'mask_neck_out_spec',
]
