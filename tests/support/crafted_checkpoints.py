"""Checkpoint files whose pickle would run code: for the tests that show no
mmsolo entry point runs it."""

import os
from typing import Any

import torch


class CreatesMarkerFile:
    """Unpickled fully, this object calls ``exec`` to create ``marker``
    (a file whose existence proves the code ran)."""

    def __init__(self, marker: str) -> None:
        self.marker = os.fspath(marker)

    def __reduce__(self):
        return (exec, (f'open({self.marker!r}, "w").close()',))


def crafted_checkpoint(marker: str, where: str = 'top') -> Any:
    """A checkpoint dict carrying :class:`CreatesMarkerFile`: as the whole
    file (``'top'``), inside ``meta`` or inside ``state_dict`` beside real
    tensors (``'meta'``, ``'state_dict'``)."""
    payload = CreatesMarkerFile(marker)
    if where == 'top':
        return payload
    checkpoint = dict(
        meta=dict(epoch=1, iter=4),
        state_dict={'backbone.conv1.weight': torch.zeros(1)},
    )
    checkpoint[where]['evil'] = payload
    return checkpoint


def save_crafted_checkpoint(path: str, marker: str, where: str = 'top'):
    """``torch.save`` :func:`crafted_checkpoint` to ``path``."""
    torch.save(crafted_checkpoint(marker, where), path)
    return path
