"""A block of memory lent for one result at a time and taken back once no
array or tensor uses it any more.

Why: each call of a mask NMS returns its kept masks as a new (k, H, W)
array, tens of MB for hundreds of full-size masks. A fresh buffer of that
size is fresh pages from the kernel: thousands of page faults, and with
NumPy's huge pages (``madvise``, under the kernel's default
``defrag=madvise``) a synchronous compaction of memory when another large
allocation just fragmented it: on this project's 2-core machines the copy
of 1000 kept 200x304 masks took 11-14 ms into fresh memory when run alone
but 58-140 ms right after mmdet's Matrix NMS had run (before this module;
benchmarks/README.md), and 7.5 ms into the reused block either way
(``benchmarks/bench_matrix_nms.py --phases``). Lending the same block
again, once the caller has dropped the previous result, keeps its pages.

A block is free when nothing but the lender refers to it: NumPy views
refer to the array owning the memory, and a tensor made by
``torch.from_numpy`` keeps the view it was made from, so any array or
tensor still reading the previous result keeps the block's reference
count up, and a new block is then allocated instead.
"""
import sys
import threading
from typing import Sequence

import numpy as np


class ReusableMemory:
    """Lends one block of at most ``max_bytes`` (see the module docstring).

    Args:
        max_bytes (int): Larger results get memory of their own and are
            not kept. Defaults to 256 MiB.
    """

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = max_bytes
        self._block = None
        self._free_refs = 0  # the block's reference count when not lent
        self._lock = threading.Lock()

    def _is_free(self) -> bool:
        return sys.getrefcount(self._block) <= self._free_refs

    def empty(self, shape: Sequence[int], dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype``, in the kept
        block when it is free and large enough; otherwise in new memory,
        which becomes the kept block unless the kept one is still lent or
        the array is larger than ``max_bytes``."""
        dtype = np.dtype(dtype)
        shape = tuple(int(size) for size in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes == 0 or nbytes > self.max_bytes:
            return np.empty(shape, dtype)
        with self._lock:
            if self._block is not None and not self._is_free():
                return np.empty(shape, dtype)  # the last result is in use
            if self._block is None or self._block.nbytes < nbytes:
                self._block = None  # freed before the larger one is made
                self._block = np.empty(nbytes, np.uint8)
                self._free_refs = sys.getrefcount(self._block)
            return self._block[:nbytes].view(dtype).reshape(shape)

    def release(self) -> None:
        """Stop keeping the block (its memory is freed once no result
        uses it)."""
        with self._lock:
            self._block = None
