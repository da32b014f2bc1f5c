"""SOLOv2PostProcessor's stages and its test_cfg; the head's assigner from
train_cfg."""

from unittest import mock

import pytest
import torch
from mmengine.config import ConfigDict

from mmsolo.models.layers import MaskFeatures, masks_to_boxes
from mmsolo.models.task_modules import (
    CenterRegionGridAssigner,
    SOLOv2PostProcessor,
    build_test_cfg,
    point_nms,
)
from mmsolo.registry import MODELS, TASK_UTILS
from mmsolo.testing import demo_batch


def test_point_nms_keeps_the_maxima_of_2x2_windows():
    probs = torch.tensor(
        [[[[0.1, 0.9, 0.2], [0.3, 0.4, 0.8], [0.7, 0.1, 0.1]]]]
    )
    kept = point_nms(probs)[0, 0]
    # A cell survives when no cell left, up or up-left of it scores more:
    # 0.8 loses to the 0.9 up-left of it, 0.4 to the 0.9 above it.
    expected = torch.tensor(
        [[0.1, 0.9, 0.0], [0.3, 0.0, 0.0], [0.7, 0.0, 0.0]]
    )
    assert torch.equal(kept, expected)


def test_candidates_capped_to_nms_pre_in_cell_order():
    probs = torch.tensor([[0.5, 0.95], [0.2, 0.8], [0.9, 0.1]])
    cfg = ConfigDict(score_thr=0.3, nms_pre=2)
    scores, cells, labels = SOLOv2PostProcessor.select_candidates(probs, cfg)
    assert scores.tolist() == pytest.approx([0.95, 0.9])
    assert cells.tolist() == [0, 2] and labels.tolist() == [1, 0]
    cfg.nms_pre = -1  # no cap: all four above score_thr
    assert len(SOLOv2PostProcessor.select_candidates(probs, cfg)[0]) == 4


def test_test_cfg_defaults_are_merged_once_at_build():
    processor = SOLOv2PostProcessor(
        [4], [8], 4, 1, dict(score_thr=0.3, nms_type='hard', iou_thr=0.5)
    )
    assert processor.test_cfg == dict(
        nms_pre=500,
        score_thr=0.3,
        mask_thr=0.5,
        filter_thr=0.05,
        max_per_img=100,
        mask_box='tight',
        mask_box_min_part=0.1,
        mask_box_thr=None,
        nms_type='hard',
        iou_thr=0.5,
    )
    assert build_test_cfg(None).kernel == 'gaussian'


@pytest.mark.parametrize(
    'test_cfg,match',
    [
        (dict(nms_type='soft'), r"\['sigma'\]"),
        (dict(kernel='gaussian', sigma=2.0, max_per_img='all'), 'max_per_img'),
        (dict(kernel='gaussian', sigma=2.0, mask_thr=True), 'mask_thr'),
        (
            dict(kernel='gaussian', sigma=2.0, mask_box='largest'),
            r"model.test_cfg.mask_box='largest' is not a box mode; use one of "
            r"\('tight', 'main_parts'\)",
        ),
        (
            dict(kernel='gaussian', sigma=2.0, mask_box_min_part=1.5),
            r'model.test_cfg.mask_box_min_part=1.5 must be in \[0, 1\]',
        ),
        (
            dict(kernel='gaussian', sigma=2.0, mask_box_min_part='0.1'),
            'model.test_cfg.mask_box_min_part',
        ),
        (
            dict(kernel='gaussian', sigma=2.0, mask_box_thr=1.0),
            r'model.test_cfg.mask_box_thr=1.0 must be None '
            r'\(boxes of the masks\) '
            r'or a probability in \(0, 1\)',
        ),
        (
            dict(kernel='gaussian', sigma=2.0, mask_box_thr=0),
            'model.test_cfg.mask_box_thr=0 must be',
        ),
        (
            dict(kernel='gaussian', sigma=2.0, mask_box_thr='0.3'),
            "model.test_cfg.mask_box_thr='0.3' must be",
        ),
        (
            dict(kernel='gaussian', sigma=2.0, mask_box_thr=True),
            'model.test_cfg.mask_box_thr=True must be',
        ),
    ],
)
def test_bad_test_cfg_fails_at_build_naming_the_field(test_cfg, match):
    with pytest.raises(ValueError, match=match):
        SOLOv2PostProcessor([4], [8], 4, 1, test_cfg)


def block_and_stray_outputs(head):
    """Head outputs of one confident candidate whose mask is a 10x12 block
    of the 16x24 mask features and a 2x3 blob cut off from it by an empty
    row and empty columns."""
    feats = torch.full((1, 16, 16, 24), -5.0)
    feats[0, 0, 2:12, 2:14] = 5.0  # the block
    feats[0, 0, 13:15, 18:21] = 5.0  # the stray blob
    kernel_preds = []
    for grid in head.num_grids:
        kernels = torch.zeros(1, head.kernel_out_channels, grid, grid)
        kernels[:, 0] = 1.0  # every kernel reads channel 0
        kernel_preds.append(kernels)
    cls_preds = [
        torch.full((1, head.num_classes, grid, grid), -9.0)
        for grid in head.num_grids
    ]
    cls_preds[0][0, 1, 2, 3] = 3.0
    return kernel_preds, cls_preds, MaskFeatures.shared(feats)


