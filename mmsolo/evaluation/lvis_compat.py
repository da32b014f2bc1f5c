"""Let the ``lvis`` package run on NumPy >= 1.24.

mmdet's ``LVISMetric`` evaluates with the LVIS API, ``lvis`` on PyPI, whose
last release (0.5.3, 2020) calls ``np.float`` in ``LVISEval.accumulate``.
NumPy 1.24 removed that alias, so every LVIS evaluation on the NumPy that
torch 2.x and opencv-python 5 need ends in ``AttributeError: module 'numpy'
has no attribute 'float'`` after the whole val set has been predicted.
(The fork ``mmlvis`` 10.5.3 has the same call.)

:func:`patch_lvis_numpy_alias` gives ``lvis.eval`` alone a view of numpy
that still has ``float`` (the builtin, which the alias always was); numpy
itself and every other module are left as they are.
"""

import types

import numpy


class _NumpyWithFloatAlias(types.ModuleType):
    """numpy plus its removed ``float`` alias, for ``lvis.eval`` only."""

    float = float

    def __getattr__(self, name: str):
        return getattr(numpy, name)


def patch_lvis_numpy_alias() -> bool:
    """Make ``lvis.eval`` find ``np.float``; safe to call more than once.

    Returns:
        bool: Whether lvis is installed (and so now patched).
    """
    try:
        import lvis.eval as lvis_eval
    except ImportError:
        return False
    if lvis_eval.np is numpy:
        lvis_eval.np = _NumpyWithFloatAlias('numpy', numpy.__doc__)
    return True
