"""Write the config of a COCO-format data set of your own classes.

    python tools/misc/make_config.py --base CONFIG \\
        --train-ann FILE --train-img DIR --val-ann FILE --val-img DIR \\
        [--test-ann FILE --test-img DIR] [--load-from CKPT] \\
        [--suggest-grids] --out FILE

The classes are read from the training annotation file (its
``categories``, in id order; the other splits must list the same ones).
OUT inherits CONFIG (``_base_``, relative to OUT) and sets ``classes``,
``metainfo``, ``model.mask_head.num_classes``, each split's data root,
``ann_file`` and image folder, the evaluators' ``ann_file`` and
``load_from`` (a checkpoint of other classes: its classifier is
re-initialised for these). ``--suggest-grids`` adds grid settings fitted to
the training objects' sizes. OUT is written whole or not at all; train it
as it is: ``python tools/train.py OUT``.
"""

import argparse
import sys

from mmsolo.runner.child_config import (
    ChildConfigError,
    DataSplit,
    make_child_config,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write the config of a COCO-format data set of your own '
        'classes'
    )
    parser.add_argument(
        '--base',
        required=True,
        help='the SOLOv2 config to inherit, e.g. '
        'configs/solov2/solov2_r50_fpn_8e_balloon.py',
    )
    for split, need in (('train', True), ('val', True), ('test', False)):
        parser.add_argument(
            f'--{split}-ann',
            required=need,
            help=f'COCO instance annotation file of the {split} split',
        )
        parser.add_argument(
            f'--{split}-img',
            required=need,
            help=f'folder of the {split} images (their file_names are '
            'relative to it)',
        )
    parser.add_argument(
        '--load-from',
        help='checkpoint to start from (load_from), e.g. a converted COCO '
        'model; a classifier of other classes is re-initialised',
    )
    parser.add_argument(
        '--suggest-grids',
        action='store_true',
        help="fit the head's grids and scale ranges to the sizes of the "
        'training objects',
    )
    parser.add_argument('--out', required=True, help='config file to write')
    args = parser.parse_args()
    if (args.test_ann is None) != (args.test_img is None):
        parser.error('--test-ann and --test-img go together')
    return args


def main() -> None:
    args = parse_args()
    splits = {
        'train': DataSplit(args.train_ann, args.train_img),
        'val': DataSplit(args.val_ann, args.val_img),
    }
    if args.test_ann is not None:
        splits['test'] = DataSplit(args.test_ann, args.test_img)
    try:
        _, classes = make_child_config(
            args.base, args.out, splits, args.load_from, args.suggest_grids
        )
    except ChildConfigError as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)
    print(f'{args.out}: {len(classes)} classes {classes}')


if __name__ == '__main__':
    main()
