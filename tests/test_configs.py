"""Every config under configs/ builds, trains one step and predicts.

Backbones stay those of the configs (R101, X101-DCN ...) with random
weights; one 128x160 image with two objects goes through the model's own
data preprocessor. The only change to a model is a 4x coarser grid per
level (``num_grids``): the head's cost grows with the number of cells, not
with the image, and the full grids made the file take minutes on 2 cores.
"""

import glob
import os

import numpy as np
import pytest
import torch
import yaml
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData

from mmsolo.registry import DATASETS, MODELS

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_ROOT = os.path.join(REPO_ROOT, 'configs')
CONFIGS = sorted(
    path
    for path in glob.glob(
        os.path.join(CONFIG_ROOT, '**', '*.py'), recursive=True
    )
    if '_base_' not in os.path.relpath(path, CONFIG_ROOT).split(os.sep)
)
CONFIG_IDS = [os.path.relpath(path, CONFIG_ROOT) for path in CONFIGS]
IMG_SHAPE = (128, 160)


def one_image_batch(num_classes: int, num_stuff_classes: int = 0) -> dict:
    """A uint8 image (3, 128, 160) with a bright rectangle (label 0) and a
    dark ellipse (the last label), as a data loader gives it; with stuff
    classes also a semantic map: the first stuff class above, the last
    below, the objects' labels on them, a void corner."""
    rng = np.random.default_rng(0)
    h, w = IMG_SHAPE
    img = rng.integers(80, 160, size=(3, h, w), dtype=np.uint8)
    masks = np.zeros((2, h, w), dtype=np.uint8)
    masks[0, 20:60, 16:56] = 1
    ys, xs = np.mgrid[:h, :w] + 0.5
    masks[1] = ((xs - 100) / 44) ** 2 + ((ys - 76) / 36) ** 2 <= 1
    img[:, masks[0] == 1] = 230
    img[:, masks[1] == 1] = 20
    sample = DetDataSample(
        metainfo=dict(
            img_shape=IMG_SHAPE, ori_shape=IMG_SHAPE, scale_factor=(1.0, 1.0)
        )
    )
    gt = InstanceData()
    gt.bboxes = torch.tensor(
        [[16.0, 20.0, 56.0, 60.0], [56.0, 40.0, 144.0, 112.0]]
    )
    gt.labels = torch.tensor([0, num_classes - 1])
    gt.masks = BitmapMasks(masks, h, w)
    sample.gt_instances = gt
    if num_stuff_classes:
        sem_seg = np.full((h, w), num_classes, dtype=np.int64)
        sem_seg[h // 2 :] = num_classes + num_stuff_classes - 1
        sem_seg[:8, :8] = 255
        for label, mask in zip((0, num_classes - 1), masks):
            sem_seg[mask == 1] = label
        sample.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(sem_seg)[None])
    return dict(inputs=[torch.from_numpy(img)], data_samples=[sample])


def dataset_metainfo(dataset_cfg) -> dict:
    """``classes`` (and for a panoptic set ``thing_classes`` and
    ``stuff_classes``) of a dataset config: its ``metainfo`` over its
    dataset type's METAINFO, through dataset wrappers."""
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg.dataset
    metainfo = dict(DATASETS.get(dataset_cfg.type).METAINFO)
    metainfo.update(dataset_cfg.get('metainfo', {}))
    return {
        key: tuple(value)
        for key, value in metainfo.items()
        if key in ('classes', 'thing_classes', 'stuff_classes')
    }


def is_panoptic(cfg: Config) -> bool:
    return 'semantic_head' in cfg.model


