"""Sliced inference (``mmsolo.apis.sliced_predict``): the tiles of
``slice_grid``; on an image no larger than a tile the model's own
prediction; objects cut by tile borders merged into one instance (a stub
model that segments known colours, tile by tile); and through
``tools/demo/image_demo.py --slice-size`` and ``tools/test.py
--slice-size``."""

import json
import pickle
import re

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.structures import InstanceData
from pycocotools import mask as mask_utils
from support import (
    QUICKSTART,
    run_tool_here,
    run_tool_process,
    save_seeded_checkpoint,
    write_tiny_config,
    write_tiny_shapes,
)

from mmsolo.apis import SOLOv2Inferencer, slice_grid, sliced_predict

# The stub's pipeline: a tile's array, packed as an image.
STUB_PIPELINE = [
    dict(type='mmdet.LoadImageFromNDArray'),
    dict(type='mmdet.PackDetInputs', meta_keys=('img_shape', 'ori_shape')),
]
# Random weights score about 0.01: keep a few instances per image.
PERMISSIVE = dict(score_thr=0.0, filter_thr=0.0, max_per_img=5)


class ColourSegmenter(nn.Module):
    """A stub model: on each image (tile) it predicts, per grey value of
    ``COLOURS``, the pixels of exactly that value as an instance of each
    of the value's classes (when there are any): the visible part of a
    known object. Grey 200 is an object of uncertain class, predicted as
    both."""

    # grey value: ((label, score), ...)
    COLOURS = {255: ((0, 0.9),), 128: ((1, 0.8),), 200: ((0, 0.6), (1, 0.5))}

    def test_step(self, data: dict) -> list:
        samples = []
        for image, meta in zip(data['inputs'], data['data_samples']):
            masks, labels, scores = [], [], []
            for value, classes in self.COLOURS.items():
                mask = (image == value).all(0)
                for label, score in classes if mask.any() else ():
                    masks.append(mask)
                    labels.append(label)
                    scores.append(score)
            instances = InstanceData()
            instances.masks = (
                torch.stack(masks).bool()
                if masks
                else (torch.zeros((0, *image.shape[1:]), dtype=torch.bool))
            )
            instances.labels = torch.tensor(labels, dtype=torch.long)
            instances.scores = torch.tensor(scores, dtype=torch.float32)
            sample = DetDataSample(metainfo=meta.metainfo)
            sample.pred_instances = instances
            samples.append(sample)
        return samples


def covered(tiles, height, width) -> np.ndarray:
    count = np.zeros((height, width), int)
    for y0, x0, y1, x1 in tiles:
        count[y0:y1, x0:x1] += 1
    return count


@pytest.mark.parametrize(
    'height, width, size, overlap',
    [(100, 250, 64, 0.25), (1000, 1000, 512, 0.2), (37, 300, 64, 0.0)],
)
def test_slice_grid_covers_the_image_with_overlapping_tiles(
    height, width, size, overlap
):
    tiles = slice_grid(height, width, size, overlap)
    assert (covered(tiles, height, width) > 0).all()
    tile_h, tile_w = min(size, height), min(size, width)
    assert all(
        y1 - y0 == tile_h and x1 - x0 == tile_w for y0, x0, y1, x1 in tiles
    )
    assert all(0 <= y0 and 0 <= x0 for y0, x0, _, _ in tiles)
    assert max(t[2] for t in tiles) == height  # the last row on the border
    assert max(t[3] for t in tiles) == width
    xs = sorted({t[1] for t in tiles})
    for a, b in zip(xs, xs[1:]):  # neighbours share the overlap at least
        assert a + tile_w - b >= round(overlap * size)


def test_slice_grid_of_an_image_smaller_than_a_tile():
    assert slice_grid(50, 60, 512) == [(0, 0, 50, 60)]
    assert slice_grid(50, 60, (50, 60), 0.5) == [(0, 0, 50, 60)]
    assert slice_grid(10, 300, (32, 128), 0.5) == [
        (0, 0, 10, 128),
        (0, 64, 10, 192),
        (0, 128, 10, 256),
        (0, 172, 10, 300),
    ]


@pytest.mark.parametrize(
    'args, message',
    [
        ((0, 10, 8, 0.2), 'image height'),
        ((10, 10, 0, 0.2), 'slice_size'),
        ((10, 10, (8, 8, 8), 0.2), 'slice_size'),
        ((10, 10, 8, 1.0), 'overlap'),
        ((10, 10, 8, -0.1), 'overlap'),
    ],
)
def test_slice_grid_names_a_bad_argument(args, message):
    with pytest.raises(ValueError, match=message):
        slice_grid(*args)


def stub_predict(image: np.ndarray, **kwargs) -> InstanceData:
    sample = sliced_predict(
        ColourSegmenter(), image, pipeline=STUB_PIPELINE, **kwargs
    )
    assert sample.ori_shape == image.shape[:2]
    return sample.pred_instances


