"""Convert an MMDetection 3.x SOLOv2 checkpoint (its model zoo) to mmsolo.

    python tools/model_converters/mmdet2mmsolo.py SRC.pth DST.pth
"""
import argparse
import sys

from mmsolo.checkpoint.converters import (convert_checkpoint_file,
                                          convert_mmdet_state_dict)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='MMDetection SOLOv2 checkpoint')
    parser.add_argument('dst', help='where to write the mmsolo checkpoint')
    args = parser.parse_args()
    try:
        count = convert_checkpoint_file(args.src, args.dst,
                                        convert_mmdet_state_dict)
    except (KeyError, ValueError, FileNotFoundError) as error:
        print(f'error: {error.args[0]}', file=sys.stderr)
        return 1
    print(f'converted {count} tensors: {args.src} -> {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
