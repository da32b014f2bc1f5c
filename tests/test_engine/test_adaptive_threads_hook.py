"""AdaptiveThreadsHook: probes thread counts on real steps, keeps the
fastest, probes again when the load changes, restores the count."""

import logging

import pytest
import torch
from mmengine.logging import MessageHub

from mmsolo.engine import AdaptiveThreadsHook
from mmsolo.engine.hooks import (
    adaptive_threads_hook,
    default_thread_candidates,
)


class FakeRunner:
    def __init__(self):
        self.logger = logging.getLogger('test_adaptive_threads')
        self.message_hub = MessageHub.get_instance('test_adaptive_threads')


class FakeClock:
    """perf_counter whose step length depends on the thread count set."""

    def __init__(self, step_times):
        self.now = 0.0
        self.step_times = step_times

    def __call__(self):
        return self.now

    def step(self):
        self.now += self.step_times[torch.get_num_threads()]


def run_iters(hook, runner, clock, count):
    chosen = []
    for i in range(count):
        hook.before_train_iter(runner, i)
        clock.step()
        hook.after_train_iter(runner, i)
        chosen.append(hook.chosen)
    return chosen


@pytest.fixture
def threads_restored():
    initial = torch.get_num_threads()
    yield
    torch.set_num_threads(initial)


def test_default_candidates():
    assert default_thread_candidates(2) == [2, 1]
    assert default_thread_candidates(16) == [16, 8]
    assert default_thread_candidates(1) == [1]


def test_keeps_fastest_then_reprobes_on_slowdown(
    monkeypatch, threads_restored
):
    torch.set_num_threads(2)
    clock = FakeClock({2: 0.5, 1: 0.8})
    monkeypatch.setattr(adaptive_threads_hook.time, 'perf_counter', clock)
    hook = AdaptiveThreadsHook(probe_iters=3, interval=1000)
    runner = FakeRunner()
    hook.before_train(runner)
    # Probe: (1 warm-up + 3 timed) iterations per candidate.
    chosen = run_iters(hook, runner, clock, 8)
    assert chosen[:7] == [None] * 7 and chosen[7] == 2
    assert torch.get_num_threads() == 2
    run_iters(hook, runner, clock, 20)
    assert hook.chosen == 2
    # Another process starts: 2 threads collapse, 1 thread barely slows.
    clock.step_times = {2: 1.8, 1: 0.86}
    chosen = run_iters(hook, runner, clock, 3 + 8)
    assert None in chosen  # probed again early, long before `interval`
    assert hook.chosen == 1 and torch.get_num_threads() == 1
    assert runner.message_hub.get_scalar('train/threads').current() == 1
    hook.after_train(runner)
    assert torch.get_num_threads() == 2


def test_reprobes_every_interval(monkeypatch, threads_restored):
    torch.set_num_threads(2)
    clock = FakeClock({2: 0.5, 1: 0.8})
    monkeypatch.setattr(adaptive_threads_hook.time, 'perf_counter', clock)
    hook = AdaptiveThreadsHook(probe_iters=2, interval=10)
    runner = FakeRunner()
    hook.before_train(runner)
    chosen = run_iters(hook, runner, clock, 6 + 10 + 1)
    assert chosen[5] == 2 and chosen[6:15] == [2] * 9
    assert chosen[15] is None  # the interval ended: a new probe


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(candidates=[]),
        dict(candidates=[0]),
        dict(candidates=[1.5]),
        dict(probe_iters=0),
        dict(interval=0),
        dict(slowdown=1.0),
    ],
)
def test_bad_arguments_named(kwargs):
    with pytest.raises(ValueError, match='AdaptiveThreadsHook'):
        AdaptiveThreadsHook(**kwargs)


def test_changes_nothing_under_deterministic_algorithms(
    monkeypatch, threads_restored
):
    """Results depend on the thread count: runs that must be bit-identical
    (a resumed run, deterministic=True) keep the count they started with."""
    torch.set_num_threads(2)
    clock = FakeClock({2: 1.8, 1: 0.5})
    monkeypatch.setattr(adaptive_threads_hook.time, 'perf_counter', clock)
    monkeypatch.setattr(
        torch, 'are_deterministic_algorithms_enabled', lambda: True
    )
    hook = AdaptiveThreadsHook(probe_iters=2)
    runner = FakeRunner()
    hook.before_train(runner)
    run_iters(hook, runner, clock, 20)
    assert torch.get_num_threads() == 2 and hook.chosen is None
    hook.after_train(runner)
    assert torch.get_num_threads() == 2
