"""Demo inputs for tests of SOLOv2 models, as ``mmdet.testing`` keeps
them: a normalized random batch with its data samples and, optionally,
ground truth (ellipse masks in random boxes). Plain functions of torch,
numpy and mmdet's data structures; nothing runs on import."""

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData


def demo_batch(
    img_shapes: Sequence[Tuple[int, int]],
    ori_shapes: Optional[Sequence[Tuple[int, int]]] = None,
    gt_instances: Optional[List[dict]] = None,
    pad_divisor: int = 32,
    seed: int = 0,
) -> Tuple[torch.Tensor, List[DetDataSample]]:
    """A normalized random batch and its data samples.

    Args:
        img_shapes: (h, w) of each image after resizing.
        ori_shapes: (h, w) of each original image; ``img_shapes`` if None.
        gt_instances: per image a dict of ``boxes`` (n, 4) xyxy and
            ``labels`` (n,) whose masks are the boxes' ellipses, or None.
        pad_divisor: Inputs are padded to a multiple of it.
        seed: Seed of the image noise.

    Returns:
        tuple: ``(inputs (N, 3, H, W), data_samples)``.
    """
    ori_shapes = ori_shapes or img_shapes
    pad_h = (
        int(np.ceil(max(s[0] for s in img_shapes) / pad_divisor)) * pad_divisor
    )
    pad_w = (
        int(np.ceil(max(s[1] for s in img_shapes) / pad_divisor)) * pad_divisor
    )
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.zeros(len(img_shapes), 3, pad_h, pad_w)
    samples = []
    for i, (img_shape, ori_shape) in enumerate(zip(img_shapes, ori_shapes)):
        h, w = img_shape
        smooth = torch.randn(1, 3, h // 8 + 1, w // 8 + 1, generator=generator)
        inputs[i, :, :h, :w] = torch.nn.functional.interpolate(
            smooth, size=(h, w), mode='bilinear', align_corners=False
        )[0]
        sample = DetDataSample(
            metainfo=dict(
                img_shape=tuple(img_shape),
                ori_shape=tuple(ori_shape),
                pad_shape=(pad_h, pad_w),
                batch_input_shape=(pad_h, pad_w),
                scale_factor=(w / ori_shape[1], h / ori_shape[0]),
            )
        )
        if gt_instances is not None:
            sample.gt_instances = _ellipse_instances(
                gt_instances[i], (pad_h, pad_w)
            )
        samples.append(sample)
    return inputs, samples


def random_gt_boxes(
    num_images: int,
    num_objects: int,
    img_shape: Tuple[int, int],
    num_classes: int,
    min_side: float = 8,
    max_side: float = 600,
    seed: int = 0,
) -> List[dict]:
    """Ground truth for :func:`demo_batch`: per image ``num_objects`` boxes
    (their ellipses become the masks) with sides log-uniform between
    ``min_side`` and ``max_side`` px inside ``img_shape``, random classes."""
    rng = np.random.default_rng(seed)
    gts = []
    for _ in range(num_images):
        sides = np.exp(
            rng.uniform(np.log(min_side), np.log(max_side), (num_objects, 2))
        )
        sides = np.minimum(sides, np.array(img_shape[::-1]) - 1)
        x1 = rng.uniform(0, img_shape[1] - sides[:, 0])
        y1 = rng.uniform(0, img_shape[0] - sides[:, 1])
        boxes = np.stack([x1, y1, x1 + sides[:, 0], y1 + sides[:, 1]], 1)
        gts.append(
            dict(
                boxes=boxes.round(),
                labels=rng.integers(0, num_classes, num_objects),
            )
        )
    return gts


def _ellipse_instances(spec: dict, pad_shape: Tuple[int, int]) -> InstanceData:
    boxes = torch.as_tensor(spec['boxes'], dtype=torch.float32).reshape(-1, 4)
    masks = np.zeros((len(boxes), *pad_shape), dtype=np.uint8)
    ys, xs = np.mgrid[: pad_shape[0], : pad_shape[1]] + 0.5
    for k, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        cx, cy, rx, ry = (
            (x1 + x2) / 2,
            (y1 + y2) / 2,
            (x2 - x1) / 2,
            (y2 - y1) / 2,
        )
        masks[k] = ((xs - cx) / max(rx, 0.5)) ** 2 + (
            (ys - cy) / max(ry, 0.5)
        ) ** 2 <= 1
    instances = InstanceData()
    instances.bboxes = boxes  # as DetDataPreprocessor(boxtype2tensor=True)
    instances.labels = torch.as_tensor(spec['labels'], dtype=torch.long)
    instances.masks = BitmapMasks(masks, *pad_shape)
    return instances
