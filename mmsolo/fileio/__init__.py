"""File writing shared by every layer (foundation: imports only mmengine)."""

from .atomic_files import (
    ATOMIC_LOCAL,
    AtomicLocalBackend,
    dump_json_atomically,
    open_atomically,
    plain_open_mode,
    write_atomically,
)

__all__ = [
    'ATOMIC_LOCAL',
    'AtomicLocalBackend',
    'dump_json_atomically',
    'open_atomically',
    'plain_open_mode',
    'write_atomically',
]
