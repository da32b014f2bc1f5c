"""SOLOv2 scale ranges and grids fitted to the objects of your data.

    python tools/analysis_tools/suggest_grids.py CONFIG [--ann-file FILE]
        [--out NEW_CONFIG] [--show-dir DIR] [--num-levels N]
        [--cfg-options ...]

Reads the instances of the config's training annotations (or
``--ann-file``), takes ``sqrt(w * h)`` of their boxes after the training
pipeline's resize (its mid scale), as the head's assigner does, and prints
how many each level of ``model.mask_head`` takes now, how many no scale
range covers, how many are smaller than the mask features' stride, and
either that the config fits or the proposed ``scale_ranges``, ``num_grids``
(and, where needed, ``strides``) with the rule of
``mmsolo.utils.grid_fit``. ``--out`` writes the proposal as a config that
inherits CONFIG; ``--show-dir`` draws a histogram of the scales under
the config's and the proposed ranges. ``--num-levels`` proposes another number
of levels (the FPN and the mask-feature neck follow).
"""

import argparse
import os.path as osp
import shlex
import sys

from mmengine.config import Config, DictAction

from mmsolo.utils.grid_fit import (
    GridFitError,
    fit_grids,
    format_report,
    plot_scales,
    write_child_config,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='SOLOv2 scale ranges and grids fitted to your data'
    )
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--ann-file',
        help="COCO instance annotations (default: the config's "
        'train_dataloader.dataset data_root + ann_file)',
    )
    parser.add_argument(
        '--out', help='write the proposal as a config inheriting CONFIG'
    )
    parser.add_argument(
        '--show-dir',
        help="write a histogram of the instance scales with the config's and "
        'the proposed ranges (<config name>_scales.png) here',
    )
    parser.add_argument(
        '--num-levels',
        type=int,
        help="propose this many levels (default: the config's); the FPN "
        'and the mask-feature neck are changed to match',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.dataset.data_root=data/mine/',
    )
    return parser.parse_args()


def load_config(path: str, options: dict) -> Config:
    if not osp.isfile(path):
        raise SystemExit(f'suggest_grids.py: {path}: no such config file')
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    try:
        fit = fit_grids(cfg, args.ann_file, args.num_levels)
    except GridFitError as error:
        raise SystemExit(f'suggest_grids.py: {error}') from None
    print(format_report(fit))
    name = osp.splitext(osp.basename(args.config))[0]
    if args.show_dir:
        figure = osp.join(args.show_dir, f'{name}_scales.png')
        plot_scales(fit, figure)
        print(f'histogram: {figure}')
    if args.out and fit.fits:
        print(f'the config fits: nothing written to {args.out}')
    elif args.out:
        command = shlex.join(['python', *sys.argv])
        write_child_config(fit, args.config, args.out, command)
        print(f'config written: {args.out}')


if __name__ == '__main__':
    main()
