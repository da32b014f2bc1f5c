from .run_config import load_run_config
from .setup_env import register_all_modules

__all__ = ['load_run_config', 'register_all_modules']
