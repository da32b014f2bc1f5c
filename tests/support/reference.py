"""MMDetection's SOLOv2 as a reference: the same weights in ours and theirs.

Used by the parity tests and the benchmarks.
"""
import copy
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

# mmsolo's config equivalent to mmdet's solov2_r50_fpn_1x_coco.py, relative
# to the configs/ directory (see mmsolo_config_path).
MMSOLO_R50_CONFIG = 'solov2/solov2_r50_fpn_1x_coco.py'
# Where mmsolo_config_path looks for configs/ when it is set.
CONFIG_ROOT_ENV = 'MMSOLO_CONFIG_ROOT'


def mmsolo_config_path(name: str = MMSOLO_R50_CONFIG) -> str:
    """Path of one of mmsolo's configs, ``name`` relative to ``configs/``.

    The configs are not part of the installed package: they are looked up
    in ``$MMSOLO_CONFIG_ROOT`` if set, else in the source checkout the
    package was imported from, else in ``./configs``.

    Raises:
        FileNotFoundError: naming the places looked in.
    """
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    roots = [os.environ.get(CONFIG_ROOT_ENV),
             os.path.join(package_root, 'configs'),
             os.path.abspath('configs')]
    roots = [root for root in roots if root]
    for root in roots:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f'mmsolo config {name} not found in {roots}; set {CONFIG_ROOT_ENV} '
        'to the configs/ directory of an mmsolo checkout')


def mmdet_config_path(name: str = 'solov2_r50_fpn_1x_coco.py') -> str:
    """Path of one of the SOLOv2 configs installed with mmdet."""
    import mmdet
    path = os.path.join(
        os.path.dirname(mmdet.__file__), '.mim', 'configs', 'solov2', name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'mmdet config not found: {path}')
    return path


def _model_cfg(config_path: str,
               test_cfg: Optional[dict],
               overrides: Optional[dict] = None) -> Config:
    cfg = Config.fromfile(config_path)
    if overrides:
        cfg.merge_from_dict(dict(model=overrides))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None  # no download of pretrained weights
    if test_cfg:
        model_cfg.test_cfg.update(test_cfg)
    return model_cfg


def build_paired_solov2(
        test_cfg: Optional[dict] = None,
        seed: int = 0,
        mmdet_config: str = 'solov2_r50_fpn_1x_coco.py',
        mmsolo_config: Optional[str] = None,
        kernel_scale: float = 1.0,
        model_overrides: Optional[dict] = None,
        channels_last: Optional[bool] = None
) -> Tuple[torch.nn.Module, torch.nn.Module]:
    """mmdet's SOLOv2 with seeded random weights, and mmsolo's with the same
    weights through the checkpoint converter. Both in eval mode.

    Args:
        test_cfg (dict, optional): Overrides of both test configs.
        seed (int): Seed of the weight initialization.
        mmdet_config (str): Name of the mmdet SOLOv2 config.
        mmsolo_config (str, optional): Path of the equivalent mmsolo
            config; ``mmsolo_config_path()`` (the R50 1x) if None.
        kernel_scale (float): Multiplies the dynamic-kernel predictor's
            weights, spreading the random masks' probabilities.
        model_overrides (dict, optional): Merged into both configs'
            ``model`` (e.g. ``dict(backbone=dict(dcn=None))``).
        channels_last (bool, optional): Our model's ``channels_last``;
            the config's if None. False gives ours mmdet's memory layout,
            hence its float rounding in the convolutions (the R50 configs
            run NHWC).

    Returns:
        tuple: ``(reference, ours)``.
    """
    our_cfg = _model_cfg(mmsolo_config or mmsolo_config_path(), test_cfg,
                         model_overrides)
    if channels_last is not None:
        our_cfg.channels_last = channels_last
    return _build_pair(
        _model_cfg(mmdet_config_path(mmdet_config), test_cfg,
                   model_overrides), our_cfg, seed, kernel_scale)


def mmdet_equivalent_model_cfg(model_cfg: dict) -> ConfigDict:
    """mmdet's SOLOv2 model config equal to one of ours whose mask-feature
    neck is a ``MaskFeatureNeck``: mmdet holds that branch in its head
    (``mask_head.mask_feature_head``); the rest keeps its settings
    (``channels_last``, ours only, is dropped).

    Raises:
        ValueError: the neck is of another type (mmdet has no equivalent).
    """
    cfg = ConfigDict(copy.deepcopy(dict(model_cfg)))
    neck = cfg.pop('mask_feature_neck')
    if neck.pop('type') not in ('MaskFeatureNeck', 'mmsolo.MaskFeatureNeck'):
        raise ValueError('mmdet has only the shared mask-feature branch')
    neck.pop('with_coord', None)
    cfg.pop('channels_last', None)  # a memory layout, not a setting
    cfg.type = 'SOLOv2'
    cfg.mask_head.type = 'SOLOV2Head'
    cfg.mask_head.mask_feature_head = neck
    return cfg


def build_paired_from_mmsolo_config(
        mmsolo_config: str,
        seed: int = 0,
        kernel_scale: float = 1.0) -> Tuple[torch.nn.Module, torch.nn.Module]:
    """Like :func:`build_paired_solov2`, mmdet's model being built from
    :func:`mmdet_equivalent_model_cfg` of the mmsolo config at
    ``mmsolo_config`` (e.g. the quick-start one, which mmdet does not
    ship)."""
    our_cfg = _model_cfg(mmsolo_config, None)
    return _build_pair(mmdet_equivalent_model_cfg(our_cfg), our_cfg, seed,
                       kernel_scale)


