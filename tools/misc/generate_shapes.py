"""Write the seeded synthetic shapes dataset in COCO format.

    python tools/misc/generate_shapes.py OUT_DIR [--train 1000 --val 100]
        [--seed 0] [--panoptic] [--img-size 256] [--min-size 20]
        [--max-size 128] [--objects-per-image 1 6] [--num-classes 3]

``--panoptic`` writes the COCO panoptic set instead (shapes over sky, ground
and water bands; mmsolo.datasets.synthetic_panoptic).

The size options draw other instance sets (not with ``--panoptic``): square
images of ``--img-size`` pixels, shapes of ``--min-size`` to ``--max-size``
pixels (twice the radius: the circle's diameter, the square's side),
``--objects-per-image MIN MAX`` shapes (one number: exactly that many) of
the first ``--num-classes`` kinds (circle, square, triangle); visible parts
under 20 px, or under ``--min-size`` where smaller, are dropped. The
defaults write the quick-start set, byte for byte.
"""

import argparse

from mmsolo.datasets import write_panoptic_split, write_split
from mmsolo.datasets.synthetic_shapes import ShapeSizes

DEFAULTS = ShapeSizes()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument(
        '--train',
        type=int,
        default=1000,
        help='number of train images (0: none)',
    )
    parser.add_argument(
        '--val', type=int, default=100, help='number of val images (0: none)'
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--panoptic',
        action='store_true',
        help='write the COCO panoptic set (things: shapes; '
        'stuff: sky, ground, water)',
    )
    parser.add_argument(
        '--img-size', type=int, default=256, help='image side in pixels'
    )
    parser.add_argument(
        '--min-size',
        type=float,
        default=DEFAULTS.min_size,
        help='smallest shape size (twice its radius) in pixels',
    )
    parser.add_argument(
        '--max-size',
        type=float,
        default=DEFAULTS.max_size,
        help='largest shape size (twice its radius) in pixels',
    )
    parser.add_argument(
        '--objects-per-image',
        type=int,
        nargs='+',
        metavar='N',
        default=[DEFAULTS.min_shapes, DEFAULTS.max_shapes],
        help='MIN MAX shapes drawn per image (one number: exactly that many)',
    )
    parser.add_argument(
        '--num-classes',
        type=int,
        default=DEFAULTS.num_classes,
        help='shape kinds drawn, 1 to 3 (circle, square, triangle)',
    )
    args = parser.parse_args()
    if len(args.objects_per_image) > 2:
        parser.error('--objects-per-image takes MIN MAX or one number')
    if args.img_size < 1:
        parser.error(f'--img-size must be positive, got {args.img_size}')
    try:
        args.sizes = ShapeSizes(
            min_size=args.min_size,
            max_size=args.max_size,
            min_shapes=args.objects_per_image[0],
            max_shapes=args.objects_per_image[-1],
            num_classes=args.num_classes,
        )
    except ValueError as error:
        parser.error(str(error))
    if args.panoptic and (args.sizes != DEFAULTS or args.img_size != 256):
        parser.error('the size options apply to the instance set only')
    return args


def main() -> None:
    args = parse_args()
    for split, count, seed in (
        ('train', args.train, args.seed),
        ('val', args.val, args.seed + 1),
    ):
        if count <= 0:
            continue
        if args.panoptic:
            path = write_panoptic_split(args.out_dir, split, count, seed)
        else:
            path = write_split(
                args.out_dir, split, count, seed, args.img_size, args.sizes
            )
        print(f'{split}: {count} images, annotations in {path}')


if __name__ == '__main__':
    main()
