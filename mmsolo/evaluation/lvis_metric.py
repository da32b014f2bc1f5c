"""mmdet's ``LVISMetric``, also when nothing at all was predicted."""

import logging
from contextlib import contextmanager
from typing import Dict, Iterator

from mmdet.evaluation import LVISMetric
from mmdet.evaluation.metrics import lvis_metric as mmdet_lvis_metric

from mmsolo.registry import METRICS


def _empty_safe_results_class() -> type:
    """``lvis.LVISResults`` that also takes an empty result list (the
    ``lvis`` package is imported only when LVIS is evaluated)."""
    from lvis import LVISResults

    class EmptySafeLVISResults(LVISResults):
        """``LVISResults``; an empty list (or a JSON file holding one)
        gives the detections of nothing: the ground truth's images and
        categories and no annotation, which ``LVISEval`` evaluates to AP 0
        (``LVISResults`` reads ``results[0]`` and raises IndexError)."""

        def __init__(self, lvis_gt, results, max_dets: int = 300) -> None:
            anns = (
                self._load_json(results)
                if isinstance(results, str)
                else results
            )
            if len(anns):
                super().__init__(lvis_gt, anns, max_dets)
                return
            self.logger = logging.getLogger(__name__)
            self.dataset = dict(lvis_gt.dataset, annotations=[])
            self._create_index()

    return EmptySafeLVISResults


@contextmanager
def _empty_safe_lvis_results() -> Iterator[None]:
    """Within the block mmdet's LVIS metric module uses
    ``EmptySafeLVISResults`` for its ``LVISResults``."""
    previous = mmdet_lvis_metric.LVISResults
    mmdet_lvis_metric.LVISResults = _empty_safe_results_class()
    try:
        yield
    finally:
        mmdet_lvis_metric.LVISResults = previous


@METRICS.register_module()
class EmptySafeLVISMetric(LVISMetric):
    """``mmdet.evaluation.LVISMetric`` that evaluates an empty result set.

    mmdet 3.3's ``LVISMetric`` catches the IndexError of
    ``LVISResults([])``, logs "The testing results of the whole dataset is
    empty." and returns no metric. This one evaluates that case as
    :class:`~mmsolo.evaluation.EmptySafeCocoMetric` does COCO: against an
    empty detection set, every AP 0.0 under the usual keys
    (``lvis/segm_AP`` ...). With any prediction the results are mmdet's.
    Configs name it ``type='mmsolo.EmptySafeLVISMetric'``.
    """

    def compute_metrics(self, results: list) -> Dict[str, float]:
        with _empty_safe_lvis_results():
            return super().compute_metrics(results)
