"""mmsolo's CocoMetric: mmdet's, except that a dataset on which nothing was
predicted gets AP 0.0 instead of no metric at all."""

import json
import subprocess
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric as MMDetCocoMetric
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.structures import InstanceData
from pycocotools import mask as mask_utils

from mmsolo.evaluation import EmptySafeCocoMetric as CocoMetric
from mmsolo.models.layers import masks_to_boxes
from mmsolo.registry import METRICS

CLASSES = ('circle', 'square', 'triangle')
IMAGE_SHAPE = (128, 160)
NUM_IMAGES = 4
AP_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
AP_KEYS = tuple(
    f'coco/{metric}_{item}' for metric in ('bbox', 'segm') for item in AP_ITEMS
)

# (image index, category id, centre (x, y), axes (x, y)) of each object:
# small, medium and large ones, so that every AP has ground truth; the last
# image has none.
GT_OBJECTS = (
    (0, 1, (40, 40), (6, 5)),
    (0, 2, (100, 60), (25, 20)),
    (1, 3, (80, 64), (70, 55)),
    (1, 1, (20, 110), (10, 8)),
    (2, 2, (60, 60), (30, 30)),
    (2, 3, (130, 30), (12, 20)),
)


def ellipse(center: Tuple[int, int], axes: Tuple[int, int]) -> np.ndarray:
    """(H, W) bool ellipse mask of :data:`IMAGE_SHAPE`."""
    canvas = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
    cv2.ellipse(canvas, center, axes, 0, 0, 360, 1, -1)
    return canvas.astype(bool)


def encode(mask: np.ndarray) -> dict:
    """Compressed RLE of a bool mask, ``counts`` as str (json-ready)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def gt_masks() -> List[List[Tuple[int, np.ndarray]]]:
    """Per image, its (category id, mask) pairs."""
    per_image: List[List[Tuple[int, np.ndarray]]] = [
        [] for _ in range(NUM_IMAGES)
    ]
    for image_index, category_id, center, axes in GT_OBJECTS:
        per_image[image_index].append((category_id, ellipse(center, axes)))
    return per_image


@pytest.fixture(scope='module')
def ann_file(tmp_path_factory) -> str:
    """COCO annotation file of :data:`GT_OBJECTS` (RLE masks)."""
    images, annotations = [], []
    for index, pairs in enumerate(gt_masks()):
        images.append(
            dict(
                id=index + 1,
                file_name=f'{index + 1}.png',
                height=IMAGE_SHAPE[0],
                width=IMAGE_SHAPE[1],
            )
        )
        for category_id, mask in pairs:
            rle = encode(mask)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=index + 1,
                    category_id=category_id,
                    segmentation=rle,
                    area=float(mask_utils.area(rle)),
                    bbox=mask_utils.toBbox(rle).tolist(),
                    iscrowd=0,
                )
            )
    path = tmp_path_factory.mktemp('coco_metric') / 'annotations.json'
    path.write_text(
        json.dumps(
            dict(
                images=images,
                annotations=annotations,
                categories=[
                    dict(id=index + 1, name=name)
                    for index, name in enumerate(CLASSES)
                ],
            )
        )
    )
    return str(path)


def data_sample(
    image_index: int,
    masks: torch.Tensor,
    labels: List[int],
    scores: List[float],
    with_gt: bool,
) -> DetDataSample:
    """A data sample as the model returns it, boxes from the masks; with
    ``with_gt``, the image's ground truth as ``instances`` (what mmdet's
    CocoMetric reads when it has no ``ann_file``)."""
    sample = DetDataSample(
        metainfo=dict(img_id=image_index + 1, ori_shape=IMAGE_SHAPE)
    )
    if with_gt:
        instances = []
        for category_id, mask in gt_masks()[image_index]:
            x, y, w, h = mask_utils.toBbox(encode(mask)).tolist()
            instances.append(
                dict(
                    bbox=[x, y, x + w, y + h],
                    bbox_label=category_id - 1,
                    mask=encode(mask),
                    ignore_flag=0,
                )
            )
        sample.set_metainfo(dict(instances=instances))
    sample.pred_instances = InstanceData(
        masks=masks,
        bboxes=masks_to_boxes(masks),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(labels, dtype=torch.int64),
    )
    return sample


def empty_predictions(with_gt: bool = False) -> List[DetDataSample]:
    """No instance on any image."""
    return [
        data_sample(
            index,
            torch.zeros((0, *IMAGE_SHAPE), dtype=torch.bool),
            [],
            [],
            with_gt,
        )
        for index in range(NUM_IMAGES)
    ]


def noisy_predictions(seed: int = 0) -> List[DetDataSample]:
    """Each ground-truth object found with probability 0.8, shifted by up to
    4 px, its class wrong with probability 0.15, plus one false positive
    per image; seeded random scores."""
    rng = np.random.default_rng(seed)
    samples = []
    for index, pairs in enumerate(gt_masks()):
        masks, labels = [], []
        for category_id, mask in pairs:
            if rng.random() < 0.2:
                continue
            shift_y, shift_x = rng.integers(-4, 5, size=2)
            masks.append(np.roll(mask, (shift_y, shift_x), axis=(0, 1)))
            label = category_id - 1
            if rng.random() < 0.15:
                label = (label + 1) % len(CLASSES)
            labels.append(label)
        center = tuple(int(v) for v in rng.integers(20, 100, size=2))
        masks.append(ellipse(center, (8, 12)))
        labels.append(int(rng.integers(len(CLASSES))))
        samples.append(
            data_sample(
                index,
                torch.from_numpy(np.stack(masks)),
                labels,
                rng.uniform(0.05, 1.0, size=len(labels)).tolist(),
                False,
            )
        )
    return samples


def evaluate(
    metric: MMDetCocoMetric, samples: List[DetDataSample]
) -> Dict[str, float]:
    """Metrics of ``samples``, fed as the ValLoop's Evaluator feeds them."""
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [sample.to_dict() for sample in samples])
    return metric.evaluate(len(samples))


