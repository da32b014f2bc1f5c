"""Convert a SOLOv2 checkpoint of another model zoo to mmsolo.

    python tools/model_converters/solov2_zoo2mmsolo.py SRC.pth DST.pth \\
        [--from auto|mmdet|solo|adelaidet] [--unsafe-load]

``--from`` (default ``auto``: told by the keys): MMDetection 3.x
(``mask_head.*``), the official SOLO repository (mmdet v1 layout,
``bbox_head.*``, ``mask_feat_head.*``) or AdelaiDet (detectron2 layout). The
source is read with torch's restricted unpickler (``--unsafe-load`` for a
trusted file that needs more); its ``meta`` (class names, dataset_meta) is
kept, with a record of the source under ``meta['converted_from']``. A key
that maps nowhere stops the conversion with the list of such keys, and
nothing is written.
"""

import argparse
import sys
from typing import List, Optional

from mmsolo.checkpoint import (
    LAYOUT_CONVERTERS,
    UnsafeCheckpointError,
    add_unsafe_load_argument,
    convert_zoo_checkpoint,
)


def parse_args(
    argv: Optional[List[str]], layout: Optional[str]
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='SOLOv2 checkpoint of another zoo')
    parser.add_argument('dst', help='where to write the mmsolo checkpoint')
    if layout is None:
        parser.add_argument(
            '--from',
            dest='layout',
            choices=['auto', *LAYOUT_CONVERTERS],
            default='auto',
            help='layout of SRC (default: told by its keys)',
        )
    add_unsafe_load_argument(parser)
    args = parser.parse_args(argv)
    if layout is not None:
        args.layout = layout
    return args


def main(
    argv: Optional[List[str]] = None, layout: Optional[str] = None
) -> int:
    args = parse_args(argv, layout)
    try:
        report = convert_zoo_checkpoint(
            args.src, args.dst, layout=args.layout, unsafe=args.unsafe_load
        )
    except (
        KeyError,
        ValueError,
        TypeError,
        FileNotFoundError,
        UnsafeCheckpointError,
    ) as error:
        print(f'error: {error.args[0]}', file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
