"""Config loading shared by tools/train.py and tools/test.py."""
import os.path as osp
from typing import Optional

from mmengine.config import Config

from .setup_env import register_all_modules


def load_run_config(config_path: str,
                    cfg_options: Optional[dict] = None,
                    work_dir: Optional[str] = None,
                    launcher: str = 'none') -> Config:
    """The config of a run, as mmdet's tools make it.

    Registers mmsolo's modules, merges ``cfg_options`` (``--cfg-options``),
    sets the launcher, and picks the work dir: ``work_dir`` if given, else
    the config's own, else ``./work_dirs/<config name>``.
    """
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config_path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
    return cfg
