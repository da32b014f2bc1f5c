"""The quick-start config trains to the same losses twice on one machine:
nothing in it changes the thread count or other kernel choices during a
run (tools/train.py, on the float32 path every CPU has)."""

import json
import os
import subprocess
from glob import glob

from support import write_tiny_config, write_tiny_shapes

ITERS = 3


def train_losses(repo_root, python, config, work_dir):
    env = dict(os.environ, MMSOLO_CPU_PRECISION='float32')
    proc = subprocess.run(
        [python, 'tools/train.py', config, '--work-dir', str(work_dir)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [scalars] = glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    return [
        {k: v for k, v in r.items() if k.startswith('loss')}
        for r in records
        if 'loss' in r
    ]


def test_two_runs_give_the_same_losses(tmp_path, repo_root, python):
    data = write_tiny_shapes(str(tmp_path / 'data'), num_train=4)
    config = write_tiny_config(
        str(tmp_path / 'tiny.py'), repo_root, data, max_iters=ITERS
    )
    first = train_losses(repo_root, python, config, tmp_path / 'a')
    second = train_losses(repo_root, python, config, tmp_path / 'b')
    assert len(first) == ITERS
    assert first == second
