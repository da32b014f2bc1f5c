"""Graph outputs (flat, with a per-image count) to mmdet's data samples."""

from typing import Dict, List, Optional

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from mmsolo.models.layers import resize_to_image
from mmsolo.models.task_modules import instance_boxes, mask_box_threshold
from mmsolo.utils.stage_timer import timed_stage


def split_outputs(
    outputs: Dict[str, np.ndarray], num_images: int
) -> List[Dict[str, torch.Tensor]]:
    """Per image the rows of the flat outputs (image after image, as the
    ``counts`` say)."""
    counts = outputs['counts'].astype(np.int64).tolist()[:num_images]
    starts = np.concatenate([[0], np.cumsum(counts)]).tolist()
    per_image = []
    for index in range(num_images):
        rows = slice(starts[index], starts[index + 1])
        per_image.append(
            {
                name: torch.from_numpy(
                    np.ascontiguousarray(outputs[name][rows])
                )
                for name in (
                    'scores',
                    'labels',
                    'masks',
                    'boxes',
                    'mask_probs',
                )
            }
        )
    return per_image


def to_instances(
    detections: Dict[str, torch.Tensor],
    img_meta: dict,
    mask_stride: int,
    mask_thr: float,
    rescale: bool = True,
    box_cfg: Optional[dict] = None,
) -> InstanceData:
    """One image's detections as ``pred_instances``.

    The graph's masks (n, H, W) at the padded input size are cropped to
    ``img_shape``. If ``rescale`` and ``ori_shape`` differs, the masks are
    made from the graph's ``mask_probs`` exactly as PyTorch makes them
    (upsampled to the padded input, cropped, resized to ``ori_shape``,
    thresholded at ``mask_thr``). Boxes are those of the final masks, as
    the graph and PyTorch derive them
    (:func:`~mmsolo.models.task_modules.instance_boxes`): ``box_cfg`` (the
    exported test_cfg) gives
    ``mask_box``, ``mask_box_min_part`` and ``mask_box_thr`` (then the
    boxes come from the graph's ``mask_probs`` made the same way); without
    them, tight boxes.
    """
    img_h, img_w = img_meta['img_shape'][:2]
    ori_shape = tuple(img_meta['ori_shape'][:2])
    probs = None
    if rescale and ori_shape != (img_h, img_w):
        probs = image_probs(
            detections['mask_probs'], mask_stride, img_meta, True
        )
        masks = probs > mask_thr
        boxes = None
    else:
        masks = detections['masks'].bool()
        boxes = detections['boxes'].float()
        if masks.shape[-2:] != (img_h, img_w):
            masks, boxes = masks[:, :img_h, :img_w], None
    if boxes is None:
        box_thr = mask_box_threshold(box_cfg)
        if box_thr is not None and probs is None:
            probs = image_probs(
                detections['mask_probs'], mask_stride, img_meta, False
            )
        with timed_stage('boxes'):
            boxes = instance_boxes(masks, probs, box_cfg)
    instances = InstanceData()
    instances.masks = masks.contiguous()
    instances.labels = detections['labels'].long()
    instances.scores = detections['scores'].float()
    instances.bboxes = boxes
    return instances


def image_probs(
    mask_probs: torch.Tensor, mask_stride: int, img_meta: dict, rescale: bool
) -> torch.Tensor:
    """The graph's (n, h, w) ``mask_probs`` at the image, as PyTorch
    makes them (:func:`~mmsolo.models.layers.resize_to_image`): (n, H, W)
    float, H, W of ``ori_shape`` if ``rescale`` else of ``img_shape``."""
    shape = img_meta['ori_shape' if rescale else 'img_shape'][:2]
    if len(mask_probs) == 0:
        return torch.zeros((0, *shape), dtype=torch.float32)
    with timed_stage('resize'):
        return resize_to_image(
            mask_probs.float(), mask_stride, img_meta, rescale
        )


def to_data_samples(
    outputs: Dict[str, np.ndarray],
    data_samples: List[DetDataSample],
    mask_stride: int,
    mask_thr: float,
    rescale: bool = True,
    box_cfg: Optional[dict] = None,
) -> List[DetDataSample]:
    """``data_samples`` with ``pred_instances`` from the graph outputs
    (``box_cfg``: see :func:`to_instances`)."""
    for sample, detections in zip(
        data_samples, split_outputs(outputs, len(data_samples))
    ):
        sample.pred_instances = to_instances(
            detections,
            sample.metainfo,
            mask_stride,
            mask_thr,
            rescale,
            box_cfg,
        )
    return data_samples
