"""mmsolo.utils.log_curves and tools/analysis_tools/analyze_logs.py on a
hand-written mmengine scalar log."""

import importlib.util
import json
import os.path as osp
from types import SimpleNamespace

import cv2
import pytest
from support import run_tool_here

from mmsolo.utils import load_scalar_log, plot_curves
from mmsolo.utils.log_curves import curve_points

# As mmengine writes vis_data/scalars.json in an iteration-based run:
# train records every 2 iterations, a validation record (step = epoch 0)
# after iteration 4.
RECORDS = [
    dict(lr=1e-4, loss=3.0, loss_cls=1.2, time=9.0, iter=2, step=2),
    dict(lr=2e-4, loss=2.5, loss_cls=1.0, time=1.0, iter=4, step=4),
    {'coco/segm_mAP': 0.25, 'coco/bbox_mAP': 0.3, 'time': 0.5, 'step': 0},
    dict(lr=3e-4, loss=2.0, loss_cls=0.7, time=2.0, iter=6, step=6),
    dict(lr=4e-4, loss=1.0, loss_cls=0.4, time=3.0, iter=8, step=8),
]


@pytest.fixture
def scalar_log(tmp_path):
    path = tmp_path / 'run' / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text('\n'.join(json.dumps(r) for r in RECORDS) + '\n\n')
    return path


def test_load_scalar_log(scalar_log):
    log = load_scalar_log(str(scalar_log))
    assert list(log) == RECORDS  # the blank line is skipped
    assert log.path == str(scalar_log)


def test_load_scalar_log_names_bad_line(tmp_path):
    path = tmp_path / 'bad.json'
    path.write_text('{"loss": 1.0, "iter": 1}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r'bad.json, line 2: a JSON list'):
        load_scalar_log(str(path))
    path.write_text('{"loss": 1.0,\n')
    with pytest.raises(ValueError, match=r'bad.json, line 1: not JSON'):
        load_scalar_log(str(path))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_scalar_log(str(tmp_path / 'missing.json'))


def test_curve_points_put_validation_at_its_iteration(scalar_log):
    log = load_scalar_log(str(scalar_log))
    assert curve_points(log, 'loss') == ([2, 4, 6, 8], [3.0, 2.5, 2.0, 1.0])
    # The metric is found by its last part, at the iteration before it.
    assert curve_points(log, 'segm_mAP') == ([4], [0.25])
    with pytest.raises(KeyError, match='ambiguous'):
        curve_points([{'a/mAP': 1, 'b/mAP': 2, 'iter': 1}], 'mAP')


def test_plot_curves_writes_a_picture(scalar_log, tmp_path):
    log = load_scalar_log(str(scalar_log))
    out = tmp_path / 'plots' / 'curves.png'
    plot_curves([log, log], ['loss', 'segm_mAP'], str(out), title='t')
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 0 and image.shape[1] > 0
    assert image.std() > 0  # not a blank canvas
    # The curves are drawn: colours other than white, black and greys.
    spread = image.max(axis=2).astype(int) - image.min(axis=2)
    assert (spread > 60).sum() > 200


def test_plot_curves_errors_name_key_and_file(scalar_log, tmp_path):
    log = load_scalar_log(str(scalar_log))
    out = str(tmp_path / 'curves.png')
    with pytest.raises(KeyError) as error:
        plot_curves([log], ['loss', 'loss_foo'], out)
    assert 'loss_foo' in str(error.value)
    assert str(scalar_log) in str(error.value)
    with pytest.raises(ValueError, match='legend has 1 labels for 2 curves'):
        plot_curves([log], ['loss', 'lr'], out, legend=['only one'])


def cli(repo_root, tool, *args) -> SimpleNamespace:
    """``tool`` run in this process: ``returncode``, ``stdout``,
    ``stderr``."""
    code, out, err = run_tool_here(repo_root, tool, *args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def test_analyze_logs_cli(scalar_log, tmp_path, repo_root):
    tool = 'tools/analysis_tools/analyze_logs.py'
    out = tmp_path / 'cli.png'
    done = cli(
        repo_root,
        tool,
        'plot_curve',
        str(scalar_log),
        '--keys',
        'loss',
        'loss_cls',
        '--out',
        str(out),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert cv2.imread(str(out)).std() > 0

    done = cli(
        repo_root,
        tool,
        'plot_curve',
        str(scalar_log),
        '--keys',
        'loss_foo',
        '--out',
        str(tmp_path / 'never.png'),
    )
    assert done.returncode != 0
    assert 'loss_foo' in done.stderr and str(scalar_log) in done.stderr
    assert not (tmp_path / 'never.png').exists()

    # Train records' times 9, 1, 2, 3: the first (start-up) is left out.
    done = cli(repo_root, tool, 'cal_train_time', str(scalar_log))
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        'average iter time: 2.0000 s/iter (3 logged iterations)' in done.stdout
    )


def test_train_times_per_epoch(repo_root):
    spec = importlib.util.spec_from_file_location(
        'analyze_logs',
        osp.join(repo_root, 'tools', 'analysis_tools', 'analyze_logs.py'),
    )
    analyze_logs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(analyze_logs)
    records = [
        dict(epoch=1, iter=1, time=5.0),
        dict(epoch=1, iter=2, time=1.0),
        dict(epoch=1, iter=3, time=3.0),
        {'coco/segm_mAP': 0.1, 'time': 7.0},
        dict(epoch=2, iter=4, time=6.0),
        dict(epoch=2, iter=5, time=2.0),
    ]
    assert analyze_logs.train_times(records, include_outliers=False) == {
        1: [1.0, 3.0],
        2: [2.0],
    }
    assert analyze_logs.train_times(records, include_outliers=True) == {
        1: [5.0, 1.0, 3.0],
        2: [6.0, 2.0],
    }
