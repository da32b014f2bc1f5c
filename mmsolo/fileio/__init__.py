"""File writing shared by every layer (foundation: imports only mmengine)."""
from .atomic_files import ATOMIC_LOCAL, AtomicLocalBackend, write_atomically

__all__ = ['ATOMIC_LOCAL', 'AtomicLocalBackend', 'write_atomically']
