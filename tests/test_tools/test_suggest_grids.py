"""tools/analysis_tools/suggest_grids.py on the quick-start set, on sets of
tiny and of huge objects (tools/misc/generate_shapes.py's size options),
the config it writes trained by tools/train.py, and its errors."""

import json
import math
import os
import subprocess
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from support import run_tool_here

from mmsolo.datasets import write_split
from mmsolo.datasets.synthetic_shapes import ShapeSizes

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
TOOL = 'tools/analysis_tools/suggest_grids.py'


def run_tool(repo_root, python, *args):
    """(result with ``returncode``, stdout + stderr) of a tool run: the
    grid tool in this process (it builds no model), others in a new
    one."""
    if args[0] == TOOL:
        code, out, err = run_tool_here(repo_root, *args)
        return SimpleNamespace(returncode=code), out + err
    done = subprocess.run(
        [python, *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, done.stdout + done.stderr


def data_root_option(root):
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={root}/',
        f'val_dataloader.dataset.data_root={root}/',
    ]


def generate(root, img_size=512, train=12, val=2, **sizes):
    """A shapes set of ``sizes`` (ShapeSizes' fields) under ``root``."""
    for split, count, seed in (('train', train, 3), ('val', val, 4)):
        write_split(
            str(root), split, count, seed, img_size, ShapeSizes(**sizes)
        )
    return root


def annotations(root, split='train'):
    with open(
        os.path.join(root, 'annotations', f'instances_{split}.json')
    ) as f:
        return json.load(f)


def box_scales(root):
    return [
        math.sqrt(ann['bbox'][2] * ann['bbox'][3])
        for ann in annotations(root)['annotations']
    ]


def in_some_range(scale, scale_ranges):
    return any(low <= scale <= high for low, high in scale_ranges)


@pytest.fixture(scope='module')
def quickstart_prefix(tmp_path_factory):
    """The first 150 training images of the quick-start set (same seed:
    the generator draws them first)."""
    root = tmp_path_factory.mktemp('quickstart')
    write_split(str(root), 'train', num_images=150, seed=0)
    return root


def test_the_quickstart_config_fits_its_set_and_is_left_alone(
    quickstart_prefix, tmp_path, repo_root, python
):
    """The quick start's hand-tuned ranges (the paper's divided by three,
    for its 256 px images) give every level a share of its shapes: the
    tool reports the levels, says the config fits and writes nothing."""
    out = tmp_path / 'child.py'
    done, log = run_tool(
        repo_root,
        python,
        TOOL,
        QUICKSTART,
        *data_root_option(quickstart_prefix),
        '--out',
        str(out),
        '--show-dir',
        str(tmp_path / 'show'),
    )
    assert done.returncode == 0, log[-3000:]
    assert 'after no resize in train_dataloader.dataset.pipeline' in log
    assert 'instances no range covers: config 0, proposed 0' in log
    assert 'The config fits the data: no change.' in log
    assert f'the config fits: nothing written to {out}' in log
    assert not out.exists()
    png = tmp_path / 'show' / 'solov2-light_r18_fpn_shapes_scales.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.parametrize(
    'name,sizes',
    [
        ('tiny', dict(min_size=4, max_size=16)),
        ('half', dict(min_size=256, max_size=512, min_shapes=1, max_shapes=2)),
    ],
)
def test_misfitted_sets_get_ranges_that_cover_every_instance(
    name, sizes, tmp_path, repo_root, python
):
    """4-16 px objects, and one or two objects of half to all of the image
    (few enough to stay whole), in 512 px images: the quick start starves
    some of its levels; the written ranges take every instance, each of
    them takes some, and the written config fits."""
    root = generate(
        tmp_path / name, **{'min_shapes': 3, 'max_shapes': 12, **sizes}
    )
    out = tmp_path / f'{name}.py'
    done, log = run_tool(
        repo_root,
        python,
        TOOL,
        QUICKSTART,
        *data_root_option(root),
        '--out',
        str(out),
    )
    assert done.returncode == 0, log[-3000:]
    assert 'starved' in log
    assert 'proposed 0' in log
    head = Config.fromfile(str(out)).model.mask_head
    scales = box_scales(root)
    assert scales
    assert all(in_some_range(s, head.scale_ranges) for s in scales)
    assert all(
        any(low <= s <= high for s in scales)
        for low, high in head.scale_ranges
    )
    quickstart = Config.fromfile(QUICKSTART).model.mask_head
    if name == 'tiny':
        assert 'strides=' in log  # the test-time minimum areas go down
        assert max(head.strides) < max(quickstart.strides)
    # The written config, checked again: it fits, nothing is written.
    again = tmp_path / f'{name}-again.py'
    done, log = run_tool(
        repo_root,
        python,
        TOOL,
        str(out),
        *data_root_option(root),
        '--out',
        str(again),
    )
    assert done.returncode == 0, log[-3000:]
    assert 'The config fits the data: no change.' in log
    assert not again.exists()


