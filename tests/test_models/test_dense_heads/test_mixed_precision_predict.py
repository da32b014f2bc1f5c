"""Predict under bf16 autocast: scores in [0, 1] and float32 outputs, as in
float32 (the maskness of a bf16 sum over a mask divided by its float32 area
reached 1.0007 here, and 1.0017 with an R50 config)."""

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from support import QUICKSTART

from mmsolo.models import SOLOv2Head
from mmsolo.models.layers import MaskFeatures
from mmsolo.registry import MODELS
from mmsolo.utils import cpu_bf16_support

SIDE = 64


def one_cell_head() -> SOLOv2Head:
    return SOLOv2Head(
        num_classes=1,
        in_channels=8,
        feat_channels=8,
        stacked_convs=1,
        strides=[8],
        scale_ranges=[(1, 2048)],
        num_grids=[2],
        mask_feat_channels=4,
        norm_cfg=None,
        test_cfg=dict(
            nms_pre=10,
            score_thr=0.1,
            mask_thr=0.5,
            filter_thr=0.05,
            kernel='gaussian',
            sigma=2.0,
            max_per_img=10,
        ),
    )


def test_bf16_maskness_keeps_scores_at_most_one():
    """One confident cell whose mask covers 4093 of 4096 pixels at
    probability ~1: in bf16 the sum over the mask rounds to 4096."""
    head = one_cell_head()
    cls_preds = [torch.full((1, 1, 2, 2), -12.0)]
    cls_preds[0][0, 0, 1, 1] = 12.0
    kernel_preds = [torch.full((1, 4, 2, 2), 2.0)]
    mask_feats = torch.ones(1, 4, SIDE, SIDE)
    mask_feats[0, :, 0, :3] = -1  # 3 pixels out of the mask
    meta = dict(img_shape=(SIDE * 4, SIDE * 4), ori_shape=(SIDE * 4, SIDE * 4))
    results = head.predict_by_feat(
        [k.bfloat16() for k in kernel_preds],
        [c.bfloat16() for c in cls_preds],
        MaskFeatures.shared(mask_feats.bfloat16()),
        [meta],
    )[0]
    assert len(results) == 1
    assert 0.99 < results.scores.max().item() <= 1.0
    assert results.scores.dtype == results.bboxes.dtype == torch.float32


@pytest.mark.skipif(
    not cpu_bf16_support().native,
    reason='a forward in emulated bfloat16 is slow on this CPU',
)
def test_autocast_predict_has_fp32_dtypes_also_when_empty(repo_root):
    cfg = Config.fromfile(f'{repo_root}/{QUICKSTART}')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    model.init_weights()
    model.mask_head.conv_cls.bias.data.fill_(3.0)  # confident cells
    image = torch.rand(1, 3, 128, 128) * 255
    for score_thr, expect_empty in ((0.05, False), (1.1, True)):
        model.mask_head.test_cfg.score_thr = score_thr
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(128, 128), ori_shape=(128, 128), scale_factor=(1, 1)
            )
        )
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
            inputs = model.data_preprocessor(
                dict(inputs=[image[0]], data_samples=[sample])
            )
            result = model.predict(inputs['inputs'], inputs['data_samples'])[0]
        instances = result.pred_instances
        assert (len(instances) == 0) == expect_empty
        assert instances.scores.dtype == torch.float32
        assert instances.bboxes.dtype == torch.float32
        assert instances.masks.dtype == torch.bool
        assert instances.labels.dtype == torch.long
        if not expect_empty:
            assert 0 <= instances.scores.min() <= instances.scores.max() <= 1
