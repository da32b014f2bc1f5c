"""mmdet's ``DetInferencer`` for mmsolo's models (``tools/demo/
image_demo.py``)."""

import os.path as osp
from typing import Dict, Optional

import mmcv
import mmengine
import torch.nn as nn
from mmdet.apis import DetInferencer
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict

from mmsolo.datasets.panoptic_ids import id2rgb

# panopticapi's VOID: the id of unlabelled pixels in a panoptic PNG.
VOID = 0
META_KEYS = ('classes', 'thing_classes', 'stuff_classes', 'palette')


class SOLOv2Inferencer(DetInferencer):
    """``mmdet.apis.DetInferencer`` (same arguments, same outputs: with
    ``out_dir``, pictures in ``vis/`` and predictions in ``preds/``) with
    three changes:

    - ``weights=None`` gives seeded random weights (seed the torch
      generator before building) with no pretrained backbone download,
      and the class names of the config's test set (mmdet gives COCO's);
    - a panoptic prediction is written without panopticapi (mmdet needs it
      for ``VOID`` and ``id2rgb``);
    - the default scope is ``mmsolo`` (mmsolo's configs name their classes
      with the scope, so ``DetInferencer`` itself builds them too).
    """

    def __init__(
        self, *args, scope: Optional[str] = 'mmsolo', **kwargs
    ) -> None:
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

    def pred2dict(
        self, data_sample: DetDataSample, pred_out_dir: str = ''
    ) -> Dict:
        """mmdet's result dict (``labels``, ``scores``, ``bboxes``, RLE
        ``masks``); a panoptic prediction adds its map as a COCO panoptic
        PNG (``preds/<name>_panoptic_seg.png``, void 0), or as an (H, W, 3)
        array without ``pred_out_dir``."""
        if 'pred_panoptic_seg' not in data_sample:
            return super().pred2dict(data_sample, pred_out_dir)
        instances = data_sample.clone()
        del instances.pred_panoptic_seg
        result = super().pred2dict(instances, '')
        panoptic = data_sample.pred_panoptic_seg.sem_seg.cpu().numpy()[0]
        void = len(self.model.dataset_meta['classes'])
        panoptic[panoptic % INSTANCE_OFFSET == void] = VOID
        rgb = id2rgb(panoptic)
        if not pred_out_dir:
            result['panoptic_seg'] = rgb
            return result
        name = osp.splitext(
            osp.basename(
                data_sample.get('img_path', f'{self.num_predicted_imgs}.png')
            )
        )[0]
        self.num_predicted_imgs += 'img_path' not in data_sample
        out_png = osp.join(pred_out_dir, 'preds', f'{name}_panoptic_seg.png')
        mmcv.imwrite(rgb[:, :, ::-1], out_png)
        result['panoptic_seg_path'] = out_png
        mmengine.dump(result, osp.join(pred_out_dir, 'preds', f'{name}.json'))
        return result
