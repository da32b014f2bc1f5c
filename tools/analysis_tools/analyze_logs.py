"""Curves and training time from mmengine's JSON scalar logs.

    python tools/analysis_tools/analyze_logs.py plot_curve LOG.json [...]
        [--keys loss loss_cls] [--legend ...] [--title T] [--out FILE.png]
    python tools/analysis_tools/analyze_logs.py cal_train_time LOG.json [...]
        [--include-outliers]

LOG.json is ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (or the
``<timestamp>.json`` beside it). ``plot_curve`` draws every key of every log
against the iteration (validation metrics at the iteration they were
computed; ``segm_mAP`` finds ``coco/segm_mAP``) into one PNG: ``--out``, else
``<first log without .json>_curves.png``. ``cal_train_time`` prints the mean
logged ``time`` per iteration (per epoch in epoch-based runs), leaving out
the first record of each epoch or run, which holds start-up costs, unless
``--include-outliers``.
"""

import argparse
import os.path as osp
from collections import defaultdict
from typing import Dict, List

import numpy as np

from mmsolo.utils import load_scalar_log, plot_curves


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Analyze JSON logs')
    tasks = parser.add_subparsers(dest='task', required=True)

    plot = tasks.add_parser('plot_curve', help='plot logged values')
    plot.add_argument('json_logs', nargs='+', help='JSON scalar logs')
    plot.add_argument(
        '--keys',
        nargs='+',
        default=['loss'],
        help='logged keys to plot (default: loss)',
    )
    plot.add_argument('--title', help='figure title')
    plot.add_argument(
        '--legend',
        nargs='+',
        help='one label per curve: log 0 key 0, log 0 key 1, ...',
    )
    plot.add_argument('--out', help='PNG file to write')

    timing = tasks.add_parser(
        'cal_train_time', help='mean time per training iteration'
    )
    timing.add_argument('json_logs', nargs='+', help='JSON scalar logs')
    timing.add_argument(
        '--include-outliers',
        action='store_true',
        help='count the first record of each epoch (or run) too',
    )
    return parser.parse_args()


def train_times(
    records: List[dict], include_outliers: bool
) -> Dict[int, List[float]]:
    """Logged ``time`` of the train records (those with ``iter``), by
    ``epoch`` (one group, 0, in iteration-based runs)."""
    times = defaultdict(list)
    for record in records:
        if 'iter' in record and 'time' in record:
            times[record.get('epoch', 0)].append(record['time'])
    if not include_outliers:
        times = {epoch: values[1:] for epoch, values in times.items()}
    return {epoch: values for epoch, values in times.items() if values}


def cal_train_time(args: argparse.Namespace) -> None:
    for path in args.json_logs:
        print(f'{"-" * 5}Analyze train time of {path}{"-" * 5}')
        times = train_times(load_scalar_log(path), args.include_outliers)
        if not times:
            raise SystemExit(
                f'{path}: no train records with "time" (beyond the first, '
                'left out unless --include-outliers); lower the logger '
                'interval (default_hooks.logger.interval) or train longer'
            ) from None
        epochs = sorted(times)
        means = np.array([np.mean(times[epoch]) for epoch in epochs])
        if len(epochs) > 1:
            slowest, fastest = means.argmax(), means.argmin()
            print(
                f'slowest epoch {epochs[slowest]}, average time is '
                f'{means[slowest]:.4f} s/iter'
            )
            print(
                f'fastest epoch {epochs[fastest]}, average time is '
                f'{means[fastest]:.4f} s/iter'
            )
            print(f'time std over epochs is {means.std():.4f}')
        count = sum(len(values) for values in times.values())
        print(
            f'average iter time: {means.mean():.4f} s/iter '
            f'({count} logged iterations)\n'
        )


def plot_curve(args: argparse.Namespace) -> None:
    logs = [load_scalar_log(path) for path in args.json_logs]
    out = args.out or f'{osp.splitext(args.json_logs[0])[0]}_curves.png'
    plot_curves(logs, args.keys, out, legend=args.legend, title=args.title)
    print(f'curves of {", ".join(args.keys)} written to {out}')


def main() -> None:
    args = parse_args()
    task = plot_curve if args.task == 'plot_curve' else cal_train_time
    try:
        task(args)
    except (FileNotFoundError, KeyError, ValueError) as error:
        # Bad input (a missing file or key, a malformed line): its message.
        raise SystemExit(f'{args.task}: {error.args[0]}') from None


if __name__ == '__main__':
    main()
