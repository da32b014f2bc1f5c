"""Convert labelme annotations (one JSON file per image) to one COCO
instance file:

    python tools/dataset_converters/labelme2coco.py INPUT [INPUT ...]
        --out FILE [--classes names.txt] [--img-prefix DIR]

INPUTs are labelme JSON files or folders of them (searched recursively).
Polygons, rectangles and circles become COCO polygons, with ``area`` and
``bbox`` from the rasterised mask and ``iscrowd`` 0; shapes sharing a
``group_id`` and label are one instance. The categories are the labels
found, sorted (ids 1..N), or those of ``--classes`` in its order (a label
not in it is an error). ``file_name`` is the image's path relative to
``--img-prefix`` (default: the folder holding every INPUT), which is the
dataset's ``data_root`` + ``data_prefix.img``. Bad input stops the
conversion with the file and field at fault, exit code 1, and FILE is not
written.
"""

import argparse
import sys

from mmsolo.datasets.converters import (
    ConversionError,
    common_folder,
    find_files,
    labelme_to_coco,
    read_class_names,
    write_and_report,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='labelme JSON files to one COCO instance file'
    )
    parser.add_argument(
        'inputs', nargs='+', help='labelme JSON files or folders of them'
    )
    parser.add_argument('--out', required=True, help='COCO file to write')
    parser.add_argument(
        '--classes',
        help='class names, one a line (or a YAML file with "names"): the '
        'categories in this order; default: the labels found, sorted',
    )
    parser.add_argument(
        '--img-prefix',
        help="the folder file_name is relative to (the dataset's "
        'data_root + data_prefix.img); default: the folder holding every '
        'input',
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    prefix = args.img_prefix or common_folder(args.inputs)
    try:
        classes = read_class_names(args.classes) if args.classes else None
        files = find_files(args.inputs, ('.json',), exclude=[args.out])
        if not files:
            raise ConversionError(f'no .json file in {", ".join(args.inputs)}')
        coco, warnings = labelme_to_coco(
            files, classes, args.classes or '', prefix
        )
    except ConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    write_and_report(coco, args.out, prefix, warnings)
    return 0


if __name__ == '__main__':
    sys.exit(main())
