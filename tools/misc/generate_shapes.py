"""Write the seeded synthetic shapes dataset in COCO format.

    python tools/misc/generate_shapes.py OUT_DIR [--train 1000 --val 100]
        [--seed 0] [--panoptic]

``--panoptic`` writes the COCO panoptic set instead (shapes over sky, ground
and water bands; mmsolo.datasets.synthetic_panoptic).
"""

import argparse

from mmsolo.datasets import write_panoptic_split, write_split


def main() -> None:
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
    args = parser.parse_args()
    write = write_panoptic_split if args.panoptic else write_split
    for split, count, seed in (
        ('train', args.train, args.seed),
        ('val', args.val, args.seed + 1),
    ):
        if count > 0:
            path = write(args.out_dir, split, count, seed)
            print(f'{split}: {count} images, annotations in {path}')


if __name__ == '__main__':
    main()
