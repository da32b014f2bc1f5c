"""tools/dist_train.sh on the CPU: two processes (gloo), then --resume, then
tools/dist_test.sh."""

import glob
import os
import os.path as osp
import socket
import subprocess

import pytest
import torch

from mmsolo.datasets import write_split
from mmsolo.runner import cpu_process_group, load_run_config

# Several processes that talk to each other: run after the rest of the
# suite, alone (see `make test`); with another test beside them a gloo
# rank once aborted at exit.
pytestmark = pytest.mark.serial

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def shapes_options(data: str, max_iters: int) -> list:
    """--cfg-options making the quick start tiny and fast on ``data``."""
    ann = osp.join(data, 'annotations', 'instances_val.json')
    return [
        f'train_dataloader.dataset.data_root={data}/',
        f'val_dataloader.dataset.data_root={data}/',
        f'test_dataloader.dataset.data_root={data}/',
        f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}',
        'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0',
        f'train_cfg.max_iters={max_iters}',
        'train_cfg.val_interval=1000',
        'default_hooks.checkpoint.interval=4',
        'default_hooks.logger.interval=1',
    ]


def dist_train(repo_root, python, work_dir, data, max_iters, *extra):
    env = dict(os.environ, PYTHON=python, PORT=str(free_port()))
    command = [
        'bash',
        'tools/dist_train.sh',
        QUICKSTART,
        '2',
        '--work-dir',
        str(work_dir),
        *extra,
        '--cfg-options',
        *shapes_options(str(data), max_iters),
    ]
    done = subprocess.run(
        command,
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    return log


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks the CPU (gloo) path'
)
def test_dist_train_two_cpu_processes_resume_and_test(
    tmp_path, repo_root, python
):
    data = tmp_path / 'shapes'
    write_split(str(data), 'train', num_images=8, seed=0)
    write_split(str(data), 'val', num_images=4, seed=1)
    work_dir = tmp_path / 'work'

    log = dist_train(repo_root, python, work_dir, data, 4)
    # Each rank joined a 2-process gloo group, and the runner trained in it.
    assert 'rank 0 of 2 joined the gloo process group' in log
    assert 'rank 1 of 2 joined the gloo process group' in log
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert "dist_cfg: {'backend': 'gloo'}" in log
    assert 'Iter(train) [4/4]' in log
    assert [osp.basename(p) for p in glob.glob(f'{work_dir}/*.pth')] == [
        'iter_4.pth'
    ]

    log = dist_train(repo_root, python, work_dir, data, 8, '--resume')
    assert (
        f'Auto resumed from the latest checkpoint {work_dir}/iter_4.pth' in log
    )
    assert 'resumed epoch: 0, iter: 4' in log
    train_lines = [line for line in log.splitlines() if 'Iter(train)' in line]
    assert train_lines and 'Iter(train) [5/8]' in train_lines[0], train_lines
    assert 'Iter(train) [8/8]' in train_lines[-1]
    checkpoint = torch.load(
        work_dir / 'iter_8.pth', map_location='cpu', weights_only=True
    )
    assert checkpoint['meta']['iter'] == 8

    # dist_test.sh evaluates the checkpoint in two processes.
    ann = data / 'annotations' / 'instances_val.json'
    env = dict(os.environ, PYTHON=python, PORT=str(free_port()))
    done = subprocess.run(
        [
            'bash',
            'tools/dist_test.sh',
            QUICKSTART,
            str(work_dir / 'iter_8.pth'),
            '2',
            '--work-dir',
            str(tmp_path / 'test'),
            '--cfg-options',
            f'test_dataloader.dataset.data_root={data}/',
            f'test_evaluator.ann_file={ann}',
            'test_dataloader.num_workers=0',
        ],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert 'rank 1 of 2 joined the gloo process group' in log
    assert 'coco/segm_mAP' in log


def test_cpu_distributed_config(repo_root):
    config = osp.join(repo_root, QUICKSTART)
    cfg = load_run_config(config, launcher='none')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert cfg.get('model_wrapper_cfg') is None
    cfg = load_run_config(config, launcher='pytorch')
    if torch.cuda.is_available():  # GPU runs keep nccl and mmengine's DDP
        assert cfg.env_cfg.dist_cfg.backend == 'nccl'
        assert cfg.get('model_wrapper_cfg') is None
        return
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type.endswith('CPUDistributedDataParallel')
    # A wrapper config of the user's keeps its options on the CPU.
    cfg = load_run_config(
        config,
        dict(
            model_wrapper_cfg=dict(
                type='MMDistributedDataParallel', find_unused_parameters=True
            )
        ),
        launcher='pytorch',
    )
    assert cfg.model_wrapper_cfg.type.endswith('CPUDistributedDataParallel')
    assert cfg.model_wrapper_cfg.find_unused_parameters is True


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only check')
def test_cpu_distributed_needs_torchrun(repo_root):
    cfg = load_run_config(osp.join(repo_root, QUICKSTART), launcher='slurm')
    with pytest.raises(ValueError, match='--launcher slurm needs CUDA'):
        with cpu_process_group(cfg):
            pass


def test_dist_scripts_parse_and_check_arguments(repo_root):
    for script in (
        'dist_train.sh',
        'dist_test.sh',
        'slurm_train.sh',
        'slurm_test.sh',
    ):
        path = osp.join(repo_root, 'tools', script)
        assert subprocess.run(['bash', '-n', path]).returncode == 0, script
        # Too few arguments: a usage line, no launch.
        done = subprocess.run(
            ['bash', path, 'only_one_arg'],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2, script
        assert 'usage:' in done.stderr, script
