"""Pick torch's intra-op thread count from measured training steps, and pick
again when the machine's load changes."""

import statistics
import time
from typing import List, Optional, Sequence

import torch
from mmengine.hooks import Hook

from mmsolo.registry import HOOKS


def default_thread_candidates(num_threads: int) -> List[int]:
    """All the threads torch starts with, and half of them (at least 1):
    with one other busy process on the cores, the fewer threads stop waiting
    for a thread that shares its core."""
    return sorted({num_threads, max(1, num_threads // 2)}, reverse=True)


@HOOKS.register_module()
class AdaptiveThreadsHook(Hook):
    """Train with the intra-op thread count that is fastest now: an opt-in
    for CPU training on a machine that other processes share.

    On a CPU whose cores other processes share, each parallel region of a step
    waits for its slowest thread, so fewer threads than cores can run a step
    much faster than all of them (``benchmarks/ab_cpu_training.py --busy``
    measures it; figures in benchmarks/README.md). On a quiet machine it gains
    nothing and its probes cost a few slower steps. It is not in the quick
    start: which count it keeps depends on the machine's load, and with it the
    results in their last bits, so two runs of one config would differ. This
    hook times real training iterations (no extra work) with each candidate
    count in turn (a *probe*), keeps the fastest, and probes again every
    ``interval`` iterations, or sooner when the median of the last
    ``probe_iters`` iterations exceeds ``slowdown`` times the time the kept
    count was chosen with (another process has started). The count is logged as
    ``threads`` and restored when training ends.

    The thread count changes how convolutions split their sums, so results
    differ in the last bits between runs that chose differently. With
    ``randomness=dict(deterministic=True)`` (``torch.use_deterministic_
    algorithms``) the hook changes nothing, so that runs and resumed runs
    stay bit-identical.

    Args:
        candidates (Sequence[int], optional): Thread counts to try. Default:
            :func:`default_thread_candidates` of ``torch.get_num_threads()``
            when training starts.
        probe_iters (int): Iterations timed per candidate in a probe (the
            first iteration after a switch is not counted). Defaults to 4.
        interval (int): Iterations between two probes. Defaults to 200.
        slowdown (float): Re-probe early when steps get this much slower
            than the chosen count's probe time. Defaults to 1.5.
    """

    priority = 'VERY_HIGH'

    def __init__(
        self,
        candidates: Optional[Sequence[int]] = None,
        probe_iters: int = 4,
        interval: int = 200,
        slowdown: float = 1.5,
    ) -> None:
        if candidates is not None and (
            len(candidates) == 0
            or any(int(c) != c or c < 1 for c in candidates)
        ):
            raise ValueError(
                'AdaptiveThreadsHook.candidates must be positive integers, '
                f'got {candidates!r}'
            )
        if probe_iters < 1 or interval < 1 or slowdown <= 1:
            raise ValueError(
                'AdaptiveThreadsHook needs probe_iters >= 1, interval >= 1 '
                f'and slowdown > 1, got {probe_iters}, {interval}, '
                f'{slowdown}'
            )
        self.candidates = (
            None if candidates is None else [int(c) for c in candidates]
        )
        self.probe_iters = probe_iters
        self.interval = interval
        self.slowdown = slowdown

    # State: a probe walks through self._queue (candidates still to time);
    # self._times holds the current candidate's iteration times.
    def before_train(self, runner) -> None:
        self._initial = torch.get_num_threads()
        self.chosen: Optional[int] = None
        self.active = not torch.are_deterministic_algorithms_enabled()
        if not self.active:
            runner.logger.info(
                f'AdaptiveThreadsHook: deterministic algorithms are on, so '
                f'the thread count stays {self._initial} (results would '
                f'depend on it)'
            )
            return
        if self.candidates is None:
            self.candidates = default_thread_candidates(self._initial)
        self._chosen_time = 0.0
        self._since_probe = 0
        self._start_probe()

    def _start_probe(self) -> None:
        self._queue = list(self.candidates)
        self._results: dict = {}
        self._switch(self._queue.pop(0))

    def _switch(self, threads: int) -> None:
        torch.set_num_threads(threads)
        self._times: List[float] = []
        self._skip_next = True  # the first step after a switch warms up

    def before_train_iter(
        self, runner, batch_idx: int, data_batch=None
    ) -> None:
        self._start = time.perf_counter()

    def after_train_iter(
        self, runner, batch_idx: int, data_batch=None, outputs=None
    ) -> None:
        if not self.active:
            return
        elapsed = time.perf_counter() - self._start
        runner.message_hub.update_scalar(
            'train/threads', torch.get_num_threads()
        )
        if self._skip_next:
            self._skip_next = False
            return
        self._times.append(elapsed)
        if self.chosen is None:
            self._probe_step(runner)
        else:
            self._run_step(runner)

    def _probe_step(self, runner) -> None:
        if len(self._times) < self.probe_iters:
            return
        self._results[torch.get_num_threads()] = statistics.median(self._times)
        if self._queue:
            self._switch(self._queue.pop(0))
            return
        best = min(self._results, key=self._results.get)
        self.chosen, self._chosen_time = best, self._results[best]
        self._since_probe = 0
        torch.set_num_threads(best)
        self._times = []
        timings = ', '.join(
            f'{n}: {t:.3f} s' for n, t in sorted(self._results.items())
        )
        runner.logger.info(
            f'AdaptiveThreadsHook: {best} threads (step times {timings})'
        )

    def _run_step(self, runner) -> None:
        self._since_probe += 1
        self._times = self._times[-self.probe_iters :]
        recent = self._times
        slowed = (
            len(recent) == self.probe_iters
            and statistics.median(recent) > self.slowdown * self._chosen_time
        )
        if self._since_probe >= self.interval or slowed:
            self.chosen = None
            self._start_probe()

    def after_train(self, runner) -> None:
        torch.set_num_threads(self._initial)
