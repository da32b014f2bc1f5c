"""benchmarks/bench_matrix_nms.py runs and reports what it claims to: the
comparison table, the goals and, with --phases, every phase of ours (timed
through the sparse path's public functions). No timing is asserted (goals
live in the benchmarks)."""

import subprocess


def test_bench_matrix_nms_prints_table_goals_and_phases(repo_root, python):
    proc = subprocess.run(
        [
            python,
            'benchmarks/bench_matrix_nms.py',
            '--sizes',
            '100',
            '--repeats',
            '1',
            '--phases',
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    # Both kernels in both timing orders, equal results (checked inside).
    for kernel in ('gaussian', 'linear'):
        for order in ('interleaved', 'one after the other'):
            assert f'| 100 | {kernel} | {order} |' in out
    assert '| 100 | interleaved |' in out and '>= 5x' in out
    assert '100 masks (' in out and 'linked pairs):' in out
    for phase in (
        'pack to bits',
        'bounds',
        'linked pairs',
        'intersections',
        'decays',
        'copy of the kept masks',
        'matrix_nms',
        'matrix_nms, return_masks=False',
    ):
        assert f'  {phase}' in out
    assert "copy of the kept masks, right after mmdet's" in out
