"""A checkpoint trained on other classes, loaded for fine-tuning.

A checkpoint of the same architecture trained on another set of classes
(a COCO model for a 2-class data set) differs from the model in its
classifiers only: the mask head's category conv ``mask_head.conv_cls``
(weight (C, feat_channels, 3, 3), bias (C,), C the class count) and, in a
panoptic model, the semantic head's ``semantic_head.conv_seg`` (stuff + 1
outputs). mmengine loads ``load_from`` non-strictly and logs a
"size mismatch" warning for every such tensor, and for every other one
too: a wrong backbone depth trains on silently from random weights.

:func:`fit_checkpoint_to_model` makes the rule explicit, as mmdet users
expect of ``load_from``: a classifier that differs only in its number of
outputs is re-initialised (the checkpoint's tensors are replaced by the
model's freshly initialised ones, so every other weight loads without a
warning) and one log line says so; any other shape mismatch raises
:class:`CheckpointMismatchError` naming the key and both shapes. When the
run is not a fine-tuning (a test, a validation, a resumed training) a
classifier of another size is an error too: its weights would be random.
:class:`mmsolo.engine.FinetuneLoadHook` applies it to the Runner's
``load_from``.
"""

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Mapping, MutableMapping, Optional, Tuple

from torch import Tensor

