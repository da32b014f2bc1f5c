"""Float against INT8 on the same backend (ONNX Runtime, OpenVINO): CPU
latency of the exported SOLOv2, and the mask AP of a quick-start checkpoint.

Latency: SOLOv2-R50 at 800x1333 (padded 800x1344) and SOLOv2-light-R50 at
448 (its test scale, 448x768), seeded random weights with confident masks
and spread category biases as in ``bench_deploy.py`` (the time is the
model's, the predictions mean nothing). Each is exported once (static
batch 1), quantized for each backend by :mod:`mmsolo.deploy.quantize`
(calibrated on ``--calib-images`` random inputs of the same size), and the
float and INT8 graphs of every backend are timed interleaved on the same
input (medians of ``--repeats`` rounds, at least 3, after ``--warmup``).

Mask AP (with ``--checkpoint``): the checkpoint exported by
``tools/deployment/pytorch2onnx.py``, quantized by
``tools/deployment/quantize.py`` (``--ap-calib-images`` images of the val
set) and evaluated by ``tools/test.py --backend``, float and INT8 on each
backend; the exact commands are in the JSON.

    python benchmarks/bench_int8.py [--models r50 light448]
        [--backends onnxruntime openvino] [--repeats 5] [--warmup 1]
        [--calib-images 8] [--threads N] [--small]
        [--checkpoint CKPT [--config CONFIG] [--ap-shape 256 256]
         [--ap-calib-images 32] [--cfg-options ...]]
        [--out benchmarks/results/bench_int8-<time>.json]

``--small`` times every model at 256x320 (a smoke test of the script, not
a measurement). The raw results go to ``--out`` (JSON); a table is printed.
INT8 speed depends on the CPU's integer dot-product instructions, listed in
the JSON (``avx512_vnni``, ``avx_vnni``, ``amx_int8``; ``avx2`` alone has
none).
"""

import argparse
import copy
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time

import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import (  # noqa: E402
    REPO_ROOT,
    print_table,
    quiet_init_logs,
    time_interleaved,
)
from machine import cpu_flags  # noqa: E402
from support import mmsolo_config_path, seeded_model  # noqa: E402

from mmsolo.deploy import DeployedSOLOv2, export_onnx  # noqa: E402
from mmsolo.deploy.quantize import (  # noqa: E402
    QUANTIZED_SUFFIXES,
    QUANTIZERS,
    load_float_graph,
)
from mmsolo.fileio import dump_json_atomically  # noqa: E402
from mmsolo.testing import demo_batch  # noqa: E402
from mmsolo.utils import register_all_modules  # noqa: E402

MODEL_SPECS = dict(
    r50=('solov2/solov2_r50_fpn_1x_coco.py', (800, 1333)),
    light448=('solov2/solov2-light_r50_fpn_ms-3x_coco.py', (448, 768)),
)
BACKENDS = tuple(QUANTIZED_SUFFIXES)
KINDS = ('float', 'int8')
QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models',
        nargs='*',
        choices=list(MODEL_SPECS),
        default=None,
        help='latency models (default: all; none with --models alone)',
    )
    parser.add_argument(
        '--backends', nargs='+', choices=BACKENDS, default=list(BACKENDS)
    )
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--calib-images', type=int, default=8)
    parser.add_argument(
        '--threads', type=int, default=None, help='backend threads'
    )
    parser.add_argument(
        '--small', action='store_true', help='256x320 inputs: checks only'
    )
    parser.add_argument('--checkpoint', help='quick-start checkpoint (AP)')
    parser.add_argument('--config', default=QUICKSTART)
    parser.add_argument(
        '--ap-shape', type=int, nargs=2, default=(256, 256), metavar='HW'
    )
    parser.add_argument('--ap-calib-images', type=int, default=32)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='passed to the tools of the AP run as they are',
    )
    parser.add_argument('--out', help='JSON file of the raw results')
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error(f'--repeats must be at least 3, got {args.repeats}')
    if args.models is None:  # `--models` alone: none (AP only)
        args.models = list(MODEL_SPECS)
    return args


def quantize_model(path, backend, batches, workdir, name):
    """The INT8 file of ``path`` for ``backend`` and its seconds."""
    _, meta = load_float_graph(path)
    out = osp.join(workdir, f'{name}_int8{QUANTIZED_SUFFIXES[backend]}')
    start = time.perf_counter()
    QUANTIZERS[backend](path, batches, out, meta)
    return out, time.perf_counter() - start


