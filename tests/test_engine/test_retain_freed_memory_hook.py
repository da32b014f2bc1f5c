"""RetainFreedMemoryHook and mmsolo.utils.malloc: freed activations stay in
the process (no page faults when the next step takes them again), glibc's
defaults come back when the run ends, bad settings name themselves."""
import logging
import resource

import pytest
import torch

from mmsolo.engine import RetainFreedMemoryHook
from mmsolo.utils import malloc

pytestmark = pytest.mark.skipif(malloc._glibc() is None,
                                reason='mallopt is glibc only')

MIB = 1 << 20


class FakeRunner:
    logger = logging.getLogger('test_retain_freed_memory')


def faults_of_second_allocation(num_bytes: int) -> int:
    """Page faults while filling a block of num_bytes that was just
    allocated, filled and freed once."""
    block = torch.empty(num_bytes, dtype=torch.uint8)
    block.fill_(1)
    del block
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.empty(num_bytes, dtype=torch.uint8)
    block.fill_(2)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    del block
    return after - before


def test_hook_keeps_freed_blocks_and_restores_defaults():
    pages = 16 * MIB // 4096
    hook = RetainFreedMemoryHook()
    runner = FakeRunner()
    # glibc's fixed defaults first: a 16 MiB block is mapped anew each
    # time, every page faults in again.
    malloc.restore_malloc_defaults()
    assert faults_of_second_allocation(16 * MIB) > pages // 2
    try:
        hook.before_run(runner)
        assert hook.active
        # The heap grows on the first allocation after the setting; from
        # then on a freed 16 MiB block comes back with its pages mapped.
        faults_of_second_allocation(16 * MIB)
        assert faults_of_second_allocation(16 * MIB) < pages // 8
    finally:
        hook.after_run(runner)
    assert not hook.active
    assert faults_of_second_allocation(16 * MIB) > pages // 2


@pytest.mark.parametrize('settings, culprit', [
    (dict(mmap_threshold=64 * MIB), 'mmap_threshold must be 1 to'),
    (dict(mmap_threshold=0), 'mmap_threshold must be 1 to'),
    (dict(trim_threshold=-1), 'trim_threshold must be a non-negative'),
    (dict(top_pad=1.5), 'top_pad must be a non-negative'),
    (dict(trim_threshold='1G'), 'trim_threshold must be a non-negative'),
    (dict(trim_threshold=4 << 30), 'trim_threshold must be below 2 GiB'),
])
def test_bad_settings_name_the_field(settings, culprit):
    with pytest.raises(ValueError, match='RetainFreedMemoryHook: ' + culprit):
        RetainFreedMemoryHook(**settings)
    with pytest.raises(ValueError, match=culprit):
        malloc.retain_freed_memory(**settings)


def test_not_glibc_sets_nothing(monkeypatch):
    monkeypatch.setattr(malloc, '_glibc', lambda: None)
    assert malloc.retain_freed_memory() is False
    assert malloc.restore_malloc_defaults() is False
