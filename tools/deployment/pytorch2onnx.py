"""Export a SOLOv2 checkpoint to one ONNX graph, post-processing included.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT --out model.onnx
        [--shape H W] [--batch-size 1] [--dynamic-shape] [--dynamic-batch]
        [--opset 18] [--simplify] [--with-normalize] [--unsafe-load]
        [--cfg-options ...]

The graph takes the normalised, padded batch (B, 3, H, W) (with
``--with-normalize`` the raw BGR image batch instead) and returns flat
detections of all images with a batch index and a per-image count
(``scores``, ``labels``, ``masks``, ``boxes``, ``batch_index``, ``counts``,
``mask_probs``, and ``semantic_logits`` for a panoptic model, whose fusion
runs on the host; see mmsolo/deploy/graph_postprocess.py). The exporter is
torch's dynamo-based ``torch.onnx.export(..., dynamo=True)``. Without
``--shape`` the traced size is the test pipeline's Resize scale rounded up
to the pad divisor; a static graph runs only at that size (smaller images
are padded to it), ``--dynamic-shape`` any multiple of the pad divisor.
"""

import argparse
import os

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import load_checkpoint

from mmsolo.checkpoint import add_unsafe_load_argument, tool_checkpoint_loading
from mmsolo.deploy import export_onnx
from mmsolo.registry import MODELS
from mmsolo.utils import config_input_shape, register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export SOLOv2 to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='traced input size (multiples of the pad divisor)',
    )
    parser.add_argument(
        '--batch-size', type=int, default=1, help='batch of a static graph'
    )
    parser.add_argument(
        '--dynamic-shape',
        action='store_true',
        help='any input H, W (multiples of the pad divisor)',
    )
    parser.add_argument(
        '--dynamic-batch', action='store_true', help='any batch size'
    )
    parser.add_argument('--opset', type=int, default=18)
    parser.add_argument(
        '--simplify',
        action='store_true',
        help='simplify the graph with onnxslim',
    )
    parser.add_argument(
        '--with-normalize',
        action='store_true',
        help='normalise in the graph: it takes the raw BGR float image',
    )
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_unsafe_load_argument(parser)
    return parser.parse_args()


def round_up(shape, divisor: int):
    return tuple(-(-side // divisor) * divisor for side in shape)


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    with tool_checkpoint_loading(args.unsafe_load):
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    preprocessor = cfg.model.data_preprocessor
    divisor = preprocessor.get('pad_size_divisor', 32)
    try:
        shape = tuple(args.shape or config_input_shape(cfg))
    except ValueError as error:
        raise SystemExit(f'pytorch2onnx.py: {error}') from None
    shape = round_up(shape, divisor)
    normalize = None
    if args.with_normalize:
        normalize = (
            preprocessor.mean,
            preprocessor.std,
            preprocessor.get('bgr_to_rgb', False),
        )
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    export_onnx(
        model,
        args.out,
        shape,
        batch_size=args.batch_size,
        pad_divisor=divisor,
        dynamic_shape=args.dynamic_shape,
        dynamic_batch=args.dynamic_batch,
        opset=args.opset,
        normalize=normalize,
        simplify=args.simplify,
    )
    kind = (
        ', '.join(
            name
            for name, on in (
                ('dynamic shape', args.dynamic_shape),
                ('dynamic batch', args.dynamic_batch),
                ('normalisation in graph', args.with_normalize),
            )
            if on
        )
        or 'static'
    )
    print(
        f'exported {args.out} (torch {torch.__version__} dynamo exporter, '
        f'opset {args.opset}, traced {args.batch_size}x3x{shape[0]}x'
        f'{shape[1]}, {kind})'
    )


if __name__ == '__main__':
    main()
