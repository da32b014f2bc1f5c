"""Progressive resizing: the training batch at a fraction of its size early
in the schedule, at full size at its end.

The early iterations of a from-scratch run learn what a smaller image
teaches as well (edges, colours, whole objects) at a fraction of the cost:
an (N, C, H/2, W/2) batch takes about a quarter of the convolutions' time.
Used as one of ``DetDataPreprocessor``'s ``batch_augments`` (training only),
after the batch is normalised and padded.
"""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.logging import MessageHub
from torch import Tensor, nn

from mmsolo.registry import MODELS


def check_schedule(scales: Sequence[float], milestones: Sequence[int],
                   size_divisor: int) -> Tuple[List[float], List[int]]:
    """The schedule as lists, or a ``ValueError`` naming the bad field:
    ``scales`` in (0, 1], one more than ``milestones``, which increase."""
    scales, milestones = list(scales), list(milestones)
    if len(scales) != len(milestones) + 1:
        raise ValueError(
            f'ProgressiveResize: scales ({len(scales)} of them) must be one '
            f'more than milestones ({len(milestones)})')
    for scale in scales:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) \
                or not 0 < scale <= 1:
            raise ValueError('ProgressiveResize: each of scales must be a '
                             f'number in (0, 1], got {scale!r}')
    for milestone in milestones:
        if isinstance(milestone, bool) or not isinstance(milestone, int) \
                or milestone < 0:
            raise ValueError('ProgressiveResize: each of milestones must be '
                             f'an iteration >= 0, got {milestone!r}')
    if sorted(set(milestones)) != milestones:
        raise ValueError('ProgressiveResize: milestones must increase, got '
                         f'{milestones}')
    if isinstance(size_divisor, bool) or not isinstance(size_divisor, int) \
            or size_divisor < 1:
        raise ValueError('ProgressiveResize: size_divisor must be an int '
                         f'>= 1, got {size_divisor!r}')
    return scales, milestones


def scale_at(iteration: int, scales: Sequence[float],
             milestones: Sequence[int]) -> float:
    """The scale of ``iteration``: ``scales[i]`` from ``milestones[i - 1]``
    (0 for i = 0) up to, not including, ``milestones[i]``."""
    for scale, milestone in zip(scales, milestones):
        if iteration < milestone:
            return scale
    return scales[-1]


def resized_shape(shape: Tuple[int, int], scale: float,
                  size_divisor: int) -> Tuple[int, int]:
    """(h, w) of ``shape`` times ``scale``, rounded up to a multiple of
    ``size_divisor`` (as padding would)."""
    return tuple(
        int(math.ceil(side * scale / size_divisor - 1e-9)) * size_divisor
        for side in shape)


def resize_masks(masks, size: Tuple[int, int]):
    """Instance masks (``BitmapMasks`` or an (n, H, W) tensor) resized to
    ``size`` (h, w) by nearest neighbour, as mmdet's ``Resize`` does."""
    if isinstance(masks, Tensor):
        if not len(masks):
            return masks.new_zeros((0, *size))
        return F.interpolate(masks[:, None].float(), size=size,
                             mode='nearest')[:, 0].to(masks.dtype)
    if isinstance(masks, BitmapMasks):
        return masks.resize(size)
    raise TypeError('ProgressiveResize: gt_instances.masks must be '
                    f'BitmapMasks or a Tensor, got {type(masks).__name__}')


@MODELS.register_module()
class ProgressiveResize(nn.Module):
    """Resize each training batch by the scale its iteration has in the
    schedule.

    Images (N, C, H, W) are resized bilinearly (antialiased when they
    shrink) to (h, w) = (H, W) * scale rounded up to ``size_divisor``; ground
    truth boxes scale with them and masks are resized by nearest neighbour
    (``BitmapMasks.resize``, as mmdet's ``Resize``); ``img_shape``,
    ``pad_shape``, ``batch_input_shape`` and ``scale_factor`` follow. At a
    scale of 1 the batch is passed through untouched.

    Args:
        scales (Sequence[float]): Scales in (0, 1], one per phase.
        milestones (Sequence[int]): Iterations at which the next phase
            starts (increasing; one fewer than ``scales``).
        size_divisor (int): Sides are rounded to its multiples (that of
            the preprocessor's padding, so the pyramid stays aligned).

    Example:
        >>> # 1000 iterations at half size, 700 at 3/4, then full size
        >>> dict(type='mmsolo.ProgressiveResize', scales=[0.5, 0.75, 1.0],
        ...      milestones=[1000, 1700], size_divisor=64)
    """

    def __init__(self, scales: Sequence[float], milestones: Sequence[int],
                 size_divisor: int = 32) -> None:
        super().__init__()
        self.scales, self.milestones = check_schedule(scales, milestones,
                                                      size_divisor)
        self.size_divisor = size_divisor

    def current_scale(self) -> float:
        """The scale of the current iteration (the message hub's
        ``iter``, 0 before training starts)."""
        iteration = MessageHub.get_current_instance().get_info('iter', 0)
        return scale_at(iteration, self.scales, self.milestones)

    def forward(self, inputs: Tensor, data_samples: List[DetDataSample]
                ) -> Tuple[Tensor, List[DetDataSample]]:
        """(N, C, H, W) inputs and their samples, resized in place of the
        originals (the samples are modified)."""
        scale = self.current_scale()
        if scale == 1:
            return inputs, data_samples
        height, width = inputs.shape[-2:]
        size = resized_shape((height, width), scale, self.size_divisor)
        if size == (height, width):
            return inputs, data_samples
        scale_h, scale_w = size[0] / height, size[1] / width
        inputs = F.interpolate(inputs, size=size, mode='bilinear',
                               align_corners=False,
                               antialias=max(scale_h, scale_w) < 1)
        for sample in data_samples:
            img_h, img_w = sample.img_shape[:2]
            pad_h, pad_w = sample.metainfo.get('pad_shape', (height, width))
            factor_w, factor_h = sample.metainfo.get('scale_factor', (1, 1))
            sample.set_metainfo(dict(
                img_shape=(int(round(img_h * scale_h)),
                           int(round(img_w * scale_w))),
                pad_shape=(int(round(pad_h * scale_h)),
                           int(round(pad_w * scale_w))),
                batch_input_shape=size,
                scale_factor=(factor_w * scale_w, factor_h * scale_h)))
            instances = sample.gt_instances
            if 'bboxes' in instances:
                factors = instances.bboxes.new_tensor(
                    [scale_w, scale_h, scale_w, scale_h]) \
                    if isinstance(instances.bboxes, Tensor) else None
                if factors is None:  # mmdet's box types
                    instances.bboxes.rescale_((scale_w, scale_h))
                else:
                    instances.bboxes = instances.bboxes * factors
            if 'masks' in instances:
                instances.masks = resize_masks(instances.masks, size)
        return inputs, data_samples
