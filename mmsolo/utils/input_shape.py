"""The image size a config tests at, for tools that make their own inputs."""

from typing import Tuple

from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config


def config_input_shape(cfg: Config) -> Tuple[int, int]:
    """(H, W) of the ``scale`` of the ``Resize`` in the config's test
    pipeline (``test_dataloader.dataset.pipeline``); mmdet's ``scale`` is
    (W, H), an int a square.

    Raises:
        ValueError: the test pipeline has no ``Resize`` with a ``scale``.
    """
    for transform in get_test_pipeline_cfg(cfg):
        if (
            transform.get('type', '').split('.')[-1] == 'Resize'
            and transform.get('scale') is not None
        ):
            scale = transform.scale
            if isinstance(scale, int):
                return scale, scale
            width, height = scale
            return height, width
    raise ValueError(
        'the test pipeline (test_dataloader.dataset.pipeline) has no Resize '
        'with a scale to take the input size from; give --shape H W'
    )
