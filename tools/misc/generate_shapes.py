"""Write the seeded synthetic shapes dataset in COCO format.

    python tools/misc/generate_shapes.py OUT_DIR [--train 1000 --val 100]
"""
import argparse

from mmsolo.datasets import write_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument('--train', type=int, default=1000,
                        help='number of train images (0: none)')
    parser.add_argument('--val', type=int, default=100,
                        help='number of val images (0: none)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    for split, count, seed in (('train', args.train, args.seed),
                               ('val', args.val, args.seed + 1)):
        if count > 0:
            path = write_split(args.out_dir, split, count, seed)
            print(f'{split}: {count} images, annotations in {path}')


if __name__ == '__main__':
    main()
