"""Draw the ground truth of the train pipeline's outputs (masks, boxes,
labels) through the config's visualizer (mmdet's DetLocalVisualizer).

    python tools/misc/browse_dataset.py CONFIG [--output-dir DIR]
        [--not-show] [--show-interval 2] [--cfg-options ...]

Each image is shown (unless ``--not-show``) and/or written to
``--output-dir`` under its file name, after the train pipeline's transforms
(flips, resizes ...), so what the model is trained on can be checked.
"""

import argparse
import os.path as osp

from mmdet.models.utils import mask2ndarray
from mmdet.structures.bbox import BaseBoxes
from mmengine.config import DictAction
from mmengine.utils import ProgressBar

from mmsolo.registry import DATASETS, VISUALIZERS
from mmsolo.runner import load_tool_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the ground truth of the train dataset'
    )
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--output-dir',
        help='write the pictures here (PNG or the image '
        'format of the input files, under their file names)',
    )
    parser.add_argument(
        '--not-show', action='store_true', help='do not open a window'
    )
    parser.add_argument(
        '--show-interval',
        type=float,
        default=2,
        help='seconds each picture is shown',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.dataset.data_root=data/shapes/',
    )
    args = parser.parse_args()
    if args.not_show and args.output_dir is None:
        parser.error(
            '--not-show without --output-dir does nothing; give '
            '--output-dir DIR'
        )
    return args


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options)

    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    visualizer = VISUALIZERS.build(cfg.visualizer)
    visualizer.dataset_meta = dataset.metainfo

    progress = ProgressBar(len(dataset))
    for item in dataset:
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # to RGB
        data_sample = item['data_samples'].numpy()
        gt_instances = data_sample.gt_instances
        if isinstance(gt_instances.get('bboxes', None), BaseBoxes):
            gt_instances.bboxes = gt_instances.bboxes.tensor
        if gt_instances.get('masks', None) is not None:
            gt_instances.masks = mask2ndarray(gt_instances.masks).astype(bool)
        data_sample.gt_instances = gt_instances
        name = osp.basename(data_sample.img_path)
        visualizer.add_datasample(
            name,
            image,
            data_sample,
            draw_pred=False,
            show=not args.not_show,
            wait_time=args.show_interval,
            out_file=osp.join(args.output_dir, name)
            if args.output_dir is not None
            else None,
        )
        progress.update()


if __name__ == '__main__':
    main()
