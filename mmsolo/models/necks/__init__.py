from .mask_feature_neck import MaskFeatureNeck

__all__ = ['MaskFeatureNeck']
