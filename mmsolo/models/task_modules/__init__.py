from ..layers import point_nms
from .grid_assigner import CenterRegionGridAssigner, GridTargets
from .predict_cfg import (
    DEFAULT_TEST_CFG,
    NMS_TYPES,
    build_test_cfg,
    instance_boxes,
    mask_box_settings,
    mask_box_threshold,
    predict_cfg_keys,
)
from .solov2_post_processor import SOLOv2PostProcessor

__all__ = [
    'CenterRegionGridAssigner',
    'DEFAULT_TEST_CFG',
    'GridTargets',
    'NMS_TYPES',
    'SOLOv2PostProcessor',
    'build_test_cfg',
    'instance_boxes',
    'mask_box_settings',
    'mask_box_threshold',
    'point_nms',
    'predict_cfg_keys',
]
