"""Checkpoints of seeded random models, for the tests of tools that load
one."""

import torch
from mmengine.config import Config

from .models import seeded_model


def save_seeded_checkpoint(config: str, path: str, seed: int = 0) -> str:
    """Write ``{'state_dict', 'meta': {'dataset_meta'}}`` of the model of
    ``config`` with seeded random initial weights (:func:`seeded_model`)
    to ``path``: tensors and plain types only, so that
    ``torch.load(weights_only=True)`` (what mmengine does under torch >=
    2.6) reads it. The class names are those of the config's
    ``test_dataloader.dataset.metainfo``. Returns ``path``."""
    model = seeded_model(config, seed)
    classes = tuple(
        Config.fromfile(config).test_dataloader.dataset.metainfo['classes']
    )
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=classes)),
        ),
        path,
    )
    return path
