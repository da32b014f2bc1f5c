"""Evaluation functions in plain NumPy."""

from .panoptic_quality import (
    PQStat,
    StatDict,
    merge_pq_stats,
    pq_average,
    pq_stats_single_image,
)

__all__ = [
    'PQStat',
    'StatDict',
    'merge_pq_stats',
    'pq_average',
    'pq_stats_single_image',
]
