"""The whole SOLOv2 model as one exportable module: (optional
normalisation), backbone, FPN, mask-feature neck, head and the vectorised
post-processing of :mod:`.graph_postprocess`."""

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmsolo.models.layers import cell_levels
from mmsolo.models.task_modules.predict_cfg import (
    DEFAULT_NMS_TYPE,
    predict_cfg_keys,
)
from .graph_postprocess import OUTPUT_NAMES, graph_predict

# The mask NMS the graph computes (a dense Matrix NMS).
GRAPH_NMS_TYPE = 'matrix'


def graph_spec(head: nn.Module) -> dict:
    """The post-processing settings of a built ``SOLOv2Head``: the keys of
    its ``test_cfg`` (built and checked by
    :mod:`mmsolo.models.task_modules.predict_cfg`) and the sizes the graph
    needs.

    Raises:
        ValueError: a ``test_cfg.nms_type`` other than Matrix NMS.
    """
    cfg = head.test_cfg
    nms_type = cfg.get('nms_type', DEFAULT_NMS_TYPE)
    if nms_type != GRAPH_NMS_TYPE:
        raise ValueError(
            f'export supports model.test_cfg.nms_type={GRAPH_NMS_TYPE!r} '
            f'only, got {nms_type!r}'
        )
    spec = {key: cfg[key] for key in predict_cfg_keys(nms_type)}
    spec.update(
        num_classes=head.num_classes,
        conv_size=head.dynamic_conv_size,
        mask_stride=head.mask_stride,
    )
    return spec


class SOLOv2Export(nn.Module):
    """A built ``SOLOv2`` detector as one graph from image to detections.

    Args:
        detector (nn.Module): The ``SOLOv2`` detector, in eval mode.
        normalize (tuple, optional): ``(mean, std, bgr_to_rgb)`` to apply
            in the graph; then the input is the raw (B, 3, H, W) float
            image in the channel order it was read in. None: the input is
            already normalised (as ``DetDataPreprocessor`` gives it).
    """

    def __init__(
        self,
        detector: nn.Module,
        normalize: Optional[
            Tuple[Sequence[float], Sequence[float], bool]
        ] = None,
    ) -> None:
        super().__init__()
        self.detector = detector
        self.spec = graph_spec(detector.mask_head)
        head = detector.mask_head
        # The area a cell's mask must exceed: its level's stride.
        self.register_buffer(
            'cell_strides',
            torch.tensor(head.min_mask_areas, dtype=torch.float32)[
                cell_levels(head.num_grids)
            ],
            False,
        )
        self.bgr_to_rgb = False
        if normalize is not None:
            mean, std, self.bgr_to_rgb = normalize
            self.register_buffer(
                'mean', torch.tensor(mean).view(1, 3, 1, 1), False
            )
            self.register_buffer(
                'std', torch.tensor(std).view(1, 3, 1, 1), False
            )
        self.normalize = normalize is not None
        # A panoptic detector: its semantic logits are a graph output too,
        # the fusion runs on the host (mmsolo.deploy.panoptic).
        self.panoptic = hasattr(detector, 'semantic_head')
        self.output_names = OUTPUT_NAMES + (
            ('semantic_logits',) if self.panoptic else ()
        )

    def preprocess(self, images: Tensor) -> Tensor:
        """Normalise raw images (B, 3, H, W) when the graph does it."""
        if not self.normalize:
            return images
        if self.bgr_to_rgb:
            images = images[:, [2, 1, 0]]
        return (images - self.mean) / self.std

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        """Detections of a batch (B, 3, H, W), H and W multiples of the
        pad divisor; the outputs of :func:`graph_predict` in the order of
        ``OUTPUT_NAMES``, then for a panoptic detector ``semantic_logits``
        (B, S + 1, H / 4, W / 4)."""
        detector = self.detector
        feats = detector.extract_feat(self.preprocess(images))
        mask_feats = detector.mask_feature_neck(feats)  # MaskFeatures
        if mask_feats.per_level:
            raise NotImplementedError(
                'export supports one shared mask-feature map '
                '(MaskFeatureNeck), not per-level maps'
            )
        mask_feats = mask_feats.maps[0]
        kernel_preds, cls_preds = detector.mask_head(feats)
        outputs: Dict[str, Tensor] = graph_predict(
            kernel_preds, cls_preds, mask_feats, self.cell_strides, self.spec
        )
        if self.panoptic:
            outputs['semantic_logits'] = detector.semantic_head(feats)
        return tuple(outputs[name] for name in self.output_names)
