"""Seeded models and batches shared by the deployment tests."""
import copy
from typing import Optional

import torch
from mmengine.config import Config

from mmsolo.registry import MODELS
from mmsolo.testing import spread_class_scores
from mmsolo.testing import mmsolo_config_path

QUICKSTART_CONFIG = mmsolo_config_path(
    'quickstart/solov2-light_r18_fpn_shapes.py')
R50_CONFIG = mmsolo_config_path('solov2/solov2_r50_fpn_1x_coco.py')


def seeded_model(config: str,
                 bias_mean: Optional[float],
                 seed: int = 0,
                 test_cfg: Optional[dict] = None,
                 kernel_scale: float = 1.0) -> torch.nn.Module:
    """The config's detector with seeded random weights (no pretrained
    download), category biases spread around ``bias_mean`` so that it has
    candidates, the dynamic-kernel predictor's weights times
    ``kernel_scale`` (confident masks, as a trained model's), in eval
    mode. The PyTorch side runs in the default memory format: an ONNX
    graph has none, and the quick start's ``channels_last`` only changes
    float rounding, which flips pixels at the mask threshold of these
    random-weight models."""
    model_cfg = copy.deepcopy(Config.fromfile(config).model)
    model_cfg.backbone.init_cfg = None
    model_cfg.pop('channels_last', None)
    if test_cfg:
        model_cfg.test_cfg.update(test_cfg)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    with torch.no_grad():
        model.mask_head.conv_kernel.weight.mul_(kernel_scale)
    if bias_mean is not None:
        spread_class_scores([model], mean=bias_mean, seed=seed + 1)
    return model.eval()


def data_preprocessor_cfg(config: str) -> dict:
    return dict(Config.fromfile(config).model.data_preprocessor)
