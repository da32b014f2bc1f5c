"""RetainFreedMemoryHook and mmsolo.utils.malloc: freed activations stay in
the process (no page faults when the next step takes them again), glibc's
defaults come back when the run ends, bad settings name themselves."""
import json
import subprocess
import sys

import pytest

from mmsolo.engine import RetainFreedMemoryHook
from mmsolo.utils import malloc

pytestmark = pytest.mark.skipif(malloc._glibc() is None,
                                reason='mallopt is glibc only')

MIB = 1 << 20


# Run in a fresh process: how an earlier test (or pytest-xdist's worker
# thread) left the allocator's arenas would change what gets reused.
FAULTS_SCRIPT = r"""
import json, logging, resource
import torch
from mmsolo.engine import RetainFreedMemoryHook
from mmsolo.utils import malloc


class Runner:
    logger = logging.getLogger('retain')


def faults_of_second_allocation(num_bytes):
    block = torch.empty(num_bytes, dtype=torch.uint8)
    block.fill_(1)
    del block
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.empty(num_bytes, dtype=torch.uint8)
    block.fill_(2)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    del block
    return after - before


size = 16 << 20
malloc.restore_malloc_defaults()
faults = dict(defaults=faults_of_second_allocation(size))
hook = RetainFreedMemoryHook()
hook.before_run(Runner())
faults_of_second_allocation(size)  # the heap grows once
faults['hook'] = faults_of_second_allocation(size)
faults['active'] = hook.active
hook.after_run(Runner())
faults['restored'] = faults_of_second_allocation(size)
faults['active_after'] = hook.active
print(json.dumps(faults))
"""


def test_hook_keeps_freed_blocks_and_restores_defaults():
    """Page faults while filling a 16 MiB block that was just allocated,
    filled and freed: with glibc's fixed defaults it is mapped anew and
    every page (4096) faults in again; under the hook it comes back from
    the heap with its pages mapped; after the run, the defaults again."""
    pages = 16 * MIB // 4096
    done = subprocess.run([sys.executable, '-c', FAULTS_SCRIPT],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    faults = json.loads(done.stdout.strip().splitlines()[-1])
    assert faults['active'] and not faults['active_after']
    assert faults['defaults'] > pages // 2, faults
    assert faults['hook'] < pages // 8, faults
    assert faults['restored'] > pages // 2, faults


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
