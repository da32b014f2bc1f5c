"""Build-time check that the channels of a SOLOv2's parts fit together.

A config whose FPN ``in_channels`` do not match its backbone (a Swin
backbone left with ResNet's FPN), or whose FPN ``out_channels`` differ from
what the mask-feature neck and head take, otherwise fails at the first
forward with a conv's ``RuntimeError`` that names no config field.

The check reads the built modules' attributes and runs no forward: the
channels each backbone stage is built with against the FPN's
``in_channels``, the FPN's ``out_channels`` against the ``in_channels`` of
the modules that take its levels. Where the attributes do not tell (a
backbone or neck of another family), the same comparison runs on the maps
of the first forward, through a hook on the neck that removes itself once
it has passed.
"""

from functools import partial
from typing import Callable, Dict, List, Optional, Sequence

from torch import Tensor, nn


def _stage_out_channels(stage: nn.Module) -> Optional[int]:
    """Output channels of a ResNet-like stage (a sequence of blocks): those
    of its last block's last conv, ``conv3`` of a bottleneck, ``conv2`` of
    a basic block; None for another kind of stage."""
    if not isinstance(stage, nn.Sequential) or len(stage) == 0:
        return None
    for name in ('conv3', 'conv2'):
        channels = getattr(
            getattr(stage[-1], name, None), 'out_channels', None
        )
        if isinstance(channels, int):
            return channels
    return None


def backbone_out_channels(backbone: nn.Module) -> Optional[List[int]]:
    """Channels of the backbone's outputs, in order, as its attributes give
    them; None where they do not.

    Known layouts: mmdet's ResNet and its relatives (ResNeXt, RegNet,
    Res2Net ...; the stages named in ``res_layers``) and backbones that list
    their stages' channels in ``num_features`` (Swin). As their forward
    does, the outputs are the stages whose index is in ``out_indices``,
    in stage order.
    """
    out_indices = getattr(backbone, 'out_indices', None)
    if not isinstance(out_indices, Sequence):
        return None
    stage_names = getattr(backbone, 'res_layers', None)
    if isinstance(stage_names, Sequence) and all(
        isinstance(name, str) for name in stage_names
    ):
        channels = [
            _stage_out_channels(getattr(backbone, name, None))
            for name in stage_names
        ]
    else:
        channels = getattr(backbone, 'num_features', None)
        if not isinstance(channels, Sequence):
            return None
    outputs = [
        stage_channels
        for index, stage_channels in enumerate(channels)
        if index in out_indices
    ]
    if not outputs or not all(isinstance(c, int) for c in outputs):
        return None
    return outputs


def _in_channels(module: nn.Module) -> Optional[int]:
    """``in_channels`` of a module taking FPN levels, None if it has
    none."""
    channels = getattr(module, 'in_channels', None)
    return channels if isinstance(channels, int) else None


def _check_neck_inputs(
    expected: List[int], backbone_name: str, channels: List[int]
) -> None:
    """Raise a ValueError naming both fields if the backbone's output
    ``channels`` differ from the neck's ``in_channels`` (``expected``)."""
    if channels != expected:
        raise ValueError(
            f'model.neck.in_channels={expected} but model.backbone '
            f'({backbone_name}) gives {len(channels)} feature maps of '
            f'{channels} channels; set model.neck.in_channels={channels}'
        )


def _neck_input_check(
    neck: nn.Module, backbone: nn.Module
) -> Callable[[List[int]], None]:
    """:func:`_check_neck_inputs` bound to the neck's ``in_channels`` and
    the backbone's name (a partial, so that a model holding it as a hook
    pickles)."""
    out_indices = getattr(backbone, 'out_indices', None)
    given = '' if out_indices is None else f', out_indices={out_indices}'
    return partial(
        _check_neck_inputs,
        list(neck.in_channels),
        f'{type(backbone).__name__}{given}',
    )


