"""The synthetic panoptic shapes set: seeded, its PNGs and JSON agree, stuff
bands with void lines under the shapes, and mmdet's ``CocoPanopticDataset``
with mmsolo's ``LoadPanopticAnnotations`` (no panopticapi) loads it into the
instances and semantic map the generator drew."""

import filecmp
import json
import os.path as osp
import subprocess
import sys
from typing import List, Tuple

import cv2
import numpy as np
import pytest

from mmsolo.datasets import (
    PANOPTIC_CLASSES,
    STUFF_CLASSES,
    THING_CLASSES,
    ensure_panoptic_shapes_dataset,
    ensure_shapes_dataset,
    make_panoptic_image,
    write_panoptic_split,
)
from mmsolo.datasets.synthetic_panoptic import stuff_bands
from mmsolo.datasets.transforms import LoadPanopticAnnotations, rgb2id

NUM_IMAGES, SEED = 12, 0  # seed 0: 2 crowds and an image without things
NUM_THINGS = len(THING_CLASSES)


@pytest.fixture(scope='module')
def root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('panoptic'))
    write_panoptic_split(root, 'train', NUM_IMAGES, SEED)
    return root


@pytest.fixture(scope='module')
def generated() -> List[Tuple[np.ndarray, np.ndarray, List[dict]]]:
    """What ``write_panoptic_split(root, 'train', NUM_IMAGES, SEED)``
    drew: (image, id map, segments) per image."""
    rng = np.random.default_rng(SEED)
    return [make_panoptic_image(rng) for _ in range(NUM_IMAGES)]


def read_ids(path: str) -> np.ndarray:
    """(H, W) int64 segment ids of a panoptic PNG (id = R + 256 G + 256^2
    B; cv2 reads BGR)."""
    png = cv2.imread(path, cv2.IMREAD_COLOR).astype(np.int64)
    return png[..., 2] + 256 * png[..., 1] + 65536 * png[..., 0]


def test_same_seed_same_set_other_seed_other_set(tmp_path):
    a, b, c = (
        make_panoptic_image(np.random.default_rng(s)) for s in (3, 3, 4)
    )
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[2] == b[2]
    assert not np.array_equal(a[1], c[1])
    for out in ('x', 'y'):
        write_panoptic_split(str(tmp_path / out), 'val', 3, seed=5)
    for sub in ('val', 'annotations', 'annotations/panoptic_val'):
        match, mismatch, errors = filecmp.cmpfiles(
            tmp_path / 'x' / sub,
            tmp_path / 'y' / sub,
            sorted(
                p.name for p in (tmp_path / 'x' / sub).iterdir() if p.is_file()
            ),
            shallow=False,
        )
        assert match and not mismatch and not errors


def test_png_ids_decode_to_the_json_segments(root, generated):
    with open(osp.join(root, 'annotations', 'panoptic_train.json')) as f:
        coco = json.load(f)
    assert [im['file_name'] for im in coco['images']] == [
        f'{i:06d}.jpg' for i in range(1, NUM_IMAGES + 1)
    ]
    for ann, (_, id_map, segments) in zip(coco['annotations'], generated):
        assert ann['segments_info'] == segments
        ids = read_ids(
            osp.join(root, 'annotations', 'panoptic_train', ann['file_name'])
        )
        assert np.array_equal(ids, id_map)
        seg_ids = [s['id'] for s in segments]
        assert len(set(seg_ids)) == len(seg_ids) and 0 not in seg_ids
        assert set(np.unique(ids)) - {0} == set(seg_ids)
        for s in segments:
            ys, xs = np.nonzero(ids == s['id'])
            assert s['area'] == len(xs) >= 20
            assert s['bbox'] == [
                xs.min(),
                ys.min(),
                xs.max() + 1 - xs.min(),
                ys.max() + 1 - ys.min(),
            ]
    # The ids use all three channels, so a channel mix-up shows.
    assert (
        max(s['id'] for a in coco['annotations'] for s in a['segments_info'])
        >= 65536
    )


