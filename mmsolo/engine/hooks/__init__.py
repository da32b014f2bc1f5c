from .num_classes_check_hook import (NumClassesCheckHook, check_num_classes,
                                     describe_dataset,
                                     modules_with_num_classes)

__all__ = [
    'NumClassesCheckHook', 'check_num_classes', 'describe_dataset',
    'modules_with_num_classes'
]