def test_configs_are_found():
    names = set(CONFIG_IDS)
    assert 'solov2/solov2_r50_fpn_1x_coco.py' in names
    assert 'solov2/ablations/solov2-separate-feat_r50_fpn_1x_coco.py' in names
    assert not any(name.startswith('_base_') for name in names)


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_num_classes_match_the_dataset(path):
    cfg = Config.fromfile(path)
    num_classes = cfg.model.mask_head.num_classes
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        metainfo = dataset_metainfo(cfg[loader].dataset)
        if not is_panoptic(cfg):
            classes = metainfo['classes']
            assert num_classes == len(classes), (
                f'{path}: model.mask_head.num_classes={num_classes} but '
                f'{loader} has {len(classes)} classes'
            )
            continue
        things, stuff = metainfo['thing_classes'], metainfo['stuff_classes']
        assert metainfo['classes'] == things + stuff, path
        semantic_head = cfg.model.semantic_head
        assert num_classes == len(things), (path, loader)
        assert semantic_head.num_stuff_classes == len(stuff), (path, loader)
        assert semantic_head.get('num_things_classes', num_classes) == len(
            things
        ), (path, loader)


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_keeps_the_runtime_safety_hooks(path):
    """A config that lists its own custom_hooks replaces the base's list:
    the num_classes check and the finite-gradient stop must be listed
    again (the quick start once dropped them)."""
    types = [hook['type'] for hook in Config.fromfile(path).custom_hooks]
    assert 'mmsolo.NumClassesCheckHook' in types, path
    assert 'mmsolo.FiniteGradientsHook' in types, path


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_builds_trains_one_step_and_predicts(path):
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None  # no download
    head = cfg.model.mask_head
    head.num_grids = [max(-(-num_grid // 4), 2) for num_grid in head.num_grids]
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    num_classes = cfg.model.mask_head.num_classes
    num_stuff = (
        cfg.model.semantic_head.num_stuff_classes if is_panoptic(cfg) else 0
    )

    model.train()
    data = model.data_preprocessor(
        one_image_batch(num_classes, num_stuff), True
    )
    divisor = cfg.model.data_preprocessor.get('pad_size_divisor', 1)
    expected = tuple(-(-side // divisor) * divisor for side in IMG_SHAPE)
    assert data['inputs'].shape[-2:] == expected
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_mask', 'loss_cls'} | (
        {'loss_seg'} if num_stuff else set()
    )
    assert all(torch.isfinite(loss) for loss in losses.values()), losses
    assert losses['loss_mask'] > 0  # both objects have positive cells
    sum(losses.values()).backward()
    for module in (model.mask_head.conv_kernel, model.mask_head.conv_cls):
        grad = module.weight.grad
        assert grad is not None and torch.isfinite(grad).all()
        assert grad.abs().sum() > 0
    assert any(
        p.grad is not None and p.grad.abs().sum() > 0
        for p in model.mask_feature_neck.parameters()
    )
    if num_stuff:
        assert (
            data['data_samples'][0].gt_sem_seg.shape
            == data['inputs'].shape[-2:]
        )  # padded with the ignore label
        assert model.semantic_head.conv_seg.weight.grad.abs().sum() > 0

    # Untrained scores sit near the focal prior (0.01), below score_thr:
    # make class 0 likely everywhere so that candidates reach the NMS.
    model.eval()
    with torch.no_grad():
        model.mask_head.conv_cls.bias.fill_(-10.0)
        model.mask_head.conv_cls.bias[0] = 0.0
        data = model.data_preprocessor(
            one_image_batch(num_classes, num_stuff), False
        )
        results = model(**data, mode='predict')
    pred = results[0].pred_instances
    assert 0 < len(pred) <= cfg.model.test_cfg.max_per_img
    assert pred.masks.shape == (len(pred), *IMG_SHAPE)
    assert pred.masks.dtype == torch.bool
    assert (pred.labels == 0).all()
    assert pred.bboxes.shape == (len(pred), 4)
    assert torch.isfinite(pred.scores).all()
    assert (pred.scores[:-1] >= pred.scores[1:]).all()
    if num_stuff:
        panoptic = results[0].pred_panoptic_seg.sem_seg
        assert panoptic.shape == (1, *IMG_SHAPE)
        assert ((panoptic % 1000) <= num_classes + num_stuff).all()


def test_metafile_lists_existing_configs_with_mask_ap_or_pq():
    metafile = os.path.join(CONFIG_ROOT, 'solov2', 'metafile.yml')
    with open(metafile) as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    for model in meta['Models']:
        assert model['In Collection'] in collections, model['Name']
        config = os.path.join(REPO_ROOT, model['Config'])
        assert os.path.isfile(config), model['Config']
        assert os.path.basename(config) == model['Name'] + '.py'
        for result in model['Results']:
            metric = {
                'Instance Segmentation': 'mask AP',
                'Panoptic Segmentation': 'PQ',
            }[result['Task']]
            assert 0 < result['Metrics'][metric] < 100
