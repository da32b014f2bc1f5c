"""Does fine-tuning from the quick-start model beat training from scratch?
Mask AP curves of both on a new generated set of 1 or 2 classes.

    python benchmarks/finetune_transfer.py CHECKPOINT [--num-classes 2]
        [--num-train 200] [--num-val 50] [--img-size N] [--min-size N]
        [--max-size N] [--iters 500] [--eval-interval 50] [--seed 0]
        [--config configs/quickstart/solov2-light_r18_fpn_shapes.py]
        [--work-dir work_dirs/finetune_transfer] [--out-dir DIR]

CHECKPOINT is a checkpoint of CONFIG's model (the quick start's, 3
classes). The new set is written by ``tools/misc/generate_shapes.py``
(``--num-classes``: its first 1 or 2 shape kinds; ``--img-size``,
``--min-size``, ``--max-size`` passed on), its config by
``tools/misc/make_config.py`` (CONFIG as base). ``tools/train.py`` then
trains it twice with the same schedule (CONFIG's warm-up and cosine decay
fitted to ``--iters``) and seed: (a) ``load_from`` CHECKPOINT, its
classifier re-initialised for the new classes, and (b) from scratch,
validating (COCO mask and box AP) every ``--eval-interval`` iterations. Both
curves go to ``finetune_transfer-<time>.json`` and ``.png`` in
``--out-dir`` (default ``benchmarks/results/``), with the command and the
CPU's flags.
"""

import argparse
import glob
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time

from machine import cpu_flags

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # mmsolo from this checkout
CONFIG = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
RUNS = ('from_checkpoint', 'from_scratch')
METRICS = ('coco/segm_mAP', 'coco/segm_mAP_50', 'coco/bbox_mAP')
# The run configs: the make_config child with the schedule fitted to
# --iters (the quick start's warm-up, then cosine decay to eta_min).
RUN_CONFIG = """_base_ = './finetune.py'
train_cfg = dict(max_iters={iters}, val_interval={eval_interval})
param_scheduler = {schedulers!r}
default_hooks = dict(
    logger=dict(interval={log_interval}, log_metric_by_epoch=False),
    checkpoint=dict(interval={iters}, max_keep_ckpts=1),
)
randomness = dict(seed={seed})
load_from = {load_from!r}
"""


def run_tool(args: list, what: str) -> str:
    """Run ``python ARGS`` from the repository root; its output, or exit
    naming ``what`` failed."""
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        sys.exit(f'{what} failed ({" ".join(args)}):\n{output[-3000:]}')
    return output


def generate_set(args: argparse.Namespace, data_root: str) -> dict:
    """The new set, by the shapes generator: its annotation files and
    image folders."""
    command = [
        'tools/misc/generate_shapes.py',
        data_root,
        '--train',
        str(args.num_train),
        '--val',
        str(args.num_val),
        '--seed',
        str(args.seed + 100),
        '--num-classes',
        str(args.num_classes),
    ]
    for option in ('img_size', 'min_size', 'max_size'):
        value = getattr(args, option)
        if value is not None:
            command += [f'--{option.replace("_", "-")}', str(value)]
    run_tool(command, 'generate_shapes.py')
    return {
        split: (
            osp.join(data_root, 'annotations', f'instances_{split}.json'),
            osp.join(data_root, split),
        )
        for split in ('train', 'val')
    }


def schedule(iters: int) -> list:
    """The quick start's lr schedule over ``iters`` iterations: a linear
    warm-up over a tenth of them (at most 100; none under 2), then cosine
    decay."""
    warmup = min(100, iters // 10)
    cosine = dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=warmup if warmup >= 2 else 0,
        end=iters,
        eta_min=1e-5,
    )
    if warmup < 2:
        return [cosine]
    linear = dict(
        type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup
    )
    return [linear, cosine]


def write_configs(args: argparse.Namespace, splits: dict) -> dict:
    """The make_config child of CONFIG for the new set, and one run config
    per run; returns run name -> config path."""
    from mmsolo.fileio import write_atomically
    from mmsolo.runner import DataSplit, make_child_config

    config_dir = osp.join(args.work_dir, 'configs')
    _, classes = make_child_config(
        osp.join(REPO, args.config),
        osp.join(config_dir, 'finetune.py'),
        {name: DataSplit(*paths) for name, paths in splits.items()},
    )
    args.classes = list(classes)
    paths = {}
    for run, load_from in zip(RUNS, (osp.abspath(args.checkpoint), None)):
        text = RUN_CONFIG.format(
            iters=args.iters,
            eval_interval=args.eval_interval,
            schedulers=schedule(args.iters),
            log_interval=min(10, args.eval_interval),
            seed=args.seed,
            load_from=load_from,
        )
        paths[run] = osp.join(config_dir, f'{run}.py')
        write_atomically(text.encode(), paths[run])
    return paths


