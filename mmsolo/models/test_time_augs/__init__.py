from .sliced_model import (
    SlicedInferenceModel,
    predict_sliced,
    split_test_pipeline,
    use_sliced_inference,
)
from .solov2_tta import SOLOv2TTAModel, flip_masks_back
from .tile_merge import merge_tile_instances, slice_grid

__all__ = [
    'SOLOv2TTAModel',
    'SlicedInferenceModel',
    'flip_masks_back',
    'merge_tile_instances',
    'predict_sliced',
    'slice_grid',
    'split_test_pipeline',
    'use_sliced_inference',
]
