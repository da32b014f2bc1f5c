"""Mask AP of the quick-start config as it is and with the grids that
``tools/analysis_tools/suggest_grids.py`` fits to a generated shapes set.

    python benchmarks/grid_fit_ap.py [--iters 2500] [--img-size 256]
        [--min-size 20] [--max-size 128] [--objects-per-image 1 6]
        [--num-classes 3] [--train 1000] [--val 100] [--seed 0]
        [--num-levels N] [--work-dir DIR] [--out-json FILE]

Generates the set (``tools/misc/generate_shapes.py``'s size options; the
defaults give the quick-start set), writes a run config: the quick start on
that set with its schedule shortened to ``--iters`` (the quick start's
warm-up, ``min(100, iters // 5)`` iterations, then the cosine decay to
``--iters``; seed 0) and one validation at the end; runs
``suggest_grids.py`` on it (``--out``: a child config with the proposal),
trains both with ``tools/train.py`` and reads the final validation's
``coco/segm_mAP`` (and bbox) from each run's log. When the config fits the
set, only it is trained. Writes the figures, the set, the tool's report and
the commands to ``--out-json`` (default
``benchmarks/results/grid_fit_ap-<set>-<time>.json``).
"""

import argparse
import glob
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import time

from machine import cpu_flags
from quickstart_run import write_quickstart_run_config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
METRICS = ('segm_mAP', 'segm_mAP_50', 'segm_mAP_s', 'segm_mAP_m')
METRICS += ('segm_mAP_l', 'bbox_mAP')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=2500)
    parser.add_argument('--img-size', type=int, default=256)
    parser.add_argument('--min-size', type=float, default=20)
    parser.add_argument('--max-size', type=float, default=128)
    parser.add_argument(
        '--objects-per-image', type=int, nargs='+', default=[1, 6]
    )
    parser.add_argument('--num-classes', type=int, default=3)
    parser.add_argument('--train', type=int, default=1000)
    parser.add_argument('--val', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--num-levels', type=int, help='passed to suggest_grids.py'
    )
    parser.add_argument(
        '--work-dir', help='keep the set, configs and runs here'
    )
    parser.add_argument('--out-json', help='where the figures go')
    args = parser.parse_args()
    if args.iters < 1:
        parser.error(f'--iters must be positive, got {args.iters}')
    return args


def generate_set(args: argparse.Namespace, root: str) -> dict:
    from mmsolo.datasets import write_split
    from mmsolo.datasets.synthetic_shapes import ShapeSizes

    sizes = ShapeSizes(
        min_size=args.min_size,
        max_size=args.max_size,
        min_shapes=args.objects_per_image[0],
        max_shapes=args.objects_per_image[-1],
        num_classes=args.num_classes,
    )
    for split, count, seed in (
        ('train', args.train, args.seed),
        ('val', args.val, args.seed + 1),
    ):
        write_split(root, split, count, seed, args.img_size, sizes)
    return dict(
        img_size=args.img_size,
        min_size=args.min_size,
        max_size=args.max_size,
        objects_per_image=list(args.objects_per_image),
        num_classes=args.num_classes,
        train=args.train,
        val=args.val,
        seed=args.seed,
    )


def final_metrics(work_dir: str) -> dict:
    """The last validation's metrics of a finished run."""
    [scalars] = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f if line.strip()]
    last = [r for r in records if 'coco/segm_mAP' in r][-1]
    return {name: last[f'coco/{name}'] for name in METRICS}


def run(command: list, what: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f'{what} failed:\n{(done.stdout + done.stderr)[-3000:]}')
    return done


def train(config: str, work_dir: str) -> dict:
    command = [sys.executable, 'tools/train.py', config]
    command += ['--work-dir', work_dir]
    start = time.perf_counter()
    run(command, f'training {config}')
    return dict(
        command=' '.join(command),
        wall_s=round(time.perf_counter() - start, 1),
        **final_metrics(work_dir),
    )


def default_out(data: dict) -> str:
    name = f'{data["img_size"]}px-{data["min_size"]:g}-{data["max_size"]:g}'
    stamp = time.strftime('%Y%m%d-%H%M%S')
    return osp.join(
        REPO, 'benchmarks', 'results', f'grid_fit_ap-{name}-{stamp}.json'
    )


def experiment(args: argparse.Namespace, work: str) -> dict:
    from mmsolo.datasets import SHAPE_CLASSES

    data_root = osp.join(work, 'data')
    data = generate_set(args, data_root)
    as_is = osp.join(work, 'as_is.py')
    write_quickstart_run_config(
        as_is, data_root, args.iters, SHAPE_CLASSES[: args.num_classes]
    )
    suggested = osp.join(work, 'suggested.py')
    command = [sys.executable, 'tools/analysis_tools/suggest_grids.py']
    command += [as_is, '--out', suggested]
    if args.num_levels:
        command += ['--num-levels', str(args.num_levels)]
    report = run(command, 'suggest_grids.py').stdout
    result = dict(
        set=data,
        iters=args.iters,
        suggest_command=' '.join(command),
        report=report,
        fits=not osp.isfile(suggested),
        runs=dict(as_is=train(as_is, osp.join(work, 'run_as_is'))),
    )
    if not result['fits']:
        with open(suggested) as f:
            result['suggested_config'] = f.read()
        result['runs']['suggested'] = train(
            suggested, osp.join(work, 'run_suggested')
        )
    return result


def main() -> None:
    args = parse_args()
    from mmsolo.fileio import dump_json_atomically

    with tempfile.TemporaryDirectory() as scratch:
        work = osp.abspath(args.work_dir or scratch)
        os.makedirs(work, exist_ok=True)
        result = experiment(args, work)
    result.update(
        command=' '.join(['python', *sys.argv]),
        python=platform.python_version(),
        machine=platform.machine(),
        cpu_flags=cpu_flags(),
    )
    for name, figures in result['runs'].items():
        print(f'{name}: segm_mAP {figures["segm_mAP"]:.3f}')
    out = args.out_json or default_out(result['set'])
    dump_json_atomically(result, out, indent=2)
    print(f'written: {out}')


if __name__ == '__main__':
    main()