def test_test_cfg_mask_box_selects_how_boxes_come_from_masks(
    head_cfg, head_test_cfg
):
    """The head's test_cfg.mask_box and mask_box_min_part derive the boxes
    of the final masks (at ori_shape): with 'main_parts' the stray blob is
    left out; a cfg passed to predict_by_feat replaces them."""
    head = MODELS.build(
        head_cfg(
            dict(
                head_test_cfg,
                score_thr=0.1,
                mask_box='main_parts',
                mask_box_min_part=0.2,
            )
        )
    ).eval()
    _, samples = demo_batch([(64, 96)], [(100, 140)])
    metas = [s.metainfo for s in samples]
    kernel_preds, cls_preds, feats = block_and_stray_outputs(head)
    with torch.no_grad():
        main = head.predict_by_feat(kernel_preds, cls_preds, feats, metas)[0]
        tight = head.predict_by_feat(
            kernel_preds,
            cls_preds,
            feats,
            metas,
            cfg=dict(head.test_cfg, mask_box='tight'),
        )[0]
    assert len(main) == 1 and main.masks.shape[1:] == (100, 140)
    assert torch.equal(main.masks, tight.masks)
    assert torch.equal(
        main.bboxes, masks_to_boxes(main.masks, 'main_parts', 0.2)
    )
    assert torch.equal(tight.bboxes, masks_to_boxes(tight.masks))
    # The tight box reaches the blob (right and bottom), the main part's
    # box ends at the block.
    assert torch.equal(main.bboxes[:, :2], tight.bboxes[:, :2])
    assert (main.bboxes[:, 2:] < tight.bboxes[:, 2:]).all()


def test_test_cfg_mask_box_thr_boxes_the_pixels_above_it(
    head_cfg, head_test_cfg
):
    """With mask_box_thr the boxes are those of the image-sized
    probabilities above it (the masks stay those above mask_thr): each
    holds its mask's box and is wider, where the probability fades out
    gradually (a cone of logits: 0 at 4 feature pixels from its centre,
    logit(0.2) at about 5.4)."""
    head = MODELS.build(
        head_cfg(
            dict(
                head_test_cfg,
                score_thr=0.1,
                mask_box='tight',
                mask_box_thr=0.2,
            )
        )
    ).eval()
    _, samples = demo_batch([(64, 96)], [(100, 140)])
    metas = [s.metainfo for s in samples]
    rows, cols = torch.meshgrid(
        torch.arange(16.0), torch.arange(24.0), indexing='ij'
    )
    cone = 4 * (1 - ((rows - 8) ** 2 + (cols - 12) ** 2).sqrt() / 4)
    feats = torch.zeros(1, 16, 16, 24)
    feats[0, 0] = cone
    kernel_preds = []
    for grid in head.num_grids:
        kernels = torch.zeros(1, head.kernel_out_channels, grid, grid)
        kernels[:, 0] = 1.0  # every kernel reads the cone
        kernel_preds.append(kernels)
    cls_preds = [
        torch.full((1, head.num_classes, grid, grid), -9.0)
        for grid in head.num_grids
    ]
    cls_preds[0][0, 1, 2, 3] = 3.0
    processor = head.post_processor
    spy = mock.Mock(wraps=processor.resize_probs)
    with torch.no_grad(), mock.patch.object(processor, 'resize_probs', spy):
        result = head.predict_by_feat(
            kernel_preds, cls_preds, MaskFeatures.shared(feats), metas
        )[0]
        plain = head.predict_by_feat(
            kernel_preds,
            cls_preds,
            MaskFeatures.shared(feats),
            metas,
            cfg=dict(head.test_cfg, mask_box_thr=None),
        )[0]
    probs = processor.resize_probs(*spy.call_args_list[0].args)
    assert len(result) == 1 and probs.shape[1:] == (100, 140)
    assert torch.equal(result.masks, probs > head.test_cfg.mask_thr)
    assert torch.equal(result.masks, plain.masks)
    assert torch.equal(result.bboxes, masks_to_boxes(probs > 0.2))
    assert torch.equal(plain.bboxes, masks_to_boxes(plain.masks))
    assert (result.bboxes[:, :2] < plain.bboxes[:, :2]).all()
    assert (result.bboxes[:, 2:] > plain.bboxes[:, 2:]).all()


def head_cfg(**overrides):
    return dict(
        type='SOLOv2Head',
        num_classes=3,
        in_channels=16,
        feat_channels=16,
        stacked_convs=1,
        norm_cfg=None,
        **overrides,
    )


def test_assigner_is_built_from_train_cfg():
    default = MODELS.build(head_cfg(pos_scale=0.3))
    assert type(default.assigner) is CenterRegionGridAssigner
    assert default.assigner.pos_scale == 0.3

    @TASK_UTILS.register_module(force=True)
    class NarrowCenterAssigner(CenterRegionGridAssigner):
        """A CenterRegionGridAssigner that halves pos_scale."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.pos_scale /= 2

    head = MODELS.build(
        head_cfg(
            pos_scale=0.3,
            train_cfg=dict(assigner=dict(type='NarrowCenterAssigner')),
        )
    )
    assert type(head.assigner) is NarrowCenterAssigner
    assert head.assigner.pos_scale == 0.15
    assert head.assigner.num_grids == [40, 36, 24, 16, 12]


def test_assigner_may_not_set_the_heads_level_settings():
    with pytest.raises(
        ValueError, match=r"train_cfg.assigner sets \['num_grids'\]"
    ):
        MODELS.build(
            head_cfg(
                train_cfg=dict(
                    assigner=dict(
                        type='CenterRegionGridAssigner', num_grids=[4]
                    )
                )
            )
        )
