"""mmsolo's CocoPanopticMetric and its NumPy panoptic quality, checked
against values computed by hand from small id maps."""

import json
import pickle
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData

from mmsolo.evaluation import CocoPanopticMetric
from mmsolo.evaluation.functional import (
    PQStat,
    merge_pq_stats,
    pq_average,
    pq_stats_single_image,
)
from mmsolo.registry import METRICS

CLASSES = ('cat', 'dog', 'sky', 'grass')
CAT, DOG, SKY, GRASS = range(4)
CATEGORIES = {c: dict(isthing=int(c in (CAT, DOG))) for c in range(4)}
VOID_LABEL = len(CLASSES)  # the prediction's VOID label


def grid(text: str) -> np.ndarray:
    """(H, W) int64 map from rows of whitespace-separated ints."""
    return np.array(
        [row.split() for row in text.strip().splitlines()], dtype=np.int64
    )


def segs(*triples: Sequence[int]) -> List[dict]:
    """Segment dicts from (id, category_id[, iscrowd])."""
    return [
        dict(id=t[0], category_id=t[1], iscrowd=t[2] if len(t) > 2 else 0)
        for t in triples
    ]


def stats(
    gt: str, gt_segs: List[dict], pred: str, pred_segs: List[dict]
) -> Dict[int, tuple]:
    """category -> (tp, fp, fn, iou_sum) of one image."""
    return pq_stats_single_image(
        grid(gt), gt_segs, grid(pred), pred_segs
    ).as_dict()


# Case A. gt 1: cat (8 px), 2: dog (4 px), 3: sky (12 px).
GT_A = """
1 1 1 1 3 3
1 1 1 1 3 3
3 3 3 3 2 2
3 3 3 3 2 2"""
GT_A_SEGS = segs((1, CAT), (2, DOG), (3, SKY))
# pred 5 cat: 6 px all on gt 1, union 8 + 6 - 6 = 8 -> IoU 0.75, TP.
# pred 6 sky: 8 px on gt 3, union 12 + 8 - 8 = 12 -> IoU 2/3, TP.
# pred 7 dog: on sky, no VOID/crowd -> FP; gt 2 (dog) unmatched -> FN.
PRED_A = """
5 5 5 0 6 6
5 5 5 0 6 6
7 7 6 6 0 0
7 7 6 6 0 0"""
PRED_A_SEGS = segs((5, CAT), (6, SKY), (7, DOG))
STATS_A = {CAT: (1, 0, 0, 0.75), SKY: (1, 0, 0, 2 / 3), DOG: (0, 1, 1, 0.0)}
# Per class PQ/SQ/RQ: cat .75/.75/1, dog 0/0/0, sky 2/3 / 2/3 / 1;
# grass absent everywhere, so not averaged. All (n=3): PQ = SQ =
# (.75 + 0 + 2/3) / 3 = 17/36, RQ = 2/3; things (n=2): .375/.375/.5;
# stuff (n=1): 2/3 / 2/3 / 1.
EXPECTED_A = dict(
    All=dict(pq=17 / 36, sq=17 / 36, rq=2 / 3, n=3),
    Things=dict(pq=0.375, sq=0.375, rq=0.5, n=2),
    Stuff=dict(pq=2 / 3, sq=2 / 3, rq=1.0, n=1),
)


def assert_summary(actual: dict, expected: dict) -> None:
    assert actual['n'] == expected['n']
    for key in ('pq', 'sq', 'rq'):
        assert actual[key] == pytest.approx(expected[key], abs=1e-12), key


def test_perfect_prediction_scores_one() -> None:
    """Same segments under other ids: every category TP with IoU 1."""
    pred = GT_A.replace('1', '7').replace('2', '8').replace('3', '9')
    result = stats(GT_A, GT_A_SEGS, pred, segs((7, CAT), (8, DOG), (9, SKY)))
    assert result == {c: (1, 0, 0, 1.0) for c in (CAT, DOG, SKY)}
    summary, _ = pq_average(result, CATEGORIES)
    assert_summary(summary, dict(pq=1.0, sq=1.0, rq=1.0, n=3))


def test_match_fp_fn_and_split_averages() -> None:
    """Case A: IoU 0.75 and 2/3 matches, a dog FP and a dog FN."""
    result = stats(GT_A, GT_A_SEGS, PRED_A, PRED_A_SEGS)
    assert result.keys() == STATS_A.keys()
    for category, expected in STATS_A.items():
        assert result[category][:3] == expected[:3]
        assert result[category][3] == pytest.approx(expected[3])
    for name, isthing in (('All', None), ('Things', True), ('Stuff', False)):
        summary, per_class = pq_average(result, CATEGORIES, isthing)
        assert_summary(summary, EXPECTED_A[name])
    assert per_class[GRASS] == dict(pq=0.0, sq=0.0, rq=0.0)
    _, per_class = pq_average(result, CATEGORIES)
    assert per_class[DOG] == dict(pq=0.0, sq=0.0, rq=0.0)
    assert per_class[CAT] == pytest.approx(dict(pq=0.75, sq=0.75, rq=1.0))


