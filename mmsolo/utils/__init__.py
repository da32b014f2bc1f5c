from .messages import abbreviated
from .setup_env import register_all_modules
from .trusted_checkpoints import (load_from_trusted_local,
                                  trusted_local_checkpoints)

__all__ = [
    'abbreviated', 'load_from_trusted_local', 'register_all_modules',
    'trusted_local_checkpoints'
]
