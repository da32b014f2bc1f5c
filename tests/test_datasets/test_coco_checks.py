"""Bad input gets a clear error naming the culprit, raised when the dataset
is built (before any training step): annotation files that are not JSON or
miss keys, segmentations that are neither polygons nor RLE, unknown class
names, missing or unreadable images."""

import copy
import json
import os.path as osp
import subprocess

import cv2
import numpy as np
import pytest

from mmsolo.datasets import AnnotationFileError, ImageFileError
from mmsolo.registry import DATASETS

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'
CLASSES = ('circle', 'square')


def valid_coco() -> dict:
    """Two 40x40 images, one polygon and one RLE annotation."""
    rle = {'size': [40, 40], 'counts': 'PP5'}
    return {
        'images': [
            {'id': 1, 'file_name': 'a.png', 'height': 40, 'width': 40},
            {'id': 2, 'file_name': 'b.png', 'height': 40, 'width': 40},
        ],
        'annotations': [
            {
                'id': 10,
                'image_id': 1,
                'category_id': 1,
                'iscrowd': 0,
                'bbox': [5, 5, 20, 20],
                'area': 400.0,
                'segmentation': [[5, 5, 25, 5, 25, 25, 5, 25]],
            },
            {
                'id': 11,
                'image_id': 2,
                'category_id': 2,
                'iscrowd': 0,
                'bbox': [0, 0, 10, 10],
                'area': 100.0,
                'segmentation': rle,
            },
        ],
        'categories': [
            {'id': 1, 'name': 'circle'},
            {'id': 2, 'name': 'square'},
        ],
    }


def write_dataset(root, content=None, raw_text=None) -> str:
    """Images a.png, b.png under ``root/img`` and the annotation file
    ``root/ann.json`` holding ``content`` (or ``raw_text``)."""
    (root / 'img').mkdir(exist_ok=True)
    for name in ('a.png', 'b.png'):
        cv2.imwrite(str(root / 'img' / name), np.zeros((40, 40, 3), np.uint8))
    ann_file = root / 'ann.json'
    if raw_text is not None:
        ann_file.write_bytes(raw_text)
    else:
        ann_file.write_text(json.dumps(content))
    return str(ann_file)


def build(root, ann_file: str, classes=CLASSES, **kwargs):
    return DATASETS.build(
        dict(
            type='mmsolo.CheckedCocoDataset',
            data_root=str(root),
            ann_file=ann_file,
            data_prefix=dict(img='img/'),
            metainfo=dict(classes=classes),
            filter_cfg=dict(filter_empty_gt=False),
            pipeline=[],
            **kwargs,
        )
    )


def edited(edit) -> dict:
    content = copy.deepcopy(valid_coco())
    edit(content)
    return content


def test_valid_file_builds_with_mmdets_data(tmp_path):
    from mmdet.datasets import CocoDataset as MMDetCocoDataset

    ann_file = write_dataset(tmp_path, valid_coco())
    ours = build(tmp_path, ann_file)
    theirs = MMDetCocoDataset(
        data_root=str(tmp_path),
        ann_file=ann_file,
        data_prefix=dict(img='img/'),
        metainfo=dict(classes=CLASSES),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[],
    )
    assert type(ours).__module__ == 'mmsolo.datasets.coco'
    assert len(ours) == 2
    assert [ours.get_data_info(i) for i in range(2)] == [
        theirs.get_data_info(i) for i in range(2)
    ]


@pytest.mark.parametrize(
    'raw_text, match',
    [
        (
            b'not json at all',
            r'ann\.json is not a JSON file: Expecting value '
            r'at line 1, column 1',
        ),
        (b'{"images": [', r'ann\.json is not a JSON file: .* at line 1'),
        (
            b'\x89PNG\r\n\x1a\n\x00\x00\xff\xfe',
            r'ann\.json is not a JSON file',
        ),
        (b'[1, 2]', r'ann\.json: the top level is a list'),
    ],
    ids=['text', 'truncated', 'binary', 'top_level_list'],
)
def test_file_that_is_not_coco_json(tmp_path, raw_text, match):
    ann_file = write_dataset(tmp_path, raw_text=raw_text)
    with pytest.raises(AnnotationFileError, match=match):
        build(tmp_path, ann_file)


def drop(section, position, key):
    return lambda content: content[section][position].pop(key)


def set_value(section, position, key, value):
    return lambda content: content[section][position].__setitem__(key, value)


@pytest.mark.parametrize(
    'edit, match',
    [
        (
            lambda c: c.pop('images'),
            r"misses the top-level key\(s\) \['images'\]",
        ),
        (
            lambda c: c.pop('categories'),
            r"top-level key\(s\) \['categories'\]",
        ),
        (
            lambda c: c.__setitem__('annotations', {}),
            '"annotations" is a dict, not a list',
        ),
        (
            drop('images', 1, 'file_name'),
            r"image 2 misses the key\(s\) \['file_name'\]",
        ),
        (
            drop('annotations', 0, 'segmentation'),
            r"annotation 10 misses the key\(s\) \['segmentation'\]",
        ),
        (
            drop('annotations', 1, 'id'),
            r"the 2nd item of \"annotations\" misses the key\(s\) \['id'\]",
        ),
        (
            drop('categories', 0, 'name'),
            r"category 1 misses the key\(s\) \['name'\]",
        ),
        (
            set_value('annotations', 0, 'image_id', 7),
            'annotation 10 .* refers to image_id 7, which is not in "images"',
        ),
        (
            set_value('annotations', 1, 'category_id', 9),
            'annotation 11 .* refers to category_id 9',
        ),
        (
            set_value('annotations', 0, 'bbox', [1, 2, 3]),
            r'annotation 10 .*"bbox" is \[1, 2, 3\], '
            r'not \[x, y, width, height\]',
        ),
    ],
    ids=[
        'no_images',
        'no_categories',
        'annotations_not_list',
        'image_without_file_name',
        'annotation_without_segmentation',
        'annotation_without_id',
        'category_without_name',
        'unknown_image',
        'unknown_category',
        'short_bbox',
    ],
)
def test_missing_keys_and_references(tmp_path, edit, match):
    ann_file = write_dataset(tmp_path, edited(edit))
    with pytest.raises(AnnotationFileError, match=match) as raised:
        build(tmp_path, ann_file)
    assert ann_file in str(raised.value)


