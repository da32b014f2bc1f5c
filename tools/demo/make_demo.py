"""``make demo``: a trained model drawn on a val image of the shapes set.

    python tools/demo/make_demo.py [--short-iters 300] [--out-dir outputs/demo]
        [--checkpoint work_dirs/quickstart/iter_2500.pth]

Uses the quick start's checkpoint when it exists (``make quickstart`` writes
it). Otherwise it says so and first trains the quick-start model for
``--short-iters`` iterations on the shapes set (generated under data/shapes
if absent) into ``work_dirs/demo-short``: a rough model, but a trained one.
Then ``tools/demo/image_demo.py`` draws ``data/shapes/val/000002.png`` into
``OUT_DIR/vis/`` (predictions in ``OUT_DIR/preds/``).
"""

import argparse
import os.path as osp
import subprocess
import sys
from typing import List

from mmsolo.datasets import ensure_shapes_dataset

CONFIG = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
QUICKSTART_CKPT = 'work_dirs/quickstart/iter_2500.pth'
SHORT_WORK_DIR = 'work_dirs/demo-short'
DATA_ROOT = 'data/shapes'
IMAGE = 'data/shapes/val/000002.png'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmsolo demo picture')
    parser.add_argument(
        '--checkpoint',
        default=QUICKSTART_CKPT,
        help='the trained model to draw, if it exists',
    )
    parser.add_argument(
        '--short-iters',
        type=int,
        default=300,
        help='iterations of the short training used when '
        'the checkpoint does not exist',
    )
    parser.add_argument(
        '--work-dir',
        default=SHORT_WORK_DIR,
        help='where the short training writes',
    )
    parser.add_argument('--data-root', default=DATA_ROOT)
    parser.add_argument(
        '--train-images',
        type=int,
        default=1000,
        help='images of the shapes set generated if absent '
        "(the quick start's 1000 and 100)",
    )
    parser.add_argument('--val-images', type=int, default=100)
    parser.add_argument('--out-dir', default='outputs/demo')
    return parser.parse_args()


def run(command: List[str]) -> None:
    print('$ ' + ' '.join(command), flush=True)
    subprocess.run(command, check=True)


def short_training(args: argparse.Namespace) -> str:
    """Train the quick-start model for ``args.short_iters`` iterations (no
    validation); returns its checkpoint."""
    iters = args.short_iters
    warm_up = max(1, min(100, iters // 5))  # the quick start's, shortened
    print(
        f'no quick-start checkpoint at {args.checkpoint} (make quickstart '
        f'trains it): training the quick-start model for {iters} '
        f'iterations on the shapes set first, into {args.work_dir}',
        flush=True,
    )
    data_root = ensure_shapes_dataset(
        args.data_root, args.train_images, args.val_images
    )
    run(
        [
            sys.executable,
            'tools/train.py',
            CONFIG,
            '--work-dir',
            args.work_dir,
            '--cfg-options',
            f'train_cfg.max_iters={iters}',
            f'default_hooks.checkpoint.interval={iters}',
            f'param_scheduler.0.end={warm_up}',
            f'param_scheduler.1.begin={warm_up}',
            f'param_scheduler.1.end={iters}',
            f'train_dataloader.dataset.data_root={data_root}',
            'val_dataloader=None',
            'val_cfg=None',
            'val_evaluator=None',
        ]
    )
    return osp.join(args.work_dir, f'iter_{iters}.pth')


def main() -> None:
    args = parse_args()
    if osp.isfile(args.checkpoint):
        print(f"drawing the quick start's model ({args.checkpoint})")
        checkpoint = args.checkpoint
    else:
        checkpoint = short_training(args)
    image = osp.join(args.data_root, 'val', osp.basename(IMAGE))
    if not osp.isfile(image):
        ensure_shapes_dataset(
            args.data_root, args.train_images, args.val_images
        )
    run(
        [
            sys.executable,
            'tools/demo/image_demo.py',
            image,
            CONFIG,
            '--weights',
            checkpoint,
            '--out-dir',
            args.out_dir,
        ]
    )


if __name__ == '__main__':
    main()
