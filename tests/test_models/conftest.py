"""Helpers shared by the model tests: a small SOLOv2 head config and FPN
features for it."""

from typing import Callable, List, Optional

import pytest
import torch

# A test config under which every cell is a candidate (score_thr 0).
HEAD_TEST_CFG = dict(
    nms_pre=100,
    score_thr=0.0,
    mask_thr=0.5,
    filter_thr=-1,
    kernel='gaussian',
    sigma=2.0,
    max_per_img=20,
)


def make_head_cfg(test_cfg: Optional[dict] = None, **overrides) -> dict:
    """A SOLOv2Head of 4 classes on 32-channel FPN levels, 16-channel mask
    features and grids of 12, 10, 8, 6 and 4."""
    cfg = dict(
        type='SOLOv2Head',
        num_classes=4,
        in_channels=32,
        feat_channels=32,
        stacked_convs=2,
        num_grids=[12, 10, 8, 6, 4],
        mask_feat_channels=16,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
        test_cfg=dict(HEAD_TEST_CFG if test_cfg is None else test_cfg),
    )
    cfg.update(overrides)
    return cfg


def make_fpn_feats(
    batch: int = 2, size=(64, 96), channels: int = 32, seed: int = 0
) -> List[torch.Tensor]:
    """Five seeded FPN levels (N, channels, h / 2**i, w / 2**i) of an input
    of ``size`` (h, w = size / 4)."""
    g = torch.Generator().manual_seed(seed)
    h, w = size[0] // 4, size[1] // 4
    return [
        torch.randn(batch, channels, h // 2**i, w // 2**i, generator=g)
        for i in range(5)
    ]


@pytest.fixture
def head_test_cfg() -> dict:
    """A copy of :data:`HEAD_TEST_CFG`."""
    return dict(HEAD_TEST_CFG)


@pytest.fixture
def head_cfg() -> Callable[..., dict]:
    """``head_cfg(test_cfg=None, **overrides)``: see :func:`make_head_cfg`."""
    return make_head_cfg


@pytest.fixture
def fpn_feats() -> Callable[..., List[torch.Tensor]]:
    """``fpn_feats(batch=2, size=(64, 96), channels=32, seed=0)``: see
    :func:`make_fpn_feats`."""
    return make_fpn_feats
