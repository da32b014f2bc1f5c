"""Evaluation glue: mmdet's metrics are used as they are (``CocoMetric``,
``LVISMetric``); importing this package makes the ``lvis`` package they
rely on work with the installed NumPy (see :mod:`.lvis_compat`)."""
from .lvis_compat import patch_lvis_numpy_alias

patch_lvis_numpy_alias()

__all__ = ['patch_lvis_numpy_alias']
