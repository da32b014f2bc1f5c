"""mmsolo against MMDetection 3.3's SOLOv2 on one device (CUDA by default).

Times, ours against mmdet's on the same weights and inputs in one run:

1. Matrix NMS of 500 and 1000 masks (``bench_matrix_nms.py``'s recipe,
   gaussian), results compared (labels and order equal, scores), with the
   dense and the sparse path of ours timed too (``path='auto'`` picks by
   device: these figures are what that choice is to be checked against);
2. end-to-end ``predict`` at batch 1 (FPS): R50 at 800x1333, the light-448
   model at 448x768 and the light-512 model at 512x852 without DCN (mmcv's
   compiled DCN is absent from the GPU environment: the backbone and head
   DCNs are dropped, so the FPS is that of the same network with plain
   convolutions);
3. a training iteration (``model.train_step``: forward, targets, losses,
   backward, SGD step) of R50 on a batch of 2 at 800x1216 with 50 objects
   each, in fp32 and with AMP (fp16 and loss scaling on CUDA, bf16 autocast
   on the CPU);

and the peak GPU memory of each (``torch.cuda.max_memory_allocated``).
Timing: CUDA events around each call after warm-up (the device is
synchronised before reading them); on the CPU ``time.perf_counter``.
Contenders alternate call by call, so both see the same machine state.

    python benchmarks/bench_gpu.py [--device cuda|cpu] [--repeats 20]
        [--warmup 5] [--parts nms predict train]

``--device cpu --repeats 1 --warmup 0`` checks the script where there is no
GPU (the figures then mean nothing for the GPU goals).
"""

import argparse
import copy
import os.path as osp
import sys
from typing import Callable, Dict, List

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_matrix_nms import compare, realistic_candidates  # noqa: E402
from common import print_table, quiet_init_logs, time_interleaved, wall_clock  # noqa: E402
from support import (  # noqa: E402
    build_paired_solov2,
    mmsolo_config_path,
    spread_class_scores,
)

from mmsolo.testing import demo_batch, random_gt_boxes  # noqa: E402

PREDICT_MODELS = (
    # (name, mmdet config, image shape)
    ('R50', 'solov2_r50_fpn_1x_coco.py', (800, 1333)),
    ('light-448', 'solov2-light_r50_fpn_ms-3x_coco.py', (448, 768)),
    (
        'light-512 (no DCN)',
        'solov2-light_r50-dcn_fpn_ms-3x_coco.py',
        (512, 852),
    ),
)
TEST_CFG = dict(
    nms_pre=500,
    score_thr=0.1,
    mask_thr=0.5,
    filter_thr=0.05,
    kernel='gaussian',
    sigma=2.0,
    max_per_img=100,
)


