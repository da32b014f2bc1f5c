"""Mask AP and peak memory of sliced inference against whole-image
inference on large images of small objects.

    python benchmarks/sliced_ap.py [--iters 2500] [--train 1000]
        [--train-size 512] [--train-objects 4 16] [--large 20]
        [--large-size 2048] [--large-objects 64 256] [--min-size 8]
        [--max-size 32] [--num-classes 3] [--max-per-img 500]
        [--slice-size 512] [--slice-overlap 0.2] [--slice-batch-size 1]
        [--seed 0] [--work-dir DIR] [--out-json FILE]

Generates, with ``tools/misc/generate_shapes.py``, a training set of
``--train-size`` images and a large set of ``--large-size`` images, both
with shapes of ``--min-size`` to ``--max-size`` pixels (the large images
hold more of them: ``--large-objects``); writes the quick start on the
training set, shortened to ``--iters`` iterations, and lets
``tools/analysis_tools/suggest_grids.py --out`` fit its grids to the
training objects (a child config; the quick start itself when it fits);
trains it with ``tools/train.py``; then evaluates the checkpoint on the
large set with ``tools/test.py``, once on whole images and once with
``--slice-size`` (both with ``model.test_cfg.max_per_img`` set to
``--max-per-img``, as the large images hold more objects than the quick
start's 100), and reads ``coco/segm_mAP`` (and bbox) from each run. A
third run evaluates the training set's own val images (of the training
size: with ``--slice-size`` equal to ``--train-size``, one tile each)
without slicing: the peak memory of inference on one batch of tiles, to
which the sliced run's is compared.

Peak memory: each evaluation runs in a fresh Python process that runs the
tool and then reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the
peak resident set of the whole process: the imports, the model, the data
and the evaluation; with ``num_workers=0``, as the quick start has, the
data loading is in that process too), and on a CUDA device
``torch.cuda.max_memory_allocated()`` (the peak of the tensors PyTorch's
allocator handed out). Writes the figures, the sets, the commands and the
machine's CPU flags to ``--out-json`` (default
``benchmarks/results/sliced_ap-<time>.json``).
"""

import argparse
import glob
import json
import os
import os.path as osp
import platform
import runpy
import subprocess
import sys
import tempfile
import time

