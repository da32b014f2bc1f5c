"""Bring maps predicted at a stride of the padded input back to the image."""

import torch.nn.functional as F
from torch import Tensor


def resize_to_image(
    maps: Tensor, stride: int, img_meta: dict, rescale: bool
) -> Tensor:
    """Maps (C, h, w) of one image, predicted at ``stride`` of the padded
    input, bilinearly upsampled to the padded input (h * stride, w *
    stride), cropped to ``img_meta['img_shape']`` and, if ``rescale``,
    resized to ``img_meta['ori_shape']``. Returns (C, H, W)."""
    feat_h, feat_w = maps.shape[-2:]
    img_h, img_w = img_meta['img_shape'][:2]
    resized = F.interpolate(
        maps[None],
        size=(feat_h * stride, feat_w * stride),
        mode='bilinear',
        align_corners=False,
    )[:, :, :img_h, :img_w]
    if rescale:
        resized = F.interpolate(
            resized,
            size=img_meta['ori_shape'][:2],
            mode='bilinear',
            align_corners=False,
        )
    return resized[0]