@pytest.mark.parametrize(
    'segmentation, match',
    [
        ('a polygon', 'is a str, neither a polygon list nor RLE'),
        (42, 'is a int, neither'),
        (None, 'is a NoneType, neither'),
        ([], 'is empty'),
        ([5, 5, 25, 5, 25, 25], 'is a flat list of numbers'),
        ([[5, 5, 25, 5, 25, 25], 'x'], 'holds an item that is not a list'),
        ({'counts': 'PP5'}, 'is a dict without a valid "size"'),
        ({'size': [40, 40]}, 'is a dict without "counts"'),
    ],
    ids=[
        'string',
        'number',
        'null',
        'empty_list',
        'flat_list',
        'mixed_list',
        'rle_without_size',
        'rle_without_counts',
    ],
)
def test_segmentation_neither_polygon_nor_rle(tmp_path, segmentation, match):
    ann_file = write_dataset(
        tmp_path,
        edited(set_value('annotations', 0, 'segmentation', segmentation)),
    )
    with pytest.raises(
        AnnotationFileError, match=f'annotation 10 .*"segmentation" {match}'
    ):
        build(tmp_path, ann_file)


def test_test_set_without_annotations_builds(tmp_path):
    """COCO's test-dev image info has no "annotations"; in test mode that
    is a valid file, in training it is an error."""
    ann_file = write_dataset(tmp_path, edited(lambda c: c.pop('annotations')))
    assert len(build(tmp_path, ann_file, test_mode=True)) == 2
    with pytest.raises(AnnotationFileError, match="'annotations'"):
        build(tmp_path, ann_file)


def test_class_names_missing_from_the_file(tmp_path):
    ann_file = write_dataset(tmp_path, valid_coco())
    with pytest.raises(AnnotationFileError) as raised:
        build(tmp_path, ann_file, classes=('circle', 'baloon'))
    message = str(raised.value)
    assert f"{ann_file} has no category named 'baloon'" in message
    assert "its categories are 'circle', 'square'" in message
    assert 'metainfo=dict(classes=' in message


@pytest.mark.parametrize(
    'damage, kind',
    [
        (lambda path: path.unlink(), 'missing'),
        (lambda path: path.write_text('no pixels here'), 'not an image file'),
        (lambda path: path.write_bytes(b''), 'not an image file'),
    ],
    ids=['missing', 'text_file', 'empty_file'],
)
def test_missing_or_unreadable_image(tmp_path, damage, kind):
    ann_file = write_dataset(tmp_path, valid_coco())
    damage(tmp_path / 'img' / 'b.png')
    with pytest.raises(ImageFileError) as raised:
        build(tmp_path, ann_file)
    message = str(raised.value)
    assert f'{tmp_path / "img" / "b.png"} is {kind}' in message
    assert 'a.png' not in message
    assert ann_file in message
    # check_images=False leaves it to the image loader.
    assert len(build(tmp_path, ann_file, check_images=False)) == 2


def test_many_missing_images_are_counted(tmp_path):
    content = valid_coco()
    content['images'] += [
        {'id': i, 'file_name': f'gone_{i}.png', 'height': 40, 'width': 40}
        for i in range(3, 13)
    ]
    ann_file = write_dataset(tmp_path, content)
    with pytest.raises(
        ImageFileError,
        match=r'gone_7\.png \.\.\. 10 in all'
        r' are missing',
    ):
        build(tmp_path, ann_file)


def test_train_tool_stops_before_the_first_step(tmp_path, repo_root, python):
    """Through tools/train.py, once: a missing image stops the run before
    its first step (each check's message is tested on the dataset above;
    a tool run costs a new interpreter's start-up)."""
    write_dataset(tmp_path, valid_coco())
    (tmp_path / 'img' / 'a.png').unlink()
    expected = f'{tmp_path / "img" / "a.png"} is missing'
    options = [
        f'train_dataloader.dataset.data_root={tmp_path}/',
        'train_dataloader.dataset.ann_file=ann.json',
        'train_dataloader.dataset.data_prefix.img=img/',
        "train_dataloader.dataset.metainfo.classes=['circle','square']",
        'model.mask_head.num_classes=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'work_dir={tmp_path / "work"}',
    ]
    done = subprocess.run(
        [python, 'tools/train.py', QUICKSTART, '--cfg-options', *options],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = done.stdout + done.stderr
    assert done.returncode != 0
    assert expected in log, log[-3000:]
    assert 'Iter(train)' not in log
    assert not osp.exists(tmp_path / 'work' / 'last_checkpoint')
