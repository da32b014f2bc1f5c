"""Official SOLO (WXinlong/SOLO) SOLOv2 checkpoints convert to mmsolo.

1. Every model of the official README: a state dict with the official key
   names and shapes (``support.solo_source``, from the official
   module definitions and config values) converts and loads strictly into
   the mmsolo config the README section names, tensors unchanged.
2. The same architecture built from mmdet 3 modules (mmdet's SOLOv2 with the
   official config's values) has, renamed to the official names, exactly
   that key/shape table: so mmdet 3 modules are a faithful stand-in for the
   official architecture's parameters.
3. That stand-in's weights, renamed to the official layout and converted,
   make mmsolo predict what the stand-in predicts (raw outputs and final
   instances).
"""

import copy
import os

import pytest
import torch
from mmengine.config import Config
from support import (
    mmdet_config_path,
    model_config,
    seeded_model,
    spread_class_scores,
)
from support.solo_source import (
    OFFICIAL_SOLOV2_ZOO,
    official_solov2_shapes,
    random_state_dict,
)
from zoo_helpers import CONFIG_DIR, assert_outputs_close, rename

from mmsolo.checkpoint import convert_solo_state_dict
from mmsolo.testing import demo_batch

# mmdet 3 key -> official key (the inverse of the converter's renaming,
# written from mmdet 3's module names).
MMDET3_TO_OFFICIAL = [
    # mmdet 3's conv_pred is a ConvModule, the official one a Sequential.
    (
        r'^mask_head\.mask_feature_head\.conv_pred\.',
        'mask_feat_head.conv_pred.0.',
    ),
    (r'^mask_head\.mask_feature_head\.', 'mask_feat_head.'),
    (r'^mask_head\.cls_convs\.', 'bbox_head.cate_convs.'),
    (r'^mask_head\.kernel_convs\.', 'bbox_head.kernel_convs.'),
    (r'^mask_head\.conv_cls\.', 'bbox_head.solo_cate.'),
    (r'^mask_head\.conv_kernel\.', 'bbox_head.solo_kernel.'),
    (r'^(backbone|neck)\.', r'\1.'),
]


def _dcn_v1(cfg) -> None:
    """mmdet's light R50-DCN (DCNv2) made the official 512 model (DCN v1
    in the backbone and in the head's last tower convs)."""
    cfg.backbone.dcn = dict(
        type='DCN', deform_groups=1, fallback_on_stride=False
    )
    cfg.mask_head.dcn_cfg = dict(type='DCN')


# Official zoo model -> (mmdet 3 config, change that makes it the official
# architecture, or None).
MMDET3_STAND_INS = {
    'SOLOv2_R50_1x': ('solov2_r50_fpn_1x_coco.py', None),
    'SOLOv2_R101_DCN_3x': ('solov2_r101-dcn_fpn_ms-3x_coco.py', None),
    'SOLOv2_Light_448_R18_3x': ('solov2-light_r18_fpn_ms-3x_coco.py', None),
    'SOLOv2_Light_512_DCN_R50_3x': (
        'solov2-light_r50-dcn_fpn_ms-3x_coco.py',
        _dcn_v1,
    ),
}


def build_mmdet_stand_in(name: str, seed: int = 0) -> torch.nn.Module:
    """mmdet 3's SOLOv2 with the official ``name``'s architecture, seeded
    weights from mmdet's own initialization, eval mode."""
    config, change = MMDET3_STAND_INS[name]
    cfg = model_config(mmdet_config_path(config))
    if change is not None:
        change(cfg)
    cfg.test_cfg.update(nms_pre=5000, score_thr=0.3, max_per_img=100)
    return seeded_model(cfg, seed, scope='mmdet', reseed_before_init=True)


def shapes_of(state_dict: dict) -> dict:
    return {key: tuple(value.shape) for key, value in state_dict.items()}


@pytest.mark.parametrize('name', sorted(OFFICIAL_SOLOV2_ZOO))
def test_official_layout_loads_strictly(name):
    spec, config = OFFICIAL_SOLOV2_ZOO[name]
    source = random_state_dict(official_solov2_shapes(spec), seed=1)
    converted = convert_solo_state_dict(source)
    assert len(converted) == len(source)
    model = seeded_model(os.path.join(CONFIG_DIR, config), seed=None)
    assert set(converted) == set(model.state_dict())
    model.load_state_dict(converted, strict=True)  # shapes checked too
    loaded = model.state_dict()
    for src_key, dst_key in (
        ('bbox_head.solo_cate.weight', 'mask_head.conv_cls.weight'),
        (
            'mask_feat_head.conv_pred.0.gn.bias',
            'mask_feature_neck.fuse_conv.gn.bias',
        ),
        ('backbone.layer4.0.conv2.weight', 'backbone.layer4.0.conv2.weight'),
    ):
        assert torch.equal(loaded[dst_key], source[src_key]), dst_key


