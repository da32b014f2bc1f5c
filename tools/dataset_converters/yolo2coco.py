"""Convert YOLO segmentation labels (Ultralytics' format) to one COCO
instance file:

    python tools/dataset_converters/yolo2coco.py IMG_DIR LABEL_DIR
        --names data.yaml --out FILE [--img-prefix DIR]

Each image under IMG_DIR (searched recursively) has its label file at the
same relative path under LABEL_DIR with the extension ``.txt``, one
instance a line: ``class x1 y1 x2 y2 ...`` (a polygon) or ``class cx cy w
h`` (a box), normalised to [0, 1]; an image without one has no instance.
``--names`` is YOLO's ``data.yaml`` (its ``names``) or a text file with
one name a line; YOLO class id i is COCO category id i + 1. Image sizes
are read from the images. ``file_name`` is relative to ``--img-prefix``
(default IMG_DIR). Bad input stops the conversion with the file, line and
field at fault, exit code 1, and FILE is not written.
"""

import argparse
import sys

from mmsolo.datasets.converters import (
    ConversionError,
    read_class_names,
    write_and_report,
    yolo_to_coco,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='YOLO segmentation labels to one COCO instance file'
    )
    parser.add_argument('img_dir', help='folder of the images')
    parser.add_argument(
        'label_dir', help='folder of the label files (.txt), as IMG_DIR'
    )
    parser.add_argument(
        '--names',
        required=True,
        help="the class names: YOLO's data.yaml, or one name a line",
    )
    parser.add_argument('--out', required=True, help='COCO file to write')
    parser.add_argument(
        '--img-prefix',
        help="the folder file_name is relative to (the dataset's "
        'data_root + data_prefix.img); default: IMG_DIR',
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    prefix = args.img_prefix or args.img_dir
    try:
        names = read_class_names(args.names)
        coco, warnings = yolo_to_coco(
            args.img_dir, args.label_dir, names, args.names, prefix
        )
    except ConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    write_and_report(coco, args.out, prefix, warnings)
    return 0


if __name__ == '__main__':
    sys.exit(main())
