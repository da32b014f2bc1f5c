"""SOLOv2 for panoptic segmentation: the instance branch, a semantic branch
and Panoptic FPN's heuristic fusion (paper, section 3.2 and Table 4)."""

import copy
from typing import Dict, List, Optional, Union

from mmdet.structures import OptSampleList, SampleList
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from mmsolo.registry import MODELS
from .channel_checks import check_channels
from .ground_truth_checks import check_semantic_ground_truth
from .solov2 import SOLOv2

# model.test_cfg.panoptic when the config gives none: Panoptic FPN's values
# (mmdet's configs/_base_/models/mask-rcnn_r50_fpn.py and panoptic_fpn).
DEFAULT_PANOPTIC_TEST_CFG = dict(
    score_thr=0.6, mask_overlap=0.5, stuff_area_limit=4096
)


@MODELS.register_module()
class PanopticSOLOv2(SOLOv2):
    """SOLOv2 with a semantic head, fused into a panoptic map.

    Training adds the semantic head's ``loss_seg`` to SOLOv2's losses.
    At test time the instances of SOLOv2 scoring at least
    ``test_cfg.panoptic.score_thr`` and the semantic prediction go to the
    panoptic fusion head (mmdet's ``HeuristicFusionHead`` by default):
    instances are laid by descending score, an instance whose mask is more
    than ``mask_overlap`` covered by those laid before is dropped, the
    remaining pixels take the semantic head's argmax (pixels it calls
    "thing" stay void), and a stuff class covering fewer than
    ``stuff_area_limit`` pixels becomes void.

    Predictions carry both ``pred_instances`` (all of SOLOv2's, for mask
    and box AP) and ``pred_panoptic_seg``: a ``PixelData`` whose
    ``sem_seg`` (1, H, W) holds ``label + k * INSTANCE_OFFSET`` for the k-th
    thing (k from 1), the stuff label for stuff, and ``T + S`` for void, as
    mmdet's panoptic metric and visualizer read it.

    Args:
        semantic_head (dict): e.g. ``SOLOv2SemanticHead``; its
            ``num_things_classes`` defaults to ``mask_head.num_classes``.
        panoptic_fusion_head (dict): e.g. ``HeuristicFusionHead``; its
            class numbers default to the semantic head's and its
            ``test_cfg`` is ``test_cfg.panoptic``.
        test_cfg (dict, optional): SOLOv2's test config, plus ``panoptic``
            (``score_thr``, ``mask_overlap``, ``stuff_area_limit``).
        The other arguments are :class:`SOLOv2`'s.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        mask_feature_neck: dict,
        mask_head: dict,
        semantic_head: dict,
        panoptic_fusion_head: dict = dict(type='HeuristicFusionHead'),
        train_cfg: Optional[dict] = None,
        test_cfg: Optional[dict] = None,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[dict] = None,
        channels_last: Union[bool, str] = False,
    ) -> None:
        test_cfg = copy.deepcopy(test_cfg) if test_cfg is not None else {}
        panoptic_cfg = ConfigDict(
            DEFAULT_PANOPTIC_TEST_CFG, **test_cfg.pop('panoptic', {})
        )
        super().__init__(
            backbone=backbone,
            neck=neck,
            mask_feature_neck=mask_feature_neck,
            mask_head=mask_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg or None,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
            channels_last=channels_last,
        )
        semantic_head = copy.deepcopy(semantic_head)
        semantic_head.setdefault(
            'num_things_classes', self.mask_head.num_classes
        )
        self.semantic_head = MODELS.build(semantic_head)
        check_channels(self, consumers=('semantic_head',), with_backbone=False)
        if self.semantic_head.num_things_classes != self.mask_head.num_classes:
            raise ValueError(
                'model.semantic_head.num_things_classes='
                f'{self.semantic_head.num_things_classes} differs from '
                f'model.mask_head.num_classes={self.mask_head.num_classes}; '
                'both count the thing classes'
            )
        fusion = copy.deepcopy(panoptic_fusion_head)
        fusion.update(
            num_things_classes=self.semantic_head.num_things_classes,
            num_stuff_classes=self.semantic_head.num_stuff_classes,
            test_cfg=panoptic_cfg,
        )
        self.panoptic_fusion_head = MODELS.build(fusion)
        self.test_cfg = dict(test_cfg, panoptic=panoptic_cfg)

    def _forward(
        self, batch_inputs: Tensor, batch_data_samples: OptSampleList = None
    ) -> tuple:
        """Raw outputs: SOLOv2's (per-level kernels, per-level category
        logits, mask-feature maps) and the semantic logits (N, S + 1, H / 4,
        W / 4)."""
        feats, mask_feats = self._features(batch_inputs)
        kernel_preds, cls_preds = self.mask_head(feats)
        return (
            kernel_preds,
            cls_preds,
            mask_feats.maps,
            self.semantic_head(feats),
        )

    def loss(
        self, batch_inputs: Tensor, batch_data_samples: SampleList
    ) -> Dict[str, Tensor]:
        """SOLOv2's losses and the semantic head's ``loss_seg``."""
        check_semantic_ground_truth(batch_data_samples)
        feats, mask_feats = self._features(batch_inputs)
        losses = self.mask_head.loss(feats, mask_feats, batch_data_samples)
        losses.update(self.semantic_head.loss(feats, batch_data_samples))
        return losses

    def predict(
        self,
        batch_inputs: Tensor,
        batch_data_samples: SampleList,
        rescale: bool = True,
    ) -> SampleList:
        """Data samples with ``pred_instances`` and ``pred_panoptic_seg``."""
        feats, mask_feats = self._features(batch_inputs)
        instances = self.mask_head.predict(
            feats, mask_feats, batch_data_samples, rescale=rescale
        )
        seg_logits = self.semantic_head.predict(
            feats,
            [sample.metainfo for sample in batch_data_samples],
            rescale=rescale,
        )
        panoptic = self.fuse(instances, seg_logits)
        for sample, image_instances, image_panoptic in zip(
            batch_data_samples, instances, panoptic
        ):
            sample.pred_instances = image_instances
            sample.pred_panoptic_seg = image_panoptic
        return batch_data_samples

    def fuse(
        self, instances: List[InstanceData], seg_logits: List[Tensor]
    ) -> List[PixelData]:
        """Panoptic maps of a batch.

        Args:
            instances (list[InstanceData]): Per image, SOLOv2's ``masks``
                (n, H, W) bool, ``labels`` (n,), ``scores`` (n,) and
                ``bboxes`` (n, 4); those scoring under
                ``test_cfg.panoptic.score_thr`` are left out.
            seg_logits (list[Tensor]): Per image, the semantic head's
                logits (S + 1, H, W).

        Returns:
            list[PixelData]: Per image, ``sem_seg`` (1, H, W) int32.
        """
        score_thr = self.test_cfg['panoptic'].score_thr
        confident = [image[image.scores >= score_thr] for image in instances]
        return self.panoptic_fusion_head.predict(confident, seg_logits)
