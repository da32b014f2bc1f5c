"""Fixtures of the robustness tests: the odd COCO-format set of
:mod:`support.odd_coco` written to a temporary directory, the dataset
built from it through the registry, and the quick-start model."""

import copy
import os
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import BaseDataset, pseudo_collate
from support.odd_coco import (
    CLASSES,
    NO_RESIZE_PIPELINE,
    ODD_IMAGES,
    OddCoco,
    write_odd_coco,
)

from mmsolo.registry import DATASETS, MODELS

QUICKSTART_CONFIG = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'


@pytest.fixture(scope='session')
def odd_coco(tmp_path_factory) -> OddCoco:
    """The odd set, written once per session."""
    return write_odd_coco(str(tmp_path_factory.mktemp('odd_coco')))


@pytest.fixture(scope='session')
def odd_dataset(odd_coco: OddCoco) -> BaseDataset:
    """The odd set as the ``CheckedCocoDataset`` that mmsolo's configs
    build (through mmsolo's registry), keeping the image without objects,
    with a pipeline that does not resize."""
    dataset = DATASETS.build(
        dict(
            type='mmsolo.CheckedCocoDataset',
            data_root=odd_coco.root,
            ann_file='annotations.json',
            data_prefix=dict(img='images/'),
            metainfo=dict(classes=CLASSES),
            filter_cfg=dict(filter_empty_gt=False),
            pipeline=NO_RESIZE_PIPELINE,
        )
    )
    names = [
        os.path.splitext(
            os.path.basename(dataset.get_data_info(index)['img_path'])
        )[0]
        for index in range(len(dataset))
    ]
    assert names == list(ODD_IMAGES)
    return dataset


@pytest.fixture(scope='session')
def collate(odd_dataset: BaseDataset) -> Callable[[Sequence[str]], dict]:
    """``collate(names)``: the batch of the named odd images as mmdet's
    dataloader gives it (``pseudo_collate``), flips seeded."""

    def batch_of(names: Sequence[str]) -> dict:
        np.random.seed(0)  # RandomFlip draws from numpy's global state
        return pseudo_collate(
            [odd_dataset[ODD_IMAGES.index(name)] for name in names]
        )

    return batch_of


@pytest.fixture(scope='session')
def quickstart_model_and_weights(
    repo_root: str,
) -> Tuple[torch.nn.Module, Dict[str, torch.Tensor]]:
    """The quick-start R18 SOLOv2 in float32 with seeded weights, and a copy
    of those weights."""
    cfg = Config.fromfile(os.path.join(repo_root, QUICKSTART_CONFIG))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    weights = {key: value.clone() for key, value in model.state_dict().items()}
    return model, weights


@pytest.fixture
def quickstart_model(quickstart_model_and_weights) -> torch.nn.Module:
    """The quick-start model with its initial weights and test config, in
    training mode (tests may change both)."""
    model, weights = quickstart_model_and_weights
    model.load_state_dict(weights)
    model.mask_head.test_cfg = ConfigDict(copy.deepcopy(model.test_cfg))
    model.zero_grad(set_to_none=True)
    return model.train()
