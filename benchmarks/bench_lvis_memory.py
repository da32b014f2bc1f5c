"""Peak memory of LVIS evaluation on detector-sized outputs, and its control.

200 images of 480x640 with 300 predicted masks each, evaluated as ValLoop
does (LVISMetric.process per image, then evaluate), by
``lvis_memory_probe.py`` in a process of its own. Kept dense, these masks
would take 200 * 300 * 480 * 640 bytes = 18 GB (bool), 92 MB more for
every image. The probe measures the peak resident set size of its own
process (``ru_maxrss``), which counts torch tensors and numpy arrays alike
(tracemalloc would miss torch's allocations), and stops once it passes
2 GiB: a metric that kept the masks would stop it after about 16 images.
mmdet's LVISMetric encodes each image's masks to RLE in ``process``, so the
peak is about 0.8 GiB (0.6 GiB of it the imports and the probe's own mask
bank). The control (``--keep-masks``: the probe holds every image's masks,
as such a metric would) must trip the limit within the first 30 images.

A machine-dependent measurement of mmdet's metric, so a benchmark rather
than a test (it was tests/test_evaluation/test_lvis_metric.py's).

    python benchmarks/bench_lvis_memory.py [--repeats N]  (N is ignored)
"""

import argparse
import json
import os.path as osp
import subprocess
import sys
import tempfile

HERE = osp.dirname(osp.abspath(__file__))
LIMIT_MIB = 2048
MASK_MIB = 300 * 480 * 640 / 2**20  # one image's masks, bool


def run_probe(*extra: str) -> tuple:
    """``(returncode, report)`` of one probe run."""
    with tempfile.TemporaryDirectory() as work_dir:
        done = subprocess.run(
            [
                sys.executable,
                osp.join(HERE, 'lvis_memory_probe.py'),
                work_dir,
                *extra,
            ],
            cwd=osp.dirname(HERE),
            capture_output=True,
            text=True,
            timeout=600,
        )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith('{')]
    if not lines:
        sys.exit(done.stdout[-2000:] + done.stderr[-3000:])
    return done.returncode, json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=1)
    parser.parse_args()
    returncode, report = run_probe()
    growth = report.get('processed_mib', 0) - report.get('start_mib', 0)
    checks = dict(
        finished=returncode == 0,
        peak_under_limit=report.get('peak_mib', LIMIT_MIB + 1) < LIMIT_MIB,
        growth_under_two_images=growth < 2 * MASK_MIB,
        metrics=set(report.get('metrics', {}))
        >= {'lvis/segm_AP', 'lvis/bbox_AP'},
    )
    print(
        f'LVIS evaluation: peak {report.get("peak_mib", 0):.0f} MiB, '
        f'processing added {growth:.0f} MiB; {checks}'
    )
    control_code, control = run_probe('--keep-masks')
    checks['control_trips'] = (
        control_code == 3
        and control['failed_at_image'] < 30
        and control['peak_mib'] > LIMIT_MIB
    )
    print(
        f'control (masks kept): stopped at image '
        f'{control.get("failed_at_image")}, peak '
        f'{control.get("peak_mib", 0):.0f} MiB'
    )
    if not all(checks.values()):
        sys.exit(f'failed: {[k for k, ok in checks.items() if not ok]}')


if __name__ == '__main__':
    main()
