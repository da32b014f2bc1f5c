from .adelaidet_layout import convert_adelaidet_state_dict
from .converters import convert_mmdet_state_dict, save_checkpoint_atomic
from .solo_layout import convert_solo_state_dict
from .zoo_layouts import (LAYOUT_CONVERTERS, convert_zoo_state_dict,
                          detect_layout)

__all__ = [
    'convert_mmdet_state_dict', 'save_checkpoint_atomic',
    'convert_solo_state_dict', 'convert_adelaidet_state_dict', 'detect_layout',
    'convert_zoo_state_dict', 'LAYOUT_CONVERTERS'
]
