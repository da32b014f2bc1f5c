"""Settings of the SOLOv2 head checked, and the parts built from them."""

from typing import Any, Optional, Sequence

from mmsolo.registry import TASK_UTILS

# The assigner of a head whose train_cfg names none; the head fills in
# its own num_classes, num_grids, scale_ranges, pos_scale and mask_stride.
DEFAULT_ASSIGNER = dict(type='mmsolo.CenterRegionGridAssigner')


def check_level_settings(
    num_grids: Sequence[int],
    strides: Sequence[int],
    scale_ranges: Sequence[tuple],
    cls_down_index: int,
    stacked_convs: int,
    dynamic_conv_size: int,
) -> None:
    """Raise a ValueError naming the ``model.mask_head`` fields that do not
    fit together."""
    lengths = dict(
        num_grids=len(num_grids),
        strides=len(strides),
        scale_ranges=len(scale_ranges),
    )
    if len(set(lengths.values())) != 1:
        raise ValueError(
            'SOLOv2Head: num_grids, strides and scale_ranges must have one '
            f'entry per level, got lengths {lengths}; fix '
            'model.mask_head.{num_grids,strides,scale_ranges}'
        )
    if not 0 <= cls_down_index <= stacked_convs:
        raise ValueError(
            f'SOLOv2Head: cls_down_index={cls_down_index} must be in '
            f'[0, stacked_convs={stacked_convs}]'
        )
    if dynamic_conv_size < 1 or dynamic_conv_size % 2 == 0:
        raise ValueError(
            'SOLOv2Head: dynamic_conv_size must be odd and '
            f'positive, got {dynamic_conv_size}'
        )


def build_assigner(train_cfg: Optional[dict], head_settings: dict) -> Any:
    """``train_cfg.assigner`` (:data:`DEFAULT_ASSIGNER` if absent) with the
    head's level settings, which it must not set itself: an object with
    ``assign(gt_bboxes, gt_labels, gt_masks, featmap_size) -> GridTargets``.

    Raises:
        ValueError: the assigner config sets one of ``head_settings``.
    """
    assigner = dict((train_cfg or {}).get('assigner', DEFAULT_ASSIGNER))
    given = sorted(set(assigner) & set(head_settings))
    if given:
        raise ValueError(
            f'model.train_cfg.assigner sets {given}, which the head gives '
            'it: set them in model.mask_head instead'
        )
    return TASK_UTILS.build(dict(assigner, **head_settings))
