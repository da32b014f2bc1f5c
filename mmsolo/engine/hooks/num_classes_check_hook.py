"""Stop a run whose head predicts another number of classes than the data.

A head built with ``num_classes=80`` on a 3-class dataset trains without an
error (the extra category channels only learn "absent") and evaluates into
nonsense; a head with fewer classes than the data fails deep inside the loss.
:class:`NumClassesCheckHook` compares the two before the first training step
(and before each validation or test run) and names the config field to
change.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.dataset import ClassBalancedDataset, ConcatDataset, RepeatDataset
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmsolo.registry import HOOKS
from mmsolo.utils.messages import abbreviated
from .pipeline_checks import check_semantic_pipeline

# How many class names a message spells out before "... N in all".
MAX_NAMES_SHOWN = 5


# The class-count attributes of a module, e.g. the semantic head's
# num_stuff_classes; a module with num_stuff_classes is a panoptic part
# whose num_classes is derived (stuff + 1, or things + stuff).
CLASS_COUNT_NAMES = ('num_classes', 'num_things_classes', 'num_stuff_classes')


def modules_with_num_classes(model: nn.Module) -> List[Tuple[str, int]]:
    """``(config field, count)`` of every class count of a submodule that
    predicts classes, e.g. ``[('model.mask_head.num_classes', 80)]``; for
    panoptic parts (modules with ``num_stuff_classes``) their
    ``num_things_classes`` and ``num_stuff_classes``.

    The backbone is left out: a classification backbone's ``num_classes``
    (its ImageNet classifier, or -1 for none) is not the detector's.
    A model wrapper (DDP) is looked through.
    """
    if is_model_wrapper(model):
        model = model.module
    found = []
    for name, module in model.named_modules():
        if not name or name == 'backbone' or name.startswith('backbone.'):
            continue
        names = (
            CLASS_COUNT_NAMES[1:]
            if isinstance(getattr(module, 'num_stuff_classes', None), int)
            else CLASS_COUNT_NAMES[:1]
        )
        for count_name in names:
            count = getattr(module, count_name, None)
            if isinstance(count, int):
                found.append((f'model.{name}.{count_name}', count))
    return found


def _unwrap(dataset: Dataset, field: str) -> Tuple[List[str], Dataset, str]:
    """The wrapper types around ``dataset``, the innermost dataset whose
    metainfo the wrappers report, and that dataset's config field."""
    wrappers = []
    while True:
        if isinstance(dataset, (ClassBalancedDataset, RepeatDataset)):
            wrappers.append(type(dataset).__name__)
            dataset, field = dataset.dataset, f'{field}.dataset'
        elif isinstance(dataset, ConcatDataset):
            wrappers.append(type(dataset).__name__)
            dataset, field = dataset.datasets[0], f'{field}.datasets[0]'
        else:
            return wrappers, dataset, field


def describe_dataset(dataset: Dataset) -> str:
    """``'CocoDataset, ann_file ...'``, or for a wrapped dataset
    ``'ClassBalancedDataset of LVISV05Dataset, ann_file ...'``."""
    wrappers, inner, _ = _unwrap(dataset, '')
    text = ' of '.join(wrappers + [type(inner).__name__])
    ann_file = getattr(inner, 'ann_file', None)
    if ann_file:
        text += f', ann_file {ann_file!r}'
    return text


def _spell_classes(classes: Sequence[str]) -> str:
    if len(classes) <= MAX_NAMES_SHOWN:
        return repr(tuple(classes))
    names = [repr(name) for name in classes]
    return f'({abbreviated(names, MAX_NAMES_SHOWN)})'


def class_groups(
    metainfo: dict, classes: Sequence[str]
) -> Dict[str, Sequence[str]]:
    """The classes each kind of class count must match: ``num_classes`` of
    an instance head counts the thing classes of a panoptic dataset (one
    whose metainfo has ``thing_classes`` and ``stuff_classes``) and all
    classes otherwise; ``num_stuff_classes`` counts the stuff classes."""
    if 'thing_classes' in metainfo and 'stuff_classes' in metainfo:
        return dict(
            num_classes=metainfo['thing_classes'],
            num_stuff_classes=metainfo['stuff_classes'],
        )
    return dict(num_classes=classes)


def _count(classes: Sequence[str], one: str, many: str) -> str:
    noun = one if len(classes) == 1 else many
    return f'{len(classes)} {noun} {_spell_classes(classes)}'


