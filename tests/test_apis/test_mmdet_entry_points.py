"""mmdet's own entry points build mmsolo's models from mmsolo's configs,
whatever the default scope (issue rows: DetInferencer without ``scope=``,
a config inheriting ``mmdet::_base_/default_runtime.py``)."""

import json
import os
import uuid

import pytest
from mmdet.apis import DetInferencer, init_detector
from mmengine.config import Config
from mmengine.registry import DefaultScope
from support import save_seeded_checkpoint

from mmsolo.datasets import write_split
from mmsolo.models import SOLOv2

QUICKSTART = 'configs/quickstart/solov2-light_r18_fpn_shapes.py'


@pytest.fixture(autouse=True)
def _restore_mmsolo_scope():
    """mmdet's entry points make ``mmdet`` the current default scope; the
    other tests of this process build in ``mmsolo``."""
    yield
    DefaultScope.get_instance(f'mmsolo-{uuid.uuid4()}', scope_name='mmsolo')


@pytest.fixture(scope='module')
def val_image(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('shapes')
    write_split(str(root), 'val', num_images=1, seed=3)
    return str(root / 'val' / '000001.png')


def test_det_inferencer_without_scope_builds_mmsolos_model(
    repo_root, tmp_path, val_image
):
    """``DetInferencer(model=CONFIG, weights=CKPT)``, mmdet's documented
    call, sets the default scope to ``mmdet``; the config's scope-qualified
    types still build mmsolo's SOLOv2 (mmdet's SOLOv2 of the same name
    raised ``unexpected keyword argument 'mask_feature_neck'``), and it
    writes mmdet's ``vis/`` and ``preds/``."""
    config = os.path.join(repo_root, QUICKSTART)
    weights = save_seeded_checkpoint(config, str(tmp_path / 'seeded.pth'))
    inferencer = DetInferencer(
        model=config, weights=weights, device='cpu', show_progress=False
    )
    assert DefaultScope.get_current_instance().scope_name == 'mmdet'
    assert isinstance(inferencer.model, SOLOv2)
    assert inferencer.model.dataset_meta['classes'] == (
        'circle',
        'square',
        'triangle',
    )
    out_dir = tmp_path / 'out'
    result = inferencer(
        val_image, out_dir=str(out_dir), no_save_pred=False, pred_score_thr=0.0
    )
    prediction = result['predictions'][0]
    assert set(prediction) >= {'labels', 'scores', 'bboxes', 'masks'}
    assert (out_dir / 'vis' / '000001.png').is_file()
    saved = json.loads((out_dir / 'preds' / '000001.json').read_text())
    assert saved['scores'] == pytest.approx(prediction['scores'])


def test_config_inheriting_mmdets_runtime_builds_mmsolos_model(
    repo_root, tmp_path
):
    """``default_scope = 'mmdet'`` inherited from mmdet's runtime: mmdet's
    ``init_detector`` still gets mmsolo's SOLOv2 (and mmsolo's head and
    neck inside it)."""
    config = tmp_path / 'on_mmdet_runtime.py'
    config.write_text(f"""
_base_ = [
    '{repo_root}/configs/_base_/models/solov2_r50_fpn.py',
    '{repo_root}/configs/_base_/datasets/coco_instance.py',
    '{repo_root}/configs/_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
model = dict(backbone=dict(depth=18, init_cfg=None),
             neck=dict(in_channels=[64, 128, 256, 512]))
""")
    cfg = Config.fromfile(str(config))
    assert cfg.default_scope == 'mmdet'
    model = init_detector(cfg, device='cpu')
    assert isinstance(model, SOLOv2)
    assert type(model.mask_head).__module__.startswith('mmsolo.')
    assert type(model.mask_feature_neck).__module__.startswith('mmsolo.')
