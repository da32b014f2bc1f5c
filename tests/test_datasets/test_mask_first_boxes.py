"""An instance whose polygon or RLE has pixels trains whatever its bbox
says; one without a mask pixel is dropped with one warning line (mmdet's
CocoDataset silently drops every instance of a degenerate bbox: 17 of 19
here)."""

import json
import logging

import cv2
import numpy as np
import pytest
from mmdet.datasets import CocoDataset as MMDetCocoDataset
from mmengine.logging import MMLogger
from pycocotools import mask as mask_utils

from mmsolo.datasets import CheckedCocoDataset

SIDE = 96


def square(x: int, y: int, side: int = 8) -> list:
    return [[x, y, x + side, y, x + side, y + side, x, y + side]]


@pytest.fixture(scope='module')
def odd_boxes(tmp_path_factory):
    """One image, 19 instances with pixels: 17 plain squares, one square
    with a zero-width bbox, one RLE square with bbox [0, 0, 0, 0]; plus
    one polygon and one RLE of no pixel (bboxes zero too)."""
    root = tmp_path_factory.mktemp('odd_boxes')
    cv2.imwrite(str(root / 'a.png'), np.zeros((SIDE, SIDE, 3), np.uint8))
    anns = [
        dict(
            segmentation=square(5 * (i % 6) * 3, 20 * (i // 6)),
            bbox=[5 * (i % 6) * 3, 20 * (i // 6), 8, 8],
            area=64,
        )
        for i in range(17)
    ]
    anns.append(
        dict(segmentation=square(60, 70), bbox=[60, 70, 0, 8], area=64)
    )
    rle_mask = np.zeros((SIDE, SIDE), np.uint8, order='F')
    rle_mask[80:90, 5:12] = 1
    rle = mask_utils.encode(rle_mask)
    anns.append(
        dict(
            segmentation=dict(size=rle['size'], counts=rle['counts'].decode()),
            bbox=[0, 0, 0, 0],
            area=0,
        )
    )
    anns.append(
        dict(
            segmentation=[[40, 40, 40, 40, 40, 40]],
            bbox=[40, 40, 0, 0],
            area=0,
        )
    )
    empty = mask_utils.encode(np.zeros((SIDE, SIDE), np.uint8, order='F'))
    anns.append(
        dict(
            segmentation=dict(
                size=empty['size'], counts=empty['counts'].decode()
            ),
            bbox=[0, 0, 0, 0],
            area=0,
        )
    )
    for ann_id, ann in enumerate(anns, 1):
        ann.update(id=ann_id, image_id=1, category_id=1, iscrowd=0)
    (root / 'ann.json').write_text(
        json.dumps(
            dict(
                images=[
                    dict(id=1, file_name='a.png', height=SIDE, width=SIDE)
                ],
                annotations=anns,
                categories=[dict(id=1, name='square')],
            )
        )
    )
    return root


def build(dataset_class, root):
    return dataset_class(
        data_root=str(root),
        ann_file='ann.json',
        data_prefix=dict(img=''),
        metainfo=dict(classes=('square',)),
        pipeline=[],
    )


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_degenerate_boxes_train_from_their_masks(odd_boxes):
    assert len(build(MMDetCocoDataset, odd_boxes)[0]['instances']) == 17
    lines = _Lines()
    logger = MMLogger.get_current_instance()
    logger.addHandler(lines)
    try:
        instances = build(CheckedCocoDataset, odd_boxes)[0]['instances']
    finally:
        logger.removeHandler(lines)
    assert len(instances) == 19
    # The tight boxes of the masks (x1, y1, x2, y2).
    assert instances[17]['bbox'] == [60, 70, 68, 78]
    assert instances[18]['bbox'] == [5, 80, 12, 90]
    warnings = [
        r.getMessage() for r in lines.records if r.levelno == logging.WARNING
    ]
    assert warnings == [
        f'{odd_boxes}/ann.json: 2 instance(s) whose segmentation has no '
        'pixel dropped (annotation id(s) 20, 21)'
    ]
    infos = [
        r.getMessage() for r in lines.records if r.levelno == logging.INFO
    ]
    assert any(
        '2 instance(s) with a degenerate "bbox"' in line
        and '(annotation id(s) 18, 19)' in line
        for line in infos
    )
