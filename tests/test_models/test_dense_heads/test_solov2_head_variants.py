"""SOLOv2Head's Table 3 variants: the mask NMS choice and per-level mask
features."""
from unittest import mock

import pytest
import torch

from mmsolo.models.dense_heads import solov2_head as head_module
from mmsolo.registry import MODELS
from mmsolo.testing import demo_batch

MATRIX_TEST_CFG = dict(
    nms_pre=100,
    score_thr=0.0,
    mask_thr=0.5,
    filter_thr=-1,
    kernel='gaussian',
    sigma=2.0,
    max_per_img=20)


def head_cfg(test_cfg=MATRIX_TEST_CFG, **overrides):
    cfg = dict(
        type='SOLOv2Head',
        num_classes=4,
        in_channels=32,
        feat_channels=32,
        stacked_convs=2,
        num_grids=[12, 10, 8, 6, 4],
        mask_feat_channels=16,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
        test_cfg=dict(test_cfg))
    cfg.update(overrides)
    return cfg


def fpn_feats(batch=2, size=(64, 96), seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = size[0] // 4, size[1] // 4
    return [
        torch.randn(batch, 32, h // 2**i, w // 2**i, generator=g)
        for i in range(5)
    ]


def head_outputs(head, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        kernel_preds, cls_preds = head(fpn_feats(seed=seed))
    _, samples = demo_batch([(64, 96), (64, 96)])
    return kernel_preds, cls_preds, [s.metainfo for s in samples]


# ------------------------------------------------------------------ mask NMS
@pytest.mark.parametrize('nms_type,name,param', [
    ('hard', 'hard_mask_nms', 'iou_thr'),
    ('fast', 'fast_mask_nms', 'iou_thr'),
    ('soft', 'soft_mask_nms', 'sigma'),
])
def test_test_cfg_nms_type_selects_the_nms(nms_type, name, param):
    value = 0.3 if param == 'iou_thr' else 0.5
    test_cfg = dict(MATRIX_TEST_CFG, nms_type=nms_type, **{param: value})
    head = MODELS.build(head_cfg(test_cfg)).eval()
    kernel_preds, cls_preds, metas = head_outputs(head)
    function = getattr(head_module, name)
    outputs = []

    def record(*args, **kwargs):
        outputs.append(function(*args, **kwargs))
        return outputs[-1]

    with mock.patch.object(head_module, name, side_effect=record) as spy, \
            mock.patch.object(head_module, 'matrix_nms') as matrix:
        results = head.predict_by_feat(kernel_preds, cls_preds,
                                       torch.randn(2, 16, 16, 24), metas)
    assert not matrix.called
    assert spy.call_count == 2  # once per image
    for call, output, result in zip(spy.call_args_list, outputs, results):
        assert call.kwargs[param] == value
        assert call.kwargs['nms_pre'] == 100
        assert call.kwargs['max_num'] == 20
        assert call.kwargs['filter_thr'] == -1
        assert len(result) > 0
        assert torch.equal(result.scores, output[0])
        assert torch.equal(result.labels, output[1])


def test_matrix_is_the_default_and_unchanged():
    explicit = MODELS.build(
        head_cfg(dict(MATRIX_TEST_CFG, nms_type='matrix'))).eval()
    default = MODELS.build(head_cfg()).eval()
    default.load_state_dict(explicit.state_dict())
    kernel_preds, cls_preds, metas = head_outputs(explicit)
    mask_feats = torch.randn(2, 16, 16, 24)
    with torch.no_grad():
        a = explicit.predict_by_feat(kernel_preds, cls_preds, mask_feats,
                                     metas)
        b = default.predict_by_feat(kernel_preds, cls_preds, mask_feats, metas)
    for x, y in zip(a, b):
        assert len(x) > 0
        assert torch.equal(x.scores, y.scores)
        assert torch.equal(x.masks, y.masks)


def test_fast_keeps_a_subset_of_hard():
    results = {}
    for nms_type in ('hard', 'fast'):
        head = MODELS.build(
            head_cfg(
                dict(
                    MATRIX_TEST_CFG,
                    nms_type=nms_type,
                    iou_thr=0.3,
                    max_per_img=-1))).eval()
        torch.manual_seed(0)
        head.init_weights()
        kernel_preds, cls_preds, metas = head_outputs(head)
        with torch.no_grad():
            results[nms_type] = head.predict_by_feat(
                kernel_preds, cls_preds,
                torch.randn(
                    2, 16, 16, 24, generator=torch.Generator().manual_seed(1)),
                metas)
    for hard, fast in zip(results['hard'], results['fast']):
        assert 0 < len(fast) <= len(hard)
        hard_scores = set(hard.scores.tolist())
        assert set(fast.scores.tolist()) <= hard_scores


@pytest.mark.parametrize('test_cfg,match', [
    (dict(MATRIX_TEST_CFG, nms_type='greedy'), "nms_type='greedy'"),
    (dict(MATRIX_TEST_CFG, nms_type='hard'), r"\['iou_thr'\]"),
    ({
        k: v
        for k, v in MATRIX_TEST_CFG.items() if k != 'kernel'
    }, r"\['kernel'\]"),
])
def test_bad_nms_settings_are_explained(test_cfg, match):
    with pytest.raises(ValueError, match='model.test_cfg') as error:
        MODELS.build(head_cfg(test_cfg))
    assert error.match(match)
    head = MODELS.build(head_cfg()).eval()
    kernel_preds, cls_preds, metas = head_outputs(head)
    with pytest.raises(ValueError, match=match):
        head.predict_by_feat(
            kernel_preds,
            cls_preds,
            torch.randn(2, 16, 16, 24),
            metas,
            cfg=test_cfg)


# ------------------------------------------------ per-level mask features
def gt_samples(boxes_per_image, img_shape=(64, 96)):
    _, samples = demo_batch(
        [img_shape] * len(boxes_per_image),
        gt_instances=[
            dict(boxes=boxes, labels=[1] * len(boxes))
            for boxes in boxes_per_image
        ])
    return samples


def test_same_map_on_every_level_equals_the_unified_path():
    head = MODELS.build(head_cfg())
    feats = fpn_feats()
    mask_feats = torch.randn(2, 16, 16, 24)
    samples = gt_samples([[[10, 10, 40, 50], [20, 5, 90, 60]], [[0, 0, 30,
                                                                 20]]])
    unified = head.loss(feats, mask_feats, samples)
    per_level = head.loss(feats, [mask_feats] * 5, samples)
    assert unified['loss_mask'] > 0
    for key in unified:
        torch.testing.assert_close(per_level[key], unified[key])

    head.eval()
    kernel_preds, cls_preds, metas = head_outputs(head)
    with torch.no_grad():
        a = head.predict_by_feat(kernel_preds, cls_preds, mask_feats, metas)
        b = head.predict_by_feat(kernel_preds, cls_preds, [mask_feats] * 5,
                                 metas)
    for x, y in zip(a, b):
        assert len(x) > 0
        torch.testing.assert_close(x.scores, y.scores)
        assert torch.equal(x.masks, y.masks)


def test_loss_routes_each_level_kernels_to_its_own_map():
    head = MODELS.build(head_cfg())
    maps = [torch.randn(1, 16, 64, 64, requires_grad=True) for _ in range(5)]
    # sqrt(area) 25 lies in level 0's scale range (1, 96) only; 200 in
    # those of levels 2 (96, 384) and 3 (192, 768).
    samples = gt_samples([[[30, 20, 55, 45], [40, 40, 240, 240]]],
                         img_shape=(256, 256))
    losses = head.loss(fpn_feats(batch=1, size=(256, 256)), maps, samples)
    losses['loss_mask'].backward()
    has_grad = [m.grad is not None and bool(m.grad.any()) for m in maps]
    assert has_grad == [True, False, True, True, False]
    # Levels without positives stay in the graph (zero gradient), as
    # DistributedDataParallel needs every parameter to get one.
    assert all(m.grad is not None for m in maps)


def test_no_objects_keeps_every_map_in_the_graph():
    head = MODELS.build(head_cfg())
    maps = [torch.randn(1, 16, 16, 24, requires_grad=True) for _ in range(5)]
    losses = head.loss(fpn_feats(batch=1), maps, gt_samples([[]]))
    assert losses['loss_mask'].item() == 0
    losses['loss_mask'].backward()
    assert all(m.grad is not None for m in maps)


def test_predict_routes_candidates_to_their_level_map():
    head = MODELS.build(head_cfg(dynamic_conv_size=3))
    g = torch.Generator().manual_seed(0)
    maps = [torch.randn(16, 8, 12, generator=g) for _ in range(5)]
    kernels = torch.randn(7, 16 * 9, generator=g)
    levels = torch.tensor([4, 0, 2, 2, 1, 0, 3])
    logits = head._candidate_masks(maps, kernels, levels)
    for row, level in enumerate(levels.tolist()):
        expected = head.dynamic_masks(maps[level], kernels[row:row + 1])[0]
        torch.testing.assert_close(logits[row], expected)


def test_wrong_number_of_level_maps_is_explained():
    head = MODELS.build(head_cfg())
    with pytest.raises(ValueError, match='mask_feature_neck.num_levels'):
        head.loss(fpn_feats(), [torch.randn(2, 16, 16, 24)] * 4,
                  gt_samples([[], []]))
