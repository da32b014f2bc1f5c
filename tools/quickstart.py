"""The CPU quick start: generate the synthetic shapes set, train a light
SOLOv2 from scratch, evaluate COCO mask and box AP, and draw the results;
with ``--panoptic``, the same for panoptic segmentation (shapes as things
over sky, ground and water as stuff), evaluated by PQ, SQ and RQ.

    python tools/quickstart.py [--panoptic] [--data-root data/shapes]
        [--work-dir work_dirs/quickstart] [--out-dir outputs/quickstart]
        [--config configs/quickstart/solov2-light_r18_fpn_shapes.py]
        [--cfg-options KEY=VALUE ...]

(``--panoptic`` defaults: data/shapes_panoptic, work_dirs/quickstart-panoptic,
outputs/quickstart-panoptic, configs/quickstart/solov2-panoptic_r18_fpn_
shapes-panoptic.py.)

Writes ``OUT_DIR/predictions.png`` (ground truth | prediction on val images),
``OUT_DIR/loss_curve.png`` and ``OUT_DIR/summary.json``; training progress is
logged every ``default_hooks.logger.interval`` iterations.
"""

import argparse
import os.path as osp
import time

import torch
from mmengine.config import DictAction
from mmengine.runner import Runner

from mmsolo.datasets import (
    ensure_panoptic_shapes_dataset,
    ensure_shapes_dataset,
)
from mmsolo.fileio import dump_json_atomically
from mmsolo.runner import (
    MetricsRecorder,
    draw_predictions,
    load_run_config,
    plot_loss_curve,
    step_time_summary,
)
from mmsolo.utils import load_scalar_log

# Per mode: config, data root, work dir, output dir, dataset maker and the
# name in the final report.
MODES = dict(
    instance=dict(
        config='configs/quickstart/solov2-light_r18_fpn_shapes.py',
        data_root='data/shapes',
        work_dir='work_dirs/quickstart',
        out_dir='outputs/quickstart',
        make_dataset=ensure_shapes_dataset,
        title='quick start',
    ),
    panoptic=dict(
        config='configs/quickstart/solov2-panoptic_r18_fpn_shapes-panoptic.py',
        data_root='data/shapes_panoptic',
        work_dir='work_dirs/quickstart-panoptic',
        out_dir='outputs/quickstart-panoptic',
        make_dataset=ensure_panoptic_shapes_dataset,
        title='panoptic quick start',
    ),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmsolo CPU quick start')
    parser.add_argument(
        '--panoptic', action='store_true', help='the panoptic quick start (PQ)'
    )
    parser.add_argument('--config', help="default: the mode's")
    parser.add_argument(
        '--data-root',
        help='where the synthetic set is (generated if '
        "absent); default: the mode's",
    )
    parser.add_argument('--work-dir', help="default: the mode's")
    parser.add_argument('--out-dir', help="default: the mode's")
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument(
        '--num-pictures',
        type=int,
        default=8,
        help='val images drawn in predictions.png',
    )
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    args.mode = 'panoptic' if args.panoptic else 'instance'
    for key in ('config', 'data_root', 'work_dir', 'out_dir'):
        if getattr(args, key) is None:
            setattr(args, key, MODES[args.mode][key])
    return args


def evaluator_options(mode: str, data_root: str) -> dict:
    """Config options pointing the evaluators at the generated val set:
    COCO's metric reads the instance file; the panoptic metric takes its
    ground truth from each sample (seg_map_path, segments_info)."""
    if mode == 'panoptic':
        return {}
    ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    return {
        'val_evaluator.ann_file': ann_file,
        'test_evaluator.ann_file': ann_file,
    }


def report(mode: str, metrics: dict) -> str:
    """One line of the main figures."""
    m = metrics
    if mode == 'panoptic':
        # mmdet's panoptic metric logs percentages; printed here as 0..1.
        pq = {
            key: m[f'coco_panoptic/{key}'] / 100
            for key in ('PQ', 'PQ_th', 'PQ_st', 'SQ', 'RQ')
        }
        return (
            f'PQ {pq["PQ"]:.3f} (things {pq["PQ_th"]:.3f}, stuff '
            f'{pq["PQ_st"]:.3f}), SQ {pq["SQ"]:.3f}, RQ {pq["RQ"]:.3f}'
        )
    return (
        f'mask AP {m["coco/segm_mAP"]:.3f} (AP50 '
        f'{m["coco/segm_mAP_50"]:.3f}), box AP {m["coco/bbox_mAP"]:.3f}'
    )


def training_precision(runner: Runner) -> str:
    """'bfloat16' or 'float32': what the optimizer wrapper autocast to
    (``BF16OptimWrapper.dtype``; float32 for other wrappers)."""
    dtype = getattr(runner.optim_wrapper, 'dtype', None)
    return 'bfloat16' if dtype == torch.bfloat16 else 'float32'


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    mode = MODES[args.mode]
    data_root = mode['make_dataset'](
        args.data_root, args.num_train, args.num_val
    )
    cfg_options = dict(args.cfg_options or {})
    cfg_options.update(
        {
            'train_dataloader.dataset.data_root': data_root,
            'val_dataloader.dataset.data_root': data_root,
            'test_dataloader.dataset.data_root': data_root,
            **evaluator_options(args.mode, data_root),
        }
    )
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
            'to train_cfg.max_iters in the config'
        )

    picture = draw_predictions(
        runner.model,
        runner.val_dataloader.dataset,
        osp.join(args.out_dir, 'predictions.png'),
        num_images=args.num_pictures,
    )
    scalars = load_scalar_log(
        osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    )
    curve = plot_loss_curve(scalars, osp.join(args.out_dir, 'loss_curve.png'))
    summary = dict(
        config=args.config,
        metrics=recorder.metrics,
        precision=training_precision(runner),
        channels_last=getattr(runner.model, 'channels_last', None),
        train_and_val_seconds=round(train_seconds, 1),
        train_step_seconds=step_time_summary(scalars),
        total_seconds=round(time.perf_counter() - start, 1),
        predictions_picture=picture,
        loss_curve_picture=curve,
        work_dir=cfg.work_dir,
    )
    summary_path = osp.join(args.out_dir, 'summary.json')
    dump_json_atomically(summary, summary_path, indent=2)
    print(
        f'\n{mode["title"]}: {report(args.mode, recorder.metrics)}; '
        f'trained in {summary["precision"]}; training + evaluation '
        f'{train_seconds / 60:.1f} min, all '
        f'{summary["total_seconds"] / 60:.1f} min\npictures: {picture}, '
        f'{curve}\nsummary: {summary_path}'
    )


if __name__ == '__main__':
    main()
