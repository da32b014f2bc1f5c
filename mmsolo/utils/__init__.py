from .messages import abbreviated
from .setup_env import register_all_modules

__all__ = ['abbreviated', 'register_all_modules']
