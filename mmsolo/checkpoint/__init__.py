from .converters import convert_mmdet_state_dict, save_checkpoint_atomic

__all__ = ['convert_mmdet_state_dict', 'save_checkpoint_atomic']
