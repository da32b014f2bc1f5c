"""FLOPs and parameters of a model (mmengine's get_model_complexity_info).

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]
        [--show-table] [--cfg-options ...]

Counts the tensor-mode forward of one (1, 3, H, W) image: backbone, FPN,
mask-feature neck and the head's kernel and category branches. The image is
padded as the data preprocessor pads (``pad_size_divisor``). ``--shape``
defaults to the ``scale`` of the test pipeline's ``Resize``. Not counted:
what ``predict`` does per candidate (dynamic mask convolutions, Matrix NMS,
upsampling), whose cost depends on how many cells pass ``score_thr``; and
operators mmengine cannot count (it warns about them: norms, upsampling,
pooling, additions).
"""

import argparse
import math
from typing import Tuple

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm

from mmsolo.registry import MODELS
from mmsolo.runner import load_tool_config
from mmsolo.utils import config_input_shape


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs and parameters of a model'
    )
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input image size (default: the scale of the test pipeline '
        'Resize)',
    )
    parser.add_argument(
        '--show-table',
        action='store_true',
        help='also print the per-module table',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.backbone.depth=18',
    )
    args = parser.parse_args()
    if args.shape is not None and min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape}')
    return args


def padded_shape(cfg: Config, shape: Tuple[int, int]) -> Tuple[int, int]:
    """``shape`` rounded up to the data preprocessor's
    ``pad_size_divisor``."""
    divisor = cfg.model.get('data_preprocessor', {}).get('pad_size_divisor', 1)
    return tuple(math.ceil(side / divisor) * divisor for side in shape)


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options)
    try:
        shape = tuple(args.shape or config_input_shape(cfg))
    except ValueError as error:  # no Resize to take the size from
        raise SystemExit(f'get_flops.py: {error}') from None
    input_shape = padded_shape(cfg, shape)

    cfg.model.backbone.init_cfg = None  # FLOPs need no pretrained weights
    model = revert_sync_batchnorm(MODELS.build(cfg.model)).eval()
    inputs = torch.zeros(1, 3, *input_shape)
    with torch.no_grad():
        info = get_model_complexity_info(
            model,
            inputs=(inputs,),
            show_table=args.show_table,
            show_arch=False,
        )

    line = '=' * 30
    print(line)
    if input_shape != shape:
        print(
            f'Input shape {shape[0]}x{shape[1]} padded to '
            f'{input_shape[0]}x{input_shape[1]} (pad_size_divisor)'
        )
    print(
        f'Input shape: (3, {input_shape[0]}, {input_shape[1]})\n'
        f'Flops: {info["flops_str"]}\n'
        f'Params: {info["params_str"]}'
    )
    print(line)
    if args.show_table:
        print(info['out_table'])
    print(
        'Counted: the tensor forward (backbone, FPN, mask-feature neck, '
        'head branches and, in a panoptic model, the semantic head); not '
        'the per-candidate dynamic convolutions, Matrix NMS and panoptic '
        'fusion of predict. Check the operators mmengine reports as '
        'unsupported before quoting these numbers.'
    )


if __name__ == '__main__':
    main()
