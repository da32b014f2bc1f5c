"""Host-side panoptic fusion of an exported ``PanopticSOLOv2``: the graph
gives the instances and the semantic logits, the fusion head (mmdet's
``HeuristicFusionHead`` by default) runs here, as in
``PanopticSOLOv2.predict``."""

from typing import List

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict

from mmsolo.models.layers import resize_to_image
from mmsolo.registry import MODELS


def build_fusion_head(meta: dict) -> torch.nn.Module:
    """The fusion head described by the graph's ``panoptic`` metadata."""
    return MODELS.build(
        dict(
            type=meta['fusion_type'],
            num_things_classes=meta['num_things_classes'],
            num_stuff_classes=meta['num_stuff_classes'],
            test_cfg=ConfigDict(meta['panoptic_cfg']),
        )
    )


def add_panoptic(
    data_samples: List[DetDataSample],
    logits: np.ndarray,
    fusion_head: torch.nn.Module,
    meta: dict,
    rescale: bool = True,
) -> List[DetDataSample]:
    """``pred_panoptic_seg`` of each sample from its ``pred_instances`` and
    the graph's ``semantic_logits`` (B, S + 1, H / 4, W / 4).

    The logits are upsampled to the padded input, cropped to ``img_shape``
    and resized to ``ori_shape`` as the semantic head's ``predict`` does;
    instances scoring under ``panoptic_cfg.score_thr`` are left out.
    """
    score_thr = meta['panoptic_cfg']['score_thr']
    seg_logits, confident = [], []
    for index, sample in enumerate(data_samples):
        image_logits = torch.from_numpy(np.ascontiguousarray(logits[index]))
        seg_logits.append(
            resize_to_image(
                image_logits, meta['seg_stride'], sample.metainfo, rescale
            )
        )
        instances = sample.pred_instances
        confident.append(instances[instances.scores >= score_thr])
    for sample, panoptic in zip(
        data_samples, fusion_head.predict(confident, seg_logits)
    ):
        sample.pred_panoptic_seg = panoptic
    return data_samples
