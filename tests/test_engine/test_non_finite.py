"""No silent NaN: a non-finite loss or gradient stops training before the
optimizer step, naming the iteration and the term; the weights and the last
checkpoint stay those of the last good step."""

import glob
import os.path as osp
import subprocess

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.runner import Runner

from mmsolo.datasets import write_split
from mmsolo.engine import (
    NonFiniteGradientError,
    NonFiniteLossError,
    check_finite_losses,
)
from mmsolo.models.dense_heads import SOLOv2Head

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'


@pytest.fixture(scope='module')
def shapes(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('non_finite') / 'shapes'
    write_split(str(root), 'train', num_images=4, seed=11)
    return f'{root}/'


def tiny_run_options(data_root: str, work_dir: str) -> dict:
    """The quick start on 4 images, batch 2, float32, 8 iterations, a
    checkpoint every 2, no validation."""
    return {
        'work_dir': work_dir,
        'train_dataloader.dataset.data_root': data_root,
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_iters': 8,
        'val_cfg': None,
        'val_dataloader': None,
        'val_evaluator': None,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.checkpoint.max_keep_ckpts': -1,
        'default_hooks.logger.interval': 1,
    }


def build_runner(repo_root: str, data_root: str, work_dir) -> Runner:
    cfg = Config.fromfile(osp.join(repo_root, QUICKSTART))
    cfg.merge_from_dict(tiny_run_options(data_root, str(work_dir)))
    cfg.optim_wrapper.pop('device_type')
    return Runner.from_cfg(cfg)


class InfiniteGradient(torch.autograd.Function):
    """Identity forward; backward returns an infinite gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float('inf')


def losses_spoiled_at(call: int, spoil):
    """A SOLOv2Head.loss_by_feat whose ``call``-th call (from 1) passes
    ``loss_mask`` through ``spoil``."""
    original = SOLOv2Head.loss_by_feat
    calls = []

    def loss_by_feat(self, *args, **kwargs):
        losses = original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == call:
            losses['loss_mask'] = spoil(losses['loss_mask'])
        return losses

    return loss_by_feat


def parameters(model: torch.nn.Module) -> dict:
    return {
        key: value.detach().cpu().clone()
        for key, value in model.named_parameters()
    }


@pytest.mark.parametrize(
    'spoil, error, message',
    [
        (
            lambda loss: loss * float('nan'),
            NonFiniteLossError,
            'non-finite loss loss_mask=nan at iteration 5',
        ),
        (
            lambda loss: loss * float('inf'),
            NonFiniteLossError,
            'non-finite loss loss_mask=inf at iteration 5',
        ),
        (
            InfiniteGradient.apply,
            NonFiniteGradientError,
            'non-finite gradient of backbone.conv1.weight, .* in all',
        ),
    ],
    ids=['nan_loss', 'inf_loss', 'inf_gradient'],
)
def test_stops_at_iteration_5_keeping_iteration_4(
    spoil, error, message, shapes, tmp_path, monkeypatch, repo_root
):
    monkeypatch.setattr(
        SOLOv2Head, 'loss_by_feat', losses_spoiled_at(5, spoil)
    )
    runner = build_runner(repo_root, shapes, tmp_path)
    with pytest.raises(error, match=message) as raised:
        runner.train()
    assert 'at iteration 5' in str(raised.value)
    # Checkpoints of iterations 2 and 4, none after; last_checkpoint says 4.
    assert sorted(map(osp.basename, glob.glob(f'{tmp_path}/*.pth'))) == [
        'iter_2.pth',
        'iter_4.pth',
    ]
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == str(tmp_path / 'iter_4.pth')
    # The bad step updated no weight: the parameters in memory are those of
    # iteration 4 (normalisation statistics move in any forward pass).
    saved = torch.load(
        tmp_path / 'iter_4.pth', map_location='cpu', weights_only=True
    )['state_dict']
    assert all(torch.isfinite(value.float()).all() for value in saved.values())
    in_memory = parameters(runner.model)
    assert in_memory.keys() <= saved.keys()
    for key, value in in_memory.items():
        assert torch.equal(value, saved[key]), key


def test_train_tool_exits_with_the_last_checkpoint(
    shapes, tmp_path, repo_root, python
):
    """An absurd learning rate makes the run diverge; tools/train.py stops it
    with exit code 1 and a message naming the term, the iteration and the
    last checkpoint, and every checkpoint on disk holds finite weights."""
    options = tiny_run_options(shapes, str(tmp_path))
    options.update(
        {
            'optim_wrapper.optimizer.lr': 1e30,
            'optim_wrapper.clip_grad': None,
            'param_scheduler': None,
            'default_hooks.checkpoint.interval': 1,
        }
    )
    command = [python, 'tools/train.py', QUICKSTART, '--cfg-options'] + [
        f'{key}={value}' for key, value in options.items()
    ]
    done = subprocess.run(
        command, cwd=repo_root, capture_output=True, text=True, timeout=600
    )
    log = done.stdout + done.stderr
    assert done.returncode == 1, log[-4000:]
    assert 'non-finite' in log and 'at iteration' in log, log[-4000:]
    assert 'Last checkpoint:' in log
    assert 'Traceback' not in log
    for path in glob.glob(f'{tmp_path}/*.pth'):
        state = torch.load(path, map_location='cpu', weights_only=True)[
            'state_dict'
        ]
        for key, value in state.items():
            assert torch.isfinite(value.float()).all(), (path, key)


def test_check_finite_losses_outside_a_runner():
    MessageHub.get_instance('outside_a_runner')  # the current one from now
    finite = {
        'loss': torch.tensor(1.5),
        'loss_cls': torch.tensor(0.5),
        'loss_mask': torch.tensor(1.0),
    }
    check_finite_losses(finite)
    check_finite_losses({})
    # A non-loss entry (left out of the total by mmengine) is not checked.
    check_finite_losses(dict(finite, acc=torch.tensor(float('nan'))))
    with pytest.raises(NonFiniteLossError) as raised:
        check_finite_losses(
            dict(
                finite,
                loss=torch.tensor(float('nan')),
                loss_cls=torch.tensor(float('-inf')),
            )
        )
    assert 'loss_cls=-inf' in str(raised.value)
    assert 'loss=nan' not in str(raised.value)  # the term explains the total
    assert 'iteration' not in str(raised.value)