def test_an_object_cut_by_tile_borders_becomes_one_instance():
    """A white bar across all three tiles of a row: each tile sees a
    part; the merged instance is the whole bar, its box the bar's."""
    image = np.zeros((48, 100, 3), np.uint8)
    image[10:30, 20:90] = 255
    assert len(slice_grid(48, 100, 48, 0.25)) == 3
    result = stub_predict(image, slice_size=48, overlap=0.25, batch_size=2)
    assert len(result) == 1
    assert result.labels.tolist() == [0]
    assert result.scores.tolist() == pytest.approx([0.9])
    assert torch.equal(result.masks[0], torch.from_numpy(image[..., 0] > 0))
    assert result.bboxes.tolist() == [[20.0, 10.0, 90.0, 30.0]]


def test_an_object_across_a_grid_of_tiles_becomes_one_instance():
    """A ring cut into four by a 2 x 2 grid, its hole kept."""
    image = np.zeros((80, 80, 3), np.uint8)
    cv2.circle(image, (40, 40), 25, (255, 255, 255), thickness=6)
    result = stub_predict(image, slice_size=48, overlap=0.2)
    assert len(result) == 1
    assert torch.equal(result.masks[0], torch.from_numpy(image[..., 0] > 0))


def test_objects_of_two_classes_touching_across_a_border_stay_two():
    image = np.zeros((48, 100, 3), np.uint8)
    image[10:30, 10:50] = 255
    image[10:30, 50:95] = 128
    result = stub_predict(image, slice_size=48, overlap=0.25)
    assert sorted(result.labels.tolist()) == [0, 1]
    for mask, label in zip(result.masks, result.labels):
        value = 255 if label == 0 else 128
        assert torch.equal(mask, torch.from_numpy(image[..., 0] == value))


def test_the_merge_is_class_aware():
    """An object predicted as two classes on every tile it crosses: one
    whole instance per class."""
    image = np.zeros((48, 100, 3), np.uint8)
    image[10:30, 20:90] = 200
    result = stub_predict(image, slice_size=48, overlap=0.25)
    assert result.labels.tolist() == [0, 1]
    assert result.scores.tolist() == pytest.approx([0.6, 0.5])
    for mask in result.masks:
        assert torch.equal(mask, torch.from_numpy(image[..., 0] > 0))


def test_an_object_seen_whole_by_two_tiles_is_one_instance():
    """A small square inside the region two tiles share."""
    image = np.zeros((48, 100, 3), np.uint8)
    image[20:28, 40:46] = 255
    result = stub_predict(image, slice_size=48, overlap=0.5)
    assert len(result) == 1
    assert int(result.masks.sum()) == 48


def test_sliced_predict_gives_rle_masks_when_asked():
    image = np.zeros((48, 100, 3), np.uint8)
    image[10:30, 20:90] = 255
    result = stub_predict(
        image, slice_size=48, overlap=0.25, mask_format='rle'
    )
    assert len(result) == 1
    assert mask_utils.decode(result.masks[0]).tolist() == (
        (image[..., 0] > 0).astype(np.uint8).tolist()
    )


def test_an_image_without_objects_gives_no_instance():
    result = stub_predict(
        np.zeros((40, 90, 3), np.uint8), slice_size=32, overlap=0.2
    )
    assert len(result) == 0
    assert result.masks.shape == (0, 40, 90)


@pytest.mark.parametrize(
    'kwargs, message',
    [
        (dict(slice_size=32, batch_size=0), 'batch size'),
        (dict(slice_size=32, merge_metric='dice'), 'merge_metric'),
        (dict(slice_size=32, merge_thr=2.0), 'merge_thr'),
    ],
)
def test_sliced_predict_names_a_bad_setting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stub_predict(np.zeros((40, 90, 3), np.uint8), **kwargs)


@pytest.fixture(scope='module')
def quickstart_inferencer(repo_root):
    """The quick start with seeded random weights, keeping 5 instances."""
    cfg = Config.fromfile(f'{repo_root}/{QUICKSTART}')
    cfg.model.test_cfg.update(PERMISSIVE)
    torch.manual_seed(0)
    return SOLOv2Inferencer(model=cfg, weights=None, show_progress=False)


def test_an_image_within_one_tile_gives_the_plain_prediction(
    quickstart_inferencer, tmp_path
):
    """One tile: the sliced result is the whole image's prediction,
    through sliced_predict and through the inferencer's call."""
    image = np.full((96, 128, 3), 40, np.uint8)
    image[30:70, 40:90] = 255
    cv2.circle(image, (100, 20), 12, (0, 180, 0), -1)
    path = str(tmp_path / 'small.png')
    cv2.imwrite(path, image)
    plain = quickstart_inferencer(path, return_datasamples=True)
    plain = plain['predictions'][0].pred_instances
    assert len(plain) == PERMISSIVE['max_per_img']
    by_function = sliced_predict(quickstart_inferencer, path, slice_size=128)
    by_call = quickstart_inferencer(
        path, slice_size=(96, 160), return_datasamples=True
    )['predictions'][0]
    for sliced in (by_function, by_call):
        instances = sliced.pred_instances
        assert torch.equal(instances.masks, plain.masks.cpu())
        assert torch.equal(instances.labels, plain.labels.cpu())
        assert torch.equal(instances.scores, plain.scores.cpu())
        assert torch.equal(instances.bboxes, plain.bboxes.cpu())


