"""Pieces of the CPU quick start (tools/quickstart.py): a hook that keeps
the validation metrics, and the two pictures it writes."""

import os
import os.path as osp
from typing import Dict, List, Optional

import mmcv
import numpy as np
import torch
from mmengine.dataset import BaseDataset, pseudo_collate
from mmengine.hooks import Hook
from torch import nn

from mmsolo.utils import plot_curves
from mmsolo.visualization import PanopticDetLocalVisualizer

LOSS_KEYS = ('loss', 'loss_mask', 'loss_cls', 'loss_seg')


class MetricsRecorder(Hook):
    """Keeps the metrics of the last validation in ``self.metrics``."""

    def __init__(self) -> None:
        self.metrics: Optional[Dict[str, float]] = None

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self.metrics = dict(metrics or {})


def draw_predictions(
    model: nn.Module,
    dataset: BaseDataset,
    out_file: str,
    num_images: int = 8,
    score_thr: float = 0.3,
    columns: int = 2,
) -> str:
    """Draw ground truth | prediction for the first ``num_images`` images of
    ``dataset`` (its test pipeline must load annotations) with mmdet's
    visualizer, tiled ``columns`` pairs wide, into ``out_file``."""
    visualizer = PanopticDetLocalVisualizer.get_instance(
        'mmsolo_quickstart', line_width=1, alpha=0.6
    )
    visualizer.dataset_meta = dataset.metainfo
    was_training = model.training
    model.eval()
    tiles = []
    with torch.no_grad():
        for index in range(min(num_images, len(dataset))):
            sample = model.test_step(pseudo_collate([dataset[index]]))[0]
            image = mmcv.imread(sample.img_path, channel_order='rgb')
            visualizer.add_datasample(
                f'val_{index}',
                image,
                data_sample=sample,
                draw_gt=True,
                draw_pred=True,
                show=False,
                pred_score_thr=score_thr,
            )
            tiles.append(visualizer.get_image())
    model.train(was_training)
    if not tiles:
        raise ValueError(
            f'no images to draw: the dataset {dataset!r} is empty'
        )
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [
        np.concatenate(tiles[i : i + columns], axis=1)
        for i in range(0, len(tiles), columns)
    ]
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    mmcv.imwrite(np.concatenate(rows, axis=0)[..., ::-1], out_file)
    return out_file


def step_time_summary(records: List[dict]) -> dict:
    """Seconds per training step over the logged windows of ``records``
    (mmengine's ``vis_data/scalars.json`` read by :func:`load_scalar_log`:
    each training record's ``time`` is the mean over its logging window).

    Returns:
        dict: ``windows`` (number of logged training windows), ``min``,
        ``median`` and ``max`` seconds per step (None without windows) and,
        when ``mmsolo.AdaptiveThreadsHook`` logged them, ``threads``: how
        many windows ran with each intra-op thread count.
    """
    train = [r for r in records if 'lr' in r and 'time' in r]
    times = sorted(float(r['time']) for r in train)
    summary = dict(windows=len(times), min=None, median=None, max=None)
    if times:
        summary.update(
            min=round(times[0], 3),
            median=round(float(np.median(times)), 3),
            max=round(times[-1], 3),
        )
    threads = [int(r['threads']) for r in train if 'threads' in r]
    if threads:
        summary['threads'] = {
            str(count): threads.count(count) for count in sorted(set(threads))
        }
    return summary


def plot_loss_curve(records: List[dict], out_file: str) -> str:
    """Plot the training losses of ``records`` (mmengine's
    ``vis_data/scalars.json`` read by :func:`load_scalar_log`) against the
    iteration into ``out_file``."""
    keys = [k for k in LOSS_KEYS if any(k in r for r in records)]
    plot_curves([records], keys, out_file, title='quick start training loss')
    return out_file
