"""tools/dataset_converters/: labelme JSON files, YOLO segmentation labels
and a folder of images to COCO. Each converted file loads with pycocotools
and with mmsolo's COCO dataset under the quick start's test pipeline, and
gives back the masks of the source polygons; broken input stops a tool
with the file and field at fault, exit code 1 and no file written."""

import json
import os
import subprocess
from typing import Dict, List, Tuple

import numpy as np
import pytest
import yaml
from mmengine.config import Config
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from support import QUICKSTART
from support import run_tool_here as run_tool
from support.annotation_sources import (
    CIRCLE,
    CLASSES,
    GROUP,
    RECTANGLE,
    SOURCE_IMAGES,
    write_labelme_set,
    write_yolo_set,
)

from mmsolo.registry import DATASETS

LABELME = 'tools/dataset_converters/labelme2coco.py'
YOLO = 'tools/dataset_converters/yolo2coco.py'
IMAGES = 'tools/dataset_converters/images2coco.py'


def polygon_mask(polygons, height: int, width: int) -> np.ndarray:
    """(H, W) bool mask of the union of COCO polygons (pycocotools)."""
    rles = mask_utils.frPyObjects(polygons, height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def disk_mask(center, radius: float, height: int, width: int) -> np.ndarray:
    """The pixels whose centre lies in the disk."""
    ys, xs = np.mgrid[:height, :width] + 0.5
    return (xs - center[0]) ** 2 + (ys - center[1]) ** 2 <= radius**2


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / max((a | b).sum(), 1)


def expected_instances(labelme: bool) -> Dict[str, List[Tuple[str, object]]]:
    """Per file name, ``(class name, mask)`` of each instance in order; the
    labelme circle's mask is ``None`` (checked against the disk)."""
    expected = {}
    for source in SOURCE_IMAGES:
        height, width = source.size
        items = [
            (inst.label, polygon_mask(inst.polygons, height, width))
            for inst in source.instances
        ]
        if labelme and source.file_name == 'a.png':
            items += [
                (RECTANGLE[0], polygon_mask([RECTANGLE[2]], height, width)),
                (CIRCLE[0], None),
                (GROUP[0], polygon_mask(GROUP[1], height, width)),
            ]
        expected[source.file_name] = items
    return expected


def check_coco_file(path: str, labelme: bool, classes=CLASSES) -> COCO:
    """The file loads with pycocotools; its images, categories and each
    annotation's mask, area and box are those of the sources."""
    coco = COCO(path)
    assert [c['name'] for c in coco.dataset['categories']] == list(classes)
    assert [c['id'] for c in coco.dataset['categories']] == list(
        range(1, len(classes) + 1)
    )
    images = {img['file_name']: img for img in coco.dataset['images']}
    assert sorted(images) == sorted(s.file_name for s in SOURCE_IMAGES)
    names = {c['id']: c['name'] for c in coco.dataset['categories']}
    for source in SOURCE_IMAGES:
        image = images[source.file_name]
        assert (image['height'], image['width']) == source.size
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image['id']]))
        expected = expected_instances(labelme)[source.file_name]
        assert [names[a['category_id']] for a in anns] == [
            label for label, _ in expected
        ]
        for ann, (_, mask) in zip(anns, expected):
            decoded = coco.annToMask(ann).astype(bool)
            if mask is None:  # the circle
                disk = disk_mask(CIRCLE[1], CIRCLE[2], *source.size)
                assert iou(decoded, disk) > 0.95
            else:
                assert np.array_equal(decoded, mask), source.file_name
            assert ann['area'] == decoded.sum()
            ys, xs = np.nonzero(decoded)
            assert ann['bbox'] == [
                xs.min(),
                ys.min(),
                xs.max() + 1 - xs.min(),
                ys.max() + 1 - ys.min(),
            ]
            assert ann['iscrowd'] == 0
    return coco


