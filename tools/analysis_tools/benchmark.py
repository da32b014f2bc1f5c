"""Inference speed of a model: images per second of ``model.test_step``.

    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT]
        [--max-iter 2000] [--log-interval 50] [--num-warmup 5]
        [--fuse-conv-bn] [--fp16] [--device cpu|cuda]
        [--synthetic [--shape H W]]
        [--cfg-options ...]

Images come one at a time (batch size 1, no dataloader workers) from the
config's ``test_dataloader``, repeated when it holds fewer than
``num_warmup + max_iter``; with ``--synthetic`` they are seeded random images
of ``--shape`` (default: the ``scale`` of the test pipeline's ``Resize``, as
H x W) sent through the test pipeline, so no dataset is needed. The first
``--num-warmup`` images are not timed; then ``--max-iter`` images are (unlike
mmdet's benchmark, whose ``--max-iter`` counts the warm-up too). The time of
an image is that of ``model.test_step`` (data preprocessor, forward,
post-processing, CUDA synchronised), not of data loading. Prints, like
mmdet's::

    Done image [50 /2000], fps: 10.2 img/s, times per image: 98.0 ms/img
    Overall fps: 10.3 img/s, times per image: 97.1 ms/img

Without CHECKPOINT the model gets seeded random weights (``--seed``) with the
backbone's ``init_cfg`` removed, which times the model, not a trained one.
"""

import argparse
import copy
import itertools
import time
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from mmcv.cnn import fuse_conv_bn
from mmcv.transforms import Compose
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import Runner, load_checkpoint

from mmsolo.checkpoint import add_unsafe_load_argument, tool_checkpoint_loading
from mmsolo.deploy.cli import add_backend_argument
from mmsolo.registry import MODELS
from mmsolo.runner import load_tool_config
from mmsolo.utils import config_input_shape, cpu_precision_choice


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
        help='number of timed images (after the warm-up)',
    )
    parser.add_argument(
        '--log-interval',
        type=int,
        default=50,
        help='print the fps so far every this many timed images',
    )
    parser.add_argument(
        '--num-warmup',
        type=int,
        default=5,
        help='number of images run before timing starts',
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


def synthetic_batches(
    cfg: Config, shape: Sequence[int], seed: int
) -> Iterator[dict]:
    """Endless batches of one seeded random (H, W, 3) uint8 image, through
    the test pipeline (image from an array, annotations left out)."""
    pipeline_cfg = [
        copy.deepcopy(transform)
        for transform in get_test_pipeline_cfg(cfg)
        if transform.type.split('.')[-1] != 'LoadAnnotations'
    ]
    pipeline_cfg[0].type = 'mmdet.LoadImageFromNDArray'
    pipeline = Compose(pipeline_cfg)
    rng = np.random.default_rng(seed)
    for index in itertools.count():
        image = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
        yield pseudo_collate([pipeline(dict(img=image, img_id=index))])


def dataset_batches(cfg: Config) -> Iterator[dict]:
    """Endless batches of one test image each, the test set repeated."""
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    if len(loader) == 0:
        raise ValueError(
            'the test dataset (test_dataloader.dataset) is '
            'empty; point it at images or use --synthetic'
        )
    while True:
        yield from loader


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


def run_benchmark(
    model: torch.nn.Module,
    batches: Iterator[dict],
    max_iter: int,
    num_warmup: int,
    log_interval: int,
    device: str,
    logger: MMLogger,
    amp_dtype: Optional[torch.dtype] = None,
) -> float:
    """Time ``max_iter`` images after ``num_warmup`` (under autocast to
    ``amp_dtype`` if given); return the overall fps."""

    def sync() -> None:
        if device == 'cuda':
            torch.cuda.synchronize()

    logger.info(f'warm-up: {num_warmup} images')
    timed = 0.0
    for index, batch in enumerate(
        itertools.islice(batches, num_warmup + max_iter)
    ):
        sync()
        start = time.perf_counter()
        with (
            torch.no_grad(),
            torch.autocast(
                device,
                dtype=amp_dtype or torch.float32,
                enabled=amp_dtype is not None,
            ),
        ):
            model.test_step(batch)
        sync()
        if index < num_warmup:
            continue
        timed += time.perf_counter() - start
        done = index + 1 - num_warmup
        if done % log_interval == 0 or done == max_iter:
            fps = done / timed
            message = (
                f'Done image [{done:<3}/{max_iter}], '
                f'fps: {fps:.1f} img/s, '
                f'times per image: {1000 / fps:.1f} ms/img'
            )
            if device == 'cuda':
                memory = torch.cuda.max_memory_allocated() // 2**20
                message += f', cuda memory: {memory} MB'
            logger.info(message)
    fps = max_iter / timed
    logger.info(
        f'Overall fps: {fps:.1f} img/s, '
        f'times per image: {1000 / fps:.1f} ms/img'
    )
    return fps


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
        logger.info(f'synthetic {shape[0]}x{shape[1]} images (H x W)')
        batches = synthetic_batches(cfg, shape, args.seed)
    else:
        batches = dataset_batches(cfg)
    amp_dtype = autocast_dtype(args.device, args.fp16, logger)
    logger.info(
        f'device: {args.device}, '
        f'{torch.get_num_threads()} CPU threads'
        + (f', autocast {amp_dtype}' if amp_dtype else '')
    )
    run_benchmark(
        model,
        batches,
        args.max_iter,
        args.num_warmup,
        args.log_interval,
        args.device,
        logger,
        amp_dtype,
    )


if __name__ == '__main__':
    main()
