from .reference import (MMSOLO_R50_CONFIG, build_paired_solov2, demo_batch,
                        mmdet_config_path)

__all__ = [
    'MMSOLO_R50_CONFIG', 'build_paired_solov2', 'demo_batch',
    'mmdet_config_path'
]
