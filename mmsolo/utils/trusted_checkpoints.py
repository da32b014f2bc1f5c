"""Loading mmengine's full training checkpoints under torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, and
mmengine 0.10.7 loads local checkpoints without saying otherwise. A
checkpoint written by mmengine's ``CheckpointHook`` holds the message hub,
whose ``HistoryBuffer`` pickles its statistics methods through ``getattr``;
allowlisting ``getattr`` would let a file reach any callable, so such a
checkpoint cannot be loaded safely with ``weights_only=True`` at all. Every
``--resume`` and every ``tools/test.py CONFIG work_dirs/.../iter_N.pth``
failed with "Unsupported global: GLOBAL
mmengine.logging.history_buffer.HistoryBuffer" (open-mmlab/mmengine#1655).

:func:`trusted_local_checkpoints` restores mmengine's behaviour before torch
2.6 (full unpickling) for local files, for the length of a ``with`` block, in
the tools that load a checkpoint the user names: only load files you trust.
"""
import os.path as osp
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def load_from_trusted_local(filename: str,
                            map_location: Optional[Any] = None) -> dict:
    """``torch.load`` a local checkpoint with ``weights_only=False``.

    Raises:
        FileNotFoundError: ``filename`` is not a file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    return torch.load(filename, map_location=map_location, weights_only=False)


@contextmanager
def trusted_local_checkpoints() -> Iterator[None]:
    """Within the block, mmengine (``Runner`` resume and ``load_from``,
    ``load_checkpoint``) loads local checkpoint files with
    :func:`load_from_trusted_local`; other schemes (``http://``,
    ``torchvision://`` ...) are unchanged. The previous local loader is put
    back on exit."""
    previous = CheckpointLoader._schemes['']
    CheckpointLoader.register_scheme('', load_from_trusted_local, force=True)
    try:
        yield
    finally:
        CheckpointLoader.register_scheme('', previous, force=True)
