"""LVIS v0.5: the configs and mmdet's LVISMetric on a generated LVIS-format
set (federated AP). The memory of evaluating detector-sized outputs, which
depends on the machine, is measured by benchmarks/bench_lvis_memory.py."""

import json

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import ClassBalancedDataset
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData
from support.lvis_data import (
    LVIS_SHAPE_CATEGORIES,
    segmentation_to_mask,
    write_lvis_split,
)

from mmsolo.engine.hooks import check_num_classes
from mmsolo.models.layers import masks_to_boxes
from mmsolo.registry import DATASETS, MODELS

R50_LVIS = 'configs/solov2/solov2_r50_fpn_sample1e-3_ms-3x_lvis-v0.5.py'
R101_LVIS = 'configs/solov2/solov2_r101_fpn_sample1e-3_ms-3x_lvis-v0.5.py'
SHAPE_NAMES = tuple(name for _, name, _ in LVIS_SHAPE_CATEGORIES)


@pytest.fixture(scope='module')
def lvis_val(tmp_path_factory):
    """8 synthetic-shapes images in LVIS v0.5 format and the loaded json."""
    root = tmp_path_factory.mktemp('lvis')
    ann_file = write_lvis_split(str(root), 'val', num_images=8, seed=0)
    with open(ann_file) as f:
        return root, ann_file, json.load(f)


def lvis_evaluator(repo_root: str, ann_file: str) -> Evaluator:
    """The R50 LVIS config's val_evaluator on ``ann_file``."""
    cfg = Config.fromfile(f'{repo_root}/{R50_LVIS}')
    cfg.val_evaluator.ann_file = ann_file
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = dict(classes=SHAPE_NAMES)
    return evaluator


def gt_predictions(data: dict) -> dict:
    """Per image id, the ground truth as a detector's output: the masks as
    the LVIS API rasterizes them, labels (category index), falling scores."""
    predictions = {}
    for image in data['images']:
        anns = [a for a in data['annotations'] if a['image_id'] == image['id']]
        h, w = image['height'], image['width']
        masks = [segmentation_to_mask(a['segmentation'], h, w) for a in anns]
        predictions[image['id']] = dict(
            masks=torch.from_numpy(np.stack(masks))
            if masks
            else torch.zeros((0, h, w), dtype=torch.bool),
            labels=torch.tensor(
                [a['category_id'] - 1 for a in anns], dtype=torch.long
            ),
            scores=torch.linspace(0.9, 0.5, len(anns)),
        )
    return predictions


def evaluate(
    repo_root: str, ann_file: str, data: dict, predictions: dict
) -> dict:
    """Metrics of ``predictions`` (boxes from the masks), as ValLoop runs
    the evaluator."""
    evaluator = lvis_evaluator(repo_root, ann_file)
    for image in data['images']:
        pred = predictions[image['id']]
        sample = DetDataSample(
            metainfo=dict(
                img_id=image['id'], ori_shape=(image['height'], image['width'])
            )
        )
        sample.pred_instances = InstanceData(
            bboxes=masks_to_boxes(pred['masks']), **pred
        )
        evaluator.process([sample])
    return evaluator.evaluate(len(data['images']))


def add_detection(
    pred: dict, mask: torch.Tensor, label: int, score: float
) -> None:
    pred['masks'] = torch.cat([pred['masks'], mask[None]])
    pred['labels'] = torch.cat([pred['labels'], torch.tensor([label])])
    pred['scores'] = torch.cat([pred['scores'], torch.tensor([score])])


def categories_with_gt(data: dict) -> set:
    return {a['category_id'] for a in data['annotations']}


def present(data: dict, image_id: int) -> set:
    return {
        a['category_id']
        for a in data['annotations']
        if a['image_id'] == image_id
    }


def test_lvis_package_runs_on_this_numpy():
    """lvis 0.5.3 calls np.float (gone since NumPy 1.24): mmsolo.evaluation
    gives lvis.eval alone the alias back."""
    import lvis.eval

    assert lvis.eval.np.float is float
    assert lvis.eval.np.cumsum is np.cumsum
    if tuple(int(v) for v in np.__version__.split('.')[:2]) >= (1, 24):
        assert not hasattr(np, 'float')  # numpy itself is untouched


@pytest.mark.parametrize('config', [R50_LVIS, R101_LVIS])
def test_lvis_configs(repo_root, config):
    cfg = Config.fromfile(f'{repo_root}/{config}')
    assert cfg.model.mask_head.num_classes == 1230
    assert cfg.model.test_cfg.max_per_img == 300
    assert cfg.model.backbone.depth == (101 if 'r101' in config else 50)
    train = cfg.train_dataloader.dataset
    assert train.type == 'ClassBalancedDataset'
    assert train.oversample_thr == 1e-3
    assert train.dataset.type == 'mmsolo.CheckedLVISV05Dataset'
    assert cfg.val_dataloader.dataset.type == 'mmsolo.CheckedLVISV05Dataset'
    assert cfg.val_evaluator.type == 'mmsolo.EmptySafeLVISMetric'
    assert cfg.val_evaluator.metric == ['bbox', 'segm']
    assert cfg.train_cfg.max_epochs == 36
    assert cfg.param_scheduler[1].milestones == [27, 33]
    assert dict(type='mmsolo.NumClassesCheckHook') in cfg.custom_hooks


