"""mmdet's ``DetInferencer`` for mmsolo's models (``tools/demo/
image_demo.py``)."""

import os.path as osp
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch.nn as nn
from mmdet.apis import DetInferencer
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict

from mmsolo.datasets.converters import mask_to_polygons
from mmsolo.datasets.panoptic_ids import id2rgb
from mmsolo.fileio import dump_json_atomically, write_atomically
from .sliced_inference import (
    SLICE_KWARGS,
    SlicedInputs,
    sliced_chunks,
    sliced_predict,
)

# panopticapi's VOID: the id of unlabelled pixels in a panoptic PNG.
VOID = 0
META_KEYS = ('classes', 'thing_classes', 'stuff_classes', 'palette')


class SOLOv2Inferencer(DetInferencer):
    """``mmdet.apis.DetInferencer`` (same arguments, same outputs: with
    ``out_dir``, pictures in ``vis/`` and predictions in ``preds/``) with
    these changes:

    - ``weights=None`` gives seeded random weights (seed the torch
      generator before building) with no pretrained backbone download,
      and the class names of the config's test set (mmdet gives COCO's);
    - a panoptic prediction is written without panopticapi (mmdet needs it
      for ``VOID`` and ``id2rgb``);
    - ``polygons=True`` (a call argument) adds to each result the outer
      polygons of every mask (:meth:`pred2dict`);
    - prediction files are written whole or not at all (a temporary file
      renamed over the target);
    - the default scope is ``mmsolo`` (mmsolo's configs name their classes
      with the scope, so ``DetInferencer`` itself builds them too);
    - ``slice_size=`` (a call argument, with ``slice_overlap`` and
      ``slice_batch_size``) predicts each image tile by tile
      (:func:`~mmsolo.apis.sliced_inference.sliced_predict`).
    """

    preprocess_kwargs = DetInferencer.preprocess_kwargs | SLICE_KWARGS
    postprocess_kwargs = DetInferencer.postprocess_kwargs | {'polygons'}

    def __init__(
        self, *args, scope: Optional[str] = 'mmsolo', **kwargs
    ) -> None:
        self._with_polygons = False
        super().__init__(*args, scope=scope, **kwargs)

    def _init_model(
        self, cfg: ConfigDict, weights: Optional[str], device: str = 'cpu'
    ) -> nn.Module:
        if weights is None and 'backbone' in cfg.model:
            cfg.model.backbone.init_cfg = None  # nothing to download
        return super()._init_model(cfg, weights, device)

    def _load_weights_to_model(
        self,
        model: nn.Module,
        checkpoint: Optional[dict],
        cfg: Optional[ConfigDict],
    ) -> None:
        super()._load_weights_to_model(model, checkpoint, cfg)
        if checkpoint is not None:
            return
        model.init_weights()
        test_set = dict(cfg.test_dataloader.dataset, lazy_init=True)
        metainfo = DATASETS.build(test_set).metainfo
        model.dataset_meta = dict(
            model.dataset_meta,
            **{key: metainfo[key] for key in META_KEYS if key in metainfo},
        )

    def preprocess(self, inputs, batch_size: int = 1, **kwargs):
        """mmdet's ``preprocess``; with ``slice_size``, the inputs unread
        in chunks of ``batch_size`` (:func:`~mmsolo.apis.sliced_inference.
        sliced_chunks`), which :meth:`forward` predicts tile by tile."""
        if kwargs.get('slice_size') is None:
            kwargs = {k: v for k, v in kwargs.items() if k not in SLICE_KWARGS}
            yield from super().preprocess(inputs, batch_size, **kwargs)
        else:
            yield from sliced_chunks(inputs, batch_size, **kwargs)

    def forward(self, inputs, **kwargs):
        """mmdet's ``forward``, or for :class:`SlicedInputs` each image's
        :func:`~mmsolo.apis.sliced_inference.sliced_predict`."""
        if isinstance(inputs, SlicedInputs):
            return [
                sliced_predict(self, image, **inputs.settings)
                for image in inputs.images
            ]
        return super().forward(inputs, **kwargs)

    def postprocess(self, *args, polygons: bool = False, **kwargs) -> Dict:
        """mmdet's ``postprocess``; ``polygons=True`` gives each result dict
        the ``polygons`` of its masks."""
        self._with_polygons = polygons
        try:
            return super().postprocess(*args, **kwargs)
        finally:
            self._with_polygons = False

    def pred2dict(
        self, data_sample: DetDataSample, pred_out_dir: str = ''
    ) -> Dict:
        """mmdet's result dict (``labels``, ``scores``, ``bboxes``, RLE
        ``masks``), written to ``pred_out_dir/preds/<image name>.json``
        when ``pred_out_dir`` is given.

        With ``polygons=True``, ``polygons`` holds per instance the outer
        contours of its mask, ``[[x1, y1, x2, y2, ...], ...]`` largest
        first, in COCO's frame (:func:`~mmsolo.datasets.converters.
        mask_to_polygons`: along the pixels' edges; holes are filled). A
        panoptic prediction adds its map as a COCO panoptic PNG
        (``preds/<name>_panoptic_seg.png``, void 0), or as an (H, W, 3)
        array without ``pred_out_dir``.
        """
        instances = data_sample
        panoptic = 'pred_panoptic_seg' in data_sample
        if panoptic:
            instances = data_sample.clone()
            del instances.pred_panoptic_seg
        result = super().pred2dict(instances, '')
        if self._with_polygons:
            result['polygons'] = instance_polygons(data_sample)
        if not pred_out_dir:
            if panoptic:
                result['panoptic_seg'] = self._panoptic_rgb(data_sample)
            return result
        name = self._pred_name(data_sample)
        if panoptic:
            out_png = osp.join(
                pred_out_dir, 'preds', f'{name}_panoptic_seg.png'
            )
            rgb = self._panoptic_rgb(data_sample)
            _, png = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
            write_atomically(png.tobytes(), out_png)
            result['panoptic_seg_path'] = out_png
        dump_json_atomically(
            result, osp.join(pred_out_dir, 'preds', f'{name}.json')
        )
        return result

    def _pred_name(self, data_sample: DetDataSample) -> str:
        """The name of an image's prediction files: its file name without
        the extension, or a running number (mmdet's naming)."""
        if 'img_path' in data_sample:
            return osp.splitext(osp.basename(data_sample.img_path))[0]
        self.num_predicted_imgs += 1
        return str(self.num_predicted_imgs - 1)

    def _panoptic_rgb(self, data_sample: DetDataSample) -> np.ndarray:
        """(H, W, 3) uint8 COCO panoptic colours of the panoptic map, the
        void class as ``VOID``."""
        panoptic = data_sample.pred_panoptic_seg.sem_seg.cpu().numpy()[0]
        void = len(self.model.dataset_meta['classes'])
        panoptic[panoptic % INSTANCE_OFFSET == void] = VOID
        return id2rgb(panoptic)


def instance_polygons(data_sample: DetDataSample) -> List[list]:
    """Per predicted instance, the polygons of its (H, W) mask
    (:func:`~mmsolo.datasets.converters.mask_to_polygons`); ``[]`` when
    the prediction has no mask."""
    instances = data_sample.get('pred_instances')
    if instances is None or 'masks' not in instances:
        return []
    return [mask_to_polygons(mask) for mask in instances.masks.cpu().numpy()]