def test_the_written_config_trains(tmp_path, repo_root, python):
    """Tiny objects, three levels instead of four: the config written for
    them (FPN, mask-feature neck and head changed) trains two
    iterations."""
    root = generate(
        tmp_path / 'data',
        img_size=256,
        train=4,
        min_size=4,
        max_size=16,
        min_shapes=8,
        max_shapes=8,
    )
    out = tmp_path / 'three_levels.py'
    done, log = run_tool(
        repo_root,
        python,
        TOOL,
        QUICKSTART,
        *data_root_option(root),
        '--out',
        str(out),
        '--num-levels',
        '3',
    )
    assert done.returncode == 0, log[-3000:]
    assert 'num_outs=3' in log
    ann = os.path.join(root, 'annotations', 'instances_val.json')
    done, log = run_tool(
        repo_root,
        python,
        'tools/train.py',
        str(out),
        '--work-dir',
        str(tmp_path / 'work'),
        '--cfg-options',
        f'train_dataloader.dataset.data_root={root}/',
        f'val_dataloader.dataset.data_root={root}/',
        f'test_dataloader.dataset.data_root={root}/',
        f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}',
        'train_dataloader.batch_size=2',
        'train_cfg.max_iters=2',
        'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
    )
    assert done.returncode == 0, log[-4000:]
    assert 'Iter(train) [2/2]' in log
    assert 'coco/segm_mAP' in log
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return str(path)


def test_errors_name_the_file_and_field(tmp_path, repo_root):
    def run_here(*args):
        code, out, err = run_tool_here(repo_root, TOOL, *args)
        return code, out + err

    missing = tmp_path / 'nowhere'
    code, log = run_here(QUICKSTART, *data_root_option(missing))
    assert code == 1
    expected = f'{missing}/annotations/instances_train.json: no such'
    assert expected in log

    no_area = write_json(
        tmp_path / 'no_area.json',
        dict(
            images=[dict(id=1, width=32, height=32)],
            annotations=[dict(id=5, image_id=1, bbox=[1, 1, 8, 8])],
        ),
    )
    code, log = run_here(QUICKSTART, '--ann-file', no_area)
    assert code == 1
    assert (
        f'{no_area}: annotations[0] (id 5) has neither "area" nor '
        '"segmentation"'
    ) in log

    no_head = tmp_path / 'no_head.py'
    no_head.write_text(
        "model = dict(type='MaskRCNN', roi_head=dict(type='StandardRoIHead'))"
    )
    code, log = run_here(str(no_head), '--ann-file', no_area)
    assert code == 1
    assert f'{no_head}: model.mask_head is missing, not a SOLOv2Head' in log

    code, log = run_here(str(tmp_path / 'x.py'))
    assert code == 1
    assert 'x.py: no such config file' in log
    assert 'Traceback' not in log