def check_num_classes(
    model: nn.Module, dataset: Dataset, dataset_field: str
) -> Optional[str]:
    """Raise a ValueError if a module of ``model`` has a ``num_classes``
    other than the number of ``classes`` in ``dataset.metainfo``; on a
    panoptic dataset, if an instance head's ``num_classes`` or a panoptic
    part's ``num_things_classes`` differs from the thing classes, or its
    ``num_stuff_classes`` from the stuff classes (see :func:`class_groups`).

    Args:
        model (nn.Module): The detector (or its wrapper).
        dataset (Dataset): A dataset, or a ClassBalancedDataset /
            RepeatDataset / ConcatDataset around one.
        dataset_field (str): Its config field, e.g.
            ``'train_dataloader.dataset'``, used in the message.

    Returns:
        str or None: A warning when the dataset names no classes (nothing
        to check), else None.
    """
    classes = getattr(dataset, 'metainfo', {}).get('classes', None)
    _, inner, inner_field = _unwrap(dataset, dataset_field)
    if classes is None:
        return (
            f'{dataset_field} ({describe_dataset(dataset)}) has no '
            '"classes" in its metainfo: the num_classes of the model is '
            'not checked against it'
        )
    if isinstance(classes, str):
        raise ValueError(
            f'{inner_field}.metainfo.classes is the string {classes!r}, not '
            f'a tuple of class names: write classes=({classes!r}, ) (a '
            'one-class tuple needs its comma)'
        )
    groups = class_groups(dataset.metainfo, classes)
    counts = modules_with_num_classes(model)
    panoptic_parts = [
        field.rsplit('.', 1)[0]
        for field, _ in counts
        if field.endswith('.num_stuff_classes')
    ]
    if panoptic_parts and 'num_stuff_classes' not in groups:
        raise ValueError(
            f'{" and ".join(panoptic_parts)} segment stuff classes but '
            f'{dataset_field} ({describe_dataset(dataset)}) is not a '
            'panoptic dataset: its metainfo has no "thing_classes" and '
            '"stuff_classes"; use a panoptic dataset (e.g. '
            'CocoPanopticDataset) or an instance model'
        )
    wrong = []
    for field, num in counts:
        kind = field.rsplit('.', 1)[1]
        wanted = groups[
            'num_stuff_classes'
            if kind == 'num_stuff_classes'
            else 'num_classes'
        ]
        if num != len(wanted):
            wrong.append((field, num, len(wanted)))
    if not wrong:
        return None
    raise ValueError(
        _mismatch_message(
            wrong, groups, classes, dataset, dataset_field, inner, inner_field
        )
    )


def _mismatch_message(
    wrong: List[Tuple[str, int, int]],
    groups: dict,
    classes: Sequence[str],
    dataset: Dataset,
    dataset_field: str,
    inner: Dataset,
    inner_field: str,
) -> str:
    """The message of :func:`check_num_classes` for the ``(field, num,
    wanted)`` that differ."""
    have = ' and '.join(f'{field} is {num}' for field, num, _ in wrong)
    fix = ' and '.join(f'{field}={want}' for field, _, want in wrong)
    if 'num_stuff_classes' in groups:
        things, stuff = groups['num_classes'], groups['num_stuff_classes']
        counted = (
            f'{_count(things, "thing class", "thing classes")} and '
            f'{_count(stuff, "stuff class", "stuff classes")}'
        )
    else:
        counted = _count(classes, 'class', 'classes')
    message = (
        f'{have} but {dataset_field} ({describe_dataset(dataset)}) '
        f'has {counted}: set {fix} in your config'
    )
    default_classes = getattr(type(inner), 'METAINFO', {}).get('classes')
    if default_classes is not None and tuple(classes) == tuple(
        default_classes
    ):
        message += (
            f". These are {type(inner).__name__}'s default classes: "
            'if your annotation file has other categories, list '
            f'them in {inner_field}.metainfo=dict(classes=(...))'
        )
    return message


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Check ``num_classes`` of the model against the dataset's classes.

    Runs before training (on the train dataset, and on the val dataset when
    the run validates, so that a mismatch there does not wait for the first
    validation), before each validation and before testing. A mismatch
    raises a ValueError that gives both numbers, the dataset and the config
    field to set; a dataset without ``classes`` in its metainfo is skipped
    with a warning. Wrapped datasets (ClassBalancedDataset, RepeatDataset,
    ConcatDataset) are checked through their metainfo. Before training it
    also checks that a panoptic model's train pipeline loads semantic
    ground truth (:func:`~.pipeline_checks.check_semantic_pipeline`).
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._warned = set()  # dataset fields already warned about

    def _check(
        self, runner: Runner, dataset: Dataset, dataset_field: str
    ) -> None:
        warning = check_num_classes(runner.model, dataset, dataset_field)
        if warning is not None and dataset_field not in self._warned:
            self._warned.add(dataset_field)
            runner.logger.warning(warning)

    def before_train(self, runner: Runner) -> None:
        self._check(
            runner, runner.train_dataloader.dataset, 'train_dataloader.dataset'
        )
        check_semantic_pipeline(runner.model, runner.train_dataloader.dataset)
        if runner.val_loop is not None:
            self._check(
                runner, runner.val_dataloader.dataset, 'val_dataloader.dataset'
            )

    def before_val(self, runner: Runner) -> None:
        self._check(
            runner, runner.val_dataloader.dataset, 'val_dataloader.dataset'
        )

    def before_test(self, runner: Runner) -> None:
        self._check(
            runner, runner.test_dataloader.dataset, 'test_dataloader.dataset'
        )