def test_lvis_datasets_build_and_match_the_head(repo_root, lvis_val):
    """The config's train (repeat-factor resampled) and val datasets load a
    generated LVIS v0.5 set (COCO-2014 file names mapped to 2017 ones), and
    their 1230 classes pass the num_classes check."""
    root, _, data = lvis_val
    cfg = Config.fromfile(f'{repo_root}/{R50_LVIS}')
    cfg.train_dataloader.dataset.dataset.merge(
        dict(
            data_root=f'{root}/',
            ann_file='annotations/lvis_v0.5_val.json',
            data_prefix=dict(img='val2017/'),
        )
    )
    cfg.val_dataloader.dataset.data_root = f'{root}/'
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert isinstance(train, ClassBalancedDataset)
    assert len(val) == len(data['images'])
    # Every category is in over 1e-3 of the images here: no image repeats.
    assert len(train) == len({a['image_id'] for a in data['annotations']})
    packed = val[0]
    assert packed['data_samples'].img_path.endswith('val2017/000000000001.png')
    assert packed['inputs'].shape[1:] == (800, 800)  # resized to 1333x800
    assert len(packed['data_samples'].gt_instances) == sum(
        a['image_id'] == 1 for a in data['annotations']
    )
    model = MODELS.build(cfg.model)
    assert check_num_classes(model, train, 'train_dataloader.dataset') is None
    assert check_num_classes(model, val, 'val_dataloader.dataset') is None


def test_perfect_predictions_score_ap_1(repo_root, lvis_val):
    """Polygon and RLE ground truth predicted exactly, boxes derived from
    the masks: LVIS segm and bbox AP are 1.0."""
    _, ann_file, data = lvis_val
    metrics = evaluate(repo_root, ann_file, data, gt_predictions(data))
    assert metrics['lvis/segm_AP'] == 1.0
    assert metrics['lvis/bbox_AP'] == 1.0
    assert metrics['lvis/segm_APf'] == 1.0 and metrics['lvis/segm_APr'] == 1.0


def test_wrong_label_lowers_ap(repo_root, lvis_val):
    _, ann_file, data = lvis_val
    predictions = gt_predictions(data)
    image = data['images'][0]
    wrong = sorted(set(image['neg_category_ids']) & categories_with_gt(data))
    assert wrong, 'the generated set should have a verified-absent category'
    predictions[image['id']]['labels'][0] = wrong[0] - 1
    metrics = evaluate(repo_root, ann_file, data, predictions)
    assert metrics['lvis/segm_AP'] < 0.95
    assert metrics['lvis/bbox_AP'] < 0.95


def test_federated_false_positives(repo_root, lvis_val):
    """A confident detection of a category that is neither annotated nor
    verified absent in the image is not counted against the model; the same
    detection of a verified-absent category is a false positive."""
    _, ann_file, data = lvis_val
    with_gt = categories_with_gt(data)
    unverified = [
        (
            image,
            sorted(
                with_gt
                - present(data, image['id'])
                - set(image['neg_category_ids'])
            ),
        )
        for image in data['images']
    ]
    image, categories = next((i, c) for i, c in unverified if c)
    negative = next(
        i for i in data['images'] if set(i['neg_category_ids']) & with_gt
    )
    neg_category = sorted(set(negative['neg_category_ids']) & with_gt)[0]

    predictions = gt_predictions(data)
    pred = predictions[image['id']]
    add_detection(pred, pred['masks'][0], categories[0] - 1, 0.99)
    ignored = evaluate(repo_root, ann_file, data, predictions)
    assert ignored['lvis/segm_AP'] == 1.0

    predictions = gt_predictions(data)
    pred = predictions[negative['id']]
    add_detection(pred, pred['masks'][0], neg_category - 1, 0.99)
    counted = evaluate(repo_root, ann_file, data, predictions)
    assert counted['lvis/segm_AP'] < 1.0


def test_not_exhaustive_category_false_positive_is_ignored(
    repo_root, lvis_val
):
    _, ann_file, data = lvis_val
    image = next(i for i in data['images'] if i['not_exhaustive_category_ids'])
    category = image['not_exhaustive_category_ids'][0]
    predictions = gt_predictions(data)
    pred = predictions[image['id']]
    away = torch.zeros_like(pred['masks'][0])
    away[:6, :6] = True  # overlaps no instance of the category
    add_detection(pred, away, category - 1, 0.99)
    metrics = evaluate(repo_root, ann_file, data, predictions)
    assert metrics['lvis/segm_AP'] == 1.0
