"""Compare a deployed model's predictions with PyTorch's."""
from typing import Dict, List, Sequence

import torch
from mmdet.structures import DetDataSample


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    """IoU of two bool masks (H, W); 1 when both are empty."""
    union = (a | b).sum().item()
    return 1.0 if union == 0 else (a & b).sum().item() / union


def match_instances(ref, dep, score_tol: float) -> List[int]:
    """For each reference instance the index of its twin in ``dep``: the
    same label, a score within ``score_tol``, the highest mask IoU (ties in
    score may come in either order). Raises AssertionError if any has
    none."""
    used, twins = set(), []
    for i in range(len(ref)):
        close = ((dep.labels == ref.labels[i])
                 & ((dep.scores - ref.scores[i]).abs() <= score_tol))
        options = [j for j in close.nonzero()[:, 0].tolist() if j not in used]
        if not options:
            raise AssertionError(
                f'reference instance {i} (label {int(ref.labels[i])}, score '
                f'{float(ref.scores[i]):.6f}) has no twin')
        best = max(options, key=lambda j: mask_iou(ref.masks[i], dep.masks[j]))
        used.add(best)
        twins.append(best)
    return twins


def compare_samples(reference: Sequence[DetDataSample],
                    deployed: Sequence[DetDataSample],
                    score_tol: float = 1e-4) -> Dict[str, float]:
    """Pair every instance of ``reference`` with its twin in ``deployed``.

    Returns:
        dict: ``instances`` (total), ``max_score_diff`` and ``min_mask_iou``
        over all pairs (1.0 and 0.0 when there is none), ``max_box_diff``.

    Raises:
        AssertionError: image counts or instance counts differ, or an
        instance has no twin of its label within ``score_tol``.
    """
    assert len(reference) == len(deployed), 'different numbers of images'
    stats = dict(instances=0, max_score_diff=0.0, min_mask_iou=1.0,
                 max_box_diff=0.0)
    for index, (ref, dep) in enumerate(zip(reference, deployed)):
        ref, dep = ref.pred_instances, dep.pred_instances
        assert len(ref) == len(dep), (
            f'image {index}: {len(ref)} instances in PyTorch, {len(dep)} '
            'deployed')
        assert ref.masks.shape[1:] == dep.masks.shape[1:], (
            f'image {index}: mask sizes {tuple(ref.masks.shape[1:])} and '
            f'{tuple(dep.masks.shape[1:])}')
        for i, j in enumerate(match_instances(ref, dep, score_tol)):
            stats['max_score_diff'] = max(
                stats['max_score_diff'],
                abs(float(ref.scores[i]) - float(dep.scores[j])))
            stats['min_mask_iou'] = min(stats['min_mask_iou'],
                                        mask_iou(ref.masks[i], dep.masks[j]))
            stats['max_box_diff'] = max(
                stats['max_box_diff'],
                float((ref.bboxes[i] - dep.bboxes[j]).abs().max()))
        stats['instances'] += len(ref)
    return stats
