"""Where a training step of ours spends its time: ``torch.profiler`` over a
few ``train_step`` calls of the quick-start model (or R50), the operators
with the most self CPU time, each with its input shapes; then the self time
of a step in all and in the convolutions (forward and backward), and the
operators with the most self time summed over their shapes.

This is how the unbind of the per-image mask features and the backward of
the 2x upsampling were found (README, quick start). Not a comparison with
mmdet: ``bench_train_step.py`` is that.

    python benchmarks/profile_train_step.py [--model quickstart|r50]
        [--precision bf16|fp32] [--steps 3] [--top 30]
"""

import argparse
import os.path as osp
import sys
import time
from typing import Dict, Iterable

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import bench_train_step as steps  # noqa: E402
from common import quiet_init_logs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--model', choices=('quickstart', 'r50'), default='quickstart'
    )
    parser.add_argument(
        '--precision', choices=('bf16', 'fp32'), default='bf16'
    )
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--top', type=int, default=30)
    args = parser.parse_args()
    quiet_init_logs()
    _, ours = steps.paired_trainees(args.model, args.precision)
    data = (
        steps.quickstart_data()
        if args.model == 'quickstart'
        else steps.r50_data()
    )
    for _ in range(2):  # warm-up: oneDNN primitives, allocator
        ours.step(data)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        ours.step(data)
        times.append(time.perf_counter() - start)
    print(
        f'{args.model} {args.precision}, {torch.get_num_threads()} '
        f'threads: steps of {", ".join(f"{t:.3f}" for t in times)} s'
    )
    with profile(
        activities=[ProfilerActivity.CPU], record_shapes=True
    ) as prof:
        for _ in range(args.steps):
            ours.step(data)
    events = sorted(
        prof.key_averages(group_by_input_shape=True),
        key=lambda e: -e.self_cpu_time_total,
    )
    print('| operator | self ms per step | calls per step | input shapes |')
    print('|---|---|---|---|')
    for event in events[: args.top]:
        shapes = str(event.input_shapes)[:100]
        print(
            f'| {event.key} | '
            f'{event.self_cpu_time_total / 1e3 / args.steps:.2f}'
            f' | {event.count // args.steps} | {shapes} |'
        )
    totals = self_ms_by_operator(prof.key_averages(), args.steps)
    print(
        f'\nself time per step: {sum(totals.values()):.1f} ms in all, '
        f'{convolution_ms(totals):.1f} ms in convolutions (forward and '
        'backward)\n'
    )
    print('| operator | self ms per step, all shapes |')
    print('|---|---|')
    for name, ms in sorted(totals.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f'| {name} | {ms:.2f} |')


def self_ms_by_operator(events: Iterable, steps: int) -> Dict[str, float]:
    """Self CPU milliseconds per step of each operator name, over all its
    input shapes; ``events`` are ``torch.profiler`` averages (each with
    ``key`` and ``self_cpu_time_total`` in microseconds) of ``steps``
    steps."""
    totals: Dict[str, float] = {}
    for event in events:
        totals[event.key] = (
            totals.get(event.key, 0.0)
            + event.self_cpu_time_total / 1e3 / steps
        )
    return totals


def convolution_ms(totals: Dict[str, float]) -> float:
    """The part of :func:`self_ms_by_operator`'s totals spent in operators
    whose name holds ``convolution`` (``aten::mkldnn_convolution``,
    ``aten::convolution_backward``, ...)."""
    return sum(ms for name, ms in totals.items() if 'convolution' in name)


if __name__ == '__main__':
    main()
