"""SOLOv2Head's Table 3 variants: the mask NMS choice and per-level mask
features."""

from unittest import mock

import pytest
import torch

from mmsolo.models.layers import MaskFeatures
from mmsolo.registry import FUNCTIONS, MODELS
from mmsolo.testing import demo_batch


@pytest.fixture
def head_outputs(fpn_feats):
    """``head_outputs(head, seed=0)``: the head's kernels and category
    logits on seeded FPN features of two 64x96 images, and their metas."""

    def outputs(head, seed=0):
        torch.manual_seed(seed)
        with torch.no_grad():
            kernel_preds, cls_preds = head(fpn_feats(seed=seed))
        _, samples = demo_batch([(64, 96), (64, 96)])
        return kernel_preds, cls_preds, [s.metainfo for s in samples]

    return outputs


def shared_maps(*size, generator=None):
    return MaskFeatures.shared(torch.randn(*size, generator=generator))


# ------------------------------------------------------------------ mask NMS
@pytest.mark.parametrize(
    'nms_type,name,param',
    [
        ('hard', 'hard_mask_nms', 'iou_thr'),
        ('fast', 'fast_mask_nms', 'iou_thr'),
        ('soft', 'soft_mask_nms', 'sigma'),
    ],
)
def test_test_cfg_nms_type_selects_the_nms(
    head_cfg, head_test_cfg, head_outputs, nms_type, name, param
):
    """The NMS is looked up by name in the FUNCTIONS registry, with the
    test_cfg's settings; nms_pre is not passed again (the candidates were
    capped to it before their masks were computed)."""
    value = 0.3 if param == 'iou_thr' else 0.5
    test_cfg = dict(head_test_cfg, nms_type=nms_type, **{param: value})
    head = MODELS.build(head_cfg(test_cfg)).eval()
    kernel_preds, cls_preds, metas = head_outputs(head)
    function = FUNCTIONS.get(name)
    outputs = []

    def record(*args, **kwargs):
        outputs.append(function(*args, **kwargs))
        return outputs[-1]

    spy, matrix = mock.Mock(side_effect=record), mock.Mock()
    with mock.patch.dict(
        FUNCTIONS.module_dict, {name: spy, 'matrix_nms': matrix}
    ):
        results = head.predict_by_feat(
            kernel_preds, cls_preds, shared_maps(2, 16, 16, 24), metas
        )
    assert not matrix.called
    assert spy.call_count == 2  # once per image
    for call, output, result in zip(spy.call_args_list, outputs, results):
        assert call.kwargs[param] == value
        assert 'nms_pre' not in call.kwargs
        assert call.kwargs['max_num'] == 20
        assert call.kwargs['filter_thr'] == -1
        assert len(result) > 0
        assert torch.equal(result.scores, output[0])
        assert torch.equal(result.labels, output[1])


def test_matrix_is_the_default_and_unchanged(
    head_cfg, head_test_cfg, head_outputs
):
    explicit = MODELS.build(
        head_cfg(dict(head_test_cfg, nms_type='matrix'))
    ).eval()
    default = MODELS.build(head_cfg()).eval()
    default.load_state_dict(explicit.state_dict())
    kernel_preds, cls_preds, metas = head_outputs(explicit)
    mask_feats = shared_maps(2, 16, 16, 24)
    with torch.no_grad():
        a = explicit.predict_by_feat(
            kernel_preds, cls_preds, mask_feats, metas
        )
        b = default.predict_by_feat(kernel_preds, cls_preds, mask_feats, metas)
    for x, y in zip(a, b):
        assert len(x) > 0
        assert torch.equal(x.scores, y.scores)
        assert torch.equal(x.masks, y.masks)


def test_fast_keeps_a_subset_of_hard(head_cfg, head_test_cfg, head_outputs):
    results = {}
    for nms_type in ('hard', 'fast'):
        head = MODELS.build(
            head_cfg(
                dict(
                    head_test_cfg,
                    nms_type=nms_type,
                    iou_thr=0.3,
                    max_per_img=-1,
                )
            )
        ).eval()
        torch.manual_seed(0)
        head.init_weights()
        kernel_preds, cls_preds, metas = head_outputs(head)
        with torch.no_grad():
            results[nms_type] = head.predict_by_feat(
                kernel_preds,
                cls_preds,
                shared_maps(
                    2, 16, 16, 24, generator=torch.Generator().manual_seed(1)
                ),
                metas,
            )
    for hard, fast in zip(results['hard'], results['fast']):
        assert 0 < len(fast) <= len(hard)
        hard_scores = set(hard.scores.tolist())
        assert set(fast.scores.tolist()) <= hard_scores


