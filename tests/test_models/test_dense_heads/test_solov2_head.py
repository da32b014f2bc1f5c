import copy

import pytest
import torch
from mmengine.config import Config
from support import mmsolo_config_path

from mmsolo.models.layers import MaskFeatures, flat_cells
from mmsolo.models.task_modules import build_test_cfg, point_nms
from mmsolo.registry import MODELS
from mmsolo.testing import demo_batch


def test_empty_ground_truth_gives_finite_losses_and_gradients(
    head_cfg, fpn_feats
):
    head = MODELS.build(head_cfg())
    feats = [f.requires_grad_() for f in fpn_feats()]
    mask_feats = torch.randn(2, 16, 16, 24, requires_grad=True)
    _, samples = demo_batch(
        [(64, 96), (64, 96)],
        gt_instances=[
            dict(boxes=torch.zeros(0, 4), labels=[]),
            dict(boxes=torch.zeros(0, 4), labels=[]),
        ],
    )
    losses = head.loss(feats, MaskFeatures.shared(mask_feats), samples)
    assert losses['loss_mask'].item() == 0
    assert losses['loss_cls'].item() > 0
    total = sum(losses.values())
    total.backward()
    grads = [p.grad for p in head.parameters() if p.grad is not None]
    grads += [mask_feats.grad] + [f.grad for f in feats]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert mask_feats.grad is not None


def test_loss_with_objects_has_mask_gradient(head_cfg, fpn_feats):
    head = MODELS.build(head_cfg())
    mask_feats = torch.randn(1, 16, 16, 24, requires_grad=True)
    _, samples = demo_batch(
        [(64, 96)], gt_instances=[dict(boxes=[[10, 10, 40, 50]], labels=[2])]
    )
    losses = head.loss(
        fpn_feats(batch=1), MaskFeatures.shared(mask_feats), samples
    )
    assert losses['loss_mask'].item() > 0
    losses['loss_mask'].backward()
    assert mask_feats.grad.abs().sum() > 0


@pytest.mark.parametrize(
    'field,value',
    [
        ('num_grids', [12, 10, 8, 6]),
        ('strides', [8, 8, 16, 32]),
        ('scale_ranges', ((1, 96), (48, 192))),
    ],
)
def test_level_lengths_must_agree(head_cfg, field, value):
    with pytest.raises(
        ValueError, match='num_grids, strides and scale_ranges'
    ):
        MODELS.build(head_cfg(**{field: value}))


def test_wrong_number_of_levels_is_explained(head_cfg, fpn_feats):
    head = MODELS.build(head_cfg())
    with pytest.raises(ValueError, match='num_outs'):
        head(fpn_feats()[:4])


@pytest.mark.parametrize('cls_down_index', [0, 1, 2])
@pytest.mark.parametrize('dynamic_conv_size', [1, 3])
def test_variants_predict_with_boxes_of_their_masks(
    head_cfg, fpn_feats, cls_down_index, dynamic_conv_size
):
    head = MODELS.build(
        head_cfg(
            cls_down_index=cls_down_index, dynamic_conv_size=dynamic_conv_size
        )
    ).eval()
    kernel_preds, cls_preds = head(fpn_feats())
    assert [k.shape[1] for k in kernel_preds] == [
        16 * dynamic_conv_size**2
    ] * 5
    assert [c.shape[-1] for c in cls_preds] == [12, 10, 8, 6, 4]
    _, samples = demo_batch([(64, 96), (50, 70)], [(64, 96), (100, 140)])
    mask_feats = MaskFeatures.shared(torch.randn(2, 16, 16, 24))
    with torch.no_grad():
        results = head.predict_by_feat(
            kernel_preds, cls_preds, mask_feats, [s.metainfo for s in samples]
        )
    assert results[1].masks.shape[1:] == (100, 140)
    for result in results:
        assert len(result) > 0
        assert result.masks.dtype == torch.bool
        assert result.labels.dtype == torch.long
        # Every box is the tight box of its mask.
        for mask, box in zip(result.masks, result.bboxes):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [
                xs.min().item(),
                ys.min().item(),
                xs.max().item() + 1,
                ys.max().item() + 1,
            ]


