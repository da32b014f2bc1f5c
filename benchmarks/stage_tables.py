"""The stage tables of ``tools/analysis_tools/benchmark.py --stages`` on
this CPU: SOLOv2-R50 at 800x1333 and SOLOv2-light-R50 at 448x768 (each
config's test scale), PyTorch eager at batch 1 and ``--batch-size``, and
the exported graph on ONNX Runtime and OpenVINO at batch 1.

The weights are seeded random ones with confident masks and spread
category biases, as in ``bench_deploy.py``: no COCO checkpoint or image
can be downloaded here, and random weights as initialised would give the
post-processing almost no candidate. With these, ``nms_pre`` candidates
reach the masks and Matrix NMS and ``max_per_img`` masks are resized and
encoded, as on a busy COCO image; the time is the model's, the
predictions mean nothing. The images are ``--synthetic`` ones at the
config's test scale (their original size is the resized one: the resize
and paste stage works at 800x1333 and 448x768).

Each model is written as a checkpoint and exported once (static batch 1,
the padded test scale); every run is the tool itself in a fresh process:

    python tools/analysis_tools/benchmark.py CONFIG CHECKPOINT --stages \\
        --synthetic --device cpu --max-iter N --num-warmup W \\
        [--batch-size B] [--backend onnxruntime|openvino] --out RUN.json

    python benchmarks/stage_tables.py [--models r50 light448]
        [--max-iter 10] [--num-warmup 2] [--batch-size 2] [--small]
        [--out benchmarks/results/stage_tables-<time>.json]

``--small`` runs at 256x320 with two iterations (a smoke test of the
script, not a measurement). The combined JSON holds each run's command,
its per-stage means (milliseconds per batch), its fps and the machine's
CPU flags; a table per model is printed.
"""

import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import time

import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tests'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from common import print_table, quiet_init_logs  # noqa: E402
from machine import cpu_flags  # noqa: E402
from support import mmsolo_config_path, seeded_model  # noqa: E402

from mmsolo.deploy import export_onnx  # noqa: E402
from mmsolo.runner.inference_benchmark import synthetic_loads  # noqa: E402
from mmsolo.utils import register_all_modules  # noqa: E402

MODEL_SPECS = dict(
    r50=('solov2/solov2_r50_fpn_1x_coco.py', (800, 1333)),
    light448=('solov2/solov2-light_r50_fpn_ms-3x_coco.py', (448, 768)),
)


def padded(shape, divisor: int) -> tuple:
    return tuple(-(-side // divisor) * divisor for side in shape)


def prepare(name: str, shape, workdir: str) -> dict:
    """Write the seeded model's checkpoint and its ONNX graph."""
    config = mmsolo_config_path(MODEL_SPECS[name][0])
    model = seeded_model(config, kernel_scale=20, class_bias_mean=-5.5)
    checkpoint = osp.join(workdir, f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    cfg = Config.fromfile(config)
    divisor = cfg.model.data_preprocessor.pad_size_divisor
    # The graph's input: a synthetic image after the test pipeline's
    # resize, padded as the data preprocessor pads it.
    data = next(synthetic_loads(cfg, shape, 0))()
    resized = tuple(data['inputs'][0].shape[-2:])
    graph = osp.join(workdir, f'{name}.onnx')
    export_onnx(model, graph, padded(resized, divisor), pad_divisor=divisor)
    return dict(config=config, checkpoint=checkpoint, graph=graph)


def run_tool(files: dict, shape, args, backend: str, batch: int, out: str):
    """One ``benchmark.py --stages`` run; returns its command and JSON."""
    command = [
        sys.executable,
        osp.join(REPO, 'tools/analysis_tools/benchmark.py'),
        files['config'],
        files['checkpoint'] if backend == 'pytorch' else files['graph'],
        '--stages',
        '--synthetic',
        '--shape',
        *map(str, shape),
        '--device',
        'cpu',
        '--max-iter',
        str(args.max_iter),
        '--num-warmup',
        str(args.num_warmup),
        '--batch-size',
        str(batch),
        '--backend',
        backend,
        '--out',
        out,
    ]
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    with open(out) as f:
        times = json.load(f)
    return dict(command=' '.join(command), **times)


def table(name: str, runs: dict) -> None:
    """Print one model's stages (rows) for each run (columns), ms/image."""
    columns = list(runs)
    stages = []
    for run in runs.values():
        stages += [s for s in run['stages'] if s not in stages]
    rows = []
    for stage in stages + ['untimed', 'total']:
        row = [stage]
        for column in columns:
            run = runs[column]
            per_image = run['batch_size']
            if stage == 'total':
                value = sum(it['total_ms'] for it in run['iterations'])
                value /= len(run['iterations'])
            elif stage == 'untimed':
                value = sum(it['untimed_ms'] for it in run['iterations'])
                value /= len(run['iterations'])
            else:
                value = run['mean_ms'].get(stage)
            row.append('' if value is None else f'{value / per_image:.1f}')
        rows.append(row)
    for key in ('model', 'end_to_end'):
        rows.append(
            [f'{key} fps'] + [f'{runs[c]["fps"][key]:.2f}' for c in columns]
        )
    print(f'\n{name}: ms per image (mean over the timed batches)')
    print_table(['stage'] + columns, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models', nargs='+', choices=list(MODEL_SPECS), default=None
    )
    parser.add_argument('--max-iter', type=int, default=10)
    parser.add_argument('--num-warmup', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument(
        '--backends',
        nargs='+',
        default=['onnxruntime', 'openvino'],
        choices=['onnxruntime', 'openvino'],
    )
    parser.add_argument('--small', action='store_true')
    parser.add_argument('--out')
    args = parser.parse_args()
    if args.small:
        args.max_iter, args.num_warmup = 2, 1
    register_all_modules(init_default_scope=True)
    quiet_init_logs()
    out = args.out or osp.join(
        REPO,
        'benchmarks/results',
        f'stage_tables-{time.strftime("%Y%m%d-%H%M%S")}.json',
    )
    results = dict(
        command=' '.join([osp.relpath(__file__, REPO)] + sys.argv[1:]),
        python=platform.python_version(),
        torch=torch.__version__,
        machine=platform.processor() or platform.machine(),
        cpu_flags=cpu_flags(),
        cpu_threads=torch.get_num_threads(),
        models={},
    )
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models or list(MODEL_SPECS):
            shape = (256, 320) if args.small else MODEL_SPECS[name][1]
            files = prepare(name, shape, workdir)
            plan = [('pytorch', 1), ('pytorch', args.batch_size)]
            plan += [(backend, 1) for backend in args.backends]
            runs = {}
            for backend, batch in plan:
                label = f'{backend} b{batch}'
                run_out = osp.join(workdir, f'{name}-{backend}-{batch}.json')
                runs[label] = run_tool(
                    files, shape, args, backend, batch, run_out
                )
            results['models'][name] = dict(shape=list(shape), runs=runs)
            table(f'{name} {shape[0]}x{shape[1]}', runs)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out + '.tmp', 'w') as f:
        json.dump(results, f, indent=1)
    os.replace(out + '.tmp', out)
    print(f'\nwritten: {out}')


if __name__ == '__main__':
    main()
