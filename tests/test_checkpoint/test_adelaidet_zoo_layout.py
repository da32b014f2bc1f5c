"""AdelaiDet (detectron2) SOLOv2 checkpoints convert to mmsolo.

The source is ``support.adelaidet_source.AdelaiDetSOLOv2``: plain
PyTorch with AdelaiDet's and detectron2's module names (hence key names and
shapes) and their forward computation (MSRA caffe ResNet with FrozenBN,
FPN + LastLevelMaxPool, SOLOv2InsHead, SOLOv2MaskHead). Its state dict,
converted, loads strictly into ``solov2_r{50,101}-caffe_fpn_ms-3x_coco.py``,
and mmsolo's model, fed the same uint8 BGR image through its own data
preprocessor, gives the same FPN levels, kernels, category logits and mask
features as the source, and the same instances as AdelaiDet's inference
(``adelaidet_instances``) on the source's outputs.
"""

import os

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from support import seeded_model
from support.adelaidet_source import (
    ADELAIDET_TEST_CFG,
    AdelaiDetSOLOv2,
    adelaidet_instances,
    randomize_,
)
from zoo_helpers import CONFIG_DIR, assert_outputs_close

from mmsolo.checkpoint import convert_adelaidet_state_dict

CONFIGS = {
    50: 'solov2_r50-caffe_fpn_ms-3x_coco.py',
    101: 'solov2_r101-caffe_fpn_ms-3x_coco.py',
}


