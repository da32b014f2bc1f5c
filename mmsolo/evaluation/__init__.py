"""Evaluation: mmdet's metrics with two fixes.

- :class:`CocoMetric` (registered under mmdet's name, so configs in scope
  ``mmsolo`` get it) is mmdet's, except that a dataset on which nothing was
  predicted is evaluated (AP 0.0) instead of giving no metric at all (see
  :mod:`.coco_metric`).
- ``LVISMetric`` is mmdet's; importing this package makes the ``lvis``
  package it relies on work with the installed NumPy (see
  :mod:`.lvis_compat`).
"""
from .coco_metric import CocoMetric, EmptyResultsCOCO
from .coco_panoptic_metric import CocoPanopticMetric
from .lvis_compat import patch_lvis_numpy_alias

patch_lvis_numpy_alias()

__all__ = [
    'CocoMetric', 'CocoPanopticMetric', 'EmptyResultsCOCO',
    'patch_lvis_numpy_alias'
]
