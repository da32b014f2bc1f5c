"""The SOLOv2 detector: backbone -> FPN -> mask-feature neck + SOLOv2 head."""

import copy
from typing import Dict, Optional, Tuple, Union

import torch
from mmdet.models.detectors.base import BaseDetector
from mmdet.structures import OptSampleList, SampleList
from torch import Tensor

from mmsolo.engine import check_finite_losses
from mmsolo.registry import MODELS
from ..layers import MaskFeatures, resolve_channels_last, to_channels_last
from ..necks import check_neck_levels, mask_neck_out_spec
from .channel_checks import check_channels


@MODELS.register_module()
class SOLOv2(BaseDetector):
    """SOLOv2 instance segmentation (Wang et al., NeurIPS 2020).

    The FPN levels feed two parts: ``mask_feature_neck`` fuses them into the
    unified mask features, and ``mask_head`` predicts, per grid cell, a class
    and a dynamic kernel that turns those features into the cell's mask.
    Every predicted instance carries the tight box of its mask, so box AP can
    be evaluated too.

    Args:
        backbone (dict): Backbone config, e.g. ResNet.
        neck (dict): Feature pyramid config, e.g. FPN with 5 outputs.
        mask_feature_neck (dict): Mask-feature neck config, e.g.
            ``MaskFeatureNeck``. Its ``out_channels`` and ``mask_stride``
            are given to the head (``mask_feat_channels``, ``mask_stride``).
        mask_head (dict): Head config, e.g. ``SOLOv2Head``.
        train_cfg (dict, optional): Training config of the head.
        test_cfg (dict, optional): Test config of the head.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialization config.
        channels_last (bool | str): Hold the parameters of the backbone and
            the FPN in the channels-last (NHWC) memory format, and give them
            the input batch in it: bfloat16 convolutions (oneDNN on CPU, cuDNN)
            run faster in NHWC. ``'auto'`` turns it on where that holds
            (:func:`~mmsolo.models.layers.resolve_channels_last`): with CUDA,
            or on a CPU that computes bfloat16 natively. The FPN levels are
            handed on in the default (NCHW) format, in which GroupNorm, used by
            the mask-feature neck and the head, is fast. Deformable
            convolutions (DCN configs) stay in NCHW
            (:func:`~mmsolo.models.layers.to_channels_last`). Loading
            checkpoints, ``init_weights`` and ``.to(device)`` keep the format.
            Defaults to False.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        mask_feature_neck: dict,
        mask_head: dict,
        train_cfg: Optional[dict] = None,
        test_cfg: Optional[dict] = None,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
        channels_last: Union[bool, str] = False,
    ) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg
        )
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.mask_feature_neck = MODELS.build(mask_feature_neck)
        mask_channels, mask_stride = mask_neck_out_spec(self.mask_feature_neck)
        mask_head = copy.deepcopy(mask_head)
        for key, value in (
            ('mask_feat_channels', mask_channels),
            ('mask_stride', mask_stride),
        ):
            given = mask_head.setdefault(key, value)
            if given != value:
                raise ValueError(
                    f'model.mask_head.{key}={given} differs from the mask '
                    f"feature neck's {value}; drop model.mask_head.{key} "
                    'or make them equal'
                )
        mask_head.update(
            train_cfg=copy.deepcopy(train_cfg),
            test_cfg=copy.deepcopy(test_cfg),
        )
        self.mask_head = MODELS.build(mask_head)
        check_neck_levels(self.mask_feature_neck, self.mask_head.num_levels)
        check_channels(self, consumers=('mask_feature_neck', 'mask_head'))
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.channels_last = resolve_channels_last(channels_last)
        if self.channels_last:
            for module in (self.backbone, self.neck):
                to_channels_last(module)

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        """FPN levels of a batch (N, 3, H, W), each (N, C, h, w) in the
        default memory format."""
        if not self.channels_last:
            return self.neck(self.backbone(batch_inputs))
        feats = self.neck(
            self.backbone(
                batch_inputs.contiguous(memory_format=torch.channels_last)
            )
        )
        return tuple(feat.contiguous() for feat in feats)

    def _features(
        self, batch_inputs: Tensor
    ) -> Tuple[Tuple[Tensor, ...], MaskFeatures]:
        """FPN levels and mask features of a batch (N, 3, H, W)."""
        feats = self.extract_feat(batch_inputs)
        return feats, self.mask_feature_neck(feats)

    def _forward(
        self, batch_inputs: Tensor, batch_data_samples: OptSampleList = None
    ) -> tuple:
        """Raw outputs: per-level kernels, per-level category logits and
        the list of mask-feature maps (one, or one per level)."""
        feats, mask_feats = self._features(batch_inputs)
        kernel_preds, cls_preds = self.mask_head(feats)
        return kernel_preds, cls_preds, mask_feats.maps

    def loss(
        self, batch_inputs: Tensor, batch_data_samples: SampleList
    ) -> Dict[str, Tensor]:
        """Losses of a batch (see ``SOLOv2Head.loss``)."""
        feats, mask_feats = self._features(batch_inputs)
        return self.mask_head.loss(feats, mask_feats, batch_data_samples)

    def parse_losses(
        self, losses: Dict[str, Tensor]
    ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """The total loss and the logged terms, as mmengine sums them.

        Raises:
            NonFiniteLossError: a term is NaN or infinite. ``train_step``
                calls this before the optimizer step, so nothing is updated.
        """
        loss, log_vars = super().parse_losses(losses)
        check_finite_losses(log_vars)
        return loss, log_vars

    def predict(
        self,
        batch_inputs: Tensor,
        batch_data_samples: SampleList,
        rescale: bool = True,
    ) -> SampleList:
        """Data samples with ``pred_instances`` (``masks``, ``labels``,
        ``scores``, ``bboxes``) added."""
        feats, mask_feats = self._features(batch_inputs)
        results = self.mask_head.predict(
            feats, mask_feats, batch_data_samples, rescale=rescale
        )
        return self.add_pred_to_datasample(batch_data_samples, results)
