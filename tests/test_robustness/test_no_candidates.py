"""Predicting with no candidate left returns empty results of the right
types and shapes, and the COCO evaluation of such results still runs.

``SOLOv2PostProcessor.predict_image`` loses its candidates in one of three
places, each covered here; each case then relaxes one setting and the
same batch has instances, so that it is that setting which empties the
results:

- no score above ``score_thr``;
- no mask larger than its level's stride once thresholded at ``mask_thr``
  (with ``score_thr=0`` every cell is a candidate);
- the mask NMS (each ``nms_type``) keeps nothing above ``filter_thr``.
"""

from typing import List, Tuple

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from support.odd_coco import CLASSES, ODD_IMAGES, OddCoco

from mmsolo.evaluation import EmptySafeCocoMetric as CocoMetric

# Overrides of the quick-start test cfg that leave no candidate, and the
# one change after which the same batch has instances (filter_thr=0: the
# seeded model's scores are low).
NO_CANDIDATE_CASES = [
    pytest.param(
        dict(score_thr=1.0, filter_thr=0.0),
        dict(score_thr=0.0),
        id='all_under_score_thr',
    ),
    pytest.param(
        dict(score_thr=0.0, filter_thr=0.0, mask_thr=1.0),
        dict(mask_thr=0.5),
        id='all_masks_empty_after_mask_thr',
    ),
] + [
    pytest.param(
        dict(score_thr=0.0, filter_thr=1.0, nms_type=nms_type, iou_thr=0.5),
        dict(filter_thr=0.0),
        id=f'all_filtered_by_{nms_type}_nms',
    )
    for nms_type in ('matrix', 'hard', 'soft', 'fast')
]
BATCHES = [
    pytest.param(('sides_75x100',), id='batch_of_1'),
    pytest.param(('sides_75x100', 'grayscale'), id='batch_of_2'),
]


def assert_empty_predictions(
    outputs: List[DetDataSample], ori_shapes: List[Tuple[int, int]]
) -> None:
    """Each output holds no instance: (0, H, W) bool masks at its original
    size, (0, 4) float boxes, (0,) float scores and (0,) int64 labels."""
    assert len(outputs) == len(ori_shapes)
    for output, (height, width) in zip(outputs, ori_shapes):
        assert isinstance(output, DetDataSample)
        pred = output.pred_instances
        assert len(pred) == 0
        assert pred.masks.dtype == torch.bool
        assert pred.masks.shape == (0, height, width)
        assert pred.bboxes.dtype == torch.float32
        assert pred.bboxes.shape == (0, 4)
        assert pred.scores.dtype == torch.float32
        assert pred.scores.shape == (0,)
        assert pred.labels.dtype == torch.int64
        assert pred.labels.shape == (0,)


@pytest.mark.parametrize('names', BATCHES)
@pytest.mark.parametrize('test_cfg, relaxed', NO_CANDIDATE_CASES)
def test_no_candidate_gives_empty_results(
    quickstart_model: torch.nn.Module,
    collate,
    names: Tuple[str, ...],
    test_cfg: dict,
    relaxed: dict,
) -> None:
    """``test_step`` returns empty, well-formed instances for each image of
    the batch; with the case's one setting relaxed, every image of the same
    batch has instances."""
    model = quickstart_model.eval()
    batch = collate(names)
    ori_shapes = [sample.ori_shape for sample in batch['data_samples']]
    model.mask_head.test_cfg.update(test_cfg)
    with torch.no_grad():
        outputs = model.test_step(batch)
    assert_empty_predictions(outputs, ori_shapes)
    model.mask_head.test_cfg.update(relaxed)
    with torch.no_grad():
        outputs = model.test_step(collate(names))
    for output, shape in zip(outputs, ori_shapes):
        assert len(output.pred_instances) > 0
        assert output.pred_instances.masks.shape[1:] == shape


def test_coco_evaluation_of_no_candidates(
    quickstart_model: torch.nn.Module,
    collate,
    odd_coco: OddCoco,
    repo_root: str,
) -> None:
    """The quick-start config's val evaluator (mmsolo's CocoMetric) on the
    odd set predicted without a single instance (batches of 2, as its val
    loader would give them): box and mask AP are evaluated, 0.0 where there
    is ground truth to find and -1.0 (COCO's "no ground truth") for large
    objects, of which the set has none."""
    model = quickstart_model.eval()
    model.mask_head.test_cfg.update(score_thr=1.0)
    cfg = Config.fromfile(
        f'{repo_root}/configs/quickstart/solov2-light_r18_fpn_shapes.py'
    )
    cfg.val_evaluator.ann_file = odd_coco.ann_file
    evaluator = Evaluator(cfg.val_evaluator)
    assert type(evaluator.metrics[0]) is CocoMetric
    evaluator.dataset_meta = dict(classes=CLASSES)
    for start in range(0, len(ODD_IMAGES), 2):
        batch = collate(ODD_IMAGES[start : start + 2])
        with torch.no_grad():
            outputs = model.test_step(batch)
        assert_empty_predictions(
            outputs, [sample.ori_shape for sample in batch['data_samples']]
        )
        evaluator.process(outputs, batch)
    metrics = evaluator.evaluate(len(ODD_IMAGES))
    assert metrics == {
        f'coco/{metric}_{item}': -1.0 if item == 'mAP_l' else 0.0
        for metric in ('bbox', 'segm')
        for item in ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
    }