def check_mmsolo_dataset(ann_file: str, img_dir: str, coco: COCO) -> None:
    """mmsolo's CheckedCocoDataset (quick start's test pipeline, empty
    images kept) loads every image at its size with the masks and labels
    the file holds."""
    classes = tuple(c['name'] for c in coco.dataset['categories'])
    dataset = DATASETS.build(
        dict(
            type='mmsolo.CheckedCocoDataset',
            data_root='',
            ann_file=ann_file,
            data_prefix=dict(img=img_dir + '/'),
            metainfo=dict(classes=classes),
            filter_cfg=dict(filter_empty_gt=False),
            pipeline=Config.fromfile(QUICKSTART).test_pipeline,
        )
    )
    assert len(dataset) == len(coco.dataset['images'])
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        image_id = sample.img_id
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        image = coco.imgs[image_id]
        assert sample.ori_shape == (image['height'], image['width'])
        masks = sample.gt_instances.masks.to_ndarray().astype(bool)
        assert masks.shape == (len(anns), image['height'], image['width'])
        for mask, ann in zip(masks, anns):
            assert np.array_equal(mask, coco.annToMask(ann).astype(bool))
        assert sample.gt_instances.labels.tolist() == [
            a['category_id'] - 1 for a in anns
        ]


def test_labelme_to_coco_round_trip(tmp_path, repo_root):
    root = str(tmp_path / 'labelme')
    write_labelme_set(root)
    out = tmp_path / 'annotations' / 'train.json'
    code, stdout, stderr = run_tool(repo_root, LABELME, root, '--out', out)
    assert code == 0, stderr
    assert f'{out}: 3 images, 6 instances, 2 categories' in stdout
    coco = check_coco_file(str(out), labelme=True)
    check_mmsolo_dataset(str(out), root, coco)


def test_labelme_classes_file_fixes_the_categories(tmp_path, repo_root):
    """``--classes`` gives the categories in its order (labelme's
    ``__ignore__`` and ``_background_`` lines skipped), unused ones too;
    ``--img-prefix`` is what ``file_name`` is relative to."""
    root = tmp_path / 'labelme'
    write_labelme_set(str(root))
    names = tmp_path / 'labels.txt'
    names.write_text('__ignore__\n_background_\ndog\nbird\ncat\n')
    out = tmp_path / 'train.json'
    code, _, stderr = run_tool(
        repo_root,
        LABELME,
        root / 'a.json',
        root / 'sub',
        '--classes',
        names,
        '--out',
        out,
        '--img-prefix',
        tmp_path,
    )
    assert code == 0, stderr
    coco = json.loads(out.read_text())
    assert coco['categories'] == [
        dict(id=1, name='dog'),
        dict(id=2, name='bird'),
        dict(id=3, name='cat'),
    ]
    assert [img['file_name'] for img in coco['images']] == [
        'labelme/a.png',
        'labelme/sub/b.png',
    ]
    labels = [a['category_id'] for a in coco['annotations']]
    assert labels == [1, 3, 3, 1, 1, 3]  # dog cat cat dog dog | cat


def test_yolo_to_coco_round_trip(tmp_path, repo_root):
    root = tmp_path / 'yolo'
    data_yaml = write_yolo_set(str(root))
    (root / 'labels' / 'gone.txt').write_text('0 0.1 0.1 0.5 0.1 0.5 0.5\n')
    out = tmp_path / 'train.json'
    code, stdout, stderr = run_tool(
        repo_root,
        YOLO,
        root / 'images',
        root / 'labels',
        '--names',
        data_yaml,
        '--out',
        out,
    )
    assert code == 0, stderr
    assert 'without an image' in stderr and 'gone.txt' in stderr
    assert f'{out}: 3 images, 3 instances, 2 categories' in stdout
    coco = check_coco_file(str(out), labelme=False)
    check_mmsolo_dataset(str(out), str(root / 'images'), coco)


