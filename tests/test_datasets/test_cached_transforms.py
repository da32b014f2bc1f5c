"""CachedTransforms: each sample loaded once, copies handed out."""

import os

import cv2
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from mmsolo.datasets import CachedTransforms
from mmsolo.registry import TRANSFORMS
from mmsolo.utils import register_all_modules

register_all_modules()


def sample(tmp_path, name='a.png', value=7):
    path = os.path.join(tmp_path, name)
    cv2.imwrite(path, np.full((8, 10, 3), value, np.uint8))
    return dict(
        img_path=path,
        sample_idx=0,
        instances=[dict(bbox=[1, 1, 5, 5], bbox_label=0, ignore_flag=0)],
    )


def loading():
    return CachedTransforms(
        [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
        ]
    )


def test_second_call_reads_nothing(tmp_path):
    transform = loading()
    info = sample(tmp_path)
    first = transform(dict(info))
    os.remove(info['img_path'])  # a second read would fail
    second = transform(dict(info))
    np.testing.assert_array_equal(first['img'], second['img'])
    assert len(transform) == 1


def test_later_transforms_cannot_alter_the_store(tmp_path):
    transform = loading()
    info = sample(tmp_path)
    first = transform(dict(info))
    first['img'][:] = 0
    assert isinstance(first['gt_bboxes'], HorizontalBoxes)
    first['gt_bboxes'].flip_((8, 10), 'horizontal')  # in place, as RandomFlip
    second = transform(dict(info))
    assert (second['img'] == 7).all()
    np.testing.assert_array_equal(second['gt_bboxes'].numpy(), [[1, 1, 5, 5]])


def test_samples_told_apart_and_bounded(tmp_path):
    # An 8x10x3 uint8 image is 240 bytes: room for one.
    transform = CachedTransforms(
        [dict(type='LoadImageFromFile')], max_bytes=300
    )
    a, b = sample(tmp_path, 'a.png', 1), sample(tmp_path, 'b.png', 2)
    assert (transform(dict(a))['img'] == 1).all()
    assert (transform(dict(b))['img'] == 2).all()  # loaded, not stored
    assert len(transform) == 1 and transform.stored_bytes == 240
    os.remove(b['img_path'])
    with pytest.raises(FileNotFoundError):
        transform(dict(b))


def test_built_from_config_and_errors(tmp_path):
    transform = TRANSFORMS.build(
        dict(
            type='mmsolo.CachedTransforms',
            transforms=[dict(type='LoadImageFromFile')],
        )
    )
    assert 'LoadImageFromFile' in repr(transform)
    with pytest.raises(KeyError, match='img_path'):
        transform(dict(sample_idx=0))
    with pytest.raises(ValueError, match='max_bytes'):
        CachedTransforms([], max_bytes=-1)