def test_iou_of_exactly_half_is_no_match() -> None:
    """gt 1 (cat, 8 px); pred 5 covers 4 of them: IoU 4/8 = 0.5, no match,
    so one FN and one FP. Covering 5 of them: IoU 5/8 > 0.5, a TP."""
    gt = """
    1 1 1 1 0 0
    1 1 1 1 0 0"""
    half = """
    5 5 0 0 0 0
    5 5 0 0 0 0"""
    assert stats(gt, segs((1, CAT)), half, segs((5, CAT))) == {
        CAT: (0, 1, 1, 0.0)
    }
    more = half.replace('5 5 0', '5 5 5', 1)
    assert stats(gt, segs((1, CAT)), more, segs((5, CAT))) == {
        CAT: (1, 0, 0, 5 / 8)
    }


# gt 1: cat (4 px), 3: sky (8 px), 0: VOID.
GT_VOID = """
1 1 0 0 0 0
1 1 0 0 0 0
3 3 3 3 0 0
3 3 3 3 0 0"""


def test_void_pixels_leave_the_union_and_excuse_false_positives() -> None:
    """pred 5 (cat, 8 px): 4 on gt 1, 4 on VOID: union 4 + 8 - 4 - 4 = 4,
    IoU 1 (0.5 if VOID counted: no match). pred 6 (sky, 6 px on gt 3):
    IoU 6/8. pred 7 (dog, 6 px): 4 on VOID > half, so not an FP."""
    pred = """
    5 5 5 5 0 0
    5 5 5 5 0 0
    6 6 6 7 7 7
    6 6 6 7 7 7"""
    pred_segs = segs((5, CAT), (6, SKY), (7, DOG))
    assert stats(GT_VOID, segs((1, CAT), (3, SKY)), pred, pred_segs) == {
        CAT: (1, 0, 0, 1.0),
        SKY: (1, 0, 0, 0.75),
    }
    # pred 7 on 4 VOID px of 8 (exactly half): an FP. pred 6 (sky, 4 px):
    # IoU 4/8, no match: an FP and an FN.
    pred = pred.replace('6 6 6 7', '6 6 7 7')
    assert stats(GT_VOID, segs((1, CAT), (3, SKY)), pred, pred_segs) == {
        CAT: (1, 0, 0, 1.0),
        DOG: (0, 1, 0, 0.0),
        SKY: (0, 1, 1, 0.0),
    }


def test_crowd_regions_are_never_matched_nor_false_negatives() -> None:
    """gt 1: cat crowd (6 px), 2: cat (4 px), 3: sky (12 px). pred 5 (8 px)
    lies on the crowd (6) and VOID (2): as a cat it is no FP (and, the
    crowd being unmatchable, no TP despite IoU 1); as a dog it is an FP
    (2 / 8 on VOID). The crowd is never an FN."""
    gt = """
    1 1 1 0 2 2
    1 1 1 0 2 2
    3 3 3 3 3 3
    3 3 3 3 3 3"""
    pred = """
    5 5 5 5 6 6
    5 5 5 5 6 6
    7 7 7 7 7 7
    7 7 7 7 7 7"""
    gt_segs = segs((1, CAT, 1), (2, CAT), (3, SKY))
    matched = {CAT: (1, 0, 0, 1.0), SKY: (1, 0, 0, 1.0)}
    assert (
        stats(gt, gt_segs, pred, segs((5, CAT), (6, CAT), (7, SKY))) == matched
    )
    assert stats(gt, gt_segs, pred, segs((5, DOG), (6, CAT), (7, SKY))) == {
        **matched,
        DOG: (0, 1, 0, 0.0),
    }
    empty = '\n'.join(['0 0 0 0 0 0'] * 4)
    assert stats(gt, gt_segs, empty, []) == {
        CAT: (0, 0, 1, 0.0),
        SKY: (0, 0, 1, 0.0),
    }


