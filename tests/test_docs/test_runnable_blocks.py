"""Every Python block marked ``<!-- runnable -->`` in README.md and docs/
runs as it is and exits cleanly (its assertions are part of the check):
in a scratch folder where configs/ and tools/ are the repository's, each
block in a fresh interpreter, on the tiny data it makes itself."""

import os
import subprocess
import sys

import pytest
from doc_text import REPO_ROOT, RUNNABLE, blocks_of, docs_pages

BLOCKS = [
    block for block in blocks_of(docs_pages()) if RUNNABLE.match(block.marker)
]


def test_pages_have_runnable_blocks():
    assert BLOCKS
    assert all(block.language == 'python' for block in BLOCKS), [
        block.where() for block in BLOCKS if block.language != 'python'
    ]


@pytest.mark.parametrize('block', BLOCKS, ids=lambda b: b.where())
def test_runnable_block_runs(block, tmp_path):
    for name in ('configs', 'tools'):
        os.symlink(os.path.join(REPO_ROOT, name), tmp_path / name)
    script = tmp_path / 'block.py'
    script.write_text(block.text)
    env = dict(os.environ, MPLBACKEND='Agg')
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f'{block.where()} failed:\n{done.stdout[-2000:]}\n'
        f'{done.stderr[-4000:]}'
    )