def test_sliced_inferencer_on_a_large_image(quickstart_inferencer):
    """A real model on 6 tiles of 64: instances of the whole image."""
    image = np.full((100, 160, 3), 40, np.uint8)
    image[20:80, 50:110] = 255
    result = quickstart_inferencer(
        image,
        slice_size=64,
        slice_overlap=0.25,
        slice_batch_size=4,
        return_datasamples=True,
    )['predictions'][0]
    instances = result.pred_instances
    assert instances.masks.shape[1:] == (100, 160)
    assert 0 < len(instances) <= PERMISSIVE['max_per_img']
    assert (instances.scores[:-1] >= instances.scores[1:]).all()


def run_tool(repo_root, python, args) -> str:
    done, log = run_tool_process(repo_root, python, *args, timeout=600)
    assert done.returncode == 0, log[-4000:]
    return log


def test_image_demo_slice_size(tmp_path, repo_root, python):
    image = np.full((90, 150, 3), 40, np.uint8)
    image[20:70, 30:120] = 255
    cv2.imwrite(str(tmp_path / 'wide.png'), image)
    log = run_tool(
        repo_root,
        python,
        [
            'tools/demo/image_demo.py',
            str(tmp_path / 'wide.png'),
            QUICKSTART,
            '--out-dir',
            str(tmp_path / 'out'),
            '--slice-size',
            '64',
            '--slice-overlap',
            '0.25',
            '--slice-batch-size',
            '3',
            '--cfg-options',
            *(f'model.test_cfg.{k}={v}' for k, v in PERMISSIVE.items()),
        ],
    )
    assert 'wide.png: 5 instances predicted' in log
    with open(tmp_path / 'out' / 'preds' / 'wide.json') as f:
        result = json.load(f)
    assert len(result['masks']) == len(result['scores']) == 5
    for rle in result['masks']:
        assert rle['size'] == [90, 150]
        assert mask_utils.decode(
            dict(size=rle['size'], counts=rle['counts'].encode())
        ).any()
    drawn = cv2.imread(str(tmp_path / 'out' / 'vis' / 'wide.png'))
    assert drawn.shape == image.shape


def test_image_demo_refuses_a_bad_slice_setting(tmp_path, repo_root):
    cv2.imwrite(str(tmp_path / 'x.png'), np.zeros((8, 8, 3), np.uint8))
    code, _, err = run_tool_here(
        repo_root,
        'tools/demo/image_demo.py',
        tmp_path / 'x.png',
        QUICKSTART,
        '--slice-size',
        '64',
        '--slice-overlap',
        '1.5',
    )
    assert code == 2
    assert '--slice-overlap' in err


def test_test_py_slice_size_evaluates(tmp_path, repo_root, python):
    """tools/test.py --slice-size on 2 validation images of 256 px: 9
    tiles each, the merged predictions evaluated by the config's
    CocoMetric, which takes them as RLE; with --out they are (n, H, W)
    masks (dumped by mmdet's DumpDetResults) and the metrics the same."""
    data = write_tiny_shapes(str(tmp_path / 'data'), num_train=1, num_val=2)
    config = write_tiny_config(str(tmp_path / 'tiny.py'), repo_root, data)
    checkpoint = save_seeded_checkpoint(config, str(tmp_path / 'seeded.pth'))
    command = [
        'tools/test.py',
        config,
        checkpoint,
        '--work-dir',
        str(tmp_path / 'work'),
        '--slice-size',
        '128',
        '--slice-overlap',
        '0.25',
        '--cfg-options',
        *(f'model.test_cfg.{k}={v}' for k, v in PERMISSIVE.items()),
    ]
    metrics = r'coco/segm_mAP: -?\d.*?coco/segm_mAP_l: -?[\d.]+'
    by_rle = re.search(metrics, run_tool(repo_root, python, command))
    dump = str(tmp_path / 'preds.pkl')
    by_bitmap = re.search(
        metrics,
        run_tool(
            repo_root, python, [*command[:5], '--out', dump, *command[5:]]
        ),
    )
    assert by_rle and by_bitmap
    assert by_rle.group(0) == by_bitmap.group(0)
    with open(dump, 'rb') as file:
        dumped = pickle.load(file)
    masks = dumped[0]['pred_instances']['masks']
    assert len(dumped) == 2 and 0 < len(masks) <= PERMISSIVE['max_per_img']
    assert masks[0]['size'] == [256, 256]
