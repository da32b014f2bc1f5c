"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT`` (mmdet
3's options: ``--out``, ``--show``, ``--show-dir``, ``--wait-time``,
``--tta``; ``--slice-size``: each image predicted in tiles, merged on the
whole image)."""

import argparse

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmengine.runner import Runner

from mmsolo.apis.sliced_inference import (
    add_slice_arguments,
    check_slice_arguments,
    use_sliced_inference,
)
from mmsolo.checkpoint import add_unsafe_load_argument, tool_checkpoint_loading
from mmsolo.deploy.cli import add_backend_argument, backend_file_problem
from mmsolo.runner import cpu_process_group, load_run_config
from mmsolo.utils import (
    add_cfg_options,
    add_launcher_args,
    parse_tool_args,
    use_tta,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a SOLOv2 model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where evaluation logs go')
    parser.add_argument(
        '--out', help='dump predictions to this pickle file (.pkl)'
    )
    parser.add_argument(
        '--show', action='store_true', help='show each prediction'
    )
    parser.add_argument(
        '--show-dir',
        help='save pictures of the predictions in this folder under '
        'work_dir/<timestamp>/',
    )
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='seconds each picture is shown with --show',
    )
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation: the config's tta_pipeline views "
        '(the image and its horizontal flip) merged by its tta_model',
    )
    add_cfg_options(parser, 'model.test_cfg.score_thr=0.2')
    add_launcher_args(parser)
    add_unsafe_load_argument(parser)
    # --- deployment (mmsolo/deploy): CHECKPOINT is an exported .onnx file
    # (float, or INT8 from tools/deployment/quantize.py; an .xml IR for
    # openvino).
    add_backend_argument(parser, 'run')
    # --- end deployment
    add_slice_arguments(parser)
    args = parse_tool_args(parser)
    check_slice_arguments(parser, args)
    if args.slice_size and args.tta:
        parser.error('--slice-size and --tta do not combine')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must be a .pkl file, got {args.out}')
    problem = backend_file_problem(args.backend, args.checkpoint)
    if problem:
        parser.error(problem)
    return args


def main() -> None:
    args = parse_args()
    cfg = load_run_config(
        args.config, args.cfg_options, args.work_dir, args.launcher
    )
    # --- deployment: the exported graph replaces the model.
    if args.backend != 'pytorch':
        from mmsolo.deploy import deployed_model_cfg

        cfg.model = deployed_model_cfg(cfg, args.checkpoint, args.backend)
        args.checkpoint = None
    # --- end deployment
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        try:
            use_tta(cfg, args.config)
        except ValueError as error:
            raise SystemExit(str(error)) from None
    if args.slice_size:  # the model wrapped, the test set read whole
        try:
            use_sliced_inference(
                cfg,
                args.slice_size,
                args.slice_overlap,
                args.slice_batch_size,
                # Drawn or dumped predictions are (n, H, W) masks; the
                # metrics alone take each image's masks as COCO RLE.
                'bitmap' if args.out or args.show or args.show_dir else None,
            )
        except ValueError as error:
            raise SystemExit(f'--slice-size: {error}') from None
    # A distributed run without CUDA tests in its gloo process group. The
    # checkpoint is read with torch's restricted unpickler unless
    # --unsafe-load (mmsolo/checkpoint/safe_loading.py).
    with cpu_process_group(cfg), tool_checkpoint_loading(args.unsafe_load):
        runner = Runner.from_cfg(cfg)
        if args.out is not None:
            from mmdet.evaluation import DumpDetResults

            runner.test_evaluator.metrics.append(
                DumpDetResults(out_file_path=args.out)
            )
        runner.test()


if __name__ == '__main__':
    main()
