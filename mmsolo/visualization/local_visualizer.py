"""mmdet's DetLocalVisualizer, able to draw every panoptic prediction."""

from typing import List, Optional

import numpy as np
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer as MMDetLocalVisualizer
from mmengine.structures import PixelData

from mmsolo.registry import VISUALIZERS


@VISUALIZERS.register_module()
class PanopticDetLocalVisualizer(MMDetLocalVisualizer):
    """mmdet's ``DetLocalVisualizer`` with two changes for panoptic
    predictions (configs: ``type='mmsolo.PanopticDetLocalVisualizer'``).

    - A sample carrying both ``pred_instances`` and ``pred_panoptic_seg``
      (what :class:`PanopticSOLOv2` predicts) gets its panoptic map drawn
      alone: the instances that survived the fusion are in it, and drawing
      both would paint every thing twice.
    - A panoptic map that is void everywhere draws as the bare image;
      mmdet's raises an error there (``np.stack`` of no segment areas).
    """

    def add_datasample(
        self,
        name: str,
        image: np.ndarray,
        data_sample: Optional[DetDataSample] = None,
        **kwargs,
    ) -> None:
        if (
            data_sample is not None
            and 'pred_panoptic_seg' in data_sample
            and 'pred_instances' in data_sample
        ):
            data_sample = data_sample.clone()
            del data_sample.pred_instances
        super().add_datasample(name, image, data_sample=data_sample, **kwargs)

    def _draw_panoptic_seg(
        self,
        image: np.ndarray,
        panoptic_seg: PixelData,
        classes: Optional[List[str]],
        palette: Optional[List],
    ) -> np.ndarray:
        void = panoptic_seg.metainfo.get(
            'ignore_index',
            len(panoptic_seg.metainfo.get('label_names', classes)),
        )
        labels = np.asarray(panoptic_seg.sem_seg) % INSTANCE_OFFSET
        if (labels == void).all():
            self.set_image(image)
            return self.get_image()
        return super()._draw_panoptic_seg(
            image, panoptic_seg, classes, palette
        )
