"""Run a model on images and draw its masks, labels and scores (mmdet 3's
``demo/image_demo.py`` arguments; a panoptic model's pictures show its
panoptic map):

    python tools/demo/image_demo.py INPUTS [INPUTS ...] CONFIG
        [--weights CKPT] [--out-dir outputs] [--pred-score-thr 0.3]
        [--batch-size 1] [--show] [--no-save-vis] [--no-save-pred]
        [--print-result] [--palette none] [--device cuda:0|cpu] [--seed 0]
        [--polygons] [--slice-size PIXELS [PIXELS]] [--slice-overlap 0.2]
        [--slice-batch-size 1]

INPUTS are image files or folders of images. As mmdet's demo, it writes
``OUT_DIR/vis/<image name>`` (the picture) and ``OUT_DIR/preds/<image
name>.json`` (labels, scores, boxes, RLE masks; with ``--polygons`` also
each mask's outer contours as COCO polygons, holes filled).
``--out-file OUT.png`` (one input) writes only that picture. Without
``--weights`` the model gets random initial weights drawn with ``--seed``
and the class names of the config's test set. ``--seed`` also seeds the
visualizer's mask colours, so runs repeat. ``--slice-size`` predicts each
image in overlapping tiles merged on the whole image (sliced inference:
``mmsolo.apis.sliced_predict``).
"""

import argparse
import os
import time
from typing import List

import mmcv
import numpy as np
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmengine.config import Config

from mmsolo.apis import SOLOv2Inferencer
from mmsolo.apis.inferencer import VOID
from mmsolo.apis.sliced_inference import (
    add_slice_arguments,
    check_slice_arguments,
)
from mmsolo.checkpoint import add_unsafe_load_argument, tool_checkpoint_loading
from mmsolo.datasets.panoptic_ids import rgb2id
from mmsolo.utils import add_cfg_options, register_all_modules

PALETTES = ['coco', 'voc', 'citys', 'random', 'none']


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='SOLOv2 image demo')
    parser.add_argument(
        'inputs', nargs='+', help='image files or folders of images'
    )
    parser.add_argument('model', help='config file')
    parser.add_argument(
        '--weights', help='checkpoint file; without it the weights are random'
    )
    parser.add_argument(
        '--out-dir', default='outputs', help='writes vis/ and preds/ here'
    )
    parser.add_argument(
        '--out-file',
        help='one input only: write its picture here, nothing else',
    )
    parser.add_argument(
        '--pred-score-thr',
        '--score-thr',
        type=float,
        default=0.3,
        help='draw instances scoring at least this (the model keeps only '
        'those above its test_cfg.score_thr)',
    )
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument(
        '--show', action='store_true', help='show each picture in a window'
    )
    parser.add_argument(
        '--no-save-vis', action='store_true', help='write no pictures'
    )
    parser.add_argument(
        '--no-save-pred', action='store_true', help='write no prediction files'
    )
    parser.add_argument(
        '--print-result', action='store_true', help='print the predictions'
    )
    parser.add_argument(
        '--palette',
        default='none',
        choices=PALETTES,
        help="class colours (none: the dataset's)",
    )
    parser.add_argument(
        '--device',
        default='cuda:0' if torch.cuda.is_available() else 'cpu',
        help='device the model runs on (default: cuda:0 where CUDA is '
        'available, else cpu)',
    )
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the random weights used without --weights, and of '
        'the jitter of mask colours',
    )
    parser.add_argument(
        '--polygons',
        action='store_true',
        help='also write each mask as polygons ("polygons": per instance, '
        'its outer contours [[x1, y1, x2, y2, ...], ...], holes filled)',
    )
    add_slice_arguments(parser)
    add_cfg_options(parser)
    add_unsafe_load_argument(parser)
    args = parser.parse_args()
    check_slice_arguments(parser, args)
    for path in args.inputs:
        if not os.path.exists(path):
            parser.error(f'input not found: {path}')
    if args.out_file and (
        len(args.inputs) > 1 or os.path.isdir(args.inputs[0])
    ):
        parser.error('--out-file takes one image; use --out-dir for more')
    return args


def image_list(inputs: List[str]) -> List[str]:
    """The image files of ``inputs``, folders expanded (sorted)."""
    images = []
    for path in inputs:
        if not os.path.isdir(path):
            images.append(path)
            continue
        images += sorted(
            os.path.join(path, name)
            for name in os.listdir(path)
            if name.lower().endswith(
                ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
            )
        )
    return images


def build_inferencer(args: argparse.Namespace) -> SOLOv2Inferencer:
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.model)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.weights is None:
        print(
            'no --weights given: the model gets random initial weights '
            f'(--seed {args.seed}), so it finds nothing meaningful'
        )
    torch.manual_seed(args.seed)  # random weights are drawn at build
    with tool_checkpoint_loading(args.unsafe_load):
        return SOLOv2Inferencer(
            model=cfg,
            weights=args.weights,
            device=args.device,
            palette=args.palette,
            show_progress=False,
        )


def describe(result: dict, thr: float) -> str:
    """'N instances predicted, K drawn (score >= thr)' from the result dict
    of :meth:`SOLOv2Inferencer.pred2dict`, or for a panoptic prediction 'a
    panoptic map of N segments (T things, S stuff)'."""
    if 'panoptic_seg' not in result and 'panoptic_seg_path' not in result:
        scores = np.asarray(result['scores'])
        return (
            f'{len(scores)} instances predicted, '
            f'{int((scores >= thr).sum())} drawn (score >= {thr})'
        )
    rgb = result.get('panoptic_seg')
    if rgb is None:
        rgb = mmcv.imread(result['panoptic_seg_path'], channel_order='rgb')
    ids = np.unique(rgb2id(rgb))
    ids = ids[ids != VOID]
    things = int((ids >= INSTANCE_OFFSET).sum())
    return (
        f'a panoptic map of {len(ids)} segments ({things} things, '
        f'{len(ids) - things} stuff) predicted'
    )


def main() -> None:
    args = parse_args()
    inferencer = build_inferencer(args)
    images = image_list(args.inputs)
    np.random.seed(args.seed)  # the visualizer jitters mask colours
    start = time.perf_counter()
    outputs = inferencer(
        images,
        batch_size=args.batch_size,
        return_vis=args.out_file is not None,
        show=args.show,
        no_save_vis=args.no_save_vis or args.out_file is not None,
        no_save_pred=args.no_save_pred or args.out_file is not None,
        pred_score_thr=args.pred_score_thr,
        print_result=args.print_result,
        out_dir='' if args.out_file else args.out_dir,
        polygons=args.polygons,
        slice_size=args.slice_size,
        slice_overlap=args.slice_overlap,
        slice_batch_size=args.slice_batch_size,
    )
    elapsed = time.perf_counter() - start
    for image, result in zip(images, outputs['predictions']):
        print(f'{image}: {describe(result, args.pred_score_thr)}')
    print(f'{len(images)} image(s) in {elapsed:.2f} s')
    if args.out_file:
        mmcv.imwrite(outputs['visualization'][0][..., ::-1], args.out_file)
        print(f'picture written to {args.out_file}')
    elif not (args.no_save_vis and args.no_save_pred):
        print(f'results written to {args.out_dir} (vis/, preds/)')


if __name__ == '__main__':
    main()
