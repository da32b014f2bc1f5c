"""mmdet's ``CocoPanopticMetric`` (PQ, SQ, RQ) without panopticapi."""

import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmdet.datasets.api_wrappers import COCOPanoptic
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.evaluation.metrics.coco_panoptic_metric import (
    parse_pq_results,
    print_panoptic_table,
)
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get, get_local_path
from mmengine.logging import MMLogger

from mmsolo.datasets.panoptic_ids import rgb2id
from mmsolo.registry import METRICS
from .functional import merge_pq_stats, pq_average, pq_stats_single_image


@METRICS.register_module()
class CocoPanopticMetric(BaseMetric):
    """COCO panoptic quality, as mmdet's metric of that name, in NumPy.

    mmdet 3.3's ``CocoPanopticMetric`` needs ``panopticapi``; this one
    computes the same numbers (see
    :mod:`mmsolo.evaluation.functional.panoptic_quality`) with no other
    dependency, from the same data samples: the prediction is
    ``pred_panoptic_seg['sem_seg']``, a (1, H, W) int map of
    ``label + k * INSTANCE_OFFSET`` where label ``len(classes)`` (or the
    ``ignore_index`` of ``pred_panoptic_seg``) is VOID; the ground truth is
    the panoptic PNG at ``seg_map_path`` with the dataset's
    ``segments_info`` (``id``, ``category``, ``is_thing``; a thing class
    with ``is_thing`` False is a crowd region), or, given ``ann_file``, the
    segments of the COCO panoptic JSON. ``process`` keeps only per-image
    counts, so memory stays small; results are ``coco_panoptic/PQ``, ``SQ``,
    ``RQ`` and their ``_th`` (things) and ``_st`` (stuff) variants, in
    percent, as mmdet's.

    Args:
        ann_file (str, optional): COCO panoptic JSON whose segments are the
            ground truth; without it, the data samples' ``segments_info``.
        seg_prefix (str, optional): Folder of the ground-truth PNGs; without
            it, each sample's ``seg_map_path``.
        classwise (bool): Also log PQ, SQ and RQ of each class.
        format_only (bool): Not supported; must be False.
        outfile_prefix (str, optional): Not supported; must be None.
        nproc (int): Accepted for mmdet compatibility, unused.
        file_client_args (dict, optional): Deprecated in mmdet; must be None.
        backend_args (dict, optional): File backend of the PNGs and JSON.
        collect_device (str): 'cpu' or 'gpu', to collect across ranks.
        prefix (str, optional): Key prefix; 'coco_panoptic' by default.
    """

    default_prefix: Optional[str] = 'coco_panoptic'

    def __init__(
        self,
        ann_file: Optional[str] = None,
        seg_prefix: Optional[str] = None,
        classwise: bool = False,
        format_only: bool = False,
        outfile_prefix: Optional[str] = None,
        nproc: int = 32,
        file_client_args: Optional[dict] = None,
        backend_args: Optional[dict] = None,
        collect_device: str = 'cpu',
        prefix: Optional[str] = None,
    ) -> None:
        if format_only or outfile_prefix is not None:
            raise NotImplementedError(
                "mmsolo's CocoPanopticMetric only evaluates: it does not "
                'write result files, so format_only must be False and '
                'outfile_prefix None.'
            )
        if file_client_args is not None:
            raise ValueError(
                '`file_client_args` is deprecated, use `backend_args` instead.'
            )
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classwise = classwise
        self.seg_prefix = seg_prefix
        self.backend_args = backend_args
        self._coco_api: Optional[COCOPanoptic] = None
        if ann_file:
            with get_local_path(
                ann_file, backend_args=backend_args
            ) as local_path:
                self._coco_api = COCOPanoptic(local_path)

    def _categories(self) -> Tuple[Dict[int, dict], Optional[Dict[int, int]]]:
        """category -> dict(name, isthing), and label -> category (None
        when categories are the labels, i.e. without ``ann_file``)."""
        classes = self.dataset_meta['classes']
        if self._coco_api is not None:
            cat_ids = self._coco_api.get_cat_ids(cat_names=classes)
            return dict(self._coco_api.cats), dict(enumerate(cat_ids))
        if 'thing_classes' not in self.dataset_meta:
            raise ValueError(
                'CocoPanopticMetric needs dataset_meta['
                "'thing_classes'] to tell things from stuff."
            )
        things = set(self.dataset_meta['thing_classes'])
        return {
            label: dict(id=label, name=name, isthing=int(name in things))
            for label, name in enumerate(classes)
        }, None

    def _gt_path(self, data_sample: Mapping) -> str:
        """The ground-truth PNG of ``data_sample`` (mmdet's choice)."""
        path = data_sample.get('seg_map_path')
        if self.seg_prefix is None:
            if path is None:
                raise ValueError(
                    'CocoPanopticMetric needs seg_prefix or '
                    "the data samples' seg_map_path."
                )
            return path
        if path is None:
            path = data_sample['img_path'].replace('.jpg', '.png')
        return osp.join(self.seg_prefix, osp.basename(path))

    def _prediction(
        self, data_sample: Mapping, label2cat: Optional[Dict[int, int]]
    ) -> Tuple[np.ndarray, List[dict]]:
        """(H, W) segment ids (0: VOID) and segments of the prediction."""
        pred = data_sample['pred_panoptic_seg']
        pan = pred['sem_seg']
        pan = np.asarray(pan.cpu().numpy() if hasattr(pan, 'cpu') else pan)
        pan = pan.reshape(pan.shape[-2:]).astype(np.int64)
        num_classes = len(self.dataset_meta['classes'])
        ignore_index = pred.get('ignore_index', num_classes)
        values, inverse = np.unique(pan, return_inverse=True)
        labels = values % INSTANCE_OFFSET
        void = (labels == num_classes) | (labels == ignore_index)
        # Segment i (a distinct map value) gets id i + 1; VOID gets 0.
        lut = np.where(void, 0, np.arange(1, len(values) + 1))
        segments = [
            dict(
                id=index + 1,
                category_id=label2cat[label] if label2cat else label,
            )
            for index, label in enumerate(labels.tolist())
            if not void[index]
        ]
        return lut[inverse.reshape(pan.shape)], segments

    def _ground_truth(
        self, data_sample: Mapping, categories: Dict[int, dict]
    ) -> Tuple[np.ndarray, List[dict]]:
        """(H, W) segment ids (0: VOID) and segments of the ground truth."""
        img_bytes = get(
            self._gt_path(data_sample), backend_args=self.backend_args
        )
        gt_ids = rgb2id(
            mmcv.imfrombytes(img_bytes, flag='color', channel_order='rgb')
        )
        if self._coco_api is not None:
            segments = [
                dict(
                    id=s['id'],
                    category_id=s['category_id'],
                    iscrowd=s.get('iscrowd', 0),
                )
                for s in self._coco_api.imgToAnns[data_sample['img_id']]
            ]
            return gt_ids, segments
        segments = []
        for s in data_sample['segments_info']:
            isthing = categories[s['category']]['isthing']
            segments.append(
                dict(
                    id=s['id'],
                    category_id=s['category'],
                    iscrowd=int(bool(isthing) and not s['is_thing']),
                )
            )
        return gt_ids, segments

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append each image's PQ counts (:data:`StatDict`) to results."""
        categories, label2cat = self._categories()
        for data_sample in data_samples:
            image = str(data_sample.get('img_id', self._gt_path(data_sample)))
            pred_ids, pred_segments = self._prediction(data_sample, label2cat)
            gt_ids, gt_segments = self._ground_truth(data_sample, categories)
            if gt_ids.shape != pred_ids.shape:
                raise ValueError(
                    f'Image {image}: ground truth '
                    f'{self._gt_path(data_sample)} has shape {gt_ids.shape} '
                    f'but the prediction has shape {pred_ids.shape}.'
                )
            stat = pq_stats_single_image(
                gt_ids, gt_segments, pred_ids, pred_segments, image=image
            )
            self.results.append(stat.as_dict())

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """PQ, SQ, RQ (all, things, stuff) in percent from merged counts."""
        categories, _ = self._categories()
        stat = merge_pq_stats(results)
        pq_results = {}
        for name, isthing in (
            ('All', None),
            ('Things', True),
            ('Stuff', False),
        ):
            pq_results[name], per_class = pq_average(stat, categories, isthing)
            if isthing is None:
                classwise = {
                    categories[category]['name']: values
                    for category, values in per_class.items()
                }
        logger = MMLogger.get_current_instance()
        print_panoptic_table(
            pq_results, classwise if self.classwise else None, logger=logger
        )
        return parse_pq_results(pq_results)
