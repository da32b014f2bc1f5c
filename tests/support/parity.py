"""Compare a deployed model's predictions with PyTorch's, with a rule that
holds wherever the two sides' kernels differ in the last bits.

The rule (``compare_samples``):

1. Every instance pairs with one of the same label on the other side whose
   mask overlaps it (IoU >= ``min_iou``, checked by the caller through
   ``min_mask_iou``).
2. Scores agree within ``score_tol``, except in a class where some paired
   masks differ in a pixel: a probability within rounding of ``mask_thr``
   flipped, which changes the mask IoUs that Matrix NMS decays the class's
   scores by. There the scores agree within ``decay_rel_tol`` of their value.
3. An instance may lack a twin only at a threshold: its score is within the
   tolerance of rule 2 of ``filter_thr``, or the other side holds
   ``max_per_img`` instances and the instance scores no more than the other
   side's lowest score plus that tolerance (the top-k cut). Everything else
   on one side must be on the other.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.structures import DetDataSample


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    """IoU of two bool masks (H, W); 1 when both are empty."""
    union = (a | b).sum().item()
    return 1.0 if union == 0 else (a & b).sum().item() / union


def pair_instances(ref, dep, score_window: float) -> List[Tuple[int, int]]:
    """Pairs ``(i, j)``: for each reference instance in score order, the
    unused deployed instance of its label whose score is within
    ``score_window`` of its own, of the highest mask IoU. Instances left
    without one are in no pair."""
    used, pairs = set(), []
    for i in range(len(ref)):
        close = (dep.labels == ref.labels[i]) & (
            (dep.scores - ref.scores[i]).abs() <= score_window
        )
        options = [j for j in close.nonzero()[:, 0].tolist() if j not in used]
        if not options:
            continue
        best = max(options, key=lambda j: mask_iou(ref.masks[i], dep.masks[j]))
        used.add(best)
        pairs.append((i, best))
    return pairs


def _unpaired_at_threshold(
    side,
    index: int,
    other,
    tol: float,
    filter_thr: Optional[float],
    max_per_img: Optional[int],
) -> bool:
    """Rule 3: may instance ``index`` of ``side`` be missing from
    ``other``?"""
    score = float(side.scores[index])
    if filter_thr is not None and abs(score - filter_thr) <= tol:
        return True
    return (
        max_per_img is not None
        and len(other) >= max_per_img
        and score <= float(other.scores.min()) + tol
    )


def compare_samples(
    reference: Sequence[DetDataSample],
    deployed: Sequence[DetDataSample],
    score_tol: float = 1e-4,
    decay_rel_tol: float = 2e-3,
    filter_thr: Optional[float] = None,
    max_per_img: Optional[int] = None,
) -> Dict[str, float]:
    """Pair the instances of ``reference`` and ``deployed`` by the rule of
    this module.

    Returns:
        dict: ``instances`` (reference total), ``unpaired`` (instances left
        without a twin at a threshold, both sides), ``max_score_diff`` over
        the pairs of classes with identical masks, ``max_decayed_diff``
        (relative) over those of classes with a flipped pixel,
        ``min_mask_iou`` over all pairs (1.0 when there is none) and
        ``max_box_diff``.

    Raises:
        AssertionError: image counts or mask sizes differ, or an instance
        breaks the rule, named by image, index, label and score.
    """
    assert len(reference) == len(deployed), 'different numbers of images'
    stats = dict(
        instances=0,
        unpaired=0,
        max_score_diff=0.0,
        max_decayed_diff=0.0,
        min_mask_iou=1.0,
        max_box_diff=0.0,
    )
    for index, (ref, dep) in enumerate(zip(reference, deployed)):
        ref, dep = ref.pred_instances, dep.pred_instances
        assert ref.masks.shape[1:] == dep.masks.shape[1:], (
            f'image {index}: mask sizes {tuple(ref.masks.shape[1:])} and '
            f'{tuple(dep.masks.shape[1:])}'
        )
        top = max([float(ref.scores.max())] if len(ref) else [0.0])
        pairs = pair_instances(ref, dep, score_tol + decay_rel_tol * top)
        flipped = {
            int(ref.labels[i])
            for i, j in pairs
            if not torch.equal(ref.masks[i], dep.masks[j])
        }
        for i, j in pairs:
            ref_score, dep_score = float(ref.scores[i]), float(dep.scores[j])
            diff = abs(ref_score - dep_score)
            if int(ref.labels[i]) in flipped:
                relative = diff / max(ref_score, 1e-12)
                assert diff <= score_tol or relative <= decay_rel_tol, (
                    f'image {index}: instance {i} (label '
                    f'{int(ref.labels[i])}) scores {ref_score:.6f} and '
                    f'{dep_score:.6f}'
                )
                stats['max_decayed_diff'] = max(
                    stats['max_decayed_diff'], relative
                )
            else:
                assert diff <= score_tol, (
                    f'image {index}: instance {i} (label '
                    f'{int(ref.labels[i])}, masks identical) scores '
                    f'{ref_score:.6f} and {dep_score:.6f}'
                )
                stats['max_score_diff'] = max(stats['max_score_diff'], diff)
            stats['min_mask_iou'] = min(
                stats['min_mask_iou'], mask_iou(ref.masks[i], dep.masks[j])
            )
            stats['max_box_diff'] = max(
                stats['max_box_diff'],
                float((ref.bboxes[i] - dep.bboxes[j]).abs().max()),
            )
        for side, other, name, paired in (
            (ref, dep, 'PyTorch', {i for i, _ in pairs}),
            (dep, ref, 'deployed', {j for _, j in pairs}),
        ):
            for k in sorted(set(range(len(side))) - paired):
                tol = score_tol + decay_rel_tol * float(side.scores[k])
                assert _unpaired_at_threshold(
                    side, k, other, tol, filter_thr, max_per_img
                ), (
                    f'image {index}: {name} instance {k} (label '
                    f'{int(side.labels[k])}, score '
                    f'{float(side.scores[k]):.6f}) has no twin'
                )
                stats['unpaired'] += 1
        stats['instances'] += len(ref)
    return stats
