"""Loading transforms that mmdet's need an extra package for."""

from typing import Optional

from mmdet.datasets.transforms import LoadAnnotations
from mmdet.datasets.transforms import (
    LoadPanopticAnnotations as MMDetLoadPanopticAnnotations,
)

from mmsolo.registry import TRANSFORMS
from ..panoptic_ids import rgb2id


@TRANSFORMS.register_module()
class LoadPanopticAnnotations(MMDetLoadPanopticAnnotations):
    """mmdet's ``LoadPanopticAnnotations`` without panopticapi, which it
    imports only for ``rgb2id`` (here :func:`rgb2id`). Same arguments, same
    results: ``gt_masks`` of the non-crowd things, ``gt_seg_map`` (H, W)
    with thing labels, then stuff labels, and 255 for void."""

    def __init__(
        self,
        with_bbox: bool = True,
        with_label: bool = True,
        with_mask: bool = True,
        with_seg: bool = True,
        box_type: str = 'hbox',
        imdecode_backend: str = 'cv2',
        backend_args: Optional[dict] = None,
    ) -> None:
        self.rgb2id = rgb2id
        LoadAnnotations.__init__(
            self,
            with_bbox=with_bbox,
            with_label=with_label,
            with_mask=with_mask,
            with_seg=with_seg,
            with_keypoints=False,
            box_type=box_type,
            imdecode_backend=imdecode_backend,
            backend_args=backend_args,
        )
