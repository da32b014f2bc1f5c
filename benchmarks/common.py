"""Timing helpers shared by the benchmarks: medians of repeated runs, with
the contenders interleaved so that both see the same machine load.

Importing it also makes the tests' support package (``tests/support/``:
reference models, parity checks, generated data sets; not installed with
mmsolo) importable as ``support``, as it is in the tests."""

import logging
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.logging import MMLogger

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TESTS_DIR = osp.join(REPO_ROOT, 'tests')
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)  # as pytest does for tests/conftest.py


def quiet_init_logs() -> None:
    """Silence mmengine's per-parameter ``init_weights`` report (printed
    when no 'mmengine' logger exists), so that only the tables show."""
    MMLogger.get_instance('mmengine', log_level=logging.WARNING)


def median_ms(times: Sequence[float]) -> float:
    """Median of times in seconds, in milliseconds."""
    ordered = sorted(times)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid] * 1e3
    return (ordered[mid - 1] + ordered[mid]) / 2 * 1e3


def wall_clock(fn: Callable[[], object]) -> float:
    """Seconds of wall time that ``fn()`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_interleaved(
    fns: Dict[str, Callable[[], object]],
    repeats: int = 7,
    warmup: int = 1,
    grad: bool = False,
    setup: Optional[Dict[str, Callable[[], object]]] = None,
    clock: Callable[[Callable[[], object]], float] = wall_clock,
) -> Dict[str, float]:
    """Median time in ms of each function of ``fns``, calling them in
    turn ``repeats`` times (after ``warmup`` untimed rounds), with autograd
    off unless ``grad``. ``setup[name]``, where given, runs untimed before
    each call of ``fns[name]`` (e.g. to restore a model's weights).
    ``clock(fn)`` calls ``fn`` and returns its seconds (wall time by
    default; ``bench_gpu.py`` passes one of CUDA events)."""
    times: Dict[str, List[float]] = {name: [] for name in fns}
    setup = setup or {}
    with torch.set_grad_enabled(grad):
        for round_ in range(warmup + repeats):
            for name, fn in fns.items():
                if name in setup:
                    setup[name]()
                elapsed = clock(fn)
                if round_ >= warmup:
                    times[name].append(elapsed)
    return {name: median_ms(values) for name, values in times.items()}


def time_blocks(
    fns: Dict[str, Callable[[], object]],
    repeats: int = 7,
    warmup: int = 1,
    grad: bool = False,
    setup: Optional[Dict[str, Callable[[], object]]] = None,
) -> Dict[str, float]:
    """Like :func:`time_interleaved`, but each function runs all its rounds
    before the next one starts: the check that interleaving (one
    contender's allocations followed by the other's) does not favour
    either."""
    setup = setup or {}
    return {
        name: time_interleaved(
            {name: fn},
            repeats,
            warmup,
            grad,
            {name: setup[name]} if name in setup else None,
        )[name]
        for name, fn in fns.items()
    }


# The two orders the goals are timed in: (label, timer).
TIMING_ORDERS = (
    ('interleaved', time_interleaved),
    ('one after the other', time_blocks),
)


def print_table(header: Sequence[str], rows: Sequence[Sequence]) -> None:
    """A markdown table, numbers with 2 decimals (ratios get an ``x``)."""

    def cell(value) -> str:
        return f'{value:.2f}' if isinstance(value, float) else str(value)

    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for row in rows:
        print('| ' + ' | '.join(cell(v) for v in row) + ' |')
