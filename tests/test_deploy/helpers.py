"""Configs shared by the deployment tests (their models come from
``support.seeded_model`` with ``channels_last=False``: an ONNX graph has no
memory format, and the quick start's ``channels_last`` only changes float
rounding, which flips pixels at the mask threshold of these random-weight
models)."""

from mmengine.config import Config
from support import mmsolo_config_path

QUICKSTART_CONFIG = mmsolo_config_path(
    'quickstart/solov2-light_r18_fpn_shapes.py'
)
R50_CONFIG = mmsolo_config_path('solov2/solov2_r50_fpn_1x_coco.py')


def data_preprocessor_cfg(config: str) -> dict:
    return dict(Config.fromfile(config).model.data_preprocessor)
