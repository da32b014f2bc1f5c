"""Test-time augmentation of SOLOv2: instance masks of augmented views
merged as mmdet's ``DetTTAModel`` merges boxes."""

from typing import List, Optional, Tuple

import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_flip
from mmengine.config import ConfigDict
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData
from torch import Tensor

from mmsolo.registry import FUNCTIONS, MODELS
from ..task_modules import instance_boxes, mask_box_threshold

# mmdet's DetTTAModel default (NMS at IoU 0.5, 100 per image), on masks.
DEFAULT_TTA_CFG = dict(
    nms=dict(type='hard_mask_nms', iou_thr=0.5), max_per_img=100
)
FLIP_DIMS = dict(horizontal=(-1,), vertical=(-2,), diagonal=(-2, -1))


def view_flip(img_meta: dict) -> Optional[str]:
    """The ``flip_direction`` of a view that ``img_meta`` says was flipped
    (``flip``), None for an unflipped view.

    Raises:
        ValueError: an unknown ``flip_direction``.
    """
    if not img_meta.get('flip', False):
        return None
    direction = img_meta.get('flip_direction', 'horizontal')
    if direction not in FLIP_DIMS:
        raise ValueError(
            f'SOLOv2TTAModel: flip_direction={direction!r} is '
            f'not one of {tuple(FLIP_DIMS)}'
        )
    return direction


def flip_masks_back(masks: Tensor, img_meta: dict) -> Tensor:
    """Masks (n, H, W) predicted on a view that ``img_meta`` says was
    flipped (``flip``, ``flip_direction``), in the original orientation.

    Raises:
        ValueError: an unknown ``flip_direction``.
    """
    direction = view_flip(img_meta)
    return masks if direction is None else masks.flip(FLIP_DIMS[direction])


def flip_boxes_back(
    boxes: Tensor, img_shape: Tuple[int, int], img_meta: dict
) -> Tensor:
    """Boxes (n, 4) predicted on a view that ``img_meta`` says was flipped,
    in the original orientation of an image of ``img_shape`` (h, w)."""
    direction = view_flip(img_meta)
    return (
        boxes if direction is None else bbox_flip(boxes, img_shape, direction)
    )


@MODELS.register_module()
class SOLOv2TTAModel(BaseTTAModel):
    """SOLOv2 test-time augmentation (``tools/test.py --tta``).

    The test pipeline's ``TestTimeAug`` gives each image in several views
    (e.g. as it is and flipped); ``module`` predicts each view. Per image,
    the instances of all views are brought back to the original
    orientation (:func:`flip_masks_back`), concatenated, and reduced by a
    class-aware mask NMS (``tta_cfg.nms``: a function of ``FUNCTIONS``,
    e.g. ``hard_mask_nms`` with ``iou_thr``, or ``matrix_nms``), keeping at
    most ``tta_cfg.max_per_img`` by descending score; the boxes are those
    of the kept masks, derived as the module's ``model.test_cfg.mask_box``
    says (the tight boxes for a module without a ``mask_head``); with
    ``mask_box_thr``, which needs the probabilities, each kept instance
    keeps its view's box, flipped back. That is
    mmdet's ``DetTTAModel`` (boxes flipped back, concatenated, NMS at IoU
    0.5, 100 per image) on masks.

    Args:
        module (dict or nn.Module): The SOLOv2 model.
        tta_cfg (dict, optional): ``nms`` and ``max_per_img``; defaults to
            ``DEFAULT_TTA_CFG``.
        data_preprocessor (dict, optional): Overrides the module's.
    """

    def __init__(
        self,
        module,
        tta_cfg: Optional[dict] = None,
        data_preprocessor: Optional[dict] = None,
    ) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        self.tta_cfg = ConfigDict(DEFAULT_TTA_CFG, **(tta_cfg or {}))
        nms_cfg = dict(self.tta_cfg.nms)
        nms_type = nms_cfg.pop('type')
        self._nms = FUNCTIONS.get(nms_type)
        if self._nms is None:
            raise KeyError(
                f'tta_model.tta_cfg.nms.type={nms_type!r} is not '
                "a function in mmsolo's FUNCTIONS registry; use "
                'hard_mask_nms, soft_mask_nms, fast_mask_nms or '
                'matrix_nms'
            )
        self._nms_kwargs = nms_cfg

    def head_test_cfg(self) -> Optional[dict]:
        """The module's head test_cfg (None without a ``mask_head``)."""
        head = getattr(self.module, 'mask_head', None)
        return getattr(head, 'test_cfg', None)

    def merge_preds(
        self, data_samples_list: List[List[DetDataSample]]
    ) -> List[DetDataSample]:
        """Per image, its views' predictions merged into one sample."""
        return [
            self._merge_single_sample(views) for views in data_samples_list
        ]

    def _merge_single_sample(
        self, data_samples: List[DetDataSample]
    ) -> DetDataSample:
        """One image: ``data_samples`` holds one prediction per view, each
        with ``pred_instances`` (``masks`` (n, H, W) bool at ``ori_shape``,
        ``scores``, ``labels``); the first view's sample is returned with
        the merged instances."""
        if any('pred_panoptic_seg' in sample for sample in data_samples):
            raise NotImplementedError(
                'SOLOv2TTAModel merges instance predictions only; a panoptic '
                'model (pred_panoptic_seg) has no test-time augmentation'
            )
        masks = torch.cat(
            [
                flip_masks_back(sample.pred_instances.masks, sample.metainfo)
                for sample in data_samples
            ]
        )
        scores = torch.cat(
            [sample.pred_instances.scores for sample in data_samples]
        )
        labels = torch.cat(
            [sample.pred_instances.labels for sample in data_samples]
        )
        merged = data_samples[0]
        if len(scores) == 0:
            return merged
        scores, labels, masks, keep = self._nms(
            masks,
            labels,
            scores,
            max_num=self.tta_cfg.max_per_img,
            mask_area=masks.sum((1, 2)),
            **self._nms_kwargs,
        )
        results = InstanceData()
        results.masks = masks
        results.labels = labels
        results.scores = scores
        head_cfg = self.head_test_cfg()
        if mask_box_threshold(head_cfg) is None:
            # The boxes of the merged masks, as the head derives them (tight
            # boxes without a mask_head).
            results.bboxes = instance_boxes(masks, None, head_cfg)
        else:
            # Boxes from each view's probabilities (mask_box_thr), which the
            # merged masks no longer hold: the kept views' boxes.
            results.bboxes = torch.cat(
                [
                    flip_boxes_back(
                        sample.pred_instances.bboxes,
                        masks.shape[-2:],
                        sample.metainfo,
                    )
                    for sample in data_samples
                ]
            )[keep]
        merged.pred_instances = results
        return merged