def test_absent_split_gives_zeros_and_absent_classes_do_not_dilute() -> None:
    """cat: TP IoU .8 -> PQ .8, SQ .8, RQ 1; dog: one FP -> 0, 0, 0 (SQ 0
    without TP). All (n=2): PQ .4, SQ .4, RQ .5, sky and grass (never
    seen) not counted; stuff: n=0 and zeros."""
    result = {CAT: (1, 0, 0, 0.8), DOG: (0, 1, 0, 0.0)}
    summary, per_class = pq_average(result, CATEGORIES)
    assert_summary(summary, dict(pq=0.4, sq=0.4, rq=0.5, n=2))
    assert per_class[SKY] == per_class[DOG] == dict(pq=0.0, sq=0.0, rq=0.0)
    summary, per_class = pq_average(result, CATEGORIES, isthing=False)
    assert_summary(summary, dict(pq=0.0, sq=0.0, rq=0.0, n=0))
    assert set(per_class) == {SKY, GRASS}
    summary, _ = pq_average(PQStat(), CATEGORIES)
    assert_summary(summary, dict(pq=0.0, sq=0.0, rq=0.0, n=0))


def test_stats_merge_by_summing_counts() -> None:
    """Image 1: cat TP (IoU 1), PQ 1; image 2: one cat FP, PQ 0. Merged:
    tp 1, fp 1 -> PQ 1 / 1.5 = 2/3 (the mean of the images' PQ is .5)."""
    first, second = {CAT: (1, 0, 0, 1.0)}, {CAT: (0, 1, 0, 0.0)}
    merged = merge_pq_stats(pickle.loads(pickle.dumps([first, second])))
    assert merged.as_dict() == {CAT: (1, 1, 0, 1.0)}
    assert (PQStat(first) + PQStat(second)).as_dict() == merged.as_dict()
    summary, _ = pq_average(merged, CATEGORIES)
    assert summary['pq'] == pytest.approx(2 / 3)


def test_bad_inputs_raise_naming_id_image_and_shapes() -> None:
    gt, pred = grid(GT_A), grid(PRED_A)
    with pytest.raises(ValueError, match=r'img7.*ground-truth.*id 3'):
        pq_stats_single_image(gt, GT_A_SEGS[:2], pred, PRED_A_SEGS, 0, 'img7')
    with pytest.raises(ValueError, match=r'img7.*predicted.*id 7'):
        pq_stats_single_image(gt, GT_A_SEGS, pred, PRED_A_SEGS[:2], 0, 'img7')
    with pytest.raises(ValueError, match=r'img7.*\(4, 6\).*\(4, 5\)'):
        pq_stats_single_image(
            gt, GT_A_SEGS, pred[:, :5], PRED_A_SEGS, 0, 'img7'
        )


# The metric, fed as mmdet's CocoPanopticDataset and panoptic heads feed it.
META = dict(
    classes=CLASSES, thing_classes=CLASSES[:2], stuff_classes=CLASSES[2:]
)
# Case A's gt under COCO-like ids whose RGB channels all differ (reading
# BGR as RGB gives unknown ids), and its prediction as label + k * 1000.
GT_IDS = {0: 0, 1: 0x030201, 2: 0x060504, 3: 0x090807}
PAN_VALUES = {
    0: VOID_LABEL,
    5: CAT + INSTANCE_OFFSET,
    6: SKY,
    7: DOG + INSTANCE_OFFSET,
}


def write_png(path: str, ids: np.ndarray) -> None:
    """COCO panoptic PNG: RGB = id % 256, id // 256 % 256, id // 256**2."""
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1)
    cv2.imwrite(path, rgb[..., ::-1].astype(np.uint8))


def sample(
    tmp_path: Path,
    img_id: int,
    pred_pan: np.ndarray,
    segments_info: Optional[list] = None,
    ignore_index: Optional[int] = None,
) -> dict:
    """Case A's gt written to ``<img_id>.png``; the data sample dict the
    Evaluator gets (``DetDataSample.to_dict()``)."""
    gt_path = str(tmp_path / f'{img_id}.png')
    write_png(gt_path, np.vectorize(GT_IDS.get)(grid(GT_A)))
    if segments_info is None:
        segments_info = [
            dict(
                id=GT_IDS[s['id']],
                category=s['category_id'],
                is_thing=s['category_id'] in (CAT, DOG),
            )
            for s in GT_A_SEGS
        ]
    data_sample = DetDataSample(
        metainfo=dict(
            img_id=img_id,
            img_path=str(tmp_path / f'{img_id}.jpg'),
            seg_map_path=gt_path,
            ori_shape=pred_pan.shape,
            segments_info=segments_info,
        )
    )
    pred = PixelData(sem_seg=torch.from_numpy(pred_pan)[None].int())
    if ignore_index is not None:
        pred.set_metainfo(dict(ignore_index=ignore_index))
    data_sample.pred_panoptic_seg = pred
    return data_sample.to_dict()


