"""tools/misc/browse_dataset.py and tools/demo/image_demo.py write real
pictures: the image, same size, with instances (or a panoptic map) drawn
on it."""

import re
import subprocess

import cv2
import numpy as np
import pytest
from support import run_tool_here

from mmsolo.datasets import write_panoptic_split, write_split

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
PANOPTIC_QUICKSTART = (
    'configs/quickstart/solov2-panoptic_r18_fpn_shapes-panoptic.py'
)


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    write_split(str(root), 'train', num_images=3, seed=5)
    write_split(str(root), 'val', num_images=1, seed=6)
    return root


def test_browse_dataset_draws_ground_truth(
    shapes, tmp_path, repo_root, python
):
    # The quick start without its random flip: pictures line up with the
    # input images.
    config = tmp_path / 'no_flip.py'
    config.write_text(f"""
_base_ = '{repo_root}/{QUICKSTART}'
train_dataloader = dict(dataset=dict(
    data_root='{shapes}/',
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='PackDetInputs')
    ]))
""")
    out_dir = tmp_path / 'browse'
    done = subprocess.run(
        [
            python,
            'tools/misc/browse_dataset.py',
            str(config),
            '--output-dir',
            str(out_dir),
            '--not-show',
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ['000001.png', '000002.png', '000003.png']
    for name in names:
        drawn = cv2.imread(str(out_dir / name))
        image = cv2.imread(str(shapes / 'train' / name))
        assert drawn.shape == image.shape
        # Every image has at least one shape, so masks/boxes are drawn.
        assert (np.abs(drawn.astype(int) - image).max(-1) > 30).sum() > 100


def test_browse_dataset_needs_a_way_out(repo_root):
    code, _, err = run_tool_here(
        repo_root,
        'tools/misc/browse_dataset.py',
        QUICKSTART,
        '--not-show',
    )
    assert code == 2
    assert '--not-show without --output-dir' in err


def run_demo(repo_root, python, image, out_file):
    # Random weights score about 0.01 (the focal prior): keep every
    # candidate so that some instances are drawn.
    done = subprocess.run(
        [
            python,
            'tools/demo/image_demo.py',
            str(image),
            QUICKSTART,
            '--out-file',
            str(out_file),
            '--score-thr',
            '0',
            '--cfg-options',
            'model.test_cfg.score_thr=0.',
            'model.test_cfg.filter_thr=0.',
            'model.test_cfg.max_per_img=5',
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_image_demo_draws_instances_repeatably(
    shapes, tmp_path, repo_root, python
):
    image_path = shapes / 'val' / '000001.png'
    out = tmp_path / 'demo.png'
    stdout = run_demo(repo_root, python, image_path, out)
    assert '5 instances predicted' in stdout and '5 drawn' in stdout, stdout
    drawn = cv2.imread(str(out))
    image = cv2.imread(str(image_path))
    assert drawn is not None and drawn.shape == image.shape
    assert (np.abs(drawn.astype(int) - image).max(-1) > 30).sum() > 100
    # Same seed (default 0): the same weights and colours, the same picture.
    again = tmp_path / 'again.png'
    run_demo(repo_root, python, image_path, again)
    assert np.array_equal(cv2.imread(str(again)), drawn)


def test_image_demo_draws_a_panoptic_map(tmp_path, repo_root, python):
    """The panoptic quick-start model (random weights, every instance
    kept) on a synthetic panoptic image: the picture shows its stuff and
    things, and the demo says how many of each."""
    write_panoptic_split(str(tmp_path / 'data'), 'val', num_images=1, seed=7)
    image_path = tmp_path / 'data' / 'val' / '000001.jpg'
    out = tmp_path / 'panoptic.png'
    done = subprocess.run(
        [
            python,
            'tools/demo/image_demo.py',
            str(image_path),
            PANOPTIC_QUICKSTART,
            '--out-file',
            str(out),
            '--cfg-options',
            'model.test_cfg.score_thr=0.',
            'model.test_cfg.filter_thr=0.',
            'model.test_cfg.max_per_img=3',
            'model.test_cfg.panoptic.score_thr=0.',
            'model.test_cfg.panoptic.stuff_area_limit=0',
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(
        r'a panoptic map of (\d+) segments \((\d+) things, '
        r'(\d+) stuff\) predicted',
        done.stdout,
    )
    assert found, done.stdout
    segments, things, stuff = map(int, found.groups())
    assert segments == things + stuff and 1 <= things <= 3 and stuff >= 1
    drawn = cv2.imread(str(out))
    image = cv2.imread(str(image_path))
    assert drawn is not None and drawn.shape == image.shape
    assert (np.abs(drawn.astype(int) - image).max(-1) > 30).sum() > 100
