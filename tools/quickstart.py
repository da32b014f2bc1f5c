"""The CPU quick start: generate the synthetic shapes set, train a light
SOLOv2 from scratch, evaluate COCO mask and box AP, and draw the results.

    python tools/quickstart.py [--data-root data/shapes]
        [--work-dir work_dirs/quickstart] [--out-dir outputs/quickstart]
        [--config configs/quickstart/solov2-light_r18_fpn_shapes.py]
        [--cfg-options KEY=VALUE ...]

Writes ``OUT_DIR/predictions.png`` (ground truth | prediction on val images),
``OUT_DIR/loss_curve.png`` and ``OUT_DIR/summary.json``; training progress is
logged every ``default_hooks.logger.interval`` iterations.
"""
import argparse
import json
import os.path as osp
import time

from mmengine.config import DictAction
from mmengine.runner import Runner

from mmsolo.datasets import ensure_shapes_dataset
from mmsolo.utils import load_run_config
from mmsolo.utils.quickstart import (MetricsRecorder, draw_predictions,
                                     plot_loss_curve)

DEFAULT_CONFIG = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
AP_KEYS = ('coco/segm_mAP', 'coco/segm_mAP_50', 'coco/bbox_mAP')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmsolo CPU quick start')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', default='data/shapes',
                        help='where the synthetic set is (generated if absent)')
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--out-dir', default='outputs/quickstart')
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--num-pictures', type=int, default=8,
                        help='val images drawn in predictions.png')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    data_root = ensure_shapes_dataset(args.data_root, args.num_train,
                                      args.num_val)
    cfg_options = dict(args.cfg_options or {})
    cfg_options.update({
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'val_evaluator.ann_file': osp.join(data_root, 'annotations',
                                           'instances_val.json'),
        'test_evaluator.ann_file': osp.join(data_root, 'annotations',
                                            'instances_val.json'),
    })
    cfg = load_run_config(args.config, cfg_options, args.work_dir)
    runner = Runner.from_cfg(cfg)
    recorder = MetricsRecorder()
    runner.register_hook(recorder, priority='LOWEST')
    train_start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - train_start
    if recorder.metrics is None:
        raise RuntimeError(
            'training ended without a validation: set train_cfg.val_interval '
            'to train_cfg.max_iters in the config')
    if not recorder.metrics:
        # mmdet's CocoMetric returns nothing when no instance was predicted.
        print('the model predicted no instance on the val set: AP 0')
        recorder.metrics = {key: 0.0 for key in AP_KEYS}

    picture = draw_predictions(runner.model, runner.val_dataloader.dataset,
                               osp.join(args.out_dir, 'predictions.png'),
                               num_images=args.num_pictures)
    curve = plot_loss_curve(
        osp.join(runner.log_dir, 'vis_data', 'scalars.json'),
        osp.join(args.out_dir, 'loss_curve.png'))
    summary = dict(
        config=args.config,
        metrics=recorder.metrics,
        train_and_val_seconds=round(train_seconds, 1),
        total_seconds=round(time.perf_counter() - start, 1),
        predictions_picture=picture,
        loss_curve_picture=curve,
        work_dir=cfg.work_dir)
    summary_path = osp.join(args.out_dir, 'summary.json')
    with open(summary_path, 'w') as f:
        json.dump(summary, f, indent=2)
    m = recorder.metrics
    print(f"\nquick start: mask AP {m['coco/segm_mAP']:.3f} "
          f"(AP50 {m['coco/segm_mAP_50']:.3f}), box AP "
          f"{m['coco/bbox_mAP']:.3f}; training + evaluation "
          f"{train_seconds / 60:.1f} min, all {summary['total_seconds'] / 60:.1f}"
          f" min\npictures: {picture}, {curve}\nsummary: {summary_path}")


if __name__ == '__main__':
    main()