@pytest.mark.parametrize(
    'change,match',
    [
        (dict(nms_type='greedy'), "nms_type='greedy'"),
        (dict(nms_type='hard'), r"\['iou_thr'\]"),
        (dict(kernel=None), r"\['kernel'\]"),  # None: the key left out
        (dict(kernel='box'), "kernel='box'"),
        (dict(score_thr='0.1'), 'score_thr'),
        (dict(nms_pre=0.5), 'nms_pre'),
    ],
)
def test_bad_nms_settings_are_explained(
    head_cfg, head_test_cfg, head_outputs, change, match
):
    test_cfg = {
        key: value
        for key, value in dict(head_test_cfg, **change).items()
        if value is not None
    }
    with pytest.raises(ValueError, match='model.test_cfg') as error:
        MODELS.build(head_cfg(test_cfg))
    assert error.match(match)
    head = MODELS.build(head_cfg()).eval()
    kernel_preds, cls_preds, metas = head_outputs(head)
    with pytest.raises(ValueError, match=match):
        head.predict_by_feat(
            kernel_preds,
            cls_preds,
            shared_maps(2, 16, 16, 24),
            metas,
            cfg=test_cfg,
        )


def test_a_partial_test_cfg_gets_the_defaults(head_cfg):
    """Keys left out of test_cfg (here all but the NMS's own) take the
    defaults when the head is built, not an error at predict time."""
    head = MODELS.build(head_cfg(dict(kernel='linear', sigma=2.0)))
    assert head.test_cfg == dict(
        nms_pre=500,
        score_thr=0.1,
        mask_thr=0.5,
        filter_thr=0.05,
        max_per_img=100,
        mask_box='tight',
        mask_box_min_part=0.1,
        mask_box_thr=None,
        kernel='linear',
        sigma=2.0,
    )


# ------------------------------------------------ per-level mask features
def gt_samples(boxes_per_image, img_shape=(64, 96)):
    _, samples = demo_batch(
        [img_shape] * len(boxes_per_image),
        gt_instances=[
            dict(boxes=boxes, labels=[1] * len(boxes))
            for boxes in boxes_per_image
        ],
    )
    return samples


def test_same_map_on_every_level_equals_the_unified_path(
    head_cfg, fpn_feats, head_outputs
):
    head = MODELS.build(head_cfg())
    feats = fpn_feats()
    mask_feats = torch.randn(2, 16, 16, 24)
    shared = MaskFeatures.shared(mask_feats)
    of_levels = MaskFeatures.of_levels([mask_feats] * 5)
    samples = gt_samples(
        [[[10, 10, 40, 50], [20, 5, 90, 60]], [[0, 0, 30, 20]]]
    )
    unified = head.loss(feats, shared, samples)
    per_level = head.loss(feats, of_levels, samples)
    assert unified['loss_mask'] > 0
    for key in unified:
        torch.testing.assert_close(per_level[key], unified[key])

    head.eval()
    kernel_preds, cls_preds, metas = head_outputs(head)
    with torch.no_grad():
        a = head.predict_by_feat(kernel_preds, cls_preds, shared, metas)
        b = head.predict_by_feat(kernel_preds, cls_preds, of_levels, metas)
    for x, y in zip(a, b):
        assert len(x) > 0
        torch.testing.assert_close(x.scores, y.scores)
        assert torch.equal(x.masks, y.masks)


def test_loss_routes_each_level_kernels_to_its_own_map(head_cfg, fpn_feats):
    head = MODELS.build(head_cfg())
    maps = [torch.randn(1, 16, 64, 64, requires_grad=True) for _ in range(5)]
    # sqrt(area) 25 lies in level 0's scale range (1, 96) only; 200 in
    # those of levels 2 (96, 384) and 3 (192, 768).
    samples = gt_samples(
        [[[30, 20, 55, 45], [40, 40, 240, 240]]], img_shape=(256, 256)
    )
    losses = head.loss(
        fpn_feats(batch=1, size=(256, 256)),
        MaskFeatures.of_levels(maps),
        samples,
    )
    losses['loss_mask'].backward()
    has_grad = [m.grad is not None and bool(m.grad.any()) for m in maps]
    assert has_grad == [True, False, True, True, False]
    # Levels without positives stay in the graph (zero gradient), as
    # DistributedDataParallel needs every parameter to get one.
    assert all(m.grad is not None for m in maps)


def test_no_objects_keeps_every_map_in_the_graph(head_cfg, fpn_feats):
    head = MODELS.build(head_cfg())
    maps = [torch.randn(1, 16, 16, 24, requires_grad=True) for _ in range(5)]
    losses = head.loss(
        fpn_feats(batch=1), MaskFeatures.of_levels(maps), gt_samples([[]])
    )
    assert losses['loss_mask'].item() == 0
    losses['loss_mask'].backward()
    assert all(m.grad is not None for m in maps)


def test_wrong_number_of_level_maps_is_explained(head_cfg, fpn_feats):
    head = MODELS.build(head_cfg())
    with pytest.raises(ValueError, match='mask_feature_neck.num_levels'):
        head.loss(
            fpn_feats(),
            MaskFeatures.of_levels([torch.randn(2, 16, 16, 24)] * 4),
            gt_samples([[], []]),
        )
