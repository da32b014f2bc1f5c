"""Evaluation: mmdet's metrics with two fixes.

- :class:`EmptySafeCocoMetric` and :class:`EmptySafeLVISMetric` are mmdet's
  ``CocoMetric`` and ``LVISMetric``, except that a dataset on which nothing
  was predicted is evaluated (AP 0.0) instead of giving no metric at all
  (see :mod:`.coco_metric`, :mod:`.lvis_metric`). Importing this package
  makes the ``lvis`` package LVIS evaluation relies on work with the
  installed NumPy (see :mod:`.lvis_compat`).
"""

from .coco_metric import EmptyResultsCOCO, EmptySafeCocoMetric
from .coco_panoptic_metric import CocoPanopticMetric
from .lvis_compat import patch_lvis_numpy_alias
from .lvis_metric import EmptySafeLVISMetric

patch_lvis_numpy_alias()

__all__ = [
    'CocoPanopticMetric',
    'EmptyResultsCOCO',
    'EmptySafeCocoMetric',
    'EmptySafeLVISMetric',
    'patch_lvis_numpy_alias',
]
