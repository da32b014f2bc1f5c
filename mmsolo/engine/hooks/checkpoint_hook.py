"""mmengine's CheckpointHook made crash-safe and exactly resumable."""

from typing import Any, List, Optional

from mmengine.dist import (
    all_gather_object,
    get_rank,
    get_world_size,
    is_distributed,
    is_main_process,
)
from mmengine.hooks import CheckpointHook as MMEngineCheckpointHook

from mmsolo.checkpoint.plain_state import (
    decode_message_hub,
    to_plain_checkpoint,
)
from mmsolo.fileio import ATOMIC_LOCAL, write_atomically
from mmsolo.registry import HOOKS
from .random_states import get_random_states, set_random_states

RANDOM_STATES_KEY = 'random_states'


@HOOKS.register_module(name=['AtomicCheckpointHook', 'CheckpointHook'])
class CheckpointHook(MMEngineCheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) with four changes, so
    that a run killed at any moment loses nothing and resumes exactly, and
    its checkpoints load anywhere without running code:

    - Checkpoints in a local directory are written atomically (to a
      temporary file renamed over the target, see
      :func:`mmsolo.fileio.write_atomically`), and so is
      ``last_checkpoint``, the pointer ``--resume`` follows: a file named
      ``epoch_3.pth`` is complete or absent.
    - With ``max_keep_ckpts``, outdated checkpoints are removed *after* the
      new one is on disk (mmengine removes them before, so a kill during
      the save could leave no checkpoint at all).
    - Each checkpoint holds the states of the random generators of every
      rank (Python, NumPy, torch, CUDA), and resuming restores them before
      training goes on. Data augmentation in the main process (and anything
      else drawing from these generators) then continues as in a run that
      was never stopped. Loading weights with ``load_from`` without resuming
      leaves the generators alone.
    - Every checkpoint holds tensors and plain containers only (the message
      hub's ``HistoryBuffer`` objects stored as tensors, NumPy values as
      tensors and numbers; :mod:`mmsolo.checkpoint.plain_state`), so
      ``torch.load(path, weights_only=True)``, mmdet's ``init_detector``,
      ``DetInferencer`` and ``tools/test.py`` read it; resuming turns the
      stored buffers back into ``HistoryBuffer`` objects.

    Registered as ``'AtomicCheckpointHook'`` (``type=
    'mmsolo.AtomicCheckpointHook'`` in mmsolo's configs), and, for configs
    written before the rename, as ``'CheckpointHook'`` in the ``mmsolo``
    scope; mmengine's stays reachable as ``'mmengine.CheckpointHook'``.
    Remote ``out_dir`` (``backend_args`` given) is written as before.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        local_out_dir = self.out_dir is None or '://' not in str(self.out_dir)
        if (
            self.backend_args is None
            and self.file_client_args is None
            and local_out_dir
        ):
            self.backend_args = dict(backend=ATOMIC_LOCAL)
        self._states_to_save: Optional[List[Any]] = None
        self._states_to_restore: Optional[List[Any]] = None

    def _save_checkpoint_with_step(
        self, runner, step: int, meta: dict
    ) -> None:
        """Save ``filename_tmpl.format(step)``, point ``last_checkpoint`` at
        it, then remove what ``max_keep_ckpts`` no longer keeps."""
        outdated_step = self._keep_step(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        # Every rank takes part in the gather; only the main one saves.
        self._states_to_save = _gather_random_states()
        try:
            runner.save_checkpoint(
                self.out_dir,
                filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args,
            )
        finally:
            self._states_to_save = None
        if not is_main_process():
            return
        write_atomically(
            str(self.last_ckpt).encode(), f'{runner.work_dir}/last_checkpoint'
        )
        if outdated_step is not None:
            self._remove_checkpoint(outdated_step)

    def _keep_step(self, runner, step: int) -> Optional[int]:
        """Record ``step`` among the kept checkpoints; return the step whose
        checkpoint it pushes out, if any."""
        if self.max_keep_ckpts <= 0:
            return None
        if self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step:
            return None  # saved twice in one step (e.g. also the best)
        outdated_step = None
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated_step = self.keep_ckpt_ids.popleft()
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info(
            'keep_ckpt_ids', list(self.keep_ckpt_ids)
        )
        return outdated_step

    def _remove_checkpoint(self, step: int) -> None:
        path = self.file_backend.join_path(
            self.out_dir, self.filename_tmpl.format(step)
        )
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed saves directories
            self.file_backend.rmtree(path)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._states_to_save is not None:
            checkpoint[RANDOM_STATES_KEY] = self._states_to_save
        checkpoint.update(to_plain_checkpoint(checkpoint))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if isinstance(checkpoint.get('message_hub'), dict):
            checkpoint['message_hub'] = decode_message_hub(
                checkpoint['message_hub']
            )
        # Runner.resume may re-seed after loading (when the checkpoint's
        # seed differs from the config's), so the states are restored in
        # before_train, which comes after.
        if getattr(runner, '_resume', False):
            self._states_to_restore = checkpoint.get(RANDOM_STATES_KEY)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        states, self._states_to_restore = self._states_to_restore, None
        if states is None:
            return
        if len(states) != get_world_size():
            runner.logger.warning(
                f'the checkpoint holds the random states of {len(states)} '
                f'ranks, this run has {get_world_size()}: random generators '
                'are left as seeded, so data augmentation will not repeat '
                'that of an uninterrupted run'
            )
            return
        set_random_states(states[get_rank()])
        runner.logger.info(
            'random generator states restored from the checkpoint'
        )


def _gather_random_states() -> List[Any]:
    """The random states of every rank, in rank order."""
    states = get_random_states()
    if is_distributed():
        return all_gather_object(states)
    return [states]
