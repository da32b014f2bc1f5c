"""Every SOLOv2 config of MMDetection has an mmsolo config of the same name
that builds mmdet's architecture: its state dict, converted, loads strictly
into ours (every conv, DCN offset conv and norm in place, same shapes), and
the head's grid settings and test_cfg are the same. So mmdet's model-zoo
weights (light R18 and R34 included) fit these configs."""

import glob
import os

import pytest
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from support import mmdet_config_path

from mmsolo.checkpoint import convert_mmdet_state_dict
from mmsolo.registry import MODELS

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMDET_SOLOV2_DIR = os.path.dirname(
    mmdet_config_path('solov2_r50_fpn_1x_coco.py')
)
# Every config of mmdet's configs/solov2/.
TWINS = sorted(
    os.path.basename(path)
    for path in glob.glob(os.path.join(MMDET_SOLOV2_DIR, '*.py'))
)
HEAD_SETTINGS = (
    'num_classes',
    'in_channels',
    'feat_channels',
    'stacked_convs',
    'strides',
    'scale_ranges',
    'pos_scale',
    'num_grids',
    'cls_down_index',
)


def plain(value):
    """Config values with tuples as lists, for comparison."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def model_cfg(path):
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None  # no download
    return cfg.model


def test_every_mmdet_solov2_config_has_ours():
    assert len(TWINS) >= 9  # mmdet 3.3 has 9
    assert {
        'solov2-light_r18_fpn_ms-3x_coco.py',
        'solov2-light_r34_fpn_ms-3x_coco.py',
    } <= set(TWINS)
    missing = [
        name
        for name in TWINS
        if not os.path.isfile(
            os.path.join(REPO_ROOT, 'configs', 'solov2', name)
        )
    ]
    assert not missing


@pytest.mark.parametrize('name', TWINS)
def test_same_architecture_as_mmdet(name):
    ref_cfg = model_cfg(mmdet_config_path(name))
    our_cfg = model_cfg(os.path.join(REPO_ROOT, 'configs', 'solov2', name))
    with DefaultScope.overwrite_default_scope('mmdet'):
        reference = MMDET_MODELS.build(ref_cfg)
    with DefaultScope.overwrite_default_scope('mmsolo'):
        ours = MODELS.build(our_cfg)
    # strict: raises on a missing or unexpected key or a shape mismatch.
    ours.load_state_dict(
        convert_mmdet_state_dict(reference.state_dict()), strict=True
    )
    for key in HEAD_SETTINGS:
        assert plain(our_cfg.mask_head[key]) == plain(
            ref_cfg.mask_head[key]
        ), key
    assert dict(our_cfg.test_cfg) == dict(ref_cfg.test_cfg)