from machine import cpu_flags
from quickstart_run import write_quickstart_run_config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
METRICS = ('segm_mAP', 'segm_mAP_50', 'segm_mAP_s', 'segm_mAP_m')
METRICS += ('bbox_mAP',)
MEASURE = '--measure-tool'  # internal: run a tool, report its peak memory
PEAK_TAG = 'SLICED_AP_PEAK_MEMORY '


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=2500)
    parser.add_argument('--train', type=int, default=1000)
    parser.add_argument('--train-size', type=int, default=512)
    parser.add_argument('--train-objects', type=int, nargs=2, default=[4, 16])
    parser.add_argument('--large', type=int, default=20)
    parser.add_argument('--large-size', type=int, default=2048)
    parser.add_argument(
        '--large-objects', type=int, nargs=2, default=[64, 256]
    )
    parser.add_argument('--min-size', type=float, default=8)
    parser.add_argument('--max-size', type=float, default=32)
    parser.add_argument('--num-classes', type=int, default=3)
    parser.add_argument('--max-per-img', type=int, default=500)
    parser.add_argument('--slice-size', type=int, default=512)
    parser.add_argument('--slice-overlap', type=float, default=0.2)
    parser.add_argument('--slice-batch-size', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--work-dir', help='keep the sets, configs and runs here'
    )
    parser.add_argument('--out-json', help='where the figures go')
    args = parser.parse_args()
    for name in ('iters', 'train', 'large', 'train_size', 'large_size'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be positive')
    return args


def run(command: list, what: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f'{what} failed:\n{(done.stdout + done.stderr)[-3000:]}')
    return done


def generate(args: argparse.Namespace, work: str) -> dict:
    """The training set (train split, and a few val images for the end
    of training) and the large set (its val split)."""
    common = ['--min-size', str(args.min_size), '--max-size']
    common += [str(args.max_size), '--num-classes', str(args.num_classes)]
    sets = dict(
        train=(args.train, max(2, args.train // 50), args.train_size),
        large=(0, args.large, args.large_size),
    )
    objects = dict(train=args.train_objects, large=args.large_objects)
    commands = {}
    for name, (train, val, size) in sets.items():
        command = [sys.executable, 'tools/misc/generate_shapes.py']
        command += [osp.join(work, name), '--train', str(train)]
        command += ['--val', str(val), '--img-size', str(size)]
        command += ['--seed', str(args.seed), *common]
        command += ['--objects-per-image', *map(str, objects[name])]
        run(command, f'generating the {name} set')
        commands[name] = ' '.join(command[1:])
    return commands


def write_eval_config(path: str, base: str, data_root: str) -> None:
    """``base`` tested on the large set's val split."""
    ann = osp.join(data_root, 'annotations', 'instances_val.json')
    with open(path, 'w') as f:
        f.write(f"""_base_ = {base!r}
test_dataloader = dict(dataset=dict(
    data_root={data_root + '/'!r},
    ann_file='annotations/instances_val.json',
    data_prefix=dict(img='val/')))
test_evaluator = dict(ann_file={ann!r})
""")


def fitted_config(work: str, args: argparse.Namespace) -> dict:
    """The training config: the quick start on the training set, with
    the grids ``suggest_grids.py`` fits (the quick start as it is when
    the tool finds it fits)."""
    from mmsolo.datasets import SHAPE_CLASSES

    data_root = osp.join(work, 'train')
    as_is = osp.join(work, 'as_is.py')
    classes = SHAPE_CLASSES[: args.num_classes]
    write_quickstart_run_config(as_is, data_root, args.iters, classes)
    child = osp.join(work, 'fitted.py')
    ann = osp.join(data_root, 'annotations', 'instances_train.json')
    command = [sys.executable, 'tools/analysis_tools/suggest_grids.py']
    command += [as_is, '--ann-file', ann, '--out', child]
    report = run(command, 'suggest_grids.py').stdout
    return dict(
        config=child if osp.isfile(child) else as_is,
        suggest_command=' '.join(command[1:]),
        report=report,
    )


def train(config: str, work_dir: str) -> dict:
    command = [sys.executable, 'tools/train.py', config]
    command += ['--work-dir', work_dir]
    start = time.perf_counter()
    run(command, f'training {config}')
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    return dict(
        command=' '.join(command[1:]),
        wall_s=round(time.perf_counter() - start, 1),
        checkpoint=checkpoint,
    )


def test_metrics(work_dir: str) -> dict:
    """The metrics ``tools/test.py`` wrote (``<work_dir>/<time>/<time>
    .json``)."""
    [path] = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        record = json.load(f)
    return {name: record[f'coco/{name}'] for name in METRICS}


def evaluate(
    config: str, checkpoint: str, work_dir: str, slice_args: list, args
) -> dict:
    """One ``tools/test.py`` run in a fresh process: its metrics, peak
    memory and wall time."""
    tool = ['tools/test.py', config, checkpoint, '--work-dir', work_dir]
    tool += [*slice_args, '--cfg-options']
    tool += [f'model.test_cfg.max_per_img={args.max_per_img}']
    start = time.perf_counter()
    done = run([sys.executable, __file__, MEASURE, *tool], ' '.join(tool))
    wall = time.perf_counter() - start
    [line] = [x for x in done.stdout.splitlines() if x.startswith(PEAK_TAG)]
    return dict(
        command=' '.join(tool),
        wall_s=round(wall, 1),
        **json.loads(line[len(PEAK_TAG) :]),
        **test_metrics(work_dir),
    )


def experiment(args: argparse.Namespace, work: str) -> dict:
    result = dict(generate=generate(args, work), iters=args.iters)
    fitted = fitted_config(work, args)
    result.update(fitted)
    result['train'] = train(fitted['config'], osp.join(work, 'run'))
    eval_config = osp.join(work, 'eval_large.py')
    write_eval_config(eval_config, fitted['config'], osp.join(work, 'large'))
    slicing = ['--slice-size', str(args.slice_size)]
    slicing += ['--slice-overlap', str(args.slice_overlap)]
    slicing += ['--slice-batch-size', str(args.slice_batch_size)]
    checkpoint = result['train']['checkpoint']
    result['eval'] = {
        mode: evaluate(
            eval_config,
            checkpoint,
            osp.join(work, f'test_{mode}'),
            extra,
            args,
        )
        for mode, extra in (('whole_image', []), ('sliced', slicing))
    }
    # The memory of one batch of tiles: the same tool on images of the
    # training size (the training set's val split), without slicing.
    result['eval']['tile_sized_images'] = evaluate(
        fitted['config'],
        checkpoint,
        osp.join(work, 'test_tile_sized_images'),
        [],
        args,
    )
    return result


def measure_tool(argv: list) -> None:
    """Run the tool ``argv[0]`` with ``argv[1:]`` in this process, then
    print its peak memory (see the module docstring)."""
    import resource

    sys.argv = list(argv)
    sys.path.insert(0, REPO)
    try:
        runpy.run_path(osp.join(REPO, argv[0]), run_name='__main__')
    finally:
        import torch

        peak = dict(
            max_rss_mib=round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            )
        )
        if torch.cuda.is_available():
            peak['cuda_max_allocated_mib'] = round(
                torch.cuda.max_memory_allocated() / 2**20, 1
            )
        print(PEAK_TAG + json.dumps(peak), flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == MEASURE:
        measure_tool(sys.argv[2:])
        return
    args = parse_args()
    sys.path.insert(0, REPO)
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
    for mode, figures in result['eval'].items():
        print(
            f'{mode}: segm_mAP {figures["segm_mAP"]:.3f}, peak RSS '
            f'{figures["max_rss_mib"]} MiB'
        )
    stamp = time.strftime('%Y%m%d-%H%M%S')
    out = args.out_json or osp.join(
        REPO, 'benchmarks', 'results', f'sliced_ap-{stamp}.json'
    )
    dump_json_atomically(result, out, indent=2)
    print(f'written: {out}')


if __name__ == '__main__':
    main()
