"""glibc malloc settings that keep freed memory for the next allocation.

A training step frees and allocates the same large tensors every iteration
(activations of several MiB). With glibc's defaults, blocks above its mmap
threshold are returned to the kernel when freed and the heap's free top is
trimmed, so every step faults the same memory in again, each new page zeroed
by the kernel, and the memory-bound operators that touch it first (the
stem's BatchNorm, ReLU backward, max pooling) run several times slower in
the step than alone (``benchmarks/profile_train_step.py``). Raising the
mmap threshold and the trim threshold keeps that memory in the process, and
a step faults in next to no pages (benchmarks/README.md, "Train step and
page faults", gives the counts). It is what jemalloc or tcmalloc preloaded
would give PyTorch, without a preload.

Only glibc has ``mallopt``; elsewhere :func:`retain_freed_memory` does
nothing and says so.
"""
import ctypes
import functools
from typing import Optional

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
# glibc's defaults, restored by restore_malloc_defaults; the mmap threshold
# then stays fixed (glibc's own default adapts it to the blocks freed).
DEFAULT_MMAP_THRESHOLD = 128 << 10
DEFAULT_TRIM_THRESHOLD = 128 << 10
DEFAULT_TOP_PAD = 128 << 10
# glibc refuses an mmap threshold above 32 MiB on 64-bit systems.
MAX_MMAP_THRESHOLD = 32 << 20


@functools.lru_cache(maxsize=None)
def _glibc() -> Optional[ctypes.CDLL]:
    """The C library of this process when it is glibc (it has ``mallopt``
    and ``gnu_get_libc_version``), else None. Looked up once, among the
    symbols the process has loaded (no search for the library file)."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not (hasattr(libc, 'mallopt') and hasattr(libc,
                                                 'gnu_get_libc_version')):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def _set(libc: ctypes.CDLL, param: int, value: int, name: str) -> None:
    if libc.mallopt(param, value) != 1:
        raise ValueError(f'glibc mallopt refused {name}={value}')


def check_malloc_settings(mmap_threshold: int, trim_threshold: int,
                          top_pad: int) -> None:
    """Raise ``ValueError`` naming the setting that glibc would refuse."""
    for name, value in (('mmap_threshold', mmap_threshold),
                        ('trim_threshold', trim_threshold),
                        ('top_pad', top_pad)):
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < 0:
            raise ValueError(f'{name} must be a non-negative integer of '
                             f'bytes, got {value!r}')
    if not 1 <= mmap_threshold <= MAX_MMAP_THRESHOLD:
        raise ValueError(f'mmap_threshold must be 1 to {MAX_MMAP_THRESHOLD} '
                         f'bytes (glibc refuses more), got {mmap_threshold}')
    for name, value in (('trim_threshold', trim_threshold),
                        ('top_pad', top_pad)):
        if value >= 1 << 31:
            raise ValueError(f'{name} must be below 2 GiB (mallopt takes an '
                             f'int), got {value}')


def retain_freed_memory(mmap_threshold: int = MAX_MMAP_THRESHOLD,
                        trim_threshold: int = 1 << 30,
                        top_pad: int = 64 << 20) -> bool:
    """Keep freed blocks in the process for reuse (glibc only).

    Args:
        mmap_threshold (int): Bytes from which a block gets its own
            ``mmap`` (unmapped again when freed). 1 to 32 MiB.
        trim_threshold (int): Free bytes at the heap's top kept before
            glibc gives them back to the kernel.
        top_pad (int): Extra bytes asked of the kernel each time the heap
            grows.

    Returns:
        bool: True if set, False where the C library is not glibc.
    """
    check_malloc_settings(mmap_threshold, trim_threshold, top_pad)
    libc = _glibc()
    if libc is None:
        return False
    _set(libc, M_MMAP_THRESHOLD, int(mmap_threshold), 'mmap_threshold')
    _set(libc, M_TRIM_THRESHOLD, int(trim_threshold), 'trim_threshold')
    _set(libc, M_TOP_PAD, int(top_pad), 'top_pad')
    return True


def restore_malloc_defaults() -> bool:
    """glibc's default thresholds again, and the retained free memory given
    back to the kernel (``malloc_trim``). False where not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    _set(libc, M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD, 'mmap_threshold')
    _set(libc, M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD, 'trim_threshold')
    _set(libc, M_TOP_PAD, DEFAULT_TOP_PAD, 'top_pad')
    libc.malloc_trim(0)
    return True