def evaluate(metric: CocoPanopticMetric, samples: List[dict]) -> dict:
    metric.dataset_meta = META
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def expected_keys(summaries: dict) -> Dict[str, float]:
    """mmdet's keys, in percent."""
    return {
        f'coco_panoptic/{k.upper()}{suffix}': 100 * summaries[name][k]
        for name, suffix in (('All', ''), ('Things', '_th'), ('Stuff', '_st'))
        for k in ('pq', 'sq', 'rq')
    }


def test_metric_on_dataset_samples(tmp_path: Path) -> None:
    """Case A through PNGs and data sample dicts: the hand values, x100,
    under mmdet's keys; with classwise the table logs too."""
    assert METRICS.get('CocoPanopticMetric') is CocoPanopticMetric
    metric = METRICS.build(dict(type='CocoPanopticMetric', classwise=True))
    pred = np.vectorize(PAN_VALUES.get)(grid(PRED_A))
    result = evaluate(metric, [sample(tmp_path, 1, pred)])
    assert result == pytest.approx(expected_keys(EXPECTED_A))
    assert metric.results == []


def test_metric_merges_images_and_takes_empty_predictions(
    tmp_path: Path,
) -> None:
    """Image 1: case A (cat .75, dog FP+FN, sky 2/3); image 2: all VOID
    under ignore_index 255, so cat, dog and sky one FN each; its gt marks
    the cat crowd (no FN). Sums: cat tp1 fn0 -> .75/.75/1; dog fp1 fn2 ->
    0/0/0; sky tp1 fn1 -> PQ (2/3)/1.5 = 4/9, SQ 2/3, RQ 2/3."""
    pred = np.vectorize(PAN_VALUES.get)(grid(PRED_A))
    crowd_cat = [
        dict(
            id=GT_IDS[s['id']],
            category=s['category_id'],
            is_thing=s['category_id'] == DOG,
        )
        for s in GT_A_SEGS
    ]
    samples = [
        sample(tmp_path, 1, pred),
        sample(tmp_path, 2, np.full_like(pred, 255), crowd_cat, 255),
    ]
    metric = CocoPanopticMetric()
    metric.dataset_meta = META
    metric.process({}, samples)
    assert metric.results[1] == {DOG: (0, 0, 1, 0.0), SKY: (0, 0, 1, 0.0)}
    result = metric.evaluate(len(samples))
    things = dict(pq=0.375, sq=0.375, rq=0.5, n=2)
    stuff = dict(pq=4 / 9, sq=2 / 3, rq=2 / 3, n=1)
    all_ = {k: (2 * things[k] + stuff[k]) / 3 for k in ('pq', 'sq', 'rq')}
    assert result == pytest.approx(
        expected_keys(dict(All=all_, Things=things, Stuff=stuff))
    )


def test_metric_with_ann_file(tmp_path: Path) -> None:
    """mmdet's val config: segments from the panoptic JSON (COCO category
    ids), PNG under seg_prefix named after img_path; case A's values."""
    cat_ids = (1, 18, 119, 125)
    samples = [sample(tmp_path, 1, np.vectorize(PAN_VALUES.get)(grid(PRED_A)))]
    del samples[0]['seg_map_path'], samples[0]['segments_info']
    ann = dict(
        images=[dict(id=1, file_name='1.jpg', height=4, width=6)],
        annotations=[
            dict(
                image_id=1,
                file_name='1.png',
                segments_info=[
                    dict(
                        id=GT_IDS[s['id']],
                        category_id=cat_ids[s['category_id']],
                        iscrowd=0,
                    )
                    for s in GT_A_SEGS
                ],
            )
        ],
        categories=[
            dict(id=i, name=n, isthing=int(n in META['thing_classes']))
            for i, n in zip(cat_ids, CLASSES)
        ],
    )
    (tmp_path / 'panoptic.json').write_text(json.dumps(ann))
    metric = CocoPanopticMetric(
        ann_file=str(tmp_path / 'panoptic.json'), seg_prefix=str(tmp_path)
    )
    assert evaluate(metric, samples) == pytest.approx(
        expected_keys(EXPECTED_A)
    )


def test_metric_rejects_what_it_does_not_do(tmp_path: Path) -> None:
    with pytest.raises(NotImplementedError, match='format_only'):
        CocoPanopticMetric(format_only=True, outfile_prefix='x')
    with pytest.raises(NotImplementedError, match='outfile_prefix'):
        CocoPanopticMetric(outfile_prefix='x')
    metric = CocoPanopticMetric()
    metric.dataset_meta = META
    pred = np.vectorize(PAN_VALUES.get)(grid(PRED_A))
    with pytest.raises(ValueError, match=r'Image 3.*\(4, 6\).*\(4, 5\)'):
        metric.process({}, [sample(tmp_path, 3, pred[:, :5])])
