"""Reading checkpoints without running code from them.

A ``.pth`` file is a pickle, and a pickle may name any Python callable to be
called while it is read (``__reduce__``). Every checkpoint mmsolo reads goes
through :func:`load_checkpoint_file`, which uses torch's restricted unpickler
(``torch.load(weights_only=True)``: tensors, containers, numbers, strings and
``OrderedDict``/``Counter``/``set``, nothing that can reach another
callable). A file asking for anything else is refused before any of it runs,
with an :class:`UnsafeCheckpointError` naming the file, the global it asked
for and the opt-in.

:func:`install_safe_loaders` puts this loader behind mmengine's checkpoint
loading, for local files and for URLs (``https://``, ``torchvision://``,
``open-mmlab://``, ...: mmengine reads downloads with
``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to
False even in torch 2.13), so ``load_from``, ``--resume``, ``init_cfg=dict(
type='Pretrained', ...)``, mmdet's ``init_detector`` and ``DetInferencer``
are covered. :func:`unsafe_checkpoint_loading` (``--unsafe-load`` in the
tools) is the explicit opt-in for a file the user trusts.
"""

import os
import os.path as osp
import pickle
import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Optional
from urllib.parse import urlparse

import torch
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .finetune_loading import CheckpointMismatchError

UNSAFE_LOAD_FLAG = '--unsafe-load'

_unsafe_allowed = False


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asked for something torch's restricted unpickler does not
    allow; nothing from the file was run."""


def _refusal(filename: str, error: Exception) -> UnsafeCheckpointError:
    found = re.search(r'Unsupported global: GLOBAL (\S+)', str(error))
    name = found and found.group(1)
    if name and '.' not in name:  # torch names builtins without a module
        name = f'builtins.{name}'
    asked = (
        f"the Python global '{name}'"
        if found
        else f'more than tensors and plain values ({_first_line(error)})'
    )
    return UnsafeCheckpointError(
        f'refused to load the checkpoint {filename}: it asks for {asked}, '
        'which a file of weights does not need and which could run code '
        'while it is read. Nothing from the file was run. If you trust this '
        f'file, pass {UNSAFE_LOAD_FLAG} to the tool (in Python: `with '
        'mmsolo.checkpoint.unsafe_checkpoint_loading(): ...`); a training '
        'checkpoint of an earlier mmsolo (message hub stored as HistoryBuffer '
        'objects) is rewritten once, safely loadable, by '
        f'`tools/model_converters/upgrade_checkpoint.py OLD NEW '
        f'{UNSAFE_LOAD_FLAG}`.'
    )


def _first_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if 'error' in line]
    return (lines[-1] if lines else str(error).splitlines()[0]).strip()


def load_checkpoint_file(
    filename: str,
    map_location: Optional[Any] = None,
    unsafe: Optional[bool] = None,
) -> Any:
    """``torch.load`` a local checkpoint with ``weights_only=True``.

    Args:
        filename: Path of the file (``~`` is expanded).
        map_location: As ``torch.load``'s.
        unsafe: Unpickle fully (``weights_only=False``): only for a file the
            caller trusts. None (default): as set by
            :func:`unsafe_checkpoint_loading` (off unless inside it).

    Raises:
        FileNotFoundError: ``filename`` is not a file.
        UnsafeCheckpointError: The file needs more than torch's restricted
            unpickler allows (nothing of it was run).
    """
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if unsafe is None:
        unsafe = _unsafe_allowed
    if unsafe:
        return torch.load(
            filename, map_location=map_location, weights_only=False
        )
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True
        )
    except pickle.UnpicklingError as error:
        raise _refusal(filename, error) from None


def load_url_safely(
    url: str,
    model_dir: Optional[str] = None,
    map_location: Optional[Any] = None,
    progress: bool = True,
    check_hash: bool = False,
    file_name: Optional[str] = None,
) -> Any:
    """``torch.hub.load_state_dict_from_url`` (same arguments and cache:
    ``<torch hub dir>/checkpoints``), reading the download with
    :func:`load_checkpoint_file`."""
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached_file = osp.join(
        model_dir, file_name or osp.basename(urlparse(url).path)
    )
    if not osp.exists(cached_file):
        sys.stderr.write(f'Downloading: "{url}" to {cached_file}\n')
        hash_prefix = None
        if check_hash:
            found = torch.hub.HASH_REGEX.search(osp.basename(cached_file))
            hash_prefix = found.group(1) if found else None
        torch.hub.download_url_to_file(
            url, cached_file, hash_prefix, progress=progress
        )
    return load_checkpoint_file(cached_file, map_location)


def _load_local(filename: str, map_location: Optional[Any] = None) -> Any:
    return load_checkpoint_file(filename, map_location)


def install_safe_loaders() -> None:
    """Make mmengine read local checkpoints with :func:`load_checkpoint_file`
    and downloads (``http(s)://`` and every scheme mmengine maps to a URL)
    with :func:`load_url_safely`. Idempotent; called when ``mmsolo`` is
    imported (and by :func:`unsafe_checkpoint_loading`)."""
    CheckpointLoader.register_scheme('', _load_local, force=True)
    mmengine_checkpoint.load_url = load_url_safely


@contextmanager
def unsafe_checkpoint_loading(enabled: bool = True) -> Iterator[None]:
    """Within the block (when ``enabled``), checkpoints are unpickled fully,
    as before torch 2.6: only for files you trust. The safe loaders are
    installed first (:func:`install_safe_loaders`), so leaving the block
    restores safe loading."""
    global _unsafe_allowed
    install_safe_loaders()
    previous, _unsafe_allowed = _unsafe_allowed, bool(enabled)
    try:
        yield
    finally:
        _unsafe_allowed = previous


@contextmanager
def tool_checkpoint_loading(unsafe: bool = False) -> Iterator[None]:
    """For command-line tools: safe loading (or, with ``unsafe``, full
    unpickling for the block); a refused file, or a checkpoint whose
    weights do not fit the model (:class:`CheckpointMismatchError`), ends
    the process with exit code 1 and the message on stderr instead of a
    traceback."""
    try:
        with unsafe_checkpoint_loading(unsafe):
            yield
    except (UnsafeCheckpointError, CheckpointMismatchError) as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)


def add_unsafe_load_argument(parser) -> None:
    """Add ``--unsafe-load`` to an ``argparse`` parser."""
    parser.add_argument(
        UNSAFE_LOAD_FLAG,
        action='store_true',
        help='unpickle checkpoints fully (torch weights_only=False): lets a '
        'file run code while it is read, so only for files you trust. '
        'Without it a checkpoint needing more than tensors and plain values '
        'is refused',
    )
