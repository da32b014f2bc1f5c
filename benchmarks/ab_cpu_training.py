"""A/B of CPU training settings on the quick start: step times of short
``tools/train.py`` runs of the quick-start config, the variants interleaved
(A B C, then C B A, ...), quiet or beside one busy process.

    python benchmarks/ab_cpu_training.py [--runs 3] [--iters 60] [--busy]
        [--variants baseline adaptive_threads malloc_env] [--precision auto]

Variants:

* ``baseline``: the quick-start config as it is;
* ``adaptive_threads``: with ``mmsolo.AdaptiveThreadsHook`` added;
* ``malloc_env``: glibc told by its own environment variables to keep freed
  memory (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
  ``MALLOC_TOP_PAD_``).

``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` in the environment runs
PyTorch's and oneDNN's AVX2 kernels on a newer CPU (to approach an
AVX2-only machine); the JSON records them.

Each run trains ``--iters`` iterations on the quick-start set (generated
under ``data/shapes`` if absent); its step time is the median of the
logger's windows of 10 iterations after the first window. Prints one line per
run and a table, and writes the raw figures to
``benchmarks/results/ab_cpu_training-<time>.json``.
"""

import argparse
import glob
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from machine import cpu_flags

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
MALLOC_ENV = {
    'MALLOC_MMAP_THRESHOLD_': str(32 << 20),
    'MALLOC_TRIM_THRESHOLD_': str(1 << 30),
    'MALLOC_TOP_PAD_': str(64 << 20),
}
# Per variant: hooks added to the config's custom_hooks, environment.
VARIANTS = {
    'baseline': ([], {}),
    'adaptive_threads': (['mmsolo.AdaptiveThreadsHook'], {}),
    'malloc_env': ([], MALLOC_ENV),
}
LOG_INTERVAL = 10


def step_times(work_dir: str) -> list:
    """The logged windows' mean step times of a finished run."""
    [scalars] = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r['time'] for r in records if 'loss' in r and 'time' in r]


def run_once(variant: str, iters: int, precision: str, data_root: str) -> dict:
    hooks, env_extra = VARIANTS[variant]
    env = dict(os.environ, MMSOLO_CPU_PRECISION=precision, **env_extra)
    with tempfile.TemporaryDirectory() as work_dir:
        config = osp.join(work_dir, f'{variant}.py')
        with open(config, 'w') as f:
            f.write(
                f"_base_ = '{osp.join(REPO, CONFIG)}'\n"
                f'custom_hooks = _base_.custom_hooks + '
                f'{[dict(type=hook) for hook in hooks]!r}\n'
            )
        cmd = [
            sys.executable,
            'tools/train.py',
            config,
            '--work-dir',
            work_dir,
            '--cfg-options',
            f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters + 1}',
            f'default_hooks.logger.interval={LOG_INTERVAL}',
            f'default_hooks.checkpoint.interval={iters + 1}',
            f'train_dataloader.dataset.data_root={data_root}/',
        ]
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f'{variant} failed:\n{proc.stderr[-3000:]}')
        windows = step_times(work_dir)
    return dict(
        variant=variant,
        wall_s=round(wall, 2),
        windows_s=windows,
        median_step_s=round(statistics.median(windows[1:]), 4),
    )


def summarize(runs: list, variants: list) -> dict:
    """Per variant with runs: the range and list of median step times."""
    summary = {}
    for variant in variants:
        medians = [r['median_step_s'] for r in runs if r['variant'] == variant]
        if medians:
            summary[variant] = dict(
                min=min(medians), max=max(medians), runs=medians
            )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument(
        '--busy', action='store_true', help='one busy process beside the runs'
    )
    parser.add_argument(
        '--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS)
    )
    parser.add_argument(
        '--precision',
        default='auto',
        choices=['auto', 'float32'],
        help='MMSOLO_CPU_PRECISION of the runs',
    )
    args = parser.parse_args()
    if args.iters < 3 * LOG_INTERVAL:
        parser.error(f'--iters must be at least {3 * LOG_INTERVAL}')
    sys.path.insert(0, REPO)
    from mmsolo.datasets import ensure_shapes_dataset

    data_root = ensure_shapes_dataset(
        osp.join(REPO, 'data', 'shapes'), 1000, 100
    ).rstrip('/')
    os.makedirs(osp.join(REPO, 'benchmarks', 'results'), exist_ok=True)
    path = osp.join(
        REPO,
        'benchmarks',
        'results',
        f'ab_cpu_training-{time.strftime("%Y%m%d-%H%M%S")}.json',
    )
    out = dict(
        command=' '.join(sys.argv),
        busy=args.busy,
        precision=args.precision,
        iters=args.iters,
        cpu_flags=cpu_flags(),
        env={
            name: os.environ.get(name)
            for name in (
                'ATEN_CPU_CAPABILITY',
                'ONEDNN_MAX_CPU_ISA',
                'OMP_NUM_THREADS',
            )
        },
        machine=platform.machine(),
        processor=platform.processor(),
        cores=os.cpu_count(),
        date=time.strftime('%Y-%m-%d %H:%M'),
        runs=[],
        summary={},
    )
    busy = (
        subprocess.Popen([sys.executable, '-c', 'while True: pass'])
        if args.busy
        else None
    )
    try:
        for round_ in range(args.runs):
            order = (
                args.variants
                if round_ % 2 == 0
                else list(reversed(args.variants))
            )
            for variant in order:
                result = run_once(
                    variant, args.iters, args.precision, data_root
                )
                out['runs'].append(result)
                print(
                    f'{variant}: median step {result["median_step_s"]:.3f}'
                    f' s (windows {result["windows_s"]})',
                    flush=True,
                )
                # Written after every run: a stopped A/B keeps its runs.
                out['summary'] = summarize(out['runs'], args.variants)
                with open(path, 'w') as f:
                    json.dump(out, f, indent=1)
    finally:
        if busy is not None:
            busy.kill()
    for variant, figures in out['summary'].items():
        print(
            f'{variant:>18}: {figures["min"]:.3f}-{figures["max"]:.3f} s '
            'per step'
        )
    print(f'raw figures: {path}')


if __name__ == '__main__':
    main()
