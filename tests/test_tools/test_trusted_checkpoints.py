"""mmengine's training checkpoints load in the tools under torch >= 2.6."""
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmsolo.utils import trusted_local_checkpoints


@pytest.fixture
def training_checkpoint(tmp_path):
    """A checkpoint holding a message hub, as CheckpointHook writes it."""
    buffer = HistoryBuffer()
    buffer.update(0.5)
    path = tmp_path / 'iter_4.pth'
    torch.save(
        dict(
            meta=dict(iter=4),
            state_dict=dict(weight=torch.ones(2)),
            message_hub=dict(log_scalars={'train/loss': buffer})), path)
    return path


def test_trusted_local_checkpoints_load_message_hub(training_checkpoint):
    default_loader = CheckpointLoader._schemes['']
    with trusted_local_checkpoints():
        checkpoint = _load_checkpoint(str(training_checkpoint), 'cpu')
    assert checkpoint['meta']['iter'] == 4
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert buffer.current() == 0.5
    # Outside the block mmengine's own loader is back.
    assert CheckpointLoader._schemes[''] is default_loader


@pytest.mark.skipif(
    torch.__version__ < '2.6', reason='weights_only became the default in 2.6')
def test_default_loader_refuses_message_hub(training_checkpoint):
    """What the context manager is for: without it the load fails."""
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        _load_checkpoint(str(training_checkpoint), 'cpu')


def test_missing_checkpoint_named(tmp_path):
    missing = tmp_path / 'nope.pth'
    with trusted_local_checkpoints():
        with pytest.raises(FileNotFoundError, match='nope.pth'):
            _load_checkpoint(str(missing), 'cpu')
