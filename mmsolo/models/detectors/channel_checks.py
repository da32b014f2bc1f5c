"""Build-time check that the channels of a SOLOv2's parts fit together.

A config whose FPN ``in_channels`` do not match its backbone (a Swin
backbone left with ResNet's FPN), or whose FPN ``out_channels`` differ from
what the mask-feature neck and head take, otherwise fails at the first
forward with a conv's ``RuntimeError`` that names no config field.
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence

import torch
from torch import Tensor, nn

# Side of the zero image the backbone and neck are probed with: small, so
# that the probe costs little, yet large enough that a stride-32 stage gets
# a 3x3 map (mmcv's DCN v1 refuses inputs smaller than its 3x3 kernel).
PROBE_SIZE = 96


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Within the block ``module`` and its children are in eval mode (no
    BatchNorm statistics updated); their modes are restored after."""
    modes = [(child, child.training) for child in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for child, training in modes:
            child.training = training


def _probe(module: nn.Module, inputs) -> List[Tensor]:
    """The outputs of ``module`` on ``inputs``, as a list of maps."""
    with _eval_mode(module), torch.no_grad():
        outputs = module(inputs)
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _in_channels(module: nn.Module) -> Optional[int]:
    """``in_channels`` of a module taking FPN levels (or of its ``fusion``,
    as the semantic head keeps it), None if it has none."""
    for candidate in (module, getattr(module, 'fusion', None)):
        channels = getattr(candidate, 'in_channels', None)
        if isinstance(channels, int):
            return channels
    return None


def _check_neck_inputs(neck: nn.Module, channels: List[int],
                       backbone: nn.Module) -> None:
    expected = getattr(neck, 'in_channels', None)
    if not isinstance(expected, Sequence) or list(expected) == channels:
        return
    out_indices = getattr(backbone, 'out_indices', None)
    given = '' if out_indices is None else f', out_indices={out_indices}'
    raise ValueError(
        f'model.neck.in_channels={list(expected)} but model.backbone '
        f'({type(backbone).__name__}{given}) gives {len(channels)} feature '
        f'maps of {channels} channels; set model.neck.in_channels={channels}')


def check_channels(detector: nn.Module,
                   consumers: Sequence[str] = ('mask_feature_neck',
                                               'mask_head')) -> None:
    """Raise a ValueError naming the config field if the channels of the
    detector's parts disagree.

    The backbone and neck run on one (1, 3, 96, 96) zero image, in eval
    mode without gradients (modes restored), so the channels compared are
    those they really produce: the backbone's against ``neck.in_channels``
    (when the neck has a list of them, as FPN), then the neck's outputs
    against the ``in_channels`` of each module named in ``consumers``.

    Args:
        detector (nn.Module): With ``backbone``, ``neck`` and the modules
            named in ``consumers`` built.
        consumers (Sequence[str]): Attributes of ``detector`` that take
            every neck output.

    Raises:
        ValueError: e.g. ``model.mask_head.in_channels=256 but model.neck
            (FPN) gives maps of 128 channels ...``.
    """
    image = torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE,
                        device=next(detector.backbone.parameters()).device)
    feats = _probe(detector.backbone, image)
    _check_neck_inputs(detector.neck, [feat.shape[1] for feat in feats],
                       detector.backbone)
    neck_channels = sorted({feat.shape[1] for feat in
                            _probe(detector.neck, tuple(feats))})
    for name in consumers:
        expected = _in_channels(getattr(detector, name))
        if expected is None or neck_channels == [expected]:
            continue
        out_channels = getattr(detector.neck, 'out_channels', None)
        hint = '' if out_channels is None else (
            f' (model.neck.out_channels={out_channels})')
        raise ValueError(
            f'model.{name}.in_channels={expected} but model.neck '
            f'({type(detector.neck).__name__}) gives maps of '
            f'{"/".join(map(str, neck_channels))} channels{hint}; make '
            f'model.{name}.in_channels and model.neck.out_channels equal')
