"""Config loading shared by mmsolo's tools."""

import datetime
import os.path as osp
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from mmsolo.engine import FinetuneLoadHook
from mmsolo.engine.model_wrappers import CPU_DDP_TYPE
from mmsolo.utils import register_all_modules

FINETUNE_HOOK = FinetuneLoadHook.__name__


def load_run_config(
    config_path: str,
    cfg_options: Optional[dict] = None,
    work_dir: Optional[str] = None,
    launcher: str = 'none',
) -> Config:
    """The config of a run, as mmdet's tools make it.

    Registers mmsolo's modules, merges ``cfg_options`` (``--cfg-options``),
    sets the launcher, and picks the work dir: ``work_dir`` if given, else
    the config's own, else ``./work_dirs/<config name>``. A distributed run
    on a machine without CUDA is switched to the CPU (see
    :func:`use_cpu_distributed`). ``mmsolo.FinetuneLoadHook`` is added to
    the custom hooks (see :func:`add_finetune_load_hook`).
    """
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config_path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join(
            './work_dirs', osp.splitext(osp.basename(config_path))[0]
        )
    if launcher != 'none' and not torch.cuda.is_available():
        use_cpu_distributed(cfg)
    add_finetune_load_hook(cfg)
    return cfg


def add_finetune_load_hook(cfg: Config) -> None:
    """Add ``mmsolo.FinetuneLoadHook`` to ``cfg.custom_hooks`` unless it is
    listed: a ``load_from`` trained on other classes then fine-tunes with
    its classifier re-initialised (one log line), and any other shape
    mismatch stops the run naming the key, with no field in the config."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(
        isinstance(hook, dict)
        and str(hook.get('type', '')).split('.')[-1] == FINETUNE_HOOK
        for hook in hooks
    ):
        hooks.append(dict(type=f'mmsolo.{FINETUNE_HOOK}'))
    cfg.custom_hooks = hooks


def load_tool_config(
    config_path: str, cfg_options: Optional[dict] = None
) -> Config:
    """The config of a tool that builds modules itself, without a Runner
    (benchmark, FLOPs, dataset browser): mmsolo's modules registered,
    ``cfg_options`` merged, and the config's ``default_scope`` (``mmsolo``
    if it names none) made the default scope, as the Runner would."""
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config_path)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmsolo'))
    return cfg


def use_cpu_distributed(cfg: Config) -> None:
    """Make a distributed run work on CPUs: the gloo backend instead of nccl
    (which needs CUDA) and ``CPUDistributedDataParallel`` as the model
    wrapper (torch's DDP refuses the ``device_ids`` mmengine gives it for a
    CPU model). Says so in a log line; a GPU run never comes here."""
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg.backend = 'gloo'
        print_log(
            'CUDA is not available: distributed training uses the gloo '
            'backend (env_cfg.dist_cfg.backend="gloo") and '
            'CPUDistributedDataParallel',
            logger='current',
        )
    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = dict(
            type=CPU_DDP_TYPE,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
        )
    elif wrapper_cfg.get('type', 'MMDistributedDataParallel') in (
        'MMDistributedDataParallel',
        'mmengine.MMDistributedDataParallel',
    ):
        wrapper_cfg.type = CPU_DDP_TYPE


@contextmanager
def cpu_process_group(cfg: Config) -> Iterator[None]:
    """Within the block, the process group of a CPU run started by
    ``torchrun``; train or test in it.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which fails
    without CUDA; the group made here (backend from ``env_cfg.dist_cfg``,
    rank and world size from torchrun's environment) is found by the
    Runner, which then skips ``init_dist``. When the block ends, the ranks
    wait for each other and the group is destroyed: a rank leaving while
    another still talks to it aborts in gloo's threads ("terminate called
    without an active exception"). After an error no rank waits (torchrun
    stops the others). Nothing happens for non-distributed runs, when CUDA
    is available, or when the group exists already.

    Raises:
        ValueError: a CPU run with a launcher other than ``pytorch``.
    """
    if (
        cfg.launcher == 'none'
        or torch.cuda.is_available()
        or torch_dist.is_initialized()
    ):
        yield
        return
    if cfg.launcher != 'pytorch':
        raise ValueError(
            f'--launcher {cfg.launcher} needs CUDA; without it distributed '
            'runs are started by torchrun (tools/dist_train.sh, '
            'tools/dist_test.sh) with --launcher pytorch'
        )
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'gloo')
    timeout = dist_cfg.pop('timeout', None)
    if timeout is not None:
        dist_cfg['timeout'] = datetime.timedelta(seconds=timeout)
    torch_dist.init_process_group(backend=backend, **dist_cfg)
    print_log(
        f'rank {torch_dist.get_rank()} of {torch_dist.get_world_size()} '
        f'joined the {backend} process group'
    )
    try:
        yield
        torch_dist.barrier()
    finally:
        torch_dist.destroy_process_group()