def test_images2coco_lists_the_images_only(tmp_path, repo_root):
    root = tmp_path / 'yolo'
    write_yolo_set(str(root))
    names = tmp_path / 'names.txt'
    names.write_text('cat\ndog\n')
    out = tmp_path / 'test.json'
    code, _, stderr = run_tool(
        repo_root,
        IMAGES,
        root / 'images',
        '--classes',
        names,
        '--out',
        out,
    )
    assert code == 0, stderr
    coco = json.loads(out.read_text())
    assert coco['annotations'] == []
    assert coco['categories'] == [
        dict(id=1, name='cat'),
        dict(id=2, name='dog'),
    ]
    assert {
        img['file_name']: (img['height'], img['width'])
        for img in coco['images']
    } == {s.file_name: s.size for s in SOURCE_IMAGES}
    dataset = DATASETS.build(
        dict(
            type='mmsolo.CheckedCocoDataset',
            ann_file=str(out),
            data_prefix=dict(img=str(root / 'images') + '/'),
            metainfo=dict(classes=CLASSES),
            test_mode=True,
            pipeline=Config.fromfile(QUICKSTART).test_pipeline,
        )
    )
    shapes = sorted(dataset[i]['data_samples'].ori_shape for i in range(3))
    assert shapes == sorted(s.size for s in SOURCE_IMAGES)
    assert all(
        len(dataset[i]['data_samples'].gt_instances) == 0 for i in range(3)
    )


def edit_json(path, edit) -> None:
    with open(path) as f:
        content = json.load(f)
    edit(content)
    with open(path, 'w') as f:
        json.dump(content, f)


def first_shape(**changes):
    def edit(content):
        content['shapes'][0].update(changes)

    return edit


def drop_points(content):
    del content['shapes'][0]['points']


def truncate_points(content):
    content['shapes'][0]['points'] = content['shapes'][0]['points'][:2]


# (id, file broken (relative to the set), edit, pieces of the message)
LABELME_BROKEN = [
    ('missing_points', 'a.json', drop_points, ['shapes[0]', 'no "points"']),
    (
        'two_point_polygon',
        'sub/b.json',
        truncate_points,
        ['shapes[0]', '"points" has 2 point(s)', 'at least 3'],
    ),
    (
        'unsupported_shape',
        'a.json',
        first_shape(shape_type='linestrip'),
        ['shapes[0]', '"shape_type"', 'linestrip'],
    ),
    (
        'label_not_in_classes',
        'a.json',
        None,
        ['shapes[0] "label"', "'dog'", 'only_cats.txt'],
    ),
    (
        'size_differs',
        'sub/b.json',
        lambda c: c.update(imageHeight=81),
        ['"imageHeight" x "imageWidth" is 81 x 48', '80 x 48'],
    ),
    (
        'missing_image',
        'a.json',
        lambda c: c.update(imagePath='../photos/a.jpg'),
        ['"imagePath"', '../photos/a.jpg', 'no such image'],
    ),
    ('not_json', 'a.json', 'text', ['is not a JSON file', 'line 1']),
]


@pytest.mark.parametrize(
    'broken, edit, pieces',
    [case[1:] for case in LABELME_BROKEN],
    ids=[case[0] for case in LABELME_BROKEN],
)
def test_labelme_errors_name_the_file_and_field(
    tmp_path, repo_root, broken, edit, pieces
):
    root = tmp_path / 'labelme'
    write_labelme_set(str(root))
    classes = tmp_path / 'only_cats.txt'
    classes.write_text('cat\n')
    if edit == 'text':
        (root / broken).write_text('{"shapes": [')
    elif edit is not None:
        edit_json(root / broken, edit)
    args = ['--classes', classes] if edit is None else []
    out = tmp_path / 'out' / 'train.json'
    code, _, stderr = run_tool(repo_root, LABELME, root, '--out', out, *args)
    assert code == 1
    assert stderr.startswith('error: ') and str(root / broken) in stderr
    for piece in pieces:
        assert piece in stderr, stderr
    assert not (tmp_path / 'out').exists()


def write_bytes(path, data: bytes):
    def edit(root):
        (root / path).write_bytes(data)

    return edit


def write_label(text: str):
    return write_bytes('labels/a.txt', text.encode())