def _build_pair(ref_cfg: dict, our_cfg: dict, seed: int,
                kernel_scale: float) -> Tuple[torch.nn.Module,
                                              torch.nn.Module]:
    from mmdet.registry import MODELS as MMDET_MODELS

    from mmsolo.checkpoint import convert_mmdet_state_dict
    from mmsolo.registry import MODELS
    from mmsolo.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        reference = MMDET_MODELS.build(ref_cfg)
    torch.manual_seed(seed)
    reference.init_weights()
    with torch.no_grad():
        reference.mask_head.conv_kernel.weight.mul_(kernel_scale)
    with DefaultScope.overwrite_default_scope('mmsolo'):
        ours = MODELS.build(our_cfg)
    ours.load_state_dict(
        convert_mmdet_state_dict(reference.state_dict()), strict=True)
    return reference.eval(), ours.eval()


def spread_class_scores(models: Sequence[torch.nn.Module],
                        mean: float,
                        seed: int = 1) -> None:
    """Give the category convs of ``models`` the same seeded biases, normal
    with std 1.5 around ``mean``, so that some classes score high and a few
    hundred candidates pass ``score_thr``, as with a trained model."""
    generator = torch.Generator().manual_seed(seed)
    num_classes = models[0].mask_head.conv_cls.bias.numel()
    bias = torch.randn(num_classes, generator=generator) * 1.5 + mean
    with torch.no_grad():
        for model in models:
            model.mask_head.conv_cls.bias.copy_(bias)


def demo_batch(
    img_shapes: Sequence[Tuple[int, int]],
    ori_shapes: Optional[Sequence[Tuple[int, int]]] = None,
    gt_instances: Optional[List[dict]] = None,
    pad_divisor: int = 32,
    seed: int = 0
) -> Tuple[torch.Tensor, List[DetDataSample]]:
    """A normalized random batch and its data samples.

    Args:
        img_shapes: (h, w) of each image after resizing.
        ori_shapes: (h, w) of each original image; ``img_shapes`` if None.
        gt_instances: per image a dict of ``boxes`` (n, 4) xyxy and
            ``labels`` (n,) whose masks are the boxes' ellipses, or None.
        pad_divisor: Inputs are padded to a multiple of it.
        seed: Seed of the image noise.

    Returns:
        tuple: ``(inputs (N, 3, H, W), data_samples)``.
    """
    ori_shapes = ori_shapes or img_shapes
    pad_h = int(np.ceil(max(s[0] for s in img_shapes) / pad_divisor)) * \
        pad_divisor
    pad_w = int(np.ceil(max(s[1] for s in img_shapes) / pad_divisor)) * \
        pad_divisor
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.zeros(len(img_shapes), 3, pad_h, pad_w)
    samples = []
    for i, (img_shape, ori_shape) in enumerate(zip(img_shapes, ori_shapes)):
        h, w = img_shape
        smooth = torch.randn(1, 3, h // 8 + 1, w // 8 + 1, generator=generator)
        inputs[i, :, :h, :w] = torch.nn.functional.interpolate(
            smooth, size=(h, w), mode='bilinear', align_corners=False)[0]
        sample = DetDataSample(
            metainfo=dict(
                img_shape=tuple(img_shape),
                ori_shape=tuple(ori_shape),
                pad_shape=(pad_h, pad_w),
                batch_input_shape=(pad_h, pad_w),
                scale_factor=(w / ori_shape[1], h / ori_shape[0])))
        if gt_instances is not None:
            sample.gt_instances = _ellipse_instances(gt_instances[i],
                                                     (pad_h, pad_w))
        samples.append(sample)
    return inputs, samples


def random_gt_boxes(num_images: int,
                    num_objects: int,
                    img_shape: Tuple[int, int],
                    num_classes: int,
                    min_side: float = 8,
                    max_side: float = 600,
                    seed: int = 0) -> List[dict]:
    """Ground truth for :func:`demo_batch`: per image ``num_objects`` boxes
    (their ellipses become the masks) with sides log-uniform between
    ``min_side`` and ``max_side`` px inside ``img_shape``, random classes."""
    rng = np.random.default_rng(seed)
    gts = []
    for _ in range(num_images):
        sides = np.exp(
            rng.uniform(np.log(min_side), np.log(max_side), (num_objects, 2)))
        sides = np.minimum(sides, np.array(img_shape[::-1]) - 1)
        x1 = rng.uniform(0, img_shape[1] - sides[:, 0])
        y1 = rng.uniform(0, img_shape[0] - sides[:, 1])
        boxes = np.stack([x1, y1, x1 + sides[:, 0], y1 + sides[:, 1]], 1)
        gts.append(
            dict(
                boxes=boxes.round(),
                labels=rng.integers(0, num_classes, num_objects)))
    return gts


def _ellipse_instances(spec: dict, pad_shape: Tuple[int, int]) -> InstanceData:
    boxes = torch.as_tensor(spec['boxes'], dtype=torch.float32).reshape(-1, 4)
    masks = np.zeros((len(boxes), *pad_shape), dtype=np.uint8)
    ys, xs = np.mgrid[:pad_shape[0], :pad_shape[1]] + 0.5
    for k, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, \
            (y2 - y1) / 2
        masks[k] = ((xs - cx) / max(rx, 0.5))**2 + (
            (ys - cy) / max(ry, 0.5))**2 <= 1
    instances = InstanceData()
    instances.bboxes = boxes  # as DetDataPreprocessor(boxtype2tensor=True)
    instances.labels = torch.as_tensor(spec['labels'], dtype=torch.long)
    instances.masks = BitmapMasks(masks, *pad_shape)
    return instances
