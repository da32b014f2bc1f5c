"""mmdet's own tools/train.py and tools/test.py (from site-packages) run
mmsolo's configs: mmdet's hooks and visualizer are found from the mmsolo
scope (train.py raised "DetVisualizationHook is not in the mmsolo::hook
registry")."""

import os
import subprocess

import mmdet
import pytest
from support import (
    save_seeded_checkpoint,
    write_tiny_config,
    write_tiny_shapes,
)

MMDET_TOOLS = os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'tools')


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory, repo_root):
    root = tmp_path_factory.mktemp('mmdet_tools')
    data = write_tiny_shapes(str(root / 'data'))
    return write_tiny_config(str(root / 'tiny.py'), repo_root, data)


def run_mmdet_tool(tool: str, args: list, repo_root: str, python: str):
    done = subprocess.run(
        [python, os.path.join(MMDET_TOOLS, tool), *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout + done.stderr


def test_mmdet_train_py_trains_and_validates(
    tiny_config, tmp_path, repo_root, python
):
    work_dir = tmp_path / 'work'
    output = run_mmdet_tool(
        'train.py',
        [tiny_config, '--work-dir', str(work_dir)],
        repo_root,
        python,
    )
    assert (work_dir / 'iter_2.pth').is_file()
    assert 'coco/segm_mAP' in output  # mmsolo's metric at the end
    # The training checkpoint (optimizer, message hub, random states) loads
    # in mmdet's test.py under torch's weights_only=True default.
    output = run_mmdet_tool(
        'test.py',
        [
            tiny_config,
            str(work_dir / 'iter_2.pth'),
            '--work-dir',
            str(tmp_path / 'test_work'),
        ],
        repo_root,
        python,
    )
    assert 'coco/segm_mAP' in output


def test_mmdet_test_py_evaluates_a_checkpoint(
    tiny_config, tmp_path, repo_root, python
):
    checkpoint = save_seeded_checkpoint(
        tiny_config, str(tmp_path / 'seeded.pth')
    )
    show_dir = 'pictures'
    output = run_mmdet_tool(
        'test.py',
        [
            tiny_config,
            checkpoint,
            '--work-dir',
            str(tmp_path / 'work'),
            '--show-dir',
            show_dir,
        ],
        repo_root,
        python,
    )
    assert 'coco/segm_mAP' in output
    drawn = [
        name
        for _, _, names in os.walk(tmp_path / 'work')
        for name in names
        if name.endswith('.png')
    ]
    assert len(drawn) == 2  # DetVisualizationHook drew the 2 val images
