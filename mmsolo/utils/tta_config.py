"""The config of a test-time augmented run (``tools/test.py --tta``)."""

import copy
import warnings

from mmengine.config import Config, ConfigDict

# Used when a config has no ``tta_model``, as mmdet's test.py falls back to
# its DetTTAModel.
DEFAULT_TTA_MODEL = dict(
    type='mmsolo.SOLOv2TTAModel',
    tta_cfg=dict(nms=dict(type='hard_mask_nms', iou_thr=0.5), max_per_img=100),
)
FLIP_META_KEYS = (
    'img_id',
    'img_path',
    'ori_shape',
    'img_shape',
    'scale_factor',
    'flip',
    'flip_direction',
)


def default_tta_pipeline(test_pipeline: list) -> list:
    """The test pipeline up to its last step, then each image as it is and
    flipped horizontally, packed with the flip in the meta keys."""
    flip_views = dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='RandomFlip', prob=0.0),
                dict(type='RandomFlip', prob=1.0),
            ],
            [dict(type='PackDetInputs', meta_keys=FLIP_META_KEYS)],
        ],
    )
    return [*copy.deepcopy(test_pipeline[:-1]), flip_views]


def use_tta(cfg: Config, config_path: str = 'the config') -> None:
    """Make ``cfg`` test with test-time augmentation: its model wrapped in
    ``cfg.tta_model`` and its test set read through ``cfg.tta_pipeline``
    (each taken from the config, or a flip default with a warning, as
    mmdet's ``tools/test.py --tta`` does).

    Raises:
        ValueError: the config sets ``tta_model = None`` (a model that has
            no test-time augmentation, e.g. the panoptic one).
    """
    if 'tta_model' in cfg and cfg.tta_model is None:
        raise ValueError(
            f'--tta: {config_path} sets tta_model = None: this model has no '
            'test-time augmentation (SOLOv2TTAModel merges instance '
            'predictions only)'
        )
    test_set = cfg.test_dataloader.dataset
    while 'dataset' in test_set:  # a wrapped dataset
        test_set = test_set.dataset
    if cfg.get('tta_model') is None:
        warnings.warn(
            f'{config_path} has no tta_model; --tta uses {DEFAULT_TTA_MODEL}',
            stacklevel=2,
        )
        cfg.tta_model = copy.deepcopy(DEFAULT_TTA_MODEL)
    if cfg.get('tta_pipeline') is None:
        warnings.warn(
            f'{config_path} has no tta_pipeline; --tta uses the test '
            'pipeline with a horizontal flip',
            stacklevel=2,
        )
        cfg.tta_pipeline = default_tta_pipeline(test_set.pipeline)
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    test_set.pipeline = cfg.tta_pipeline
