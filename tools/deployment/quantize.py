"""INT8 post-training quantization of an exported SOLOv2 graph, the network
quantized and the post-processing kept in float.

    python tools/deployment/quantize.py MODEL.onnx CONFIG
        --backend onnxruntime|openvino --calib-images N [--calib-dir DIR]
        --out FILE [--cfg-options ...]

MODEL.onnx is a float graph of ``tools/deployment/pytorch2onnx.py``;
CONFIG the config it was exported from. The quantizers calibrate on the
first N images of the config's val dataset (its test dataset without a val
one), or of the images in ``--calib-dir``, prepared as the deployed model
prepares them (the config's test pipeline and data preprocessor, padded to
the graph's size). ``--backend onnxruntime`` writes a QDQ ``.onnx`` file
(ONNX Runtime's ``quantize_static``), ``--backend openvino`` an OpenVINO IR
``.xml`` with its ``.bin`` (NNCF). Run the result as the float graph:
``tools/test.py CONFIG FILE --backend B``,
``tools/analysis_tools/benchmark.py CONFIG FILE --backend B``,
``tools/deployment/onnx_infer.py``. See mmsolo/deploy/quantize.py for which
nodes stay float and why.
"""

import argparse
import time

from mmengine.config import DictAction

from mmsolo.deploy.quantize import QUANTIZED_SUFFIXES, quantize_exported
from mmsolo.runner import load_tool_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='INT8 post-training quantization of an exported SOLOv2'
    )
    parser.add_argument('model', help='float .onnx file from pytorch2onnx.py')
    parser.add_argument('config', help='the config it was exported from')
    parser.add_argument(
        '--backend',
        required=True,
        choices=list(QUANTIZED_SUFFIXES),
        help='onnxruntime: a QDQ .onnx file; openvino: an IR .xml (+ .bin)',
    )
    parser.add_argument(
        '--calib-images',
        type=int,
        required=True,
        help='number of calibration images',
    )
    parser.add_argument(
        '--calib-dir',
        help="folder of calibration images (default: the config's val "
        'dataset)',
    )
    parser.add_argument(
        '--out',
        required=True,
        help='the INT8 model: .onnx for onnxruntime, .xml for openvino',
    )
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    if args.calib_images < 1:
        parser.error(
            f'--calib-images must be at least 1, got {args.calib_images}'
        )
    return args


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options)
    start = time.perf_counter()
    try:
        meta = quantize_exported(
            args.model,
            cfg,
            args.backend,
            args.calib_images,
            args.out,
            args.calib_dir,
        )
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'quantize.py: {error}') from None
    images = meta['int8']['calibration_images']
    print(
        f'quantized {args.model} for {args.backend} to {args.out} (INT8 '
        f'network, float post-processing; calibrated on {images} images '
        f'from {meta["int8"]["calibration_source"]}) in '
        f'{time.perf_counter() - start:.0f} s'
    )


if __name__ == '__main__':
    main()