def curve(work_dir: str) -> list:
    """The validation metrics of a finished run, by iteration (mmengine's
    ``vis_data/scalars.json``; with ``log_metric_by_epoch=False`` a
    validation record's ``step`` is the iteration it ran at)."""
    [scalars] = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    points = []
    with open(scalars) as f:
        for line in f:
            record = json.loads(line) if line.strip() else {}
            if METRICS[0] in record:
                points.append(
                    dict(
                        iter=record['step'],
                        **{key: record.get(key) for key in METRICS},
                    )
                )
    return points


def train(run: str, config: str, work_root: str) -> dict:
    """One ``tools/train.py`` run: its curve, wall time and, for the
    fine-tuning, the log line of the re-initialised classifier."""
    work_dir = osp.join(work_root, run)
    start = time.perf_counter()
    output = run_tool(
        ['tools/train.py', config, '--work-dir', work_dir], f'run {run}'
    )
    reinit = [line for line in output.splitlines() if 're-initialised' in line]
    return dict(
        work_dir=work_dir,
        wall_s=round(time.perf_counter() - start, 1),
        reinit_line=reinit[0].split(' - INFO - ')[-1] if reinit else None,
        curve=curve(work_dir),
    )


def plot(runs: dict, out_file: str, title: str) -> None:
    """Mask AP of both runs against the iteration."""
    from mmsolo.utils import plot_curves

    logs = [
        [dict(iter=p['iter'], segm_mAP=p[METRICS[0]]) for p in run['curve']]
        for run in runs.values()
    ]
    plot_curves(
        logs,
        ['segm_mAP'],
        out_file,
        legend=[name.replace('_', ' ') for name in runs],
        title=title,
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help="a checkpoint of CONFIG's model")
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--num-classes', type=int, choices=(1, 2), default=2)
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--img-size', type=int)
    parser.add_argument('--min-size', type=float)
    parser.add_argument('--max-size', type=float)
    parser.add_argument('--iters', type=int, default=500)
    parser.add_argument('--eval-interval', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--work-dir', default=osp.join('work_dirs', 'finetune_transfer')
    )
    parser.add_argument(
        '--out-dir', default=osp.join(REPO, 'benchmarks', 'results')
    )
    args = parser.parse_args()
    if not osp.isfile(args.checkpoint):
        parser.error(f'no such checkpoint: {args.checkpoint}')
    if not 0 < args.eval_interval <= args.iters:
        parser.error('--eval-interval must be in 1..--iters')
    args.work_dir = osp.abspath(args.work_dir)
    return args


def main() -> None:
    args = parse_args()
    splits = generate_set(args, osp.join(args.work_dir, 'data'))
    configs = write_configs(args, splits)
    runs = {run: train(run, configs[run], args.work_dir) for run in RUNS}
    stamp = time.strftime('%Y%m%d-%H%M%S')
    out = osp.join(args.out_dir, f'finetune_transfer-{stamp}')
    result = dict(
        command=' '.join([osp.relpath(sys.argv[0], REPO), *sys.argv[1:]]),
        checkpoint=args.checkpoint,
        config=args.config,
        classes=args.classes,
        data=dict(
            num_train=args.num_train,
            num_val=args.num_val,
            img_size=args.img_size,
            min_size=args.min_size,
            max_size=args.max_size,
        ),
        iters=args.iters,
        eval_interval=args.eval_interval,
        seed=args.seed,
        cpu_flags=cpu_flags(),
        machine=platform.machine(),
        cores=os.cpu_count(),
        runs=runs,
    )
    from mmsolo.fileio import dump_json_atomically

    dump_json_atomically(result, out + '.json', indent=1)
    title = (
        f'{len(args.classes)}-class shapes: from '
        f'{osp.basename(args.checkpoint)} and from scratch'
    )
    plot(runs, out + '.png', title)
    for run, record in runs.items():
        final = record['curve'][-1][METRICS[0]] if record['curve'] else None
        print(f'{run}: mask AP {final} after {args.iters} iterations')
    print(f'curves: {out}.json, {out}.png')


if __name__ == '__main__':
    main()
