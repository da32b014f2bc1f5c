"""Train a detector: ``python tools/train.py CONFIG [--work-dir DIR]``."""
import argparse
import os
import sys

import torch
from mmengine.config import DictAction
from mmengine.runner import Runner

from mmsolo.apis import cpu_process_group, load_run_config
from mmsolo.checkpoint import (add_unsafe_load_argument,
                               tool_checkpoint_loading)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a SOLOv2 model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision: float16 with loss scaling on CUDA, '
        'bfloat16 (BF16OptimWrapper) on CPU')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.mask_head.num_classes=3')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    add_unsafe_load_argument(parser)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir,
                          args.launcher)
    if args.amp and torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    elif args.amp:  # mmengine's AmpOptimWrapper needs a GPU
        cfg.optim_wrapper.type = 'BF16OptimWrapper'
        cfg.optim_wrapper.device_type = 'cpu'
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
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
                f'{error}. Last checkpoint: {last or "none saved yet"}')
            sys.exit(1)


if __name__ == '__main__':
    main()
