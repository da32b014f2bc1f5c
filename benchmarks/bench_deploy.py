"""Issue 16: CPU latency of the exported SOLOv2 (whole model and
post-processing in one ONNX graph) run by ONNX Runtime and OpenVINO,
against PyTorch eager ``model.predict``, in one run.

Models: SOLOv2-R50 at 800x1333 (padded 800x1344) and SOLOv2-light-R50 at
448 (its test scale, 448x768), seeded random weights with confident masks
and spread category biases (many candidates, ``nms_pre`` of them reach the
masks, as with a trained model). Each is exported once (static batch 1),
then PyTorch, ONNX Runtime and OpenVINO are timed interleaved on the same
normalised input; the outputs are compared (labels, largest score
difference, smallest mask IoU) and the ratios PyTorch / backend printed.
Batches > 1 are covered by tests/test_deploy, not timed here.

    python benchmarks/bench_deploy.py [--repeats 5] [--warmup 1]
        [--models r50 light448] [--small] [--threads N]

``--small`` runs every model at 256x320 (a smoke test of the script, not a
measurement).
"""

import argparse
import copy
import os.path as osp
import sys
import tempfile

import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from common import print_table, quiet_init_logs, time_interleaved  # noqa: E402
from support import mmsolo_config_path, seeded_model  # noqa: E402
from support.parity import compare_samples  # noqa: E402

from mmsolo.deploy import DeployedSOLOv2, export_onnx  # noqa: E402
from mmsolo.testing import demo_batch  # noqa: E402
from mmsolo.utils import register_all_modules  # noqa: E402

MODEL_SPECS = dict(
    r50=('solov2/solov2_r50_fpn_1x_coco.py', (800, 1333)),
    light448=('solov2/solov2-light_r50_fpn_ms-3x_coco.py', (448, 768)),
)
BACKENDS = ('onnxruntime', 'openvino')


def bench_model(name: str, shape, args, workdir: str) -> list:
    """Export, compare and time one model; returns the table row."""
    config, _ = MODEL_SPECS[name]
    # Seeded weights, confident masks, spread biases.
    model = seeded_model(
        mmsolo_config_path(config), kernel_scale=20, class_bias_mean=-5.5
    )
    divisor = Config.fromfile(
        mmsolo_config_path(config)
    ).model.data_preprocessor.pad_size_divisor
    inputs, samples = demo_batch([shape], pad_divisor=divisor, seed=0)
    path = osp.join(workdir, f'{name}.onnx')
    export_onnx(model, path, tuple(inputs.shape[-2:]), pad_divisor=divisor)
    preprocessor = dict(type='DetDataPreprocessor', pad_size_divisor=divisor)
    runners = {
        backend: DeployedSOLOv2(path, backend, preprocessor, args.threads)
        for backend in BACKENDS
    }
    with torch.no_grad():
        expected = model.predict(inputs, copy.deepcopy(samples))
    stats = {
        backend: compare_samples(
            expected, runner.predict(inputs, copy.deepcopy(samples))
        )
        for backend, runner in runners.items()
    }
    fns = {'pytorch': lambda: model.predict(inputs, copy.deepcopy(samples))}
    for backend, runner in runners.items():
        fns[backend] = lambda r=runner: r.predict(
            inputs, copy.deepcopy(samples)
        )
    times = time_interleaved(fns, args.repeats, args.warmup)
    return [
        f'{name} {inputs.shape[-2]}x{inputs.shape[-1]}',
        len(expected[0].pred_instances),
        times['pytorch'],
        times['onnxruntime'],
        times['openvino'],
        f'{times["pytorch"] / times["onnxruntime"]:.2f}x',
        f'{times["pytorch"] / times["openvino"]:.2f}x',
        f'{max(s["max_score_diff"] for s in stats.values()):.1e}',
        f'{min(s["min_mask_iou"] for s in stats.values()):.4f}',
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(MODEL_SPECS),
        default=list(MODEL_SPECS),
    )
    parser.add_argument(
        '--small',
        action='store_true',
        help='256x320 inputs: checks the script only',
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='backend threads (default: theirs)',
    )
    args = parser.parse_args()
    register_all_modules(init_default_scope=True)
    quiet_init_logs()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models:
            shape = (256, 320) if args.small else MODEL_SPECS[name][1]
            rows.append(bench_model(name, shape, args, workdir))
    print(
        f'torch {torch.__version__}, {torch.get_num_threads()} threads; '
        f'medians of {args.repeats} interleaved runs; ORT threads do not '
        'spin between runs'
    )
    print_table(
        [
            'model',
            'detections',
            'PyTorch ms',
            'ORT ms',
            'OpenVINO ms',
            'PyTorch/ORT',
            'PyTorch/OpenVINO',
            'max score diff',
            'min mask IoU',
        ],
        rows,
    )


if __name__ == '__main__':
    main()
