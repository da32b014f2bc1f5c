"""Run a model on an image and write a picture with its masks, labels and
scores drawn (mmdet's DetLocalVisualizer).

    python tools/demo/image_demo.py IMAGE CONFIG [--weights CKPT]
        [--out-file OUT.png] [--score-thr 0.3] [--device cpu]
"""
import argparse
import os
import time

import mmcv
from mmdet.apis import inference_detector, init_detector
from mmengine.config import DictAction

from mmsolo.registry import VISUALIZERS
from mmsolo.utils import register_all_modules


def main() -> None:
    parser = argparse.ArgumentParser(description='SOLOv2 image demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--weights', help='checkpoint file; without it the weights are random')
    parser.add_argument('--out-file', default='outputs/demo.png')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw instances scoring at least this')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    if not os.path.isfile(args.img):
        parser.error(f'image not found: {args.img}')

    register_all_modules(init_default_scope=False)
    cfg_options = dict(args.cfg_options or {})
    if args.weights is None:
        print('no --weights given: the model gets its random initial '
              'weights, so it finds nothing meaningful')
        # Initialize without downloading pretrained backbone weights.
        cfg_options['model.backbone.init_cfg'] = None
    model = init_detector(args.config, args.weights, device=args.device,
                          cfg_options=cfg_options)
    if args.weights is None:
        model.init_weights()
    start = time.perf_counter()
    result = inference_detector(model, args.img)
    elapsed = time.perf_counter() - start

    visualizer = VISUALIZERS.build(model.cfg.visualizer)
    visualizer.dataset_meta = model.dataset_meta
    image = mmcv.imread(args.img, channel_order='rgb')
    visualizer.add_datasample(
        'result', image, data_sample=result, draw_gt=False, show=False,
        pred_score_thr=args.score_thr, out_file=args.out_file)
    kept = (result.pred_instances.scores >= args.score_thr).sum().item()
    print(f'{len(result.pred_instances)} instances predicted in '
          f'{elapsed:.2f} s, {kept} drawn (score >= {args.score_thr}); '
          f'picture written to {args.out_file}')


if __name__ == '__main__':
    main()