def bench_latency(name: str, shape, args, workdir: str) -> dict:
    """Export, quantize and time one model on every backend."""
    config = mmsolo_config_path(MODEL_SPECS[name][0])
    model = seeded_model(config, kernel_scale=20, class_bias_mean=-5.5)
    divisor = Config.fromfile(config).model.data_preprocessor.pad_size_divisor
    inputs, samples = demo_batch([shape], pad_divisor=divisor, seed=0)
    path = osp.join(workdir, f'{name}.onnx')
    export_onnx(model, path, tuple(inputs.shape[-2:]), pad_divisor=divisor)
    batches = [
        demo_batch([shape], pad_divisor=divisor, seed=seed)[0].numpy()
        for seed in range(1, args.calib_images + 1)
    ]
    preprocessor = dict(type='DetDataPreprocessor', pad_size_divisor=divisor)
    runners, row = {}, dict(model=name, input=list(inputs.shape[-2:]))
    for backend in args.backends:
        int8, seconds = quantize_model(path, backend, batches, workdir, name)
        row[f'{backend}_quantize_s'] = round(seconds, 1)
        for kind, file in (('float', path), ('int8', int8)):
            runners[f'{backend}_{kind}'] = DeployedSOLOv2(
                file, backend, preprocessor, args.threads
            )
    for key, runner in runners.items():
        row[f'{key}_detections'] = len(
            runner.predict(inputs, copy.deepcopy(samples))[0].pred_instances
        )
    fns = {
        key: lambda r=runner: r.predict(inputs, copy.deepcopy(samples))
        for key, runner in runners.items()
    }
    times = time_interleaved(fns, args.repeats, args.warmup)
    for key, value in times.items():
        row[f'{key}_ms'] = round(value, 1)
    return row


def run_tool(*args) -> str:
    """Output of ``python <args>`` in the repository (mmsolo from it)."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(
            f'failed: {" ".join(args)}\n{(done.stdout + done.stderr)[-3000:]}'
        )
    return done.stdout + done.stderr


def cfg_option_args(args) -> list:
    return ['--cfg-options', *args.cfg_options] if args.cfg_options else []


def segm_map(log: str) -> float:
    found = re.findall(r'coco/segm_mAP: ([0-9.]+)', log)
    if not found:
        raise SystemExit(f'no coco/segm_mAP in:\n{log[-2000:]}')
    return float(found[-1])


def bench_ap(args, workdir: str) -> dict:
    """Mask AP of the checkpoint, float and INT8 per backend, by the
    tools; the commands are in the result."""
    options = cfg_option_args(args)
    float_file = osp.join(workdir, 'ap_float.onnx')
    commands = [
        ['tools/deployment/pytorch2onnx.py', args.config, args.checkpoint]
        + ['--out', float_file, '--shape', *map(str, args.ap_shape)]
        + ['--dynamic-batch', '--with-normalize', '--simplify']
        + options
    ]
    run_tool(*commands[-1])
    result = dict(config=args.config, checkpoint=args.checkpoint)
    for backend in args.backends:
        int8 = osp.join(workdir, f'ap_int8{QUANTIZED_SUFFIXES[backend]}')
        commands.append(
            ['tools/deployment/quantize.py', float_file, args.config]
            + ['--backend', backend, '--out', int8]
            + ['--calib-images', str(args.ap_calib_images)]
            + options
        )
        run_tool(*commands[-1])
        for kind, file in (('float', float_file), ('int8', int8)):
            commands.append(
                ['tools/test.py', args.config, file, '--backend', backend]
                + ['--work-dir', osp.join(workdir, f'w_{backend}_{kind}')]
                + options
            )
            result[f'{backend}_{kind}_segm_mAP'] = segm_map(
                run_tool(*commands[-1])
            )
    result['commands'] = [
        ' '.join(['python'] + command) for command in commands
    ]
    return result


def print_results(results: dict) -> None:
    header = ['model']
    for backend in results['backends']:
        header += [f'{backend} float ms', f'{backend} INT8 ms', 'speed-up']
    rows = []
    for row in results['latency']:
        cells = [f'{row["model"]} {row["input"][0]}x{row["input"][1]}']
        for backend in results['backends']:
            fp, q = row[f'{backend}_float_ms'], row[f'{backend}_int8_ms']
            cells += [fp, q, f'{fp / q:.2f}x']
        rows.append(cells)
    if rows:
        print_table(header, rows)
    if results['ap']:
        ap = results['ap']
        print_table(
            ['backend', 'float mask AP', 'INT8 mask AP'],
            [
                [b] + [f'{ap[f"{b}_{kind}_segm_mAP"]:.3f}' for kind in KINDS]
                for b in results['backends']
            ],
        )


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    quiet_init_logs()
    results = dict(
        command=' '.join(['benchmarks/bench_int8.py'] + sys.argv[1:]),
        date=time.strftime('%Y-%m-%d %H:%M'),
        cpu_flags=cpu_flags(),
        cores=os.cpu_count(),
        threads=args.threads,
        torch_threads=torch.get_num_threads(),
        small=args.small,
        backends=args.backends,
        repeats=args.repeats,
        latency=[],
        ap=None,
    )
    import nncf
    import onnxruntime
    import openvino

    results['versions'] = dict(
        torch=torch.__version__,
        onnxruntime=onnxruntime.__version__,
        openvino=openvino.__version__,
        nncf=nncf.__version__,
    )
    with tempfile.TemporaryDirectory(prefix='bench_int8_') as workdir:
        for name in args.models:
            shape = (256, 320) if args.small else MODEL_SPECS[name][1]
            row = bench_latency(name, shape, args, workdir)
            results['latency'].append(row)
        if args.checkpoint:
            results['ap'] = bench_ap(args, workdir)
    out = args.out or osp.join(
        REPO_ROOT,
        'benchmarks',
        'results',
        f'bench_int8-{time.strftime("%Y%m%d-%H%M%S")}.json',
    )
    dump_json_atomically(results, out, indent=1)
    print_results(results)
    print(f'raw results: {out}')


if __name__ == '__main__':
    main()
