"""The one builder of test models: a config's detector with seeded weights.

Every test and benchmark that needs a model of a config (mmsolo's or
mmdet's) builds it with :func:`seeded_model`; :func:`model_config` is its
first half (the model config, for callers that edit it before the build).
"""

import copy
from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope


def model_config(
    config: Union[str, dict],
    test_cfg: Optional[dict] = None,
    model_overrides: Optional[dict] = None,
    channels_last: Optional[bool] = None,
) -> ConfigDict:
    """The model config of ``config``, ready to build offline.

    Args:
        config (str | dict): Path of a config file (its ``model`` is
            used), or a model config (copied, not changed).
        test_cfg (dict, optional): Merged into the model's ``test_cfg``.
        model_overrides (dict, optional): Merged into the model config, as
            ``Config.merge_from_dict`` (e.g. ``dict(backbone=dict(dcn=
            None))``).
        channels_last (bool, optional): Set as the model's
            ``channels_last`` (an mmsolo detector's memory layout); the
            config's (or the detector's default) if None.

    Returns:
        ConfigDict: a copy of the model config with no pretrained backbone
        (``backbone.init_cfg = None``: nothing is downloaded).
    """
    if isinstance(config, str):
        config = Config.fromfile(config).model
    cfg = Config(dict(model=copy.deepcopy(config)))
    if model_overrides:
        cfg.merge_from_dict(dict(model=model_overrides))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    if test_cfg:
        model_cfg.test_cfg.update(test_cfg)
    if channels_last is not None:
        model_cfg.channels_last = channels_last
    return model_cfg


def seeded_model(
    config: Union[str, dict],
    seed: Optional[int] = 0,
    *,
    scope: str = 'mmsolo',
    test_cfg: Optional[dict] = None,
    model_overrides: Optional[dict] = None,
    channels_last: Optional[bool] = None,
    kernel_scale: float = 1.0,
    class_bias_mean: Optional[float] = None,
    reseed_before_init: bool = False,
) -> torch.nn.Module:
    """A config's detector with seeded random weights, in eval mode.

    ``torch.manual_seed(seed)``, the build, then ``init_weights()``: the
    weights depend on ``seed`` alone (nothing after ``init_weights`` draws
    from the global RNG).

    Args:
        config (str | dict): Path of a config file or a model config, as
            :func:`model_config` takes them.
        seed (int, optional): Seed of the weights. None: no seeding and no
            ``init_weights()``, the constructors' weights drawn from the
            global RNG as it is (for a model whose state dict the caller
            loads).
        scope (str): ``'mmsolo'`` builds with mmsolo's registry,
            ``'mmdet'`` with mmdet's (mmdet's own SOLOv2).
        test_cfg, model_overrides, channels_last: As :func:`model_config`.
            The deployment tests pass ``channels_last=False``: an ONNX graph
            has no memory format, and NHWC only changes float rounding,
            which flips pixels at the mask threshold of random weights.
        kernel_scale (float): Multiplies the dynamic-kernel predictor's
            weights (``mask_head.conv_kernel``): confident masks, as a
            trained model's.
        class_bias_mean (float, optional): If given, the category biases
            are spread around it (:func:`spread_class_scores`, seeded with
            ``seed + 1``, 1 if ``seed`` is None) so that the model has
            candidates.
        reseed_before_init (bool): Seed again between the build and
            ``init_weights()``, so that the weights are ``init_weights``'
            draws alone whatever the constructors drew (mmdet's models of
            the parity pairs and zoo stand-ins, whose weights their tests
            were written with).

    Returns:
        torch.nn.Module: the detector (mmsolo's, or mmdet's for
        ``scope='mmdet'``) in eval mode.
    """
    from mmsolo.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    elif scope == 'mmsolo':
        from mmsolo.registry import MODELS
    else:
        raise ValueError(f"scope must be 'mmsolo' or 'mmdet', not {scope!r}")
    model_cfg = model_config(config, test_cfg, model_overrides, channels_last)
    if seed is not None:
        torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    if seed is not None:
        if reseed_before_init:
            torch.manual_seed(seed)
        model.init_weights()
    if kernel_scale != 1.0:
        with torch.no_grad():
            model.mask_head.conv_kernel.weight.mul_(kernel_scale)
    if class_bias_mean is not None:
        spread_class_scores(
            [model], mean=class_bias_mean, seed=(seed or 0) + 1
        )
    return model.eval()


def spread_class_scores(
    models: Sequence[torch.nn.Module], mean: float, seed: int = 1
) -> None:
    """Give the category convs of ``models`` the same seeded biases, normal
    with std 1.5 around ``mean``, so that some classes score high and a few
    hundred candidates pass ``score_thr``, as with a trained model."""
    generator = torch.Generator().manual_seed(seed)
    num_classes = models[0].mask_head.conv_cls.bias.numel()
    bias = torch.randn(num_classes, generator=generator) * 1.5 + mean
    with torch.no_grad():
        for model in models:
            model.mask_head.conv_cls.bias.copy_(bias)