def _check_consumers(
    expected: Dict[str, Optional[int]],
    neck_name: str,
    hint: str,
    channels: List[int],
) -> None:
    """Raise a ValueError naming the fields if the neck's output
    ``channels`` (the distinct values, sorted) are not the ``in_channels``
    of each consumer in ``expected`` (None: not checked)."""
    for name, in_channels in expected.items():
        if in_channels is None or channels == [in_channels]:
            continue
        raise ValueError(
            f'model.{name}.in_channels={in_channels} but model.neck '
            f'({neck_name}) gives maps of '
            f'{"/".join(map(str, channels))} channels{hint}; make '
            f'model.{name}.in_channels and model.neck.out_channels equal'
        )


def _consumer_check(
    detector: nn.Module, consumers: Sequence[str]
) -> Callable[[List[int]], None]:
    """:func:`_check_consumers` bound to the ``in_channels`` of the modules
    named in ``consumers`` and the neck's description."""
    neck = detector.neck
    out_channels = getattr(neck, 'out_channels', None)
    hint = (
        ''
        if out_channels is None
        else (f' (model.neck.out_channels={out_channels})')
    )
    expected = {
        name: _in_channels(getattr(detector, name)) for name in consumers
    }
    return partial(_check_consumers, expected, type(neck).__name__, hint)


class _FirstForwardCheck:
    """A forward hook (``output=True``) or pre-hook on a neck that gives
    ``check`` the channels of the neck's outputs or inputs at the first
    forward, and removes itself once the check has passed."""

    def __init__(
        self, check: Callable[[List[int]], None], output: bool
    ) -> None:
        self.check = check
        self.output = output
        self.handle = None

    def __call__(self, module: nn.Module, args: tuple, *output) -> None:
        maps = output[0] if self.output else args[0]
        if isinstance(maps, Tensor):
            maps = [maps]
        channels = [feat.shape[1] for feat in maps]
        if self.output:
            channels = sorted(set(channels))
        self.check(channels)
        self.handle.remove()

    def attach(self, neck: nn.Module) -> None:
        if self.output:
            self.handle = neck.register_forward_hook(self)
        else:
            self.handle = neck.register_forward_pre_hook(self)


def check_channels(
    detector: nn.Module,
    consumers: Sequence[str] = ('mask_feature_neck', 'mask_head'),
    with_backbone: bool = True,
) -> None:
    """Raise a ValueError naming the config field if the channels of the
    detector's parts disagree.

    Compared, without a forward pass: the backbone's output channels
    (:func:`backbone_out_channels`) against ``neck.in_channels`` (when the
    neck has a list of them, as FPN), then ``neck.out_channels`` (when an
    int, as FPN's) against the ``in_channels`` of each module named in
    ``consumers``. A comparison whose channels the attributes do not give
    is deferred to the first forward, on the maps the neck takes or gives.

    Args:
        detector (nn.Module): With ``backbone``, ``neck`` and the modules
            named in ``consumers`` built.
        consumers (Sequence[str]): Attributes of ``detector`` that take
            every neck output.
        with_backbone (bool): Check the backbone against the neck too; a
            subclass checking only the consumers it adds passes False.

    Raises:
        ValueError: e.g. ``model.mask_head.in_channels=256 but model.neck
            (FPN) gives maps of 128 channels ...``, at build or, where
            deferred, at the first forward.
    """
    neck = detector.neck
    if with_backbone and isinstance(
        getattr(neck, 'in_channels', None), Sequence
    ):
        check = _neck_input_check(neck, detector.backbone)
        channels = backbone_out_channels(detector.backbone)
        if channels is None:
            _FirstForwardCheck(check, output=False).attach(neck)
        else:
            check(channels)
    check = _consumer_check(detector, consumers)
    out_channels = getattr(neck, 'out_channels', None)
    if isinstance(out_channels, int):
        check([out_channels])
    else:
        _FirstForwardCheck(check, output=True).attach(neck)
