from .mask_feature_neck import MaskFeatureNeck
from .separate_mask_feature_neck import SeparateMaskFeatureNeck

__all__ = ['MaskFeatureNeck', 'SeparateMaskFeatureNeck']
