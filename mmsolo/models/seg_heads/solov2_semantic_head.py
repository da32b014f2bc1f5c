"""SOLOv2's semantic branch for panoptic segmentation (paper, section 3.2)."""

import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.structures import SampleList
from torch import Tensor

from mmsolo.registry import MODELS
from ..layers import PyramidFusion, resize_to_image


@MODELS.register_module()
class SOLOv2SemanticHead(PyramidFusion):
    """Per-pixel stuff classes plus one "thing" class at 1/4 scale.

    The paper adds a semantic branch "analogue to the mask feature branch";
    this head is exactly that: a :class:`PyramidFusion` of its own, as
    :class:`MaskFeatureNeck` is one (both are the fusion, with their own output
    on top, so their state-dict keys are the fusion's): P2..P5, each brought to
    1/4 scale by conv + 2x upsampling blocks, summed, coordinates on the
    deepest level, then a 1x1 classifier. It does not reuse the mask-feature
    neck's output because those features are what the dynamic kernels combine
    into instance masks: a semantic loss on them would pull on the one map
    every instance mask is made from. Panoptic FPN, whose fusion SOLOv2 adopts,
    likewise gives its semantic branch a fusion of its own. The price is a
    second fusion in every step, forward and backward. As in Panoptic FPN,
    every thing class is merged into one "thing" output (the instance branch
    segments things), so the head has ``num_stuff_classes + 1`` outputs.

    Labels of ``gt_sem_seg`` are the dataset's: things ``0 .. T-1``, stuff
    ``T .. T+S-1``, and ``ignore_index`` for void and padding. They become
    stuff ``0 .. S-1`` and "thing" ``S``.

    Args:
        num_things_classes (int): Number T of thing classes.
        num_stuff_classes (int): Number S of stuff classes.
        in_channels (int): Channels of each FPN level. Defaults to 256.
        feat_channels (int): Channels of the fused feature. Defaults to 128.
        start_level (int): First FPN level fused (0 is P2). Defaults to 0.
        end_level (int): Last FPN level fused (3 is P5). Defaults to 3.
        seg_stride (int): Stride of FPN level ``start_level`` w.r.t. the
            image (the output's). Defaults to 4.
        with_coord (bool): Coordinates on the deepest level, which lets
            the head learn where stuff tends to be (sky above ground).
            Defaults to True.
        norm_cfg (dict, optional): Norm of the fusion blocks. Defaults to
            GN with 32 groups.
        ignore_index (int): Label of pixels without a class. Defaults to
            255 (mmdet's ``seg_pad_value``).
        loss_seg (dict): Pixel classification loss, averaged over the
            pixels that are not ignored. Defaults to cross-entropy with
            weight 0.5 (Panoptic FPN's).
        init_cfg (dict or list[dict], optional): Initialization.
    """

    def __init__(
        self,
        num_things_classes: int,
        num_stuff_classes: int,
        in_channels: int = 256,
        feat_channels: int = 128,
        start_level: int = 0,
        end_level: int = 3,
        seg_stride: int = 4,
        with_coord: bool = True,
        norm_cfg: Optional[dict] = dict(
            type='GN', num_groups=32, requires_grad=True
        ),
        ignore_index: int = 255,
        loss_seg: dict = dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=0.5,
        ),
        init_cfg: Optional[dict] = dict(
            type='Normal', layer='Conv2d', std=0.01
        ),
    ) -> None:
        if num_things_classes < 1 or num_stuff_classes < 0:
            raise ValueError(
                'SOLOv2SemanticHead: need num_things_classes >= 1 and '
                f'num_stuff_classes >= 0, got {num_things_classes} and '
                f'{num_stuff_classes}'
            )
        super().__init__(
            in_channels=in_channels,
            feat_channels=feat_channels,
            out_channels=feat_channels,
            start_level=start_level,
            end_level=end_level,
            with_coord=with_coord,
            conv_cfg=None,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
        )
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.ignore_index = ignore_index
        self.seg_stride = seg_stride
        self.conv_seg = nn.Conv2d(feat_channels, self.num_outputs, 1)
        self.loss_seg = MODELS.build(copy.deepcopy(loss_seg))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Also reads checkpoints written when the fusion was held as a
        ``fusion`` submodule: their ``fusion.*`` keys are this head's."""
        held = prefix + 'fusion.'
        for key in [k for k in state_dict if k.startswith(held)]:
            state_dict[prefix + key[len(held) :]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def num_outputs(self) -> int:
        """Output channels: the stuff classes and "thing"."""
        return self.num_stuff_classes + 1

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Semantic logits (N, S + 1, H / 4, W / 4) from FPN levels, level
        ``i`` of shape (N, in_channels, H / 2**(i + 2), W / 2**(i + 2))."""
        return self.conv_seg(self.fuse(feats))

    def semantic_targets(self, gt_sem_seg: Tensor) -> Tensor:
        """Dataset labels (..., H, W) -> head labels: stuff ``T + s`` ->
        ``s``, every thing -> ``S``, ``ignore_index`` and any label beyond
        the classes stay ``ignore_index``."""
        labels = gt_sem_seg.long()
        targets = torch.full_like(labels, self.ignore_index)
        is_thing = (labels >= 0) & (labels < self.num_things_classes)
        is_stuff = (labels >= self.num_things_classes) & (
            labels < self.num_things_classes + self.num_stuff_classes
        )
        targets[is_thing] = self.num_stuff_classes
        targets[is_stuff] = labels[is_stuff] - self.num_things_classes
        return targets

    def loss(
        self, feats: Sequence[Tensor], batch_data_samples: SampleList
    ) -> Dict[str, Tensor]:
        """``loss_seg`` of a batch: the logits are bilinearly upsampled to
        the padded input size of ``gt_sem_seg`` (N x (1, H, W), padded with
        ``ignore_index`` by the data preprocessor's ``pad_seg``). A batch
        whose pixels are all ignored gives 0 with a gradient."""
        gt_maps = [sample.gt_sem_seg.sem_seg for sample in batch_data_samples]
        shapes = {tuple(gt.shape[-2:]) for gt in gt_maps}
        if len(shapes) != 1:
            raise ValueError(
                'SOLOv2SemanticHead: gt_sem_seg maps of one batch differ in '
                f'size {sorted(shapes)}; set pad_seg=True (and '
                'seg_pad_value=255) in model.data_preprocessor'
            )
        targets = self.semantic_targets(torch.stack(gt_maps)[:, 0])
        logits = F.interpolate(
            self(feats),
            size=targets.shape[-2:],
            mode='bilinear',
            align_corners=False,
        )
        if not (targets != self.ignore_index).any():
            return dict(loss_seg=logits.sum() * 0)
        return dict(
            loss_seg=self.loss_seg(
                logits, targets, ignore_index=self.ignore_index
            )
        )

    def predict(
        self,
        feats: Sequence[Tensor],
        batch_img_metas: List[dict],
        rescale: bool = True,
    ) -> List[Tensor]:
        """Semantic logits per image, (S + 1, h, w) with (h, w) the
        ``ori_shape`` if ``rescale`` else the ``img_shape``: upsampled to
        the padded input, cropped to ``img_shape``, resized."""
        return [
            resize_to_image(image_logits, self.seg_stride, meta, rescale)
            for image_logits, meta in zip(self(feats), batch_img_metas)
        ]
