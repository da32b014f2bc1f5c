"""Run a model on an image and write a picture with its masks, labels and
scores drawn (mmdet's DetLocalVisualizer); a panoptic model's picture shows
its panoptic map (things and stuff).

    python tools/demo/image_demo.py IMAGE CONFIG [--weights CKPT]
        [--out-file OUT.png] [--score-thr 0.3] [--device cpu] [--seed 0]

Without ``--weights`` the model gets random initial weights drawn with
``--seed`` and the class names of the config's test set. ``--seed`` also
seeds the visualizer's mask colours, so runs repeat.
"""
import argparse
import os
import time

import mmcv
import numpy as np
import torch
from mmdet.apis import inference_detector, init_detector
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmengine.config import DictAction

from mmsolo.registry import DATASETS, VISUALIZERS
from mmsolo.checkpoint import (add_unsafe_load_argument,
                               tool_checkpoint_loading)
from mmsolo.utils import register_all_modules


def main() -> None:
    parser = argparse.ArgumentParser(description='SOLOv2 image demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--weights', help='checkpoint file; without it the weights are random')
    parser.add_argument('--out-file', default='outputs/demo.png')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw instances scoring at least this (the model keeps only '
        'those above its test_cfg.score_thr)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the random weights used without --weights, and of '
        'the jitter of mask colours')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_unsafe_load_argument(parser)
    args = parser.parse_args()
    if not os.path.isfile(args.img):
        parser.error(f'image not found: {args.img}')

    register_all_modules(init_default_scope=False)
    cfg_options = dict(args.cfg_options or {})
    if args.weights is None:
        print('no --weights given: the model gets random initial weights '
              f'(--seed {args.seed}), so it finds nothing meaningful')
        # Initialize without downloading pretrained backbone weights.
        cfg_options['model.backbone.init_cfg'] = None
        torch.manual_seed(args.seed)  # weights drawn at build and init
    with tool_checkpoint_loading(args.unsafe_load):
        model = init_detector(
            args.config,
            args.weights,
            device=args.device,
            cfg_options=cfg_options)
    if args.weights is None:
        model.init_weights()
        # init_detector gives a model without weights COCO's class names.
        test_set = dict(model.cfg.test_dataloader.dataset, lazy_init=True)
        metainfo = DATASETS.build(test_set).metainfo
        model.dataset_meta = dict(
            model.dataset_meta, **{
                key: metainfo[key]
                for key in ('classes', 'thing_classes', 'stuff_classes')
                if key in metainfo
            })
    start = time.perf_counter()
    result = inference_detector(model, args.img)
    elapsed = time.perf_counter() - start

    visualizer = VISUALIZERS.build(model.cfg.visualizer)
    np.random.seed(args.seed)  # the visualizer jitters mask colours
    visualizer.dataset_meta = model.dataset_meta
    image = mmcv.imread(args.img, channel_order='rgb')
    visualizer.add_datasample(
        'result',
        image,
        data_sample=result,
        draw_gt=False,
        show=False,
        pred_score_thr=args.score_thr,
        out_file=args.out_file)
    if 'pred_panoptic_seg' in result:
        num_classes = len(model.dataset_meta['classes'])
        print(f'{describe_panoptic(result, num_classes)} predicted in '
              f'{elapsed:.2f} s; picture written to {args.out_file}')
        return
    kept = (result.pred_instances.scores >= args.score_thr).sum().item()
    print(f'{len(result.pred_instances)} instances predicted in '
          f'{elapsed:.2f} s, {kept} drawn (score >= {args.score_thr}); '
          f'picture written to {args.out_file}')


def describe_panoptic(result: DetDataSample, num_classes: int) -> str:
    """'a panoptic map of N segments (T things, S stuff)'; label
    ``num_classes`` is void."""
    ids = result.pred_panoptic_seg.sem_seg.unique()
    ids = ids[ids % INSTANCE_OFFSET != num_classes]
    things = int((ids >= INSTANCE_OFFSET).sum())
    return (f'a panoptic map of {len(ids)} segments ({things} things, '
            f'{len(ids) - things} stuff)')


if __name__ == '__main__':
    main()
