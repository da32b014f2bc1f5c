"""Files that are either whole or absent: a local storage backend whose writes
go to a temporary file beside the target and are renamed over it."""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

ATOMIC_LOCAL = 'mmsolo_atomic_local'


def write_atomically(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that a reader (or a later run) sees
    the old file or the new one, never a part of the new one.

    The bytes go to a hidden temporary file in the same directory
    (``.<name>.<random>.tmp``), are flushed to disk (fsync), and the file is
    renamed over ``filepath`` (atomic on POSIX and Windows); the directory is
    then synced so the rename itself survives a power cut. A process killed
    before the rename leaves ``filepath`` untouched (and the temporary file,
    which nothing reads); an error removes the temporary file.
    """
    filepath = os.fspath(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=directory, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as tmp_file:
            tmp_file.write(data)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    _sync_directory(directory)


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

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        write_atomically(obj.encode(encoding), filepath)


register_backend(ATOMIC_LOCAL, AtomicLocalBackend, force=True)
