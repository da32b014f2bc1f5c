"""Train a detector: ``python tools/train.py CONFIG [--work-dir DIR]``."""

import argparse
import sys

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmsolo.checkpoint import add_unsafe_load_argument, tool_checkpoint_loading
from mmsolo.runner import cpu_process_group, load_run_config
from mmsolo.utils import add_cfg_options, add_launcher_args, parse_tool_args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a SOLOv2 model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision: float16 with loss scaling on CUDA; '
        'on a CPU, bfloat16 (BF16OptimWrapper) where the CPU computes it '
        'natively (AVX512-BF16, AMX), float32 elsewhere (logged)',
    )
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual batch size (GPUs x batch_size) '
        "against the config's auto_scale_lr.base_batch_size",
    )
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given',
    )
    add_cfg_options(parser)
    add_launcher_args(parser)
    add_unsafe_load_argument(parser)
    return parse_tool_args(parser)


def enable_auto_scale_lr(cfg: Config, config_path: str) -> None:
    """Turn on mmengine's lr scaling; the config must say for which batch
    size its lr is (``auto_scale_lr.base_batch_size``).

    Raises:
        SystemExit: naming the config and the missing field.
    """
    auto_scale_lr = cfg.get('auto_scale_lr', None)
    if not auto_scale_lr or 'base_batch_size' not in auto_scale_lr:
        raise SystemExit(
            f'--auto-scale-lr: {config_path} has no auto_scale_lr.'
            'base_batch_size; add auto_scale_lr = dict(enable=False, '
            'base_batch_size=N) with N the total batch size its lr is for '
            "(16 in mmsolo's COCO configs, 8 in the quick start)"
        )
    auto_scale_lr.enable = True


def main() -> None:
    args = parse_args()
    cfg = load_run_config(
        args.config, args.cfg_options, args.work_dir, args.launcher
    )
    if args.amp and torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    elif args.amp:  # mmengine's AmpOptimWrapper needs a GPU; this one
        # falls back to float32 on a CPU without native bfloat16.
        cfg.optim_wrapper.type = 'mmsolo.BF16OptimWrapper'
        cfg.optim_wrapper.device_type = 'cpu'
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg, args.config)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    # A distributed run without CUDA trains in its gloo process group.
    # Every checkpoint read (--resume, load_from, a backbone's Pretrained
    # init_cfg) goes through torch's restricted unpickler unless
    # --unsafe-load (mmsolo/checkpoint/safe_loading.py).
    with cpu_process_group(cfg), tool_checkpoint_loading(args.unsafe_load):
        runner = Runner.from_cfg(cfg)
        try:
            runner.train()
        except FloatingPointError as error:  # a NaN/inf loss or gradient
            last = runner.message_hub.get_info('last_ckpt')
            runner.logger.error(
                f'{error}. Last checkpoint: {last or "none saved yet"}'
            )
            sys.exit(1)


if __name__ == '__main__':
    main()
