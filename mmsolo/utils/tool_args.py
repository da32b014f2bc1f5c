"""Command-line arguments shared by mmsolo's tools (as mmdet 3's tools
spell them)."""

import argparse
import os

from mmengine.config import DictAction


def add_cfg_options(
    parser: argparse.ArgumentParser,
    example: str = 'model.mask_head.num_classes=3',
) -> None:
    """``--cfg-options KEY=VALUE ...``, merged into the config."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=f'override config settings, e.g. {example}',
    )


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """``--launcher`` and ``--local_rank`` / ``--local-rank`` (given by
    ``torch.distributed.launch``)."""
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line; ``LOCAL_RANK`` defaults to ``--local_rank``
    when the parser has that option."""
    args = parser.parse_args()
    if hasattr(args, 'local_rank'):
        os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args
