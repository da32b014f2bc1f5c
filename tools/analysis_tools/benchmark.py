"""Inference speed of a model: images per second of ``model.test_step``,
or with ``--stages`` the time of every stage of an inference.

    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT]
        [--max-iter 2000] [--log-interval 50] [--num-warmup 5]
        [--batch-size 1] [--fuse-conv-bn] [--fp16] [--device cpu|cuda]
        [--synthetic [--shape H W]] [--stages [--out TIMES.json]]
        [--backend pytorch|onnxruntime|openvino] [--cfg-options ...]

Images come ``--batch-size`` at a time (no dataloader workers) from the
config's ``test_dataloader``, repeated when it holds fewer than needed;
with ``--synthetic`` they are seeded random images of ``--shape`` (default:
the ``scale`` of the test pipeline's ``Resize``, as H x W) sent through the
test pipeline, so no dataset is needed. The first ``--num-warmup`` batches
are not timed; then ``--max-iter`` batches are (unlike mmdet's benchmark,
whose ``--max-iter`` counts the warm-up too). The time of a batch is that
of ``model.test_step`` (data preprocessor, forward, post-processing, CUDA
synchronised), not of data loading. Prints, like mmdet's::

    Done image [50 /2000], fps: 10.2 img/s, times per image: 98.0 ms/img
    Overall fps: 10.3 img/s, times per image: 97.1 ms/img

``--stages`` times each iteration end to end, from loading the images to
the RLE encoding of the results as ``CocoMetric`` does it, and within it
every stage (test pipeline, data preprocessor, backbone, FPN, mask-feature
neck, head, the post-processing steps, or for an exported graph the graph
and the host's steps around it; :mod:`mmsolo.runner.inference_benchmark`),
synchronising CUDA at every stage boundary. It prints a table (stage, mean
ms, ms per image, share %), the model-only and end-to-end images per
second, and with ``--out`` writes every iteration's times as JSON.

Without CHECKPOINT the model gets seeded random weights (``--seed``) with the
backbone's ``init_cfg`` removed, which times the model, not a trained one.
"""

import argparse
import os
from typing import Optional, Sequence

import torch
from mmcv.cnn import fuse_conv_bn
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import load_checkpoint

from mmsolo.checkpoint import add_unsafe_load_argument, tool_checkpoint_loading
from mmsolo.deploy.cli import add_backend_argument
from mmsolo.fileio import dump_json_atomically
from mmsolo.registry import MODELS
from mmsolo.runner import load_tool_config
from mmsolo.runner.inference_benchmark import (
    dataset_loads,
    run_benchmark,
    run_stage_benchmark,
    synthetic_loads,
)
from mmsolo.utils import config_input_shape, cpu_precision_choice
from mmsolo.utils.stage_timer import (
    StageTimer,
    format_stage_table,
    images_per_second,
    stage_times_json,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark the inference speed of a model'
    )
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint file; without it the weights are random',
    )
    parser.add_argument(
        '--max-iter',
        type=int,
        default=2000,
        help='number of timed batches (after the warm-up)',
    )
    parser.add_argument(
        '--log-interval',
        type=int,
        default=50,
        help='print the fps so far every this many timed batches',
    )
    parser.add_argument(
        '--num-warmup',
        type=int,
        default=5,
        help='number of batches run before timing starts',
    )
    parser.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='images per batch (per model call)',
    )
    parser.add_argument(
        '--stages',
        action='store_true',
        help='time every stage, from loading the images to the RLE '
        'encoding of the results, and print a table of them',
    )
    parser.add_argument(
        '--out',
        metavar='FILE.json',
        help='with --stages: write the times of every iteration here',
    )
    parser.add_argument(
        '--fuse-conv-bn',
        action='store_true',
        help='fuse conv and bn layers (slightly faster inference)',
    )
    parser.add_argument(
        '--fp16',
        action='store_true',
        help='half-precision autocast: float16 on CUDA, bfloat16 on a CPU '
        'that computes it natively (AVX512-BF16, AMX; float32 elsewhere); '
        'outputs stay float32',
    )
    parser.add_argument(
        '--device',
        choices=['cpu', 'cuda'],
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='cuda where available, else cpu',
    )
    parser.add_argument(
        '--synthetic',
        action='store_true',
        help='random images instead of the test dataset',
    )
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='size of the --synthetic images (default: the scale of the '
        'test pipeline Resize)',
    )
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the random weights and of --synthetic images',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.test_cfg.nms_pre=300',
    )
    add_unsafe_load_argument(parser)
    # --- deployment (mmsolo/deploy): CHECKPOINT is an exported .onnx file.
    add_backend_argument(parser, 'time')
    # --- end deployment
    args = parser.parse_args()
    if args.backend != 'pytorch' and args.checkpoint is None:
        parser.error(
            f'--backend {args.backend} needs CHECKPOINT, the .onnx file'
        )
    if args.max_iter < 1:
        parser.error(f'--max-iter must be at least 1, got {args.max_iter}')
    if args.log_interval < 1:
        parser.error(
            f'--log-interval must be at least 1, got {args.log_interval}'
        )
    if args.batch_size < 1:
        parser.error(f'--batch-size must be at least 1, got {args.batch_size}')
    if args.out is not None and not args.stages:
        parser.error('--out writes the times of --stages; add --stages')
    if args.out is not None and os.path.isdir(args.out):
        parser.error(f'--out {args.out} is a directory; give a .json file')
    if args.num_warmup < 0:
        parser.error(f'--num-warmup must be >= 0, got {args.num_warmup}')
    if args.shape is not None and not args.synthetic:
        parser.error(
            '--shape sets the size of --synthetic images; '
            'add --synthetic or drop --shape'
        )
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available here')
    return args


