"""``load_from`` a checkpoint trained on other classes: the classifier is
re-initialised in one log line, any other shape mismatch is an error."""

from typing import Mapping, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop

from mmsolo.checkpoint.finetune_loading import (
    CLASSIFIERS,
    fit_checkpoint_to_model,
)
from mmsolo.registry import HOOKS


def is_finetuning(runner) -> bool:
    """Whether ``runner`` loads its checkpoint to start a training (its
    training loop is built: ``Runner.train`` builds it before loading) and
    not to resume one. A test or validation builds no training loop."""
    train_loop = getattr(runner, '_train_loop', None)
    return isinstance(train_loop, BaseLoop) and not getattr(
        runner, '_resume', False
    )


@HOOKS.register_module()
class FinetuneLoadHook(Hook):
    """Fit the checkpoint the Runner loads to its model, before it is
    loaded (``after_load_checkpoint``, which mmengine calls between
    reading the file and loading its weights).

    When training from ``load_from``, a classifier (``mask_head.conv_cls``,
    ``semantic_head.conv_seg``) whose number of outputs differs from the
    model's keeps the model's fresh initialisation, and one INFO line
    names its keys and shapes, in place of mmengine's size-mismatch
    warnings. Any other shape mismatch, and a classifier mismatch when
    testing, validating or resuming, raises
    :class:`mmsolo.checkpoint.CheckpointMismatchError` naming the keys and
    both shapes (see :func:`mmsolo.checkpoint.fit_checkpoint_to_model`).

    ``mmsolo.runner.load_run_config`` adds it to every run of mmsolo's
    tools, so a config needs nothing but ``load_from``.

    Args:
        classifiers (dict, optional): Module names of the classifiers and
            what one of their outputs is (``'class'``). Defaults to mmsolo's
            (:data:`mmsolo.checkpoint.CLASSIFIERS`).
    """

    # After other hooks (EMAHook ...) have rewritten the checkpoint.
    priority = 'VERY_LOW'

    def __init__(self, classifiers: Optional[Mapping[str, str]] = None):
        self.classifiers = dict(classifiers or CLASSIFIERS)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        finetuning = is_finetuning(runner)
        line = fit_checkpoint_to_model(
            model.state_dict(),
            checkpoint,
            source='load_from' if finetuning else 'the checkpoint',
            path=runner.cfg.get('load_from', None),
            reinit_classifiers=finetuning,
            classifiers=self.classifiers,
        )
        if line is not None:
            runner.logger.info(line)