# The classifiers of mmsolo's models, by module name: what one of their
# output channels is, in the messages.
CLASSIFIERS: Dict[str, str] = OrderedDict(
    [
        ('mask_head.conv_cls', 'class'),
        ('semantic_head.conv_seg', 'semantic output'),
    ]
)
# What mmengine strips from checkpoint keys before loading (its
# ``revise_keys`` default): the prefix of a DDP-wrapped model.
WRAPPER_PREFIX = re.compile(r'^module\.')
# How many mismatches an error spells out.
MAX_SHOWN = 5


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensor has another shape than the model's, outside
    what fine-tuning re-initialises; nothing was loaded."""


@dataclass(frozen=True)
class ShapeMismatch:
    """A key whose tensor has another shape in the checkpoint
    (``checkpoint_key``, ``in_checkpoint``) than in the model (``key``,
    ``in_model``)."""

    key: str
    checkpoint_key: str
    in_checkpoint: Tuple[int, ...]
    in_model: Tuple[int, ...]

    @property
    def classifier(self) -> str:
        """The module the key belongs to (``mask_head.conv_cls``)."""
        return self.key.rpartition('.')[0]

    def describe(self) -> str:
        """``'mask_head.conv_cls.bias (3,) -> (2,)'``: checkpoint, then
        model."""
        return f'{self.key} {self.in_checkpoint} -> {self.in_model}'

    def explain(self) -> str:
        """The key and both shapes, in words."""
        return (
            f'{self.key} is {self.in_checkpoint} in the checkpoint but '
            f'{self.in_model} in the model'
        )


def checkpoint_state_dict(checkpoint: MutableMapping) -> MutableMapping:
    """The weights of a loaded checkpoint: its ``state_dict``, or the
    checkpoint itself when it is a plain state dict (as mmengine reads
    it)."""
    if 'state_dict' in checkpoint:
        return checkpoint['state_dict']
    return checkpoint


def find_shape_mismatches(
    model_state: Mapping[str, Tensor], checkpoint_state: Mapping[str, Tensor]
) -> List[ShapeMismatch]:
    """Every key of both state dicts (checkpoint keys with the ``module.``
    prefix stripped, as mmengine loads them) whose tensors differ in shape,
    in the checkpoint's order. Keys in one of them only are not
    mismatches (mmengine's non-strict loading reports them)."""
    found = []
    for checkpoint_key, value in checkpoint_state.items():
        key = WRAPPER_PREFIX.sub('', checkpoint_key)
        if key not in model_state or not hasattr(value, 'shape'):
            continue
        in_checkpoint = tuple(value.shape)
        in_model = tuple(model_state[key].shape)
        if in_checkpoint != in_model:
            found.append(
                ShapeMismatch(key, checkpoint_key, in_checkpoint, in_model)
            )
    return found


def is_class_count_change(
    mismatch: ShapeMismatch, classifiers: Mapping[str, str] = CLASSIFIERS
) -> bool:
    """Whether ``mismatch`` is a classifier's weight or bias that differs in
    its output channels (the first axis) only."""
    owner, _, name = mismatch.key.rpartition('.')
    a, b = mismatch.in_checkpoint, mismatch.in_model
    return (
        owner in classifiers
        and name in ('weight', 'bias')
        and len(a) == len(b) > 0
        and a[1:] == b[1:]
    )


def _listed(mismatches: List[ShapeMismatch]) -> str:
    shown = '; '.join(m.explain() for m in mismatches[:MAX_SHOWN])
    if len(mismatches) > MAX_SHOWN:
        shown += f' ... {len(mismatches)} keys in all'
    return shown


def _counted(count: int, what: str) -> str:
    """``'2 classes'``, ``'1 class'``, ``'55 semantic outputs'``."""
    if count == 1:
        return f'1 {what}'
    return f'{count} {what}es' if what.endswith('s') else f'{count} {what}s'


def _architecture_error(
    others: List[ShapeMismatch], source: str, classifiers: Mapping[str, str]
) -> CheckpointMismatchError:
    return CheckpointMismatchError(
        f'{source} does not fit the model: {_listed(others)}. Only a '
        f'classifier ({", ".join(classifiers)}) may differ, in its number '
        'of outputs (it is then re-initialised for fine-tuning); another '
        "weight of another shape means the config's model is not the "
        "checkpoint's (backbone depth, channels, kernel size ...): use the "
        'config the checkpoint was trained with as _base_. Nothing was '
        'loaded.'
    )


def _classifier_error(
    changes: List[ShapeMismatch], source: str, classifiers: Mapping[str, str]
) -> CheckpointMismatchError:
    first = changes[0]
    what = classifiers.get(first.classifier, 'output')
    return CheckpointMismatchError(
        f'{source} does not fit the model: {_listed(changes)}. The '
        f'checkpoint predicts {_counted(first.in_checkpoint[0], what)} and '
        f'the model {first.in_model[0]}. A classifier of another size is '
        're-initialised only when training from load_from (fine-tuning); '
        'to test, validate or resume, use a checkpoint trained with the '
        "config's classes (model.mask_head.num_classes and the datasets' "
        'metainfo). Nothing was loaded.'
    )


def _reinit_line(
    changes: List[ShapeMismatch], source: str, classifiers: Mapping[str, str]
) -> str:
    counts = []
    for classifier, what in classifiers.items():
        own = [m for m in changes if m.classifier == classifier]
        if own:
            counts.append(
                f'{_counted(own[0].in_model[0], what)} '
                f'(checkpoint has {own[0].in_checkpoint[0]})'
            )
    keys = 'key' if len(changes) == 1 else 'keys'
    return (
        f'{source}: {len(changes)} {keys} re-initialised for '
        f'{" and ".join(counts)}: ' + ', '.join(m.describe() for m in changes)
    )


def fit_checkpoint_to_model(
    model_state: Mapping[str, Tensor],
    checkpoint: MutableMapping,
    source: str = 'load_from',
    path: Optional[str] = None,
    reinit_classifiers: bool = True,
    classifiers: Mapping[str, str] = CLASSIFIERS,
) -> Optional[str]:
    """Make ``checkpoint`` load into the model of ``model_state``, or say
    why it cannot.

    Args:
        model_state: The model's ``state_dict()``, its classifiers freshly
            initialised (the Runner initialises the weights before it loads
            ``load_from``).
        checkpoint: A loaded checkpoint (``{'state_dict': ...}`` or a plain
            state dict); changed in place: each classifier tensor that
            differs in its output channels only is replaced by a copy of
            the model's, so loading keeps the fresh classifier and warns
            about nothing.
        source: How messages name the checkpoint: ``'load_from'`` (the
            log line starts with it), ``'resume'``.
        path: The checkpoint's file, named by the errors.
        reinit_classifiers: Whether a classifier of another size may be
            re-initialised (a fine-tuning); False (test, validation,
            resume) makes it an error.
        classifiers: Module names of the classifiers and what one output
            channel of each is, for the messages (:data:`CLASSIFIERS`).

    Returns:
        The log line naming the re-initialised keys and their shapes
        (checkpoint -> model), or None when every shape fits.

    Raises:
        CheckpointMismatchError: A tensor outside the classifiers, or one
            of a classifier's in other axes than its outputs, differs in
            shape (or a classifier's does with ``reinit_classifiers``
            False), naming the keys and both shapes; ``checkpoint`` is
            then unchanged.
    """
    state = checkpoint_state_dict(checkpoint)
    mismatches = find_shape_mismatches(model_state, state)
    if not mismatches:
        return None
    changes = [m for m in mismatches if is_class_count_change(m, classifiers)]
    others = [m for m in mismatches if m not in changes]
    named = f'{source} {path}' if path else source
    if others:
        raise _architecture_error(others, named, classifiers)
    if not reinit_classifiers:
        raise _classifier_error(changes, named, classifiers)
    for change in changes:
        state[change.checkpoint_key] = model_state[change.key].detach().clone()
    return _reinit_line(changes, source, classifiers)
