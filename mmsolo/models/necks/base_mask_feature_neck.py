"""What the SOLOv2 detector needs of any mask-feature neck."""

from abc import abstractmethod
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from ..layers import MaskFeatures


class BaseMaskFeatureNeck(BaseModule):
    """A neck that turns FPN levels into :class:`MaskFeatures`.

    A subclass sets three attributes in its ``__init__``; the detector
    gives the first two to the head (its ``mask_feat_channels`` and
    ``mask_stride``) and checks the third against the head's levels.

    Attributes:
        out_channels (int): Channels E of the mask features, which the
            dynamic kernels convolve.
        mask_stride (int): Stride of the mask features w.r.t. the image.
        num_levels (int, optional): Head levels given a map of their own,
            one each; None when one map serves every level.
    """

    out_channels: int
    mask_stride: int
    num_levels: Optional[int] = None

    @abstractmethod
    def forward(self, feats: Sequence[Tensor]) -> MaskFeatures:
        """FPN levels, each (N, C, h_i, w_i) -> the mask features."""


def mask_neck_out_spec(neck: nn.Module) -> Tuple[int, int]:
    """``(out_channels, mask_stride)`` of a built mask-feature neck.

    Raises:
        AttributeError: the neck lacks one of them.
    """
    missing = [
        name
        for name in ('out_channels', 'mask_stride')
        if not hasattr(neck, name)
    ]
    if missing:
        raise AttributeError(
            f'{type(neck).__name__} used as mask_feature_neck lacks the '
            f'attributes {missing} that the SOLOv2 head needs'
        )
    return neck.out_channels, neck.mask_stride


def check_neck_levels(neck: nn.Module, head_levels: int) -> None:
    """Raise a ValueError naming the config fields when ``neck`` gives
    per-level maps to another number of levels than the head's."""
    num_levels = getattr(neck, 'num_levels', None)
    if num_levels is not None and num_levels != head_levels:
        raise ValueError(
            f'model.mask_feature_neck.num_levels={num_levels} differs from '
            f'len(model.mask_head.num_grids)={head_levels}; make them equal'
        )
