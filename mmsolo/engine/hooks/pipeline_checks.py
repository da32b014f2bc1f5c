"""Before training: the train pipeline loads the ground truth the model's
losses need."""

from typing import Iterator

from torch import nn
from torch.utils.data import Dataset

SEMANTIC_STEP = (
    "dict(type='mmsolo.LoadPanopticAnnotations', with_bbox=True, "
    'with_mask=True, with_seg=True)'
)


def _base_datasets(dataset: Dataset) -> Iterator[Dataset]:
    """The datasets under wrappers (ClassBalancedDataset, RepeatDataset:
    ``dataset``; ConcatDataset: ``datasets``)."""
    if hasattr(dataset, 'datasets'):
        for part in dataset.datasets:
            yield from _base_datasets(part)
    elif hasattr(dataset, 'dataset'):
        yield from _base_datasets(dataset.dataset)
    else:
        yield dataset


def _pipeline_steps(pipeline) -> Iterator[object]:
    """The transforms of a pipeline, those inside wrappers that hold
    ``transforms`` (``CachedTransforms``, ``Compose``) in their place."""
    for step in getattr(pipeline, 'transforms', []):
        if hasattr(step, 'transforms'):
            yield from _pipeline_steps(step)
        else:
            yield step


def check_semantic_pipeline(
    model: nn.Module, dataset: Dataset, field: str = 'train_dataloader.dataset'
) -> None:
    """Raise a ValueError naming the pipeline step if ``model`` trains a
    semantic head (``PanopticSOLOv2``) and no step of the pipeline of
    ``dataset`` loads the semantic ground truth (a loading step with
    ``with_seg=True``, as ``LoadPanopticAnnotations``)."""
    if getattr(model, 'module', None) is not None:  # a DDP wrapper
        model = model.module
    if not hasattr(model, 'semantic_head'):
        return
    for base in _base_datasets(dataset):
        steps = list(_pipeline_steps(getattr(base, 'pipeline', None)))
        if any(getattr(step, 'with_seg', False) for step in steps):
            continue
        loaders = [
            (index, type(step).__name__)
            for index, step in enumerate(steps)
            if 'Annotations' in type(step).__name__
        ]
        found = ', '.join(
            f'step {index} ({name}) has with_seg=False'
            for index, name in loaders
        ) or ('no step loads annotations')
        raise ValueError(
            f'{type(model).__name__} trains a semantic head, but '
            f'{field}.pipeline loads no semantic ground truth ({found}): '
            f'use {SEMANTIC_STEP} there'
        )
