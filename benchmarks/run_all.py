"""Run every benchmark in turn and print their tables.

    python benchmarks/run_all.py [--quick]

Each ``bench_*.py`` times mmsolo and MMDetection 3.3's SOLOv2 on the same
weights and inputs in one run and prints the ratio (mmdet / ours).
``--quick`` passes 3 repeats to each (``bench_train_step.py``, a full
training step of R50 and of the quick-start model, already defaults to 3).
``bench_gpu.py`` runs only where CUDA is available (``python
benchmarks/bench_gpu.py --device cpu`` checks it on a CPU).
"""

import argparse
import glob
import os.path as osp
import subprocess
import sys
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--quick',
        action='store_true',
        help='3 repeats instead of each script default',
    )
    args = parser.parse_args()
    here = osp.dirname(osp.abspath(__file__))
    scripts = sorted(glob.glob(osp.join(here, 'bench_*.py')))
    if not torch.cuda.is_available():
        scripts.remove(osp.join(here, 'bench_gpu.py'))
        print('no CUDA here: bench_gpu.py skipped', flush=True)
    failed = []
    for script in scripts:
        cmd = [sys.executable, script] + (
            ['--repeats', '3'] if args.quick else []
        )
        print(f'\n## {osp.basename(script)}\n', flush=True)
        start = time.perf_counter()
        returncode = subprocess.call(cmd)
        print(f'({time.perf_counter() - start:.0f} s)', flush=True)
        if returncode != 0:
            failed.append(osp.basename(script))
    if failed:
        sys.exit(f'benchmarks failed: {failed}')


if __name__ == '__main__':
    main()
