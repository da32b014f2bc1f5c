"""Write a COCO file listing a folder of images, without annotations, to
test on unlabelled images (as mmdet's tool of this name):

    python tools/dataset_converters/images2coco.py IMG_DIR
        --classes names.txt --out FILE [--exclude-extensions .tif ...]

FILE holds ``images`` (every image under IMG_DIR, searched recursively,
``file_name`` relative to IMG_DIR, sizes as decoded), ``categories`` (the
names of ``--classes``, those the model was trained with, ids 1..N in
order) and no annotation. ``tools/test.py`` then predicts on them with
``--cfg-options test_dataloader.dataset.ann_file=FILE
test_evaluator.ann_file=FILE test_evaluator.format_only=True
test_evaluator.outfile_prefix=DIR/name`` (docs/user_guides/test.md). An
image that cannot be read stops it (exit code 1, FILE not written).
"""

import argparse
import sys

from mmsolo.datasets.converters import (
    ConversionError,
    images_to_coco,
    read_class_names,
    write_and_report,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='a folder of images to a COCO file without annotations'
    )
    parser.add_argument('img_dir', help='folder of the images')
    parser.add_argument(
        '--classes',
        required=True,
        help="the model's class names, one a line (or a YAML file with "
        '"names")',
    )
    parser.add_argument('--out', required=True, help='COCO file to write')
    parser.add_argument(
        '--exclude-extensions',
        nargs='+',
        default=[],
        metavar='EXT',
        help='leave out images whose name ends so (e.g. .tif)',
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    try:
        classes = read_class_names(args.classes)
        coco = images_to_coco(args.img_dir, classes, args.exclude_extensions)
    except ConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    write_and_report(coco, args.out, args.img_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
