"""The synthetic shapes set: the defaults keep writing the quick-start set
byte for byte; the size options of tools/misc/generate_shapes.py draw
other sizes, counts and classes."""

import hashlib
import json
import os
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from support import run_tool_here

from mmsolo.datasets import write_split
from mmsolo.datasets.synthetic_shapes import (
    ShapeSizes,
    draw_shape,
    draw_shape_crop,
    make_image_crops,
)

# sha256 of the annotation file and the decoded pixels of the first three
# training images of the quick-start set (seed 0), as the generator wrote
# them before it had size options.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
QUICKSTART_FINGERPRINT = (
    '08b0aa15661ecc621d0d87c9a9b7dc2e1f171d8862440b5370d5506941acf74c'
)


def fingerprint(root, ann_path):
    digest = hashlib.sha256()
    with open(ann_path, 'rb') as f:
        digest.update(f.read())
    for name in sorted(os.listdir(os.path.join(root, 'train'))):
        image = cv2.imread(
            os.path.join(root, 'train', name), cv2.IMREAD_UNCHANGED
        )
        digest.update(image.tobytes())
    return digest.hexdigest()


def test_the_defaults_write_the_quickstart_set(tmp_path):
    ann = write_split(str(tmp_path), 'train', 3, 0)
    assert fingerprint(str(tmp_path), ann) == QUICKSTART_FINGERPRINT
    explicit = tmp_path / 'explicit'
    ann = write_split(
        str(explicit), 'train', 3, 0, 256, ShapeSizes(20, 128, 1, 6, 3, 20)
    )
    assert fingerprint(str(explicit), ann) == QUICKSTART_FINGERPRINT


def generate(tmp_path, *options) -> SimpleNamespace:
    """tools/misc/generate_shapes.py run in this process: ``returncode``,
    ``stdout``, ``stderr``."""
    code, out, err = run_tool_here(
        REPO_ROOT,
        'tools/misc/generate_shapes.py',
        tmp_path,
        '--val',
        '0',
        *options,
    )
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def test_size_options(tmp_path):
    done = generate(
        tmp_path,
        '--train',
        '6',
        '--img-size',
        '512',
        '--min-size',
        '4',
        '--max-size',
        '16',
        '--objects-per-image',
        '10',
        '--num-classes',
        '2',
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / 'annotations' / 'instances_train.json') as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == ['circle', 'square']
    assert {(i['width'], i['height']) for i in coco['images']} == {(512, 512)}
    assert cv2.imread(str(tmp_path / 'train' / '000001.png')).shape == (
        512,
        512,
        3,
    )
    anns = coco['annotations']
    # Ten shapes per image, less the parts hidden under 4 px.
    per_image = [
        sum(a['image_id'] == i['id'] for a in anns) for i in coco['images']
    ]
    assert max(per_image) <= 10 and sum(per_image) > 6 * 7
    assert {a['category_id'] for a in anns} == {1, 2}
    # Sizes are twice the radius; a drawn shape spans one pixel more.
    assert max(max(a['bbox'][2:]) for a in anns) <= 17
    assert min(a['area'] for a in anns) >= 4


@pytest.mark.parametrize(
    'options,message',
    [
        (['--min-size', '30', '--max-size', '10'], 'min_size <= max_size'),
        (['--num-classes', '4'], 'num_classes: 1 to 3'),
        (['--objects-per-image', '1', '2', '3'], 'MIN MAX or one number'),
        (['--panoptic', '--img-size', '128'], 'instance set only'),
    ],
)
def test_bad_size_options(tmp_path, options, message):
    done = generate(tmp_path, '--train', '1', *options)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / 'annotations').exists()


def full_canvas_shape(kind, center, radius, size):
    """A shape drawn on the whole image, as the generator drew it before
    it drew on crops: the reference of its crops."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    cx, cy = center
    if kind == 0:
        cv2.circle(
            canvas, (int(round(cx)), int(round(cy))), int(round(radius)), 1, -1
        )
    elif kind == 1:
        low = (int(round(cx - radius)), int(round(cy - radius)))
        high = (int(round(cx + radius)), int(round(cy + radius)))
        cv2.rectangle(canvas, low, high, 1, -1)
    else:
        angles = np.deg2rad([-90, 30, 150])
        points = np.stack(
            [cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1
        )
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
    return canvas.astype(bool)


@pytest.mark.parametrize('size', [16, 97, 256])
def test_a_shape_drawn_on_its_crop_is_the_whole_image_drawing(size):
    """Shapes of every kind and size, many cut by the image's border:
    the crop holds every pixel of the whole-image drawing, at its box."""
    rng = np.random.default_rng(size)
    for _ in range(600):
        kind = int(rng.integers(0, 3))
        radius = float(rng.uniform(0.3, size * 0.7))
        center = (float(rng.uniform(0, size)), float(rng.uniform(0, size)))
        box, crop = draw_shape_crop(kind, center, radius, size)
        assert crop.shape == (box[2] - box[0], box[3] - box[1])
        expected = full_canvas_shape(kind, center, radius, size)
        assert np.array_equal(draw_shape(kind, center, radius, size), expected)


def test_many_shapes_in_a_large_image_stay_crops():
    """The instances of an image are held as crops: 200 shapes of a 2048
    px image hold their boxes' pixels, not 200 image planes."""
    image, instances = make_image_crops(
        np.random.default_rng(0),
        2048,
        sizes=ShapeSizes(8, 32, 200, 200, 3),
    )
    assert image.shape == (2048, 2048, 3) and len(instances) > 150
    assert sum(inst['crop'].size for inst in instances) < 200 * 40 * 40