def build_model(
    cfg: Config,
    checkpoint: Optional[str],
    device: str,
    fuse: bool,
    seed: int,
    logger: MMLogger,
    unsafe_load: bool = False,
) -> torch.nn.Module:
    """The detector in eval mode on ``device``, with the checkpoint's weights
    (read safely unless ``unsafe_load``) or, without one, seeded random
    ones."""
    if checkpoint is None:
        cfg.model.backbone.init_cfg = None
        torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        model.init_weights()
        logger.info(
            'no checkpoint given: random weights (seed '
            f'{seed}, backbone init_cfg=None); the speed is the '
            "model's, the predictions mean nothing"
        )
    else:
        with tool_checkpoint_loading(unsafe_load):
            load_checkpoint(model, checkpoint, map_location='cpu')
    model = revert_sync_batchnorm(model)
    if fuse:
        model = fuse_conv_bn(model)
    return model.to(device).eval()


def autocast_dtype(
    device: str, fp16: bool, logger: MMLogger
) -> Optional[torch.dtype]:
    """The autocast dtype of ``--fp16`` on ``device`` (None without it):
    float16 on CUDA; on a CPU bfloat16 where the CPU computes it natively,
    else None (float32, logged: emulated bfloat16 would time the emulation).
    """
    if not fp16:
        return None
    if device == 'cuda':
        return torch.float16
    dtype, reason = cpu_precision_choice()
    if dtype != torch.bfloat16:
        logger.warning(
            f'--fp16: float32, not bfloat16, on this CPU ({reason})'
        )
        return None
    return torch.bfloat16


def report_stages(
    args: argparse.Namespace,
    timer: StageTimer,
    stages: Sequence[str],
    logger: MMLogger,
) -> None:
    """Log the table of the stages and both images-per-second figures;
    write the raw times to ``args.out`` (atomically) if given."""
    iterations = timer.iterations
    model_fps = images_per_second(iterations, 'model')
    end_to_end_fps = images_per_second(iterations)
    logger.info(
        f'stages (mean of {len(iterations)} batches of '
        f'{iterations[-1].images} images):\n'
        + format_stage_table(iterations, stages)
    )
    logger.info(
        f'model-only fps: {model_fps:.1f} img/s (data preprocessor to '
        f'post-processing), end-to-end fps: {end_to_end_fps:.1f} img/s '
        '(loading to RLE encoding)'
    )
    if args.out is None:
        return
    times = stage_times_json(iterations, stages)
    times.update(
        config=args.config,
        checkpoint=args.checkpoint,
        backend=args.backend,
        device=args.device,
        batch_size=args.batch_size,
        synthetic_shape=list(args.shape or []) if args.synthetic else None,
        cpu_threads=torch.get_num_threads(),
        fps=dict(model=model_fps, end_to_end=end_to_end_fps),
    )
    dump_json_atomically(times, args.out, indent=1)
    logger.info(f'times of every iteration written to {args.out}')


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options)
    logger = MMLogger.get_instance('mmsolo-benchmark', log_level='INFO')

    if args.backend != 'pytorch':  # --- deployment
        from mmsolo.deploy import build_deployed_model

        model = build_deployed_model(cfg, args.checkpoint, args.backend)
        logger.info(f'{args.backend}: {args.checkpoint}')
    else:
        model = build_model(
            cfg,
            args.checkpoint,
            args.device,
            args.fuse_conv_bn,
            args.seed,
            logger,
            args.unsafe_load,
        )
    if args.synthetic:
        try:
            shape = args.shape or config_input_shape(cfg)
        except ValueError as error:  # no Resize to take the size from
            raise SystemExit(f'benchmark.py: {error}') from None
        args.shape = shape
        logger.info(f'synthetic {shape[0]}x{shape[1]} images (H x W)')
        loads = synthetic_loads(cfg, shape, args.seed, args.batch_size)
    else:
        loads = dataset_loads(cfg, args.batch_size)
    amp_dtype = autocast_dtype(args.device, args.fp16, logger)
    logger.info(
        f'device: {args.device}, '
        f'{torch.get_num_threads()} CPU threads, '
        f'batch size {args.batch_size}'
        + (f', autocast {amp_dtype}' if amp_dtype else '')
    )
    run = run_stage_benchmark if args.stages else run_benchmark
    result = run(
        model,
        loads,
        args.max_iter,
        args.num_warmup,
        args.log_interval,
        args.device,
        logger,
        amp_dtype,
    )
    if args.stages:
        report_stages(args, *result, logger)


if __name__ == '__main__':
    main()
