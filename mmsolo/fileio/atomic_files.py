"""Files that are either whole or absent: a local storage backend whose writes
go to a temporary file beside the target and are renamed over it."""

import json
import os
import os.path as osp
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Optional, Union

from mmengine.fileio import LocalBackend, register_backend

ATOMIC_LOCAL = 'mmsolo_atomic_local'

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read by setting and restoring it, under a lock)."""
    with _UMASK_LOCK:
        umask = os.umask(0o022)
        os.umask(umask)
    return umask


def plain_open_mode(filepath: str) -> int:
    """The permission bits ``open(filepath, 'w')`` would leave: those of the
    file it replaces, or ``0o666`` less the umask for a new file."""
    try:
        return stat.S_IMODE(os.stat(filepath).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


@contextmanager
def open_atomically(filepath: Union[str, Path]) -> Iterator[BinaryIO]:
    """A binary file object whose content replaces ``filepath`` as a whole
    when the ``with`` block ends without an error.

    The bytes go to a hidden temporary file in the same directory
    (``.<name>.<random>.tmp``), are flushed to disk (fsync), given the mode a
    plain ``open()`` would give (:func:`plain_open_mode`: ``mkstemp`` creates
    files readable by their owner only), and the file is renamed over
    ``filepath`` (atomic on POSIX and Windows); the directory is then synced
    so the rename itself survives a power cut. A process killed before the
    rename leaves ``filepath`` untouched (and the temporary file, which
    nothing reads); an error removes the temporary file.
    """
    filepath = os.fspath(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=directory, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp'
    )
    try:
        with os.fdopen(fd, 'wb') as tmp_file:
            yield tmp_file
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
            if hasattr(os, 'fchmod'):  # not on Windows
                os.fchmod(tmp_file.fileno(), plain_open_mode(filepath))
        os.replace(tmp_path, filepath)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    _sync_directory(directory)


def write_atomically(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that a reader (or a later run) sees
    the old file or the new one, never a part of the new one (see
    :func:`open_atomically`)."""
    with open_atomically(filepath) as file:
        file.write(data)


def dump_json_atomically(
    obj, filepath: Union[str, Path], indent: Optional[int] = None
) -> None:
    """Write ``obj`` as JSON (``json.dumps(obj, indent=indent)``) to
    ``filepath`` with :func:`write_atomically`, so that a reader never sees
    a half-written file."""
    write_atomically(json.dumps(obj, indent=indent).encode('utf-8'), filepath)


def _sync_directory(directory: str) -> None:
    if not hasattr(os, 'O_DIRECTORY'):  # Windows cannot open directories
        return
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put`` and ``put_text`` write
    atomically (see :func:`write_atomically`). Reads are unchanged.

    Registered in mmengine's file backends as ``'mmsolo_atomic_local'``:
    ``backend_args=dict(backend='mmsolo_atomic_local')`` selects it, e.g. for
    ``runner.save_checkpoint``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomically(obj, filepath)

    def put_text(
        self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8'
    ) -> None:
        write_atomically(obj.encode(encoding), filepath)


register_backend(ATOMIC_LOCAL, AtomicLocalBackend, force=True)