def test_no_candidates_gives_empty_typed_results(head_cfg, fpn_feats):
    head = MODELS.build(head_cfg()).eval()
    kernel_preds, cls_preds = head(fpn_feats())
    _, samples = demo_batch([(64, 96), (64, 96)], [(64, 96), (128, 192)])
    with torch.no_grad():
        results = head.predict_by_feat(
            kernel_preds,
            cls_preds,
            MaskFeatures.shared(torch.randn(2, 16, 16, 24)),
            [s.metainfo for s in samples],
            cfg=dict(head.test_cfg, score_thr=1.1),
        )
    for result, shape in zip(results, [(64, 96), (128, 192)]):
        assert result.masks.shape == (0, *shape)
        assert result.masks.dtype == torch.bool
        assert result.labels.dtype == torch.long
        assert result.bboxes.shape == (0, 4)
        assert result.scores.shape == (0,)


def test_detector_fills_and_checks_mask_feature_settings():
    model_cfg = copy.deepcopy(Config.fromfile(mmsolo_config_path()).model)
    model_cfg.backbone.init_cfg = None
    model_cfg.backbone.depth = 18
    model_cfg.neck.in_channels = [64, 128, 256, 512]
    model_cfg.mask_feature_neck.out_channels = 64
    model = MODELS.build(model_cfg)
    assert model.mask_head.mask_feat_channels == 64
    assert model.mask_head.conv_kernel.out_channels == 64
    model_cfg.mask_head.mask_feat_channels = 128
    with pytest.raises(ValueError, match='mask_head.mask_feat_channels=128'):
        MODELS.build(model_cfg)


def test_post_processing_computes_masks_for_nms_pre_candidates_only(
    head_cfg, fpn_feats
):
    """More than 50,000 candidates above score_thr: the post-processor's
    candidates, the only cells whose masks it computes, are the nms_pre
    best (by category score), so predict time and memory stay bounded;
    with fewer candidates than nms_pre all of them are kept."""
    grids = [40, 36, 24, 16, 12]  # 3872 cells x 80 classes
    head = MODELS.build(head_cfg(num_classes=80, num_grids=grids))
    head.eval()
    feats = fpn_feats(batch=1, size=(128, 160))
    mask_feats = MaskFeatures.shared(torch.randn(1, 16, 32, 40))
    img_metas = [s.metainfo for s in demo_batch([(128, 160)])[1]]
    processor = head.post_processor
    with torch.no_grad():
        kernel_preds, cls_preds = head(feats)
        cell_probs = flat_cells(
            [point_nms(level.sigmoid()) for level in cls_preds]
        )[0]
        scores = cell_probs.flatten()
        few_thr = scores.topk(301).values[-1].item()  # 300 candidates
        for nms_pre, score_thr, expected in (
            (500, 0.0, 500),
            (500, few_thr, 300),
        ):
            cfg = build_test_cfg(
                dict(
                    head.test_cfg,
                    nms_pre=nms_pre,
                    score_thr=score_thr,
                    max_per_img=50,
                )
            )
            cls_scores, cells, labels = processor.select_candidates(
                cell_probs, cfg
            )
            assert len(cls_scores) == expected
            # The best scores, listed in cell order.
            assert torch.equal(
                cls_scores.sort(descending=True).values,
                scores.topk(expected).values,
            )
            assert (torch.diff(cells * 80 + labels) > 0).all()
            results = head.predict_by_feat(
                kernel_preds, cls_preds, mask_feats, img_metas, cfg=cfg
            )
            assert 0 < len(results[0]) <= 50
    assert (scores > 0).sum() > 50000