def spread_predictions_(source: AdelaiDetSOLOv2) -> None:
    """Weights that give a trained model's kind of output: a few hundred
    cells above a 0.5 score (class biases around -7, spatially varying
    logits) and masks of tens to hundreds of pixels (sparse mask features,
    larger kernels)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        source.ins_head.cate_pred.weight.mul_(6)
        source.ins_head.cate_pred.bias.copy_(
            torch.randn(80, generator=generator) - 7
        )
        source.ins_head.kernel_pred.weight.mul_(5)
        source.mask_head.conv_pred[1].bias.fill_(-1.0)


def converted_pair(depth: int, test_cfg: dict = None, spread: bool = False):
    source = randomize_(AdelaiDetSOLOv2(depth), seed=depth).eval()
    if spread:
        spread_predictions_(source)
    converted = convert_adelaidet_state_dict(source.state_dict())
    ours = seeded_model(
        os.path.join(CONFIG_DIR, CONFIGS[depth]), seed=None, test_cfg=test_cfg
    )
    assert set(converted) == set(ours.state_dict())
    ours.load_state_dict(converted, strict=True)
    return source, ours, converted


@pytest.mark.parametrize('depth', [50, 101])
def test_adelaidet_layout_loads_strictly(depth):
    source, _, converted = converted_pair(depth)
    source_sd = source.state_dict()
    # FrozenBN buffers -> BN; one zero num_batches_tracked per BN added.
    bn_count = sum(key.endswith('running_var') for key in source_sd)
    assert len(converted) == len(source_sd) + bn_count
    pairs = [
        (
            'backbone.bottom_up.res3.0.conv1.norm.running_var',
            'backbone.layer2.0.bn1.running_var',
        ),
        (
            'backbone.bottom_up.res4.0.shortcut.weight',
            'backbone.layer3.0.downsample.0.weight',
        ),
        ('backbone.fpn_lateral5.bias', 'neck.lateral_convs.3.conv.bias'),
        ('ins_head.kernel_tower.10.bias', 'mask_head.kernel_convs.3.gn.bias'),
        (
            'mask_head.convs_all_levels.3.conv2.0.weight',
            'mask_feature_neck.level_convs.3.2.conv.weight',
        ),
        (
            'mask_head.conv_pred.1.weight',
            'mask_feature_neck.fuse_conv.gn.weight',
        ),
    ]
    for src_key, dst_key in pairs:
        assert torch.equal(converted[dst_key], source_sd[src_key]), dst_key


def test_converted_adelaidet_predicts_as_its_source():
    source, ours, _ = converted_pair(50)
    generator = torch.Generator().manual_seed(0)
    bgr = torch.randint(
        0, 256, (3, 128, 160), generator=generator, dtype=torch.uint8
    )
    sample = DetDataSample(
        metainfo=dict(img_shape=(128, 160), ori_shape=(128, 160))
    )
    with torch.no_grad():
        data = ours.data_preprocessor(
            dict(inputs=[bgr], data_samples=[sample]), training=False
        )
        # One shared mask-feature map (MaskFeatureNeck).
        kernels, cls_logits, (mask_feats,) = ours._forward(data['inputs'])
        feats = ours.extract_feat(data['inputs'])
        ref = source(bgr[None].float())
    for ref_level, our_level in zip(ref['feats'], feats):
        assert_outputs_close(ref_level, our_level)
    for name, got in (('kernel_preds', kernels), ('cate_preds', cls_logits)):
        assert len(ref[name]) == len(got) == 5
        for ref_level, our_level in zip(ref[name], got):
            assert_outputs_close(ref_level, our_level)
    assert_outputs_close(ref['mask_feats'], mask_feats)


def test_converted_adelaidet_gives_the_same_instances():
    """AdelaiDet's inference (point NMS, score and area filters, maskness,
    Matrix NMS, update_thr, max_per_img, masks at the original size) on the
    source's outputs and mmsolo's predict give the same instances; 152
    candidates, under nms_pre, so mmsolo's bounded post-processing is not
    in play."""
    cfg = dict(ADELAIDET_TEST_CFG, score_thr=0.5)
    source, ours, _ = converted_pair(
        50,
        dict(
            score_thr=0.5,
            filter_thr=cfg['update_thr'],
            nms_pre=cfg['nms_pre'],
            max_per_img=cfg['max_per_img'],
        ),
        spread=True,
    )
    generator = torch.Generator().manual_seed(0)
    bgr = torch.randint(
        0, 256, (3, 128, 160), generator=generator, dtype=torch.uint8
    )
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(128, 160), ori_shape=(256, 320), scale_factor=(0.5, 0.5)
        )
    )
    with torch.no_grad():
        ref = adelaidet_instances(
            source(bgr[None].float()), (128, 160), (256, 320), cfg
        )
        data = ours.data_preprocessor(
            dict(inputs=[bgr], data_samples=[sample]), training=False
        )
        got = ours.predict(data['inputs'], data['data_samples'])[0]
    got = got.pred_instances
    assert len(got) == len(ref['labels']) > 50
    assert torch.equal(got.labels, ref['labels'])
    torch.testing.assert_close(got.scores, ref['scores'], atol=1e-5, rtol=0)
    assert got.masks.shape == ref['masks'].shape
    mismatch = (got.masks != ref['masks']).float().mean().item()
    assert mismatch < 1e-4, mismatch


def test_heads_without_group_norm_are_listed():
    """NORM "none" towers (biased convs, ReLU at odd indices) and other
    detectron2 models are not this layout: every such key is listed."""
    state_dict = {
        'ins_head.cate_tower.0.weight': torch.zeros(1),
        'ins_head.cate_tower.0.bias': torch.zeros(1),
        'ins_head.cate_tower.2.weight': torch.zeros(1),
        'roi_heads.box_predictor.cls_score.weight': torch.zeros(1),
    }
    with pytest.raises(KeyError) as error:
        convert_adelaidet_state_dict(state_dict)
    message = str(error.value)
    assert '3 key(s)' in message and 'AdelaiDet' in message
    for key in list(state_dict)[1:]:
        assert key in message


@pytest.mark.parametrize('depth', [50, 101])
def test_caffe_configs_are_detectron2s_backbone(depth):
    """Caffe style with frozen BN (as FrozenBN, also in training), BGR
    input minus detectron2's MSRA mean, std 1; AdelaiDet's test scale."""
    cfg = Config.fromfile(os.path.join(CONFIG_DIR, CONFIGS[depth]))
    backbone, preprocessor = cfg.model.backbone, cfg.model.data_preprocessor
    assert (backbone.depth, backbone.style) == (depth, 'caffe')
    assert backbone.norm_cfg == dict(type='BN', requires_grad=False)
    assert backbone.norm_eval and backbone.frozen_stages == 1
    assert 'detectron2/resnet' in backbone.init_cfg.checkpoint
    assert list(preprocessor.mean) == [103.530, 116.280, 123.675]
    assert list(preprocessor.std) == [1.0, 1.0, 1.0]
    assert preprocessor.bgr_to_rgb is False
    resize = [
        t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize'
    ]
    assert [tuple(t.scale) for t in resize] == [(1333, 800)]