YOLO_BROKEN = [
    (
        'outside_0_1',
        'labels/a.txt',
        write_label('1 0.1 0.1 1.5 0.2 0.3 0.4\n'),
        ['line 1', 'x2 = 1.5 is outside [0, 1]'],
    ),
    (
        'class_beyond_names',
        'labels/a.txt',
        write_label('0 0.1 0.1 0.5 0.2 0.3 0.4\n2 0.1 0.1 0.5 0.2 0.3 0.4\n'),
        ['line 2', 'class id 2', 'data.yaml', 'ids 0 to 1'],
    ),
    (
        'two_points',
        'labels/a.txt',
        write_label(
            '1 0.1 0.1 0.5 0.2 0.3 0.4\n0 0.1 0.1 0.2 0.2\n0 0.1 0.1\n'
        ),
        ['line 3', '1 point(s)', 'at least 3'],
    ),
    (
        'odd_coordinates',
        'labels/a.txt',
        write_label('0 0.1 0.1 0.5 0.2 0.3\n'),
        ['line 1', '5 coordinates, an odd number'],
    ),
    (
        'not_a_number',
        'labels/a.txt',
        write_label('0 0.1 0.1 0.5 zero 0.3 0.4\n'),
        ['line 1', "value 5 'zero' is not a number"],
    ),
    (
        'unreadable_image',
        'images/sub/b.png',
        write_bytes('images/sub/b.png', b'not a PNG'),
        ['not an image file'],
    ),
    (
        'names_missing',
        'data.yaml',
        write_bytes('data.yaml', yaml.safe_dump(dict(nc=2)).encode()),
        ['no top-level "names"'],
    ),
]


@pytest.mark.parametrize(
    'broken, edit, pieces',
    [case[1:] for case in YOLO_BROKEN],
    ids=[case[0] for case in YOLO_BROKEN],
)
def test_yolo_errors_name_the_file_line_and_field(
    tmp_path, repo_root, broken, edit, pieces
):
    root = tmp_path / 'yolo'
    data_yaml = write_yolo_set(str(root))
    edit(root)
    out = tmp_path / 'out' / 'train.json'
    code, _, stderr = run_tool(
        repo_root,
        YOLO,
        root / 'images',
        root / 'labels',
        '--names',
        data_yaml,
        '--out',
        out,
    )
    assert code == 1
    assert stderr.startswith('error: ') and str(root / broken) in stderr
    for piece in pieces:
        assert piece in stderr, stderr
    assert not (tmp_path / 'out').exists()


def test_images2coco_names_an_unreadable_image(tmp_path, repo_root):
    root = tmp_path / 'yolo'
    write_yolo_set(str(root))
    (root / 'images' / 'a.png').write_bytes(b'')
    names = tmp_path / 'names.txt'
    names.write_text('cat\ndog\n')
    out = tmp_path / 'out' / 'test.json'
    code, _, stderr = run_tool(
        repo_root,
        IMAGES,
        root / 'images',
        '--classes',
        names,
        '--out',
        out,
    )
    assert code == 1
    assert str(root / 'images' / 'a.png') in stderr
    assert 'not an image file' in stderr
    assert not (tmp_path / 'out').exists()


def test_a_failed_conversion_leaves_the_earlier_file(
    tmp_path, repo_root, python
):
    """Run as a process: exit code 1, the message on stderr, and the file
    of an earlier run untouched (nothing is written before every input is
    read)."""
    root = tmp_path / 'labelme'
    write_labelme_set(str(root))
    out = tmp_path / 'train.json'
    out.write_text('{"earlier": true}')
    edit_json(root / 'sub' / 'b.json', drop_points)
    done = subprocess.run(
        [python, LABELME, str(root), '--out', str(out)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    where = f"{root / 'sub' / 'b.json'}: shapes[0] (label 'cat')"
    assert f'{where}: no "points"' in done.stderr
    assert out.read_text() == '{"earlier": true}'
    assert sorted(os.listdir(tmp_path)) == ['labelme', 'train.json']
