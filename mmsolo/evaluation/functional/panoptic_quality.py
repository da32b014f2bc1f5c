"""COCO panoptic quality (PQ, SQ, RQ) in plain NumPy, without panopticapi.

The definition is the COCO one (Kirillov et al., "Panoptic Segmentation",
CVPR 2019), with the conventions of panopticapi's ``pq_compute``:

- A ground-truth pixel of id ``void_id`` (0) is VOID; a predicted pixel of
  id ``void_id`` belongs to no segment.
- A (gt, pred) pair of one category, the gt not a crowd region, matches when
  IoU > 0.5, the union not counting the prediction's pixels on VOID:
  ``union = pred_area + gt_area - intersection - pred_on_void``. IoU > 0.5
  makes a match unique.
- Every unmatched non-crowd gt is a false negative (FN); crowd regions never
  are. An unmatched prediction is a false positive (FP) unless more than
  half of it lies on VOID plus crowd regions of its own category.
- Per category: PQ = sum(IoU of matches) / (TP + FP / 2 + FN / 2),
  SQ = sum(IoU) / TP (0 without TP), RQ = TP / (TP + FP / 2 + FN / 2);
  PQ, SQ and RQ are averaged over the categories with TP + FP + FN > 0.

One difference: panopticapi takes a single crowd region per category
(the last one listed); here all of them count, which is the same whenever
an image has at most one crowd region per category, as COCO has.
"""

