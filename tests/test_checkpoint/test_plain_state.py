"""Training checkpoints of tensors and plain containers only: the message
hub round-trips bit for bit, NumPy values become tensors and numbers, and a
value no weights-only load can read is named by its place."""

import io
from collections import Counter, OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from mmsolo.checkpoint import (
    decode_message_hub,
    encode_message_hub,
    to_plain_checkpoint,
)
from mmsolo.checkpoint.plain_state import to_plain


def weights_only_round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def filled_message_hub() -> MessageHub:
    hub = MessageHub.get_instance('plain-state-test')
    for step, loss in enumerate([0.1, 1 / 3, 2.5e-8, float('inf')]):
        hub.update_scalar('train/loss', loss)
        hub.update_scalar('train/iter', step, count=2)
    hub.update_info('iter', 4)
    hub.update_info('best_score', np.float64(0.625))
    hub.update_info('keep_ckpt_ids', [2, 4])
    return hub


def test_message_hub_round_trip_is_exact():
    hub = filled_message_hub()
    stored = weights_only_round_trip(encode_message_hub(hub.state_dict()))
    restored = MessageHub.get_instance('plain-state-restored')
    restored.load_state_dict(decode_message_hub(stored))
    for key in ('train/loss', 'train/iter'):
        for got, want in zip(
            restored.get_scalar(key).data, hub.get_scalar(key).data
        ):
            assert got.dtype == want.dtype
            assert np.array_equal(got, want)
    assert restored.get_info('iter') == 4
    assert restored.get_info('best_score') == 0.625
    assert restored.get_info('keep_ckpt_ids') == [2, 4]


def test_mmengine_message_hub_state_is_refused_by_weights_only():
    """Why the encoding exists."""
    with pytest.raises(Exception, match='HistoryBuffer'):
        weights_only_round_trip(filled_message_hub().state_dict())


def test_decode_passes_an_mmengine_state_through():
    state = filled_message_hub().state_dict()
    assert decode_message_hub(state) is state


def test_numpy_values_become_tensors_and_numbers():
    plain = to_plain(
        dict(
            array=np.arange(3, dtype=np.int16),
            scalar=np.float32(0.5),
            nested=[(np.int64(2), 'a')],
            counter=Counter(a=2),
            ordered=OrderedDict(b=np.bool_(True)),
        )
    )
    loaded = weights_only_round_trip(plain)
    assert torch.equal(loaded['array'], torch.arange(3, dtype=torch.int16))
    assert loaded['scalar'] == 0.5 and type(loaded['scalar']) is float
    assert loaded['nested'] == [(2, 'a')]
    assert loaded['counter'] == Counter(a=2)
    assert loaded['ordered'] == OrderedDict(b=True)


def test_unchanged_state_dict_is_kept_with_its_metadata():
    state_dict = torch.nn.BatchNorm2d(2).state_dict()
    assert to_plain(state_dict) is state_dict
    assert hasattr(
        to_plain(dict(state_dict=state_dict))['state_dict'], '_metadata'
    )


def test_unstorable_value_is_named_by_its_place():
    class Custom:
        pass

    with pytest.raises(TypeError) as error:
        to_plain_checkpoint(dict(meta=dict(hooks=[1, Custom()])))
    assert "checkpoint['meta']['hooks'][1]" in str(error.value)
    assert 'Custom' in str(error.value)
