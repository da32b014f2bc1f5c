"""mmdet's ``CocoMetric``, also when nothing at all was predicted, with
its result files written whole or not at all."""

import json
import os
import os.path as osp
import tempfile
from typing import Optional, Sequence

from mmdet.datasets.api_wrappers import COCO
from mmdet.evaluation import CocoMetric as MMDetCocoMetric

from mmsolo.registry import METRICS


class EmptyResultsCOCO(COCO):
    """mmdet's COCO API whose ``loadRes`` also takes an empty result list
    (or a result file holding one, ``[]``).

    pycocotools' ``loadRes`` reads ``anns[0]`` to tell boxes from masks, so
    ``loadRes([])`` raises an IndexError. Here it returns the detections
    of nothing: a COCO object with the ground truth's images and categories
    and no annotation, which ``COCOeval`` evaluates as it would any
    detection set (AP 0 for every category that has ground truth).
    """

    def loadRes(self, resFile) -> COCO:  # noqa: N802,N803
        """pycocotools' ``COCO.loadRes``; an empty list, or the path of a
        JSON file holding one, gives an empty detection set."""
        if isinstance(resFile, (str, os.PathLike)):
            with open(resFile, 'rb') as f:
                resFile = json.load(f)
        if not isinstance(resFile, list) or resFile:
            return super().loadRes(resFile)
        results = COCO()
        results.dataset = dict(
            info=dict(self.dataset.get('info', {})),
            images=list(self.dataset['images']),
            categories=[dict(cat) for cat in self.dataset['categories']],
            annotations=[],
        )
        results.createIndex()
        return results


@METRICS.register_module()
class EmptySafeCocoMetric(MMDetCocoMetric):
    """``mmdet.evaluation.CocoMetric`` that evaluates an empty result set.

    When no image of the whole dataset has a single predicted instance,
    mmdet 3.3's ``CocoMetric`` catches the IndexError of pycocotools'
    ``loadRes([])``, logs "The testing results of the whole dataset is
    empty." and returns no metric at all, so whatever reads
    ``coco/segm_mAP`` afterwards (``CheckpointHook(save_best=...)``, a
    log parser, a script) fails. This metric evaluates that case as what
    it is, ``COCOeval`` against an empty detection set: every AP and AR
    is 0.0 (-1.0 where the ground truth has nothing to find, as COCOeval
    always reports), under the usual keys (``coco/bbox_mAP``,
    ``coco/segm_mAP_50`` ...).

    The ground-truth COCO API (built from ``ann_file``, or from the data
    samples when there is none) is mmdet's with an ``loadRes`` that
    accepts an empty list (:class:`EmptyResultsCOCO`); with any prediction
    the results are mmdet's, number for number. And the result files
    (``<outfile_prefix>.bbox.json``, ``.segm.json``: what
    ``format_only=True`` leaves for a test server or your own scripts)
    are written whole or not at all (:meth:`results2json`). The arguments
    are mmdet's. Configs name it ``type='mmsolo.EmptySafeCocoMetric'``;
    ``'CocoMetric'`` is mmdet's.
    """

    def results2json(
        self, results: Sequence[dict], outfile_prefix: str
    ) -> dict:
        """mmdet's ``results2json`` (same files, same paths returned), the
        files written in a temporary folder beside them and renamed into
        place once all are written: a run stopped or failing while writing
        leaves the files of an earlier run as they were, and no part of
        new ones."""
        directory = osp.dirname(osp.abspath(outfile_prefix))
        os.makedirs(directory, exist_ok=True)
        name = osp.basename(outfile_prefix)
        with tempfile.TemporaryDirectory(
            dir=directory, prefix=f'.{name}.'
        ) as tmp_dir:
            tmp_prefix = osp.join(tmp_dir, name)
            tmp_files = super().results2json(results, tmp_prefix)
            files = {}
            for key, tmp_file in tmp_files.items():
                files[key] = outfile_prefix + tmp_file[len(tmp_prefix) :]
                if osp.exists(tmp_file):  # 'proposal' is the bbox file
                    os.replace(tmp_file, files[key])
        return files

    @property
    def _coco_api(self) -> Optional[COCO]:
        """The ground truth's COCO API, as mmdet's metric uses it."""
        return self.__dict__.get('_gt_coco_api')

    @_coco_api.setter
    def _coco_api(self, coco_api: Optional[COCO]) -> None:
        # mmdet's __init__ and compute_metrics assign a plain mmdet COCO;
        # it becomes an EmptyResultsCOCO, which only adds to its loadRes.
        if type(coco_api) is COCO:
            coco_api.__class__ = EmptyResultsCOCO
        self.__dict__['_gt_coco_api'] = coco_api
