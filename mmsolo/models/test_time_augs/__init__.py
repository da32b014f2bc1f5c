from .solov2_tta import SOLOv2TTAModel, flip_masks_back

__all__ = ['SOLOv2TTAModel', 'flip_masks_back']