def test_categories_and_segment_classes(root, generated):
    with open(osp.join(root, 'annotations', 'panoptic_train.json')) as f:
        categories = json.load(f)['categories']
    assert [(c['id'], c['name'], c['isthing']) for c in categories] == [
        (1, 'circle', 1),
        (2, 'square', 1),
        (3, 'triangle', 1),
        (4, 'sky', 0),
        (5, 'ground', 0),
        (6, 'water', 0),
    ]
    assert PANOPTIC_CLASSES == THING_CLASSES + STUFF_CLASSES
    crowds = 0
    for _, _, segments in generated:
        stuff = [s['category_id'] for s in segments if s['category_id'] > 3]
        assert len(stuff) == len(set(stuff)) >= 1  # one segment per class
        assert all(1 <= s['category_id'] <= 6 for s in segments)
        crowds += sum(s['iscrowd'] for s in segments)
        assert all(s['category_id'] <= 3 for s in segments if s['iscrowd'])
    assert crowds >= 1


@pytest.mark.parametrize('seed', range(8))
def test_bands_meet_at_2px_void_lines_under_the_shapes(seed):
    stuff, void = stuff_bands(np.random.default_rng(seed), 256)
    image, id_map, segments = make_panoptic_image(
        np.random.default_rng(seed)
    )  # drew these bands first
    column = stuff[:, 0]
    bands = column[np.r_[True, column[1:] != column[:-1]]]  # top to bottom
    assert len(bands) == len(set(bands)) == len(np.unique(stuff))
    change = stuff[:-1] != stuff[1:]  # (H - 1, W): the next row differs
    assert (change.sum(0) == len(bands) - 1).all()  # same bands everywhere
    assert (void.sum(0) == 2 * (len(bands) - 1)).all()  # 2 px a boundary
    assert not (change & ~void[:-1] & ~void[1:]).any()  # void between
    things = np.isin(
        id_map, [s['id'] for s in segments if s['category_id'] <= NUM_THINGS]
    )
    assert (id_map[void & ~things] == 0).all()
    for s in segments:
        mask = id_map == s['id']
        if s['category_id'] > NUM_THINGS:
            kind = s['category_id'] - NUM_THINGS - 1
            assert (stuff[mask] == kind).all() and not void[mask].any()
        elif not s['iscrowd']:  # the shape's flat colour hides the stuff
            assert image[mask].astype(float).std(0).max() < 9
    dropped = (id_map == 0) & ~void  # fragments under 20 px: at most
    assert dropped.sum() < 20 * (6 + 3)  # 6 shapes (crowd too), 3 stuff


def test_things_cover_stuff_and_void():
    straddling = 0
    for seed in range(30):
        stuff, void = stuff_bands(np.random.default_rng(seed), 256)
        _, id_map, segments = make_panoptic_image(np.random.default_rng(seed))
        for s in segments:
            mask = id_map == s['id']
            if s['category_id'] <= NUM_THINGS and void[mask].any():
                straddling += len(np.unique(stuff[mask])) > 1
    assert straddling >= 3  # shapes over band boundaries, void lines hidden


def test_rgb2id():
    rgb = np.array([[[1, 2, 3], [255, 255, 255]]], dtype=np.uint8)
    assert rgb2id(rgb).tolist() == [[1 + 512 + 3 * 65536, (1 << 24) - 1]]


def test_load_panoptic_annotations_is_mmsolos_in_scope_mmsolo():
    from mmengine.registry import TRANSFORMS as ROOT
    from mmengine.registry import DefaultScope

    from mmsolo.registry import TRANSFORMS

    assert DefaultScope.get_current_instance().scope_name == 'mmsolo'
    assert TRANSFORMS.get('LoadPanopticAnnotations') is LoadPanopticAnnotations
    built = ROOT.build(dict(type='LoadPanopticAnnotations'))
    assert type(built) is LoadPanopticAnnotations
    mmdet_cls = TRANSFORMS.get('mmdet.LoadPanopticAnnotations')
    assert mmdet_cls is not LoadPanopticAnnotations
    assert issubclass(LoadPanopticAnnotations, mmdet_cls)
    # A fresh process finds it through the registry's locations alone.
    code = (
        'from mmsolo.registry import TRANSFORMS; '
        "print(TRANSFORMS.get('LoadPanopticAnnotations').__module__)"
    )
    out = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split()[-1] == 'mmsolo.datasets.transforms.loading'


