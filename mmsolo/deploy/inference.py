"""Entry points of the deployment tools: a deployed model from a config,
single-image inference, and the Runner of ``tools/test.py --backend``."""

import copy
from typing import Optional, Union

import numpy as np
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from .deployed_model import DeployedSOLOv2


def deployed_model_cfg(
    cfg: Config,
    model_file: str,
    backend: str,
    num_threads: Optional[int] = None,
) -> dict:
    """``cfg.model`` replaced by the deployed graph (same data
    preprocessor), for ``Runner.from_cfg`` or ``MODELS.build``."""
    return dict(
        type='DeployedSOLOv2',
        model_file=model_file,
        backend=backend,
        data_preprocessor=copy.deepcopy(cfg.model.data_preprocessor),
        num_threads=num_threads,
    )


def build_deployed_model(
    cfg: Config,
    model_file: str,
    backend: str,
    num_threads: Optional[int] = None,
) -> DeployedSOLOv2:
    """The deployed graph with the config's data preprocessor."""
    return DeployedSOLOv2(
        model_file,
        backend,
        copy.deepcopy(dict(cfg.model.data_preprocessor)),
        num_threads,
    )


def image_pipeline(cfg: Config, from_array: bool = False) -> Compose:
    """The config's test pipeline without annotations (images from files,
    or from arrays with ``from_array``)."""
    transforms = [
        copy.deepcopy(t)
        for t in get_test_pipeline_cfg(cfg)
        if t.type.split('.')[-1] != 'LoadAnnotations'
    ]
    if from_array:
        transforms[0].type = 'mmdet.LoadImageFromNDArray'
    return Compose(transforms)


def inference_deployed(
    model: DeployedSOLOv2, cfg: Config, image: Union[str, np.ndarray]
) -> DetDataSample:
    """Predictions of one image (a path, or an (H, W, 3) BGR array), through
    the config's test pipeline, as ``mmdet.apis.inference_detector``."""
    from_array = not isinstance(image, str)
    data = (
        dict(img=image, img_id=0)
        if from_array
        else dict(img_path=image, img_id=0)
    )
    batch = pseudo_collate([image_pipeline(cfg, from_array)(data)])
    return model.test_step(batch)[0]


def evaluate_with_backend(cfg: Config, model_file: str, backend: str) -> dict:
    """COCO metrics of the deployed graph on the config's test set, by
    mmengine's Runner and the config's evaluator (``tools/test.py
    --backend``)."""
    from mmengine.runner import Runner

    cfg = copy.deepcopy(cfg)
    cfg.model = deployed_model_cfg(cfg, model_file, backend)
    cfg.load_from = None
    runner = Runner.from_cfg(cfg)
    return runner.test()
