from .reference import (MMSOLO_R50_CONFIG, build_paired_solov2, demo_batch,
                        mmdet_config_path, mmsolo_config_path,
                        random_gt_boxes, spread_class_scores)

__all__ = [
    'MMSOLO_R50_CONFIG', 'build_paired_solov2', 'demo_batch',
    'mmdet_config_path', 'mmsolo_config_path', 'random_gt_boxes',
    'spread_class_scores'
]