def test_coco_panoptic_dataset_loads_what_was_drawn(root, generated):
    from mmsolo.registry import DATASETS
    from mmsolo.utils import register_all_modules

    register_all_modules()
    dataset = DATASETS.build(
        dict(
            type='CocoPanopticDataset',
            data_root=root,
            ann_file='annotations/panoptic_train.json',
            data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
            metainfo=dict(
                classes=PANOPTIC_CLASSES,
                thing_classes=THING_CLASSES,
                stuff_classes=STUFF_CLASSES,
            ),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(
                    type='LoadPanopticAnnotations',
                    with_bbox=True,
                    with_mask=True,
                    with_seg=True,
                ),
                dict(
                    type='PackDetInputs',
                    meta_keys=(
                        'img_id',
                        'img_path',
                        'seg_map_path',
                        'segments_info',
                        'ori_shape',
                        'img_shape',
                    ),
                ),
            ],
        )
    )
    assert type(dataset.pipeline.transforms[1]) is LoadPanopticAnnotations
    assert len(dataset) == NUM_IMAGES
    crowd_pixels = 0
    for index, (_, id_map, segments) in enumerate(generated):
        sample = dataset[index]['data_samples']
        assert sample.seg_map_path == osp.join(
            root, 'annotations', 'panoptic_train', f'{index + 1:06d}.png'
        )
        assert len(sample.segments_info) == len(segments)
        sem = np.full(id_map.shape, 255)
        for s in segments:
            sem[id_map == s['id']] = s['category_id'] - 1
            crowd_pixels += s['iscrowd'] * s['area']
        assert np.array_equal(sample.gt_sem_seg.sem_seg[0].numpy(), sem)
        things = [
            s
            for s in segments
            if s['category_id'] <= NUM_THINGS and not s['iscrowd']
        ]
        inst = sample.gt_instances
        assert inst.labels.tolist() == [s['category_id'] - 1 for s in things]
        masks = (
            np.stack([id_map == s['id'] for s in things])
            if things
            else np.zeros((0, *id_map.shape), bool)
        )
        assert np.array_equal(inst.masks.masks.astype(bool), masks)
        boxes = [
            [x, y, x + w, y + h] for x, y, w, h in (s['bbox'] for s in things)
        ]
        assert inst.bboxes.tensor.tolist() == boxes
        assert len(sample.ignored_instances) == 0
    assert crowd_pixels > 0  # crowds reached the semantic map, not instances


def test_ensure_reuses_only_a_set_made_alike(tmp_path):
    root = str(tmp_path / 'set')
    ensure_shapes_dataset(root, num_train=2, num_val=1)
    assert ensure_panoptic_shapes_dataset(root, 2, 1) == root + '/'
    ann = osp.join(root, 'annotations', 'panoptic_train.json')
    assert osp.isfile(ann)  # made: the instance set there is no match
    first = osp.getmtime(ann)
    ensure_panoptic_shapes_dataset(root, 2, 1)
    assert osp.getmtime(ann) == first  # same recipe: reused
    ensure_panoptic_shapes_dataset(root, 3, 1)
    with open(ann) as f:
        assert len(json.load(f)['images']) == 3  # other recipe: remade


def test_generate_shapes_panoptic_cli(tmp_path, repo_root):
    subprocess.run(
        [
            sys.executable,
            'tools/misc/generate_shapes.py',
            str(tmp_path),
            '--train',
            '2',
            '--val',
            '0',
            '--panoptic',
        ],
        cwd=repo_root,
        check=True,
    )
    with open(tmp_path / 'annotations' / 'panoptic_train.json') as f:
        assert len(json.load(f)['annotations']) == 2
    assert (
        tmp_path / 'annotations' / 'panoptic_train' / '000002.png'
    ).is_file()
    assert not (tmp_path / 'annotations' / 'instances_train.json').exists()