def build(
    metric_class: type, ann_file: Optional[str], classwise: bool = False
) -> MMDetCocoMetric:
    """``metric_class`` for box and mask AP."""
    return metric_class(
        ann_file=ann_file, metric=['bbox', 'segm'], classwise=classwise
    )


def test_configs_name_this_coco_metric_by_its_own_name(ann_file: str) -> None:
    """Registered in mmsolo's METRICS under a name of its own:
    ``type='mmsolo.EmptySafeCocoMetric'`` builds it whatever the default
    scope (the Evaluator builds through mmengine's root registry), and
    ``type='CocoMetric'`` is mmdet's in scope mmsolo too: no silent
    shadowing."""
    assert issubclass(CocoMetric, MMDetCocoMetric)
    assert METRICS.get('EmptySafeCocoMetric') is CocoMetric
    assert METRICS.get('CocoMetric') is MMDetCocoMetric
    assert MMDET_METRICS.get('CocoMetric') is MMDetCocoMetric
    assert (
        type(
            MMENGINE_METRICS.build(
                dict(type='mmsolo.EmptySafeCocoMetric', ann_file=ann_file)
            )
        )
        is CocoMetric
    )
    evaluator = Evaluator(
        dict(
            type='mmsolo.EmptySafeCocoMetric',
            ann_file=ann_file,
            metric=['bbox', 'segm'],
        )
    )
    assert type(evaluator.metrics[0]) is CocoMetric


def test_register_all_modules_registers_it(
    repo_root: str, python: str, ann_file: str
) -> None:
    """In a fresh process, ``register_all_modules`` alone makes the quick
    start config's val_evaluator build this metric."""
    code = (
        'import sys\n'
        'from mmengine.config import Config\n'
        'from mmengine.evaluator import Evaluator\n'
        'from mmsolo.utils import register_all_modules\n'
        'register_all_modules()\n'
        "assert 'mmsolo.evaluation' in sys.modules\n"
        'cfg = Config.fromfile('
        "'configs/quickstart/solov2-light_r18_fpn_shapes.py')\n"
        f'cfg.val_evaluator.ann_file = {ann_file!r}\n'
        'metric = Evaluator(cfg.val_evaluator).metrics[0]\n'
        'print(type(metric).__module__, type(metric).__name__)\n'
    )
    done = subprocess.run(
        [python, '-c', code],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == [
        'mmsolo.evaluation.coco_metric',
        'EmptySafeCocoMetric',
    ]


@pytest.mark.parametrize(
    'with_ann_file', [True, False], ids=['ann_file', 'gt_from_data_samples']
)
def test_no_prediction_at_all_gives_zero_ap(
    ann_file: str, with_ann_file: bool
) -> None:
    """Nothing predicted on the whole dataset: every AP key is there and
    0.0 (every area range has ground truth), with the ground truth read
    from ``ann_file`` or, without one, from the data samples."""
    metric = build(CocoMetric, ann_file if with_ann_file else None)
    metrics = evaluate(metric, empty_predictions(with_gt=not with_ann_file))
    assert metrics == dict.fromkeys(AP_KEYS, 0.0)


def test_mmdet_coco_metric_gives_nothing_there(ann_file: str) -> None:
    """Why the subclass exists: mmdet 3.3's metric returns no metric at all
    on the same input (if this fails, mmdet has fixed it)."""
    assert (
        evaluate(build(MMDetCocoMetric, ann_file), empty_predictions()) == {}
    )


@pytest.mark.parametrize(
    'classwise', [False, True], ids=['overall', 'classwise']
)
def test_predictions_give_mmdets_numbers(
    ann_file: str, classwise: bool
) -> None:
    """With predictions, the metrics are mmdet's CocoMetric's, key for key
    and number for number (and not trivial: between 0 and 1)."""
    ours = evaluate(
        build(CocoMetric, ann_file, classwise), noisy_predictions()
    )
    theirs = evaluate(
        build(MMDetCocoMetric, ann_file, classwise), noisy_predictions()
    )
    assert ours == theirs
    assert set(AP_KEYS) <= set(ours)
    assert 0 < ours['coco/segm_mAP'] < 1 and 0 < ours['coco/bbox_mAP'] < 1
