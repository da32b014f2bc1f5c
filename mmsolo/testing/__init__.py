"""Demo inputs for the tests of code built on mmsolo (as ``mmdet.testing``).

mmsolo's own test support (reference models, generated data sets, parity
checks) lives with its tests, in ``tests/support/``, and is not installed.
"""

from .demo_inputs import demo_batch, random_gt_boxes

__all__ = ['demo_batch', 'random_gt_boxes']
