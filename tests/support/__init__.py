from .checkpoints import save_seeded_checkpoint
from .reference import (MMSOLO_R50_CONFIG, build_paired_from_mmsolo_config,
                        build_paired_solov2, demo_batch, mmdet_config_path,
                        mmdet_equivalent_model_cfg, mmsolo_config_path,
                        random_gt_boxes, spread_class_scores)
from .tiny_runs import write_tiny_config, write_tiny_shapes

__all__ = [
    'MMSOLO_R50_CONFIG', 'build_paired_from_mmsolo_config',
    'build_paired_solov2', 'demo_batch', 'mmdet_config_path',
    'mmdet_equivalent_model_cfg', 'mmsolo_config_path', 'random_gt_boxes',
    'save_seeded_checkpoint', 'spread_class_scores', 'write_tiny_config',
    'write_tiny_shapes'
]
