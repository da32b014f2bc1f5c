"""Run an exported SOLOv2 graph on an image and draw its predictions like
``tools/demo/image_demo.py`` (the config's visualizer).

    python tools/deployment/onnx_infer.py IMAGE MODEL.onnx --config CONFIG
        [--backend onnxruntime|openvino] [--out-file OUT.png]
        [--score-thr 0.3] [--seed 0]
"""

import argparse
import os
import time

import mmcv
import numpy as np
from mmengine.config import Config

from mmsolo.deploy import BACKENDS, build_deployed_model, inference_deployed
from mmsolo.registry import DATASETS, VISUALIZERS
from mmsolo.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='SOLOv2 ONNX inference')
    parser.add_argument('img', help='image file')
    parser.add_argument('model', help='.onnx file from pytorch2onnx.py')
    parser.add_argument(
        '--config',
        required=True,
        help='the config the model was exported from',
    )
    parser.add_argument('--backend', choices=BACKENDS, default='onnxruntime')
    parser.add_argument('--out-file', default='outputs/onnx_demo.png')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw instances scoring at least this',
    )
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the jitter of mask colours',
    )
    args = parser.parse_args()
    for path in (args.img, args.model):
        if not os.path.isfile(path):
            parser.error(f'file not found: {path}')
    return args


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    model = build_deployed_model(cfg, args.model, args.backend)
    start = time.perf_counter()
    result = inference_deployed(model, cfg, args.img)
    elapsed = time.perf_counter() - start

    test_set = dict(cfg.test_dataloader.dataset, lazy_init=True)
    visualizer = VISUALIZERS.build(cfg.visualizer)
    visualizer.dataset_meta = DATASETS.build(test_set).metainfo
    np.random.seed(args.seed)  # the visualizer jitters mask colours
    visualizer.add_datasample(
        'result',
        mmcv.imread(args.img, channel_order='rgb'),
        data_sample=result,
        draw_gt=False,
        show=False,
        pred_score_thr=args.score_thr,
        out_file=args.out_file,
    )
    instances = result.pred_instances
    kept = int((instances.scores >= args.score_thr).sum())
    print(
        f'{len(instances)} instances predicted by {args.backend} in '
        f'{elapsed:.2f} s, {kept} drawn (score >= {args.score_thr}); '
        f'picture written to {args.out_file}'
    )


if __name__ == '__main__':
    main()
