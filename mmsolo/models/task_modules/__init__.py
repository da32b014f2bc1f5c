from .grid_assigner import CenterRegionGridAssigner, GridTargets
from .solov2_post_processor import SOLOv2PostProcessor, point_nms
from .test_cfg import (DEFAULT_TEST_CFG, NMS_TYPES, build_test_cfg,
                       mask_box_settings, mask_box_threshold)

__all__ = [
    'CenterRegionGridAssigner', 'DEFAULT_TEST_CFG', 'GridTargets',
    'NMS_TYPES', 'SOLOv2PostProcessor', 'build_test_cfg', 'mask_box_settings',
    'mask_box_threshold', 'point_nms'
]
