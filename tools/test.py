"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT``."""
import argparse
import os

from mmengine.config import DictAction
from mmengine.runner import Runner

from mmsolo.checkpoint import (add_unsafe_load_argument,
                               tool_checkpoint_loading)
from mmsolo.utils import cpu_process_group, load_run_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a SOLOv2 model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where evaluation logs go')
    parser.add_argument(
        '--out', help='dump predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--show-dir', help='save pictures of the predictions under work_dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.test_cfg.score_thr=0.2')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    add_unsafe_load_argument(parser)
    # --- deployment (mmsolo/deploy): CHECKPOINT is an exported .onnx file.
    parser.add_argument(
        '--backend',
        choices=['pytorch', 'onnxruntime', 'openvino'],
        default='pytorch',
        help='run CHECKPOINT, a graph from tools/deployment/pytorch2onnx.py, '
        'with this backend instead of the PyTorch model')
    # --- end deployment
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args.config, args.cfg_options, args.work_dir,
                          args.launcher)
    # --- deployment: the exported graph replaces the model.
    if args.backend != 'pytorch':
        from mmsolo.deploy import deployed_model_cfg
        cfg.model = deployed_model_cfg(cfg, args.checkpoint, args.backend)
        args.checkpoint = None
    # --- end deployment
    cfg.load_from = args.checkpoint
    if args.show_dir:
        hook = cfg.default_hooks.visualization
        hook.draw = True
        hook.test_out_dir = args.show_dir
    # A distributed run without CUDA tests in its gloo process group. The
    # checkpoint is read with torch's restricted unpickler unless
    # --unsafe-load (mmsolo/checkpoint/safe_loading.py).
    with cpu_process_group(cfg), tool_checkpoint_loading(args.unsafe_load):
        runner = Runner.from_cfg(cfg)
        if args.out is not None:
            if not args.out.endswith(('.pkl', '.pickle')):
                raise ValueError(f'--out must be a .pkl file, got {args.out}')
            from mmdet.evaluation import DumpDetResults
            runner.test_evaluator.metrics.append(
                DumpDetResults(out_file_path=args.out))
        runner.test()


if __name__ == '__main__':
    main()