def cuda_clock(fn: Callable[[], object]) -> float:
    """Seconds of GPU time of ``fn()`` by CUDA events, its peak memory
    counted from zero (``torch.cuda.reset_peak_memory_stats``)."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3


def timed_calls(
    fns: Dict[str, Callable[[], object]],
    device: str,
    repeats: int,
    warmup: int,
) -> Dict[str, dict]:
    """Median ms and peak memory (MiB, CUDA only) of each function, the
    functions called in turn ``warmup + repeats`` times
    (``common.time_interleaved`` with :func:`cuda_clock` on CUDA)."""
    peaks = {name: 0.0 for name in fns}

    def with_peak(name: str, fn: Callable[[], object]) -> Callable[[], None]:
        def call() -> None:
            fn()
            if device == 'cuda':
                peaks[name] = max(
                    peaks[name], torch.cuda.max_memory_allocated() / 2**20
                )

        return call

    times = time_interleaved(
        {name: with_peak(name, fn) for name, fn in fns.items()},
        repeats,
        warmup,
        grad=True,
        clock=cuda_clock if device == 'cuda' else wall_clock,
    )
    return {name: dict(ms=times[name], peak_mib=peaks[name]) for name in fns}


def bench_nms(device: str, repeats: int, warmup: int) -> List[tuple]:
    from mmdet.models.layers import mask_matrix_nms

    from mmsolo.models.layers import matrix_nms
    from mmsolo.models.layers.nms.matrix import matrix_nms_path

    rows = []
    for num in (500, 1000):
        masks, labels, scores = (
            t.to(device) for t in realistic_candidates(num, 10)
        )
        kwargs = dict(kernel='gaussian', sigma=2.0)
        diff = compare(
            matrix_nms(masks, labels, scores, **kwargs),
            mask_matrix_nms(masks, labels, scores, **kwargs),
        )
        result = timed_calls(
            dict(
                mmdet=lambda: mask_matrix_nms(masks, labels, scores, **kwargs),
                ours=lambda: matrix_nms(masks, labels, scores, **kwargs),
                dense=lambda: matrix_nms(
                    masks, labels, scores, path='dense', **kwargs
                ),
                sparse=lambda: matrix_nms(
                    masks, labels, scores, path='sparse', **kwargs
                ),
            ),
            device,
            repeats,
            warmup,
        )
        rows.append(
            row(
                f'Matrix NMS {num} masks',
                result,
                f'max |score diff| {diff:.1e}; auto takes the '
                f'{matrix_nms_path(masks)} path; dense '
                f'{result["dense"]["ms"]:.2f}'
                f' ms, sparse {result["sparse"]["ms"]:.2f} ms',
            )
        )
    return rows


def row(what: str, result: Dict[str, dict], note: str = '') -> tuple:
    mmdet, ours = result['mmdet'], result['ours']
    return (
        what,
        mmdet['ms'],
        ours['ms'],
        mmdet['ms'] / ours['ms'],
        mmdet['peak_mib'],
        ours['peak_mib'],
        note,
    )


def paired(config: str, device: str):
    """mmdet's and mmsolo's model of ``config`` (same name in both), same
    seeded weights, no DCN (see the module docstring), on ``device``."""
    overrides = None
    if 'dcn' in config:
        overrides = dict(
            backbone=dict(dcn=None, stage_with_dcn=(False,) * 4),
            mask_head=dict(dcn_cfg=None),
        )
    reference, ours = build_paired_solov2(
        test_cfg=TEST_CFG,
        seed=0,
        kernel_scale=20,
        mmdet_config=config,
        mmsolo_config=mmsolo_config_path(f'solov2/{config}'),
        model_overrides=overrides,
    )
    spread_class_scores([reference, ours], mean=-5.5)
    return reference.to(device), ours.to(device)


def bench_predict(device: str, repeats: int, warmup: int) -> List[tuple]:
    rows = []
    for name, config, shape in PREDICT_MODELS:
        reference, ours = paired(config, device)
        inputs, samples = demo_batch([shape], [shape], seed=3)
        inputs = inputs.to(device)

        def predict(model):
            with torch.no_grad():
                return model.predict(inputs, copy.deepcopy(samples))

        result = timed_calls(
            dict(
                mmdet=lambda m=reference: predict(m),
                ours=lambda m=ours: predict(m),
            ),
            device,
            repeats,
            warmup,
        )
        fps = {k: 1e3 / v['ms'] for k, v in result.items()}
        rows.append(
            row(
                f'predict {name} {shape[0]}x{shape[1]}',
                result,
                f'FPS mmdet {fps["mmdet"]:.1f}, ours {fps["ours"]:.1f}',
            )
        )
        del reference, ours
    return rows


def bench_train(device: str, repeats: int, warmup: int) -> List[tuple]:
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    from mmsolo.engine import BF16OptimWrapper

    shape = (800, 1216)
    rows = []
    for precision in ('fp32', 'amp'):
        reference, ours = paired('solov2_r50_fpn_1x_coco.py', device)
        inputs, samples = demo_batch(
            [shape] * 2, gt_instances=random_gt_boxes(2, 50, shape, 80)
        )
        data = dict(
            inputs=[image.to(device) for image in inputs], data_samples=samples
        )

        def wrapper(model):
            optimizer = torch.optim.SGD(
                model.parameters(), lr=1e-4, momentum=0.9
            )
            if precision == 'fp32':
                return OptimWrapper(optimizer)
            if device == 'cuda':
                return AmpOptimWrapper(
                    optimizer=optimizer, loss_scale='dynamic'
                )
            return BF16OptimWrapper(optimizer=optimizer, device_type='cpu')

        steps = {}
        for key, model in (('mmdet', reference), ('ours', ours)):
            model.train()
            optim = wrapper(model)
            steps[key] = lambda m=model, o=optim: m.train_step(
                copy.deepcopy(data), o
            )
        result = timed_calls(steps, device, repeats, warmup)
        rows.append(
            row(f'train step R50 2x{shape[0]}x{shape[1]} {precision}', result)
        )
        del reference, ours
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument(
        '--parts',
        nargs='+',
        default=['nms', 'predict', 'train'],
        choices=['nms', 'predict', 'train'],
    )
    args = parser.parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error(
            '--device cuda: CUDA is not available here (use '
            '--device cpu to check the script)'
        )
    quiet_init_logs()
    torch.manual_seed(0)
    device_name = (
        torch.cuda.get_device_name() if args.device == 'cuda' else 'CPU'
    )
    print(
        f'device: {device_name}, torch {torch.__version__}, repeats '
        f'{args.repeats} after {args.warmup} warm-up rounds\n'
    )
    benches = dict(nms=bench_nms, predict=bench_predict, train=bench_train)
    rows = []
    for part in args.parts:
        rows += benches[part](args.device, args.repeats, args.warmup)
        print(f'{part} done', flush=True)
    print_table(
        (
            'what',
            'mmdet ms',
            'ours ms',
            'mmdet / ours',
            'mmdet peak MiB',
            'ours peak MiB',
            'note',
        ),
        rows,
    )


if __name__ == '__main__':
    main()
