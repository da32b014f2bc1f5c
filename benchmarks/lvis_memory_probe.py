"""Peak memory of LVIS evaluation on detector-sized outputs (run as a script).

Evaluates ``--num-images`` images of ``--height`` x ``--width`` with
``--num-dets`` predicted masks each, as SOLOv2 returns them (bool tensors
N x H x W in ``pred_instances.masks``, with boxes, scores and labels), through
the LVIS config's ``val_evaluator`` (mmdet's LVISMetric): ``process`` per
image, then ``evaluate``. Prints one JSON line: the peak resident memory of
this process (``ru_maxrss``) before the first image, after processing, and
after evaluating, and the metrics. Stops with exit code 3 as soon as the
peak passes ``--limit-mib``, so that a metric that keeps dense masks fails
fast instead of filling the machine. ``--keep-masks`` makes this script hold
every image's mask tensor itself, as such a metric would: the control that
shows the measurement catches it.
"""

import argparse
import json
import os
import resource
import sys
import time

import cv2
import numpy as np
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LVIS_CONFIG = os.path.join(
    REPO_ROOT,
    'configs',
    'solov2',
    'solov2_r50_fpn_sample1e-3_ms-3x_lvis-v0.5.py',
)


def peak_mib() -> float:
    """Peak resident set size of this process so far (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_ellipses(
    rng: np.random.Generator, num: int, height: int, width: int
) -> np.ndarray:
    """(num, H, W) bool masks, one filled ellipse each."""
    masks = np.zeros((num, height, width), dtype=np.uint8)
    for mask in masks:
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (
            int(rng.integers(4, width // 4)),
            int(rng.integers(4, height // 4)),
        )
        cv2.ellipse(
            mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1
        )
    return masks.astype(bool)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('work_dir')
    parser.add_argument('--num-images', type=int, default=200)
    parser.add_argument('--num-dets', type=int, default=300)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--limit-mib', type=float, default=2048)
    parser.add_argument('--keep-masks', action='store_true')
    args = parser.parse_args()

    from mmdet.structures import DetDataSample
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData

    # common puts tests/ on sys.path: the test support package `support`.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import common  # noqa: F401
    from support.lvis_data import LVIS_SHAPE_CATEGORIES, lvis_dataset

    from mmsolo.models.layers import masks_to_boxes
    from mmsolo.utils import register_all_modules

    register_all_modules()

    rng = np.random.default_rng(0)
    size = (args.height, args.width)
    images = [
        dict(id=i, file_name=f'{i:012d}.jpg', height=size[0], width=size[1])
        for i in range(1, args.num_images + 1)
    ]
    gt_masks = random_ellipses(rng, 3, *size)
    instances = [
        [(1 + (i + k) % 3, gt_masks[k]) for k in range(3)]
        for i in range(args.num_images)
    ]
    ann_file = os.path.join(args.work_dir, 'lvis_v0.5_val.json')
    with open(ann_file, 'w') as f:
        json.dump(lvis_dataset(images, instances), f)

    cfg = Config.fromfile(LVIS_CONFIG)
    cfg.val_evaluator.ann_file = ann_file
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = dict(
        classes=tuple(name for _, name, _ in LVIS_SHAPE_CATEGORIES)
    )

    # A bank of masks; each image gets its own shuffled copy (a new
    # num_dets x H x W tensor, as a detector returns one per image).
    bank = torch.from_numpy(random_ellipses(rng, args.num_dets, *size))
    bank_boxes = masks_to_boxes(bank)
    kept = []
    start_mib = peak_mib()
    start = time.perf_counter()
    for image in images:
        order = torch.randperm(args.num_dets)
        sample = DetDataSample(
            metainfo=dict(img_id=image['id'], ori_shape=size)
        )
        sample.pred_instances = InstanceData(
            masks=bank[order],
            bboxes=bank_boxes[order],
            scores=torch.rand(args.num_dets),
            labels=torch.randint(
                0, len(LVIS_SHAPE_CATEGORIES), (args.num_dets,)
            ),
        )
        evaluator.process([sample])
        if args.keep_masks:
            kept.append(sample.pred_instances.masks)
        del sample
        if peak_mib() > args.limit_mib:
            print(
                json.dumps(
                    dict(failed_at_image=image['id'], peak_mib=peak_mib())
                )
            )
            return 3
    processed_mib = peak_mib()
    process_s = time.perf_counter() - start
    metrics = evaluator.evaluate(args.num_images)
    print(
        json.dumps(
            dict(
                start_mib=start_mib,
                processed_mib=processed_mib,
                peak_mib=peak_mib(),
                process_s=process_s,
                evaluate_s=time.perf_counter() - start - process_s,
                metrics=metrics,
            )
        )
    )
    return 0 if peak_mib() <= args.limit_mib else 3


if __name__ == '__main__':
    sys.exit(main())
