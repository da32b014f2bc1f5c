"""SOLOv2TTAModel merges the views of an image as mmdet's DetTTAModel
merges boxes: predictions of a flipped view are flipped back, duplicates
across views removed by a class-aware mask NMS."""

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from mmsolo.models import SOLOv2TTAModel, flip_masks_back


class _Stub(torch.nn.Module):
    def test_step(self, data):
        raise AssertionError('not called here')


def view(masks, scores, labels, flip, direction='horizontal'):
    sample = DetDataSample(
        metainfo=dict(flip=flip, flip_direction=direction, ori_shape=(6, 8))
    )
    sample.pred_instances = InstanceData(
        masks=masks, scores=torch.tensor(scores), labels=torch.tensor(labels)
    )
    return sample


def box_mask(x1, y1, x2, y2):
    mask = torch.zeros(6, 8, dtype=torch.bool)
    mask[y1:y2, x1:x2] = True
    return mask


def test_flipped_view_is_flipped_back_and_deduplicated():
    left = box_mask(0, 1, 3, 4)  # x 0..2, right of it nothing
    other = box_mask(5, 0, 8, 6)
    plain = view(left[None], [0.9], [1], flip=False)
    # The flipped view sees `left` on the right and one more instance.
    flipped = view(
        torch.stack([left.flip(-1), other.flip(-1)]),
        [0.8, 0.7],
        [1, 2],
        flip=True,
    )
    tta = SOLOv2TTAModel(module=_Stub())
    merged = tta.merge_preds([[plain, flipped]])[0]
    instances = merged.pred_instances
    assert instances.scores.tolist() == pytest.approx([0.9, 0.7])
    assert instances.labels.tolist() == [1, 2]
    assert torch.equal(instances.masks[0], left)
    assert torch.equal(instances.masks[1], other)  # back in place
    assert instances.bboxes.tolist() == [[0, 1, 3, 4], [5, 0, 8, 6]]


def test_other_classes_are_not_suppressed_and_max_per_img_holds():
    mask = box_mask(1, 1, 4, 4)[None]
    views = [
        view(mask, [0.9], [0], flip=False),
        view(mask.flip(-1), [0.8], [1], flip=True),
    ]
    tta = SOLOv2TTAModel(module=_Stub(), tta_cfg=dict(max_per_img=1))
    assert len(tta.merge_preds([views])[0].pred_instances) == 1
    tta = SOLOv2TTAModel(module=_Stub())
    assert tta.merge_preds([views])[0].pred_instances.labels.tolist() == [0, 1]


def test_flip_directions_and_errors():
    mask = box_mask(0, 0, 2, 1)[None]
    assert torch.equal(
        flip_masks_back(mask, dict(flip=True, flip_direction='diagonal')),
        mask.flip(-1).flip(-2),
    )
    with pytest.raises(ValueError, match='flip_direction'):
        flip_masks_back(mask, dict(flip=True, flip_direction='sideways'))
    with pytest.raises(KeyError, match='tta_model.tta_cfg.nms.type'):
        SOLOv2TTAModel(module=_Stub(), tta_cfg=dict(nms=dict(type='nms')))


class _HeadStub(_Stub):
    """A module whose mask_head has a test_cfg, as SOLOv2's."""

    def __init__(self, test_cfg):
        super().__init__()
        self.mask_head = torch.nn.Module()
        self.mask_head.test_cfg = test_cfg


def test_boxes_follow_the_modules_test_cfg_mask_box():
    """A square of 16 pixels with a stray pixel cut off from it by an
    empty row and columns: the tight box includes the pixel, the
    main-parts box (the module's test_cfg) does not."""
    mask = box_mask(0, 0, 4, 4)
    mask[5, 7] = True
    views = [view(mask[None], [0.9], [0], flip=False)]
    boxes = {}
    for name, module in [
        ('stub', _Stub()),
        ('tight', _HeadStub(dict(mask_box='tight'))),
        (
            'main_parts',
            _HeadStub(dict(mask_box='main_parts', mask_box_min_part=0.1)),
        ),
    ]:
        merged = SOLOv2TTAModel(module=module).merge_preds([views])[0]
        boxes[name] = merged.pred_instances.bboxes.tolist()
    assert boxes == dict(
        stub=[[0, 0, 8, 6]], tight=[[0, 0, 8, 6]], main_parts=[[0, 0, 4, 4]]
    )


def test_mask_box_thr_keeps_each_views_box_flipped_back():
    """With the module's test_cfg.mask_box_thr, boxes come from
    probabilities the merged masks no longer hold: each kept instance
    keeps the box its view predicted, flipped back to the image (8 wide)."""
    plain = view(box_mask(1, 1, 3, 3)[None], [0.9], [0], flip=False)
    plain.pred_instances.bboxes = torch.tensor([[0.0, 0.0, 4.0, 5.0]])
    flipped = view(
        torch.stack([box_mask(5, 1, 7, 3), box_mask(0, 4, 2, 6)]),
        [0.8, 0.7],
        [0, 1],
        flip=True,
    )
    # A duplicate of the plain view's instance, and one of another class.
    flipped.pred_instances.bboxes = torch.tensor(
        [[4.0, 0.0, 8.0, 4.0], [0.0, 3.0, 3.0, 6.0]]
    )
    module = _HeadStub(dict(mask_box='tight', mask_box_thr=0.3))
    merged = SOLOv2TTAModel(module=module).merge_preds([[plain, flipped]])[0]
    instances = merged.pred_instances
    assert instances.scores.tolist() == pytest.approx([0.9, 0.7])
    assert instances.bboxes.tolist() == [[0, 0, 4, 5], [5, 3, 8, 6]]
    # Without mask_box_thr the boxes are those of the merged masks.
    merged = SOLOv2TTAModel(
        module=_HeadStub(dict(mask_box='tight'))
    ).merge_preds([[plain, flipped]])[0]
    assert merged.pred_instances.bboxes.tolist() == [
        [1, 1, 3, 3],
        [6, 4, 8, 6],
    ]