@pytest.mark.parametrize('name', sorted(MMDET3_STAND_INS))
def test_mmdet3_stand_in_has_the_official_layout(name):
    spec, _ = OFFICIAL_SOLOV2_ZOO[name]
    stand_in = build_mmdet_stand_in(name)
    official = rename(stand_in.state_dict(), MMDET3_TO_OFFICIAL)
    assert shapes_of(official) == dict(official_solov2_shapes(spec))


def _predict_pair(name: str):
    _, config = OFFICIAL_SOLOV2_ZOO[name]
    stand_in = build_mmdet_stand_in(name)
    official = rename(stand_in.state_dict(), MMDET3_TO_OFFICIAL)
    ours = seeded_model(
        os.path.join(CONFIG_DIR, config),
        seed=None,
        test_cfg=dict(stand_in.test_cfg),
    )
    ours.load_state_dict(convert_solo_state_dict(official), strict=True)
    spread_class_scores([stand_in, ours], mean=-4.8)
    return stand_in, ours


@pytest.mark.parametrize(
    'name', ['SOLOv2_Light_448_R18_3x', 'SOLOv2_Light_512_DCN_R50_3x']
)
def test_converted_official_predicts_as_its_source(name):
    stand_in, ours = _predict_pair(name)
    inputs, samples = demo_batch([(160, 224)], seed=3)
    with torch.no_grad():
        # mmdet's head gives (kernels, category logits, mask features).
        ref_raw = stand_in.mask_head(stand_in.extract_feat(inputs))
        our_raw = ours._forward(inputs)
        for ref_level, our_level in zip(
            ref_raw[0] + ref_raw[1], our_raw[0] + our_raw[1]
        ):
            assert_outputs_close(ref_level, our_level)
        (our_mask_feats,) = our_raw[2]  # one shared map
        assert_outputs_close(ref_raw[2], our_mask_feats)
        ref = stand_in.predict(inputs, copy.deepcopy(samples))[0]
        got = ours.predict(inputs, copy.deepcopy(samples))[0]
    ref, got = ref.pred_instances, got.pred_instances
    assert len(ref) == len(got) > 3
    assert torch.equal(ref.labels.long(), got.labels)
    torch.testing.assert_close(got.scores, ref.scores, atol=1e-5, rtol=0)
    mismatch = (ref.masks != got.masks).float().mean().item()
    assert mismatch < 1e-4, mismatch


def test_other_solo_models_list_their_keys():
    """SOLOv1 / Decoupled SOLO keys are not SOLOv2's: all are listed."""
    state_dict = {
        'backbone.conv1.weight': torch.zeros(1),
        'bbox_head.ins_convs.0.conv.weight': torch.zeros(1),
        'bbox_head.solo_ins_list.0.weight': torch.zeros(1),
    }
    with pytest.raises(KeyError) as error:
        convert_solo_state_dict(state_dict)
    message = str(error.value)
    assert '2 key(s)' in message and 'official SOLO' in message
    assert 'bbox_head.ins_convs.0.conv.weight' in message
    assert 'bbox_head.solo_ins_list.0.weight' in message


def test_pre_v1_backbone_dcn_offsets_are_renamed():
    converted = convert_solo_state_dict(
        {'module.backbone.layer2.0.conv2_offset.weight': torch.zeros(1)}
    )
    assert list(converted) == ['backbone.layer2.0.conv2.conv_offset.weight']


def test_official_512_config_is_the_authors():
    """DCN v1 in backbone stages 2-4 and the head's last tower conv only,
    none in the mask-feature neck; tested at (852, 512)."""
    cfg = Config.fromfile(
        os.path.join(CONFIG_DIR, 'solov2-light_r50-dcnv1_fpn_ms-3x_coco.py')
    )
    model = cfg.model
    assert model.backbone.dcn.type == 'DCN'
    assert tuple(model.backbone.stage_with_dcn) == (False, True, True, True)
    assert model.mask_head.dcn_cfg == dict(type='DCN')
    assert not model.mask_head.dcn_apply_to_all_conv
    assert (
        model.mask_head.stacked_convs,
        model.mask_head.feat_channels,
        model.mask_feature_neck.out_channels,
    ) == (3, 256, 128)
    assert model.mask_feature_neck.get('conv_cfg') is None
    resize = [
        t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize'
    ]
    assert [tuple(t.scale) for t in resize] == [(852, 512)]


def test_official_512_weights_do_not_fit_mmdets_dcnv2_config():
    """Why the -dcnv1 config exists: DCN v1 offsets (18 channels) are not
    DCNv2's (27), so the official 512 model cannot load into mmdet's
    architecture."""
    spec, _ = OFFICIAL_SOLOV2_ZOO['SOLOv2_Light_512_DCN_R50_3x']
    converted = convert_solo_state_dict(
        random_state_dict(official_solov2_shapes(spec))
    )
    model = seeded_model(
        os.path.join(CONFIG_DIR, 'solov2-light_r50-dcn_fpn_ms-3x_coco.py'),
        seed=None,
    )
    with pytest.raises(RuntimeError, match='conv_offset.weight'):
        model.load_state_dict(converted, strict=True)