from typing import (
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

# Category -> (tp, fp, fn, iou_sum): what one image, or many merged, gives.
StatDict = Dict[int, Tuple[int, int, int, float]]
_MAX_ID = 2**32


class PQStat:
    """TP, FP, FN and the sum of matched IoUs per category.

    ``stat += other`` (another :class:`PQStat` or a :data:`StatDict`) sums
    the counts, so stats of images, processes or datasets merge exactly.
    :meth:`as_dict` gives plain, picklable data to collect across ranks.

    Args:
        stats (Mapping, optional): category -> (tp, fp, fn, iou_sum).
    """

    def __init__(self, stats: Optional[Mapping] = None) -> None:
        self.stats: Dict[int, List[float]] = {}
        if stats is not None:
            self += stats

    def add(
        self,
        category: int,
        tp: int = 0,
        fp: int = 0,
        fn: int = 0,
        iou: float = 0.0,
    ) -> None:
        """Add counts (and an IoU sum) to ``category``."""
        counts = self.stats.setdefault(int(category), [0, 0, 0, 0.0])
        counts[0] += int(tp)
        counts[1] += int(fp)
        counts[2] += int(fn)
        counts[3] += float(iou)

    def __iadd__(self, other: Union['PQStat', Mapping]) -> 'PQStat':
        items = other.stats if isinstance(other, PQStat) else other
        for category, (tp, fp, fn, iou) in items.items():
            self.add(category, tp, fp, fn, iou)
        return self

    def __add__(self, other: Union['PQStat', Mapping]) -> 'PQStat':
        merged = PQStat(self.stats)
        merged += other
        return merged

    def as_dict(self) -> StatDict:
        """category -> (tp, fp, fn, iou_sum), plain Python numbers."""
        return {c: (v[0], v[1], v[2], v[3]) for c, v in self.stats.items()}


def merge_pq_stats(stats: Iterable[Union[PQStat, Mapping]]) -> PQStat:
    """Sum of per-image (or per-process) stats."""
    merged = PQStat()
    for stat in stats:
        merged += stat
    return merged


def _segment_table(
    segments: Sequence[Mapping], kind: str, void_id: int, image: str
) -> Dict[int, Mapping]:
    """id -> segment, refusing duplicated ids and the VOID id."""
    table: Dict[int, Mapping] = {}
    for segment in segments:
        seg_id = int(segment['id'])
        if seg_id == void_id or seg_id in table:
            reason = 'is VOID' if seg_id == void_id else 'is listed twice'
            raise ValueError(
                f'{kind} segment id {seg_id} {reason} in image {image}.'
            )
        table[seg_id] = segment
    return table


def pq_stats_single_image(
    gt_ids: np.ndarray,
    gt_segments: Sequence[Mapping],
    pred_ids: np.ndarray,
    pred_segments: Sequence[Mapping],
    void_id: int = 0,
    image: str = '?',
) -> PQStat:
    """PQ counts of one image.

    Args:
        gt_ids (np.ndarray): (H, W) int, the ground-truth segment id of each
            pixel, ``void_id`` for VOID. Ids in [0, 2**32).
        gt_segments (Sequence[Mapping]): dicts with ``id``, ``category_id``
            and ``iscrowd`` (0/1), one per gt segment.
        pred_ids (np.ndarray): (H, W) int, the predicted segment id of each
            pixel, ``void_id`` for no segment. Ids in [0, 2**32).
        pred_segments (Sequence[Mapping]): dicts with ``id`` and
            ``category_id``, one per predicted segment.
        void_id (int): The VOID / no-segment id. Defaults to 0.
        image (str): The image's name in error messages.

    Returns:
        PQStat: TP, FP, FN and IoU sum of each category seen in the image.

    Raises:
        ValueError: Maps of different shapes, ids out of range, an id in a
            map that no segment has, a predicted segment absent from its
            map, or a segment listed twice or with the VOID id.
    """
    gt_ids, pred_ids = np.asarray(gt_ids), np.asarray(pred_ids)
    _check_id_maps(gt_ids, pred_ids, image)
    gts = _segment_table(gt_segments, 'ground-truth', void_id, image)
    preds = _segment_table(pred_segments, 'predicted', void_id, image)
    intersections, gt_area, pred_area = _overlap_areas(gt_ids, pred_ids)
    _check_segments_match_maps(gts, preds, gt_area, pred_area, void_id, image)
    stat = PQStat()
    gt_matched, pred_matched = set(), set()
    for (gt_id, pred_id), inter in intersections.items():
        if gt_id not in gts or pred_id not in preds:
            continue
        gt, category = gts[gt_id], int(gts[gt_id]['category_id'])
        if gt.get('iscrowd', 0) or category != int(
            preds[pred_id]['category_id']
        ):
            continue
        union = (
            pred_area[pred_id]
            + gt_area[gt_id]
            - inter
            - intersections.get((void_id, pred_id), 0)
        )
        if 2 * inter > union:  # IoU > 0.5, exactly
            stat.add(category, tp=1, iou=inter / union)
            gt_matched.add(gt_id)
            pred_matched.add(pred_id)
    _count_unmatched(
        stat,
        gts,
        preds,
        gt_matched,
        pred_matched,
        intersections,
        pred_area,
        void_id,
    )
    return stat


def _check_id_maps(
    gt_ids: np.ndarray, pred_ids: np.ndarray, image: str
) -> None:
    """Raise a ValueError unless both maps are (H, W) of one shape with ids
    in [0, 2**32)."""
    if gt_ids.shape != pred_ids.shape or gt_ids.ndim != 2:
        raise ValueError(
            f'Image {image}: ground truth of shape '
            f'{gt_ids.shape} and prediction of shape '
            f'{pred_ids.shape}; both must be the same (H, W).'
        )
    for kind, ids in (('ground-truth', gt_ids), ('predicted', pred_ids)):
        if ids.size and (ids.min() < 0 or ids.max() >= _MAX_ID):
            raise ValueError(
                f'Image {image}: {kind} ids must lie in '
                f'[0, 2**32), got [{ids.min()}, {ids.max()}].'
            )


def _overlap_areas(
    gt_ids: np.ndarray, pred_ids: np.ndarray
) -> Tuple[Dict[Tuple[int, int], int], Dict[int, int], Dict[int, int]]:
    """In one pass over the pixels: the area of every (gt id, pred id)
    overlap, and of every gt and every predicted id."""
    joint = gt_ids.astype(np.uint64) * np.uint64(_MAX_ID) + pred_ids.astype(
        np.uint64
    )
    pairs, counts = np.unique(joint.ravel(), return_counts=True)
    pair_gt = (pairs // np.uint64(_MAX_ID)).astype(np.int64).tolist()
    pair_pred = (pairs % np.uint64(_MAX_ID)).astype(np.int64).tolist()
    intersections: Dict[Tuple[int, int], int] = {}
    gt_area: Dict[int, int] = {}
    pred_area: Dict[int, int] = {}
    for gt_id, pred_id, count in zip(pair_gt, pair_pred, counts.tolist()):
        intersections[gt_id, pred_id] = count
        gt_area[gt_id] = gt_area.get(gt_id, 0) + count
        pred_area[pred_id] = pred_area.get(pred_id, 0) + count
    return intersections, gt_area, pred_area


def _check_segments_match_maps(
    gts: Dict[int, Mapping],
    preds: Dict[int, Mapping],
    gt_area: Dict[int, int],
    pred_area: Dict[int, int],
    void_id: int,
    image: str,
) -> None:
    """Raise a ValueError for an id in a map that no segment has, or a
    predicted segment absent from its map."""
    for kind, areas, table in (
        ('ground-truth', gt_area, gts),
        ('predicted', pred_area, preds),
    ):
        unknown = sorted(set(areas) - set(table) - {void_id})
        if unknown:
            raise ValueError(
                f'Image {image}: {kind} segment id {unknown[0]} '
                'is in the map but not in the segment list.'
            )
    missing = sorted(set(preds) - set(pred_area))
    if missing:
        raise ValueError(
            f'Image {image}: predicted segment id {missing[0]} '
            'is in the segment list but not in the map.'
        )


def _count_unmatched(
    stat: PQStat,
    gts: Dict[int, Mapping],
    preds: Dict[int, Mapping],
    gt_matched: set,
    pred_matched: set,
    intersections: Dict[Tuple[int, int], int],
    pred_area: Dict[int, int],
    void_id: int,
) -> None:
    """Add to ``stat`` a false negative per unmatched non-crowd gt segment
    and a false positive per unmatched prediction, unless more than half
    of it lies on VOID or on crowd regions of its category."""
    crowd_ids: Dict[int, List[int]] = {}
    for gt_id, gt in gts.items():
        category = int(gt['category_id'])
        if gt.get('iscrowd', 0):
            crowd_ids.setdefault(category, []).append(gt_id)
        elif gt_id not in gt_matched:
            stat.add(category, fn=1)
    for pred_id, pred in preds.items():
        if pred_id in pred_matched:
            continue
        category = int(pred['category_id'])
        ignored = intersections.get((void_id, pred_id), 0) + sum(
            intersections.get((crowd, pred_id), 0)
            for crowd in crowd_ids.get(category, ())
        )
        if 2 * ignored <= pred_area[pred_id]:
            stat.add(category, fp=1)


def pq_average(
    stats: Union[PQStat, Mapping],
    categories: Mapping[int, Mapping],
    isthing: Optional[bool] = None,
) -> Tuple[Dict[str, float], Dict[int, Dict[str, float]]]:
    """PQ, SQ and RQ averaged over categories.

    Args:
        stats (PQStat | Mapping): Merged stats, category -> counts.
        categories (Mapping[int, Mapping]): category -> dict with
            ``isthing`` (0/1); only these categories are averaged.
        isthing (bool, optional): Only things (True), only stuff (False) or
            all categories (None).

    Returns:
        tuple: ``dict(pq, sq, rq, n)``, fractions averaged over the ``n``
        categories with TP + FP + FN > 0 (all 0.0 when n == 0), and
        category -> ``dict(pq, sq, rq)`` for every selected category (0.0
        for those never seen).
    """
    stats = stats if isinstance(stats, PQStat) else PQStat(stats)
    total = dict(pq=0.0, sq=0.0, rq=0.0)
    n = 0
    per_class: Dict[int, Dict[str, float]] = {}
    for category, info in categories.items():
        if isthing is not None and bool(info['isthing']) != isthing:
            continue
        tp, fp, fn, iou = stats.stats.get(int(category), (0, 0, 0, 0.0))
        if tp + fp + fn == 0:
            per_class[category] = dict(pq=0.0, sq=0.0, rq=0.0)
            continue
        n += 1
        denominator = tp + 0.5 * fp + 0.5 * fn
        result = dict(
            pq=iou / denominator,
            sq=iou / tp if tp else 0.0,
            rq=tp / denominator,
        )
        per_class[category] = result
        for key in total:
            total[key] += result[key]
    summary = {key: value / n if n else 0.0 for key, value in total.items()}
    summary['n'] = n
    return summary, per_class
