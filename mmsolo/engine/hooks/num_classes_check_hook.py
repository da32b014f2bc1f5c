"""Stop a run whose head predicts another number of classes than the data.

A head built with ``num_classes=80`` on a 3-class dataset trains without an
error (the extra category channels only learn "absent") and evaluates into
nonsense; a head with fewer classes than the data fails deep inside the loss.
:class:`NumClassesCheckHook` compares the two before the first training step
(and before each validation or test run) and names the config field to
change.
"""
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.dataset import ClassBalancedDataset, ConcatDataset, RepeatDataset
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmsolo.registry import HOOKS
from mmsolo.utils.messages import abbreviated

# How many class names a message spells out before "... N in all".
MAX_NAMES_SHOWN = 5


def modules_with_num_classes(model: nn.Module) -> List[Tuple[str, int]]:
    """``(config field, num_classes)`` of every submodule that predicts
    classes, e.g. ``[('model.mask_head.num_classes', 80)]``.

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
        num_classes = getattr(module, 'num_classes', None)
        if isinstance(num_classes, int):
            found.append((f'model.{name}.num_classes', num_classes))
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


def check_num_classes(model: nn.Module, dataset: Dataset,
                      dataset_field: str) -> Optional[str]:
    """Raise a ValueError if a module of ``model`` has a ``num_classes``
    other than the number of ``classes`` in ``dataset.metainfo``.

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
        return (f'{dataset_field} ({describe_dataset(dataset)}) has no '
                '"classes" in its metainfo: the num_classes of the model is '
                'not checked against it')
    if isinstance(classes, str):
        raise ValueError(
            f'{inner_field}.metainfo.classes is the string {classes!r}, not '
            f'a tuple of class names: write classes=({classes!r}, ) (a '
            'one-class tuple needs its comma)')
    wrong = [(field, num) for field, num in modules_with_num_classes(model)
             if num != len(classes)]
    if not wrong:
        return None
    noun = 'class' if len(classes) == 1 else 'classes'
    have = ' and '.join(f'{field} is {num}' for field, num in wrong)
    fix = ' and '.join(f'{field}={len(classes)}' for field, _ in wrong)
    message = (f'{have} but {dataset_field} ({describe_dataset(dataset)}) '
               f'has {len(classes)} {noun} {_spell_classes(classes)}: set '
               f'{fix} in your config')
    default_classes = getattr(type(inner), 'METAINFO', {}).get('classes')
    if default_classes is not None and tuple(classes) == tuple(
            default_classes):
        message += (f'. These are {type(inner).__name__}\'s default classes: '
                    'if your annotation file has other categories, list '
                    f'them in {inner_field}.metainfo=dict(classes=(...))')
    raise ValueError(message)


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Check ``num_classes`` of the model against the dataset's classes.

    Runs before training (on the train dataset, and on the val dataset when
    the run validates, so that a mismatch there does not wait for the first
    validation), before each validation and before testing. A mismatch
    raises a ValueError that gives both numbers, the dataset and the config
    field to set; a dataset without ``classes`` in its metainfo is skipped
    with a warning. Wrapped datasets (ClassBalancedDataset, RepeatDataset,
    ConcatDataset) are checked through their metainfo.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._warned = set()  # dataset fields already warned about

    def _check(self, runner: Runner, dataset: Dataset,
               dataset_field: str) -> None:
        warning = check_num_classes(runner.model, dataset, dataset_field)
        if warning is not None and dataset_field not in self._warned:
            self._warned.add(dataset_field)
            runner.logger.warning(warning)

    def before_train(self, runner: Runner) -> None:
        self._check(runner, runner.train_dataloader.dataset,
                    'train_dataloader.dataset')
        if runner.val_loop is not None:
            self._check(runner, runner.val_dataloader.dataset,
                        'val_dataloader.dataset')

    def before_val(self, runner: Runner) -> None:
        self._check(runner, runner.val_dataloader.dataset,
                    'val_dataloader.dataset')

    def before_test(self, runner: Runner) -> None:
        self._check(runner, runner.test_dataloader.dataset,
                    'test_dataloader.dataset')
