"""Wall time of the stages of an inference, for ``tools/analysis_tools/
benchmark.py --stages``.

A :class:`StageTimer` measures iterations (one batch, from loading its
images to encoding its results) and, inside them, named stages. Code marks
a stage with ``with timed_stage('mask_nms'):``, which does nothing unless a
timer is measuring an iteration in the current context (a context variable
says which), so the marks in the post-processor cost one lookup in normal
runs. Modules are timed by forward hooks (:meth:`StageTimer.time_module`),
other callables by wrapping an object's attribute
(:meth:`StageTimer.time_calls`); neither changes what the code computes.

Stages may nest. A stage's time is exclusive: what it spent outside the
stages entered within it, so the stage times of an iteration add up to at
most its total; the rest (``untimed``) is the code between stages and the
timer's own overhead. With a ``sync`` function (``torch.cuda.synchronize``)
the device is synchronised at every boundary, so that asynchronous kernels
are charged to the stage that launched them.
"""

import functools
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from time import perf_counter
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch.nn as nn

UNTIMED = 'untimed'

_ACTIVE: ContextVar[Optional['StageTimer']] = ContextVar(
    'mmsolo_stage_timer', default=None
)


@dataclass
class IterationTimes:
    """Seconds of one timed iteration of ``images`` images: ``total`` (end
    to end), exclusive ``stages`` by name, and ``spans`` (regions measured
    as a whole, e.g. ``'model'``, beside the stages)."""

    images: int
    total: float = 0.0
    stages: Dict[str, float] = field(default_factory=dict)
    spans: Dict[str, float] = field(default_factory=dict)

    @property
    def untimed(self) -> float:
        """Seconds of the iteration outside every stage."""
        return self.total - sum(self.stages.values())


@dataclass
class _Frame:
    name: str
    start: float
    inner: float = 0.0  # seconds of the stages nested in this one


class _Stage:
    """The context manager of one stage of a timer."""

    __slots__ = ('timer', 'name')

    def __init__(self, timer: 'StageTimer', name: str) -> None:
        self.timer = timer
        self.name = name

    def __enter__(self) -> None:
        self.timer.begin(self.name)

    def __exit__(self, *exc_info) -> None:
        self.timer.end()


class _NoStage:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info) -> None:
        return None


_NO_STAGE = _NoStage()


def timed_stage(name: str):
    """A context manager that charges its block to stage ``name`` of the
    timer measuring the current iteration; a no-op when none is."""
    timer = _ACTIVE.get()
    return _NO_STAGE if timer is None else _Stage(timer, name)


def _no_sync() -> None:
    return None


class StageTimer:
    """Per-iteration, per-stage wall times (see the module docstring).

    Args:
        sync (callable, optional): Called before every clock reading, e.g.
            ``torch.cuda.synchronize`` on CUDA.

    Attributes:
        iterations (list[IterationTimes]): The iterations measured so far.
    """

    def __init__(self, sync: Optional[Callable[[], None]] = None) -> None:
        self.sync = sync or _no_sync
        self.iterations: List[IterationTimes] = []
        self._record: Optional[IterationTimes] = None
        self._stack: List[_Frame] = []
        self._undo: List[Callable[[], None]] = []

    def now(self) -> float:
        """The clock (seconds) after synchronising the device."""
        self.sync()
        return perf_counter()

    @contextmanager
    def iteration(self, images: int) -> Iterator[IterationTimes]:
        """Measure the block as one iteration of ``images`` images; the
        stages entered in it (in this context) are charged to it. Appended
        to :attr:`iterations` when the block ends without an error."""
        if self._record is not None:
            raise RuntimeError('StageTimer iterations do not nest')
        record = IterationTimes(images=images)
        token = _ACTIVE.set(self)
        self._record = record
        start = self.now()
        try:
            yield record
            record.total = self.now() - start
        finally:
            self._record = None
            self._stack.clear()
            _ACTIVE.reset(token)
        self.iterations.append(record)

    def stage(self, name: str) -> _Stage:
        """A context manager charging its block to stage ``name``."""
        return _Stage(self, name)

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        """Measure the block as a whole into the iteration's ``spans``
        (it is no stage: the stages inside it count as usual)."""
        start = self.now()
        yield
        if self._record is not None:
            spans = self._record.spans
            spans[name] = spans.get(name, 0.0) + self.now() - start

    def begin(self, name: str) -> None:
        """Enter stage ``name`` (ignored outside an iteration)."""
        if self._record is not None:
            self._stack.append(_Frame(name, self.now()))

    def end(self) -> None:
        """Leave the innermost stage (ignored when none is entered)."""
        if not self._stack or self._record is None:
            return
        frame = self._stack.pop()
        elapsed = self.now() - frame.start
        stages = self._record.stages
        stages[frame.name] = (
            stages.get(frame.name, 0.0) + elapsed - frame.inner
        )
        if self._stack:
            self._stack[-1].inner += elapsed

    def time_module(self, module: nn.Module, name: str) -> None:
        """Charge every forward call of ``module`` to stage ``name`` (a
        forward pre-hook enters it, a forward hook, called on errors too,
        leaves it)."""
        pre = module.register_forward_pre_hook(lambda *_: self.begin(name))
        post = module.register_forward_hook(
            lambda *_: self.end(), always_call=True
        )
        self._undo += [pre.remove, post.remove]

    def time_calls(self, owner: object, attribute: str, name: str) -> None:
        """Charge every call of ``owner.<attribute>`` (looked up on the
        object, as a method or a callable attribute) to stage ``name``, by
        setting a wrapper as the object's own attribute."""
        original = getattr(owner, attribute)
        had_own = attribute in vars(owner)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            with self.stage(name):
                return original(*args, **kwargs)

        object.__setattr__(owner, attribute, timed)

        def undo() -> None:
            if had_own:
                object.__setattr__(owner, attribute, original)
            else:
                object.__delattr__(owner, attribute)

        self._undo.append(undo)

    def remove_instrumentation(self) -> None:
        """Remove the hooks and wrappers of :meth:`time_module` and
        :meth:`time_calls`."""
        while self._undo:
            self._undo.pop()()


def stage_names(
    iterations: Sequence[IterationTimes], stages: Sequence[str]
) -> List[str]:
    """``stages``, then any other stage the iterations entered (sorted), so
    that a table of them accounts for every timed second."""
    entered = {name for it in iterations for name in it.stages}
    return [*stages, *sorted(entered - set(stages))]


def mean_stage_ms(
    iterations: Sequence[IterationTimes], stages: Sequence[str]
) -> Dict[str, float]:
    """Mean milliseconds per iteration of each of ``stages`` (0 for a stage
    never entered), of :data:`UNTIMED` and of ``'total'``."""
    count = max(len(iterations), 1)
    means = {
        name: 1000 * sum(it.stages.get(name, 0.0) for it in iterations) / count
        for name in stages
    }
    means[UNTIMED] = 1000 * sum(it.untimed for it in iterations) / count
    means['total'] = 1000 * sum(it.total for it in iterations) / count
    return means


def images_per_second(
    iterations: Sequence[IterationTimes], span: Optional[str] = None
) -> float:
    """Images per second end to end, or within ``span`` if given."""
    seconds = sum(
        it.total if span is None else it.spans.get(span, 0.0)
        for it in iterations
    )
    images = sum(it.images for it in iterations)
    return images / seconds if seconds > 0 else float('nan')


def format_stage_table(
    iterations: Sequence[IterationTimes], stages: Sequence[str]
) -> str:
    """The table of ``stages`` (in that order), :data:`UNTIMED` and the
    total: mean milliseconds per iteration, per image, and share of the
    total (the stages the iterations entered besides ``stages`` added,
    :func:`stage_names`)."""
    stages = stage_names(iterations, stages)
    means = mean_stage_ms(iterations, stages)
    images = sum(it.images for it in iterations) / max(len(iterations), 1)
    total = means['total']
    width = max(len(name) for name in [*stages, UNTIMED, 'total'])
    lines = [
        f'{"stage":<{width}}  {"mean ms":>9}  {"ms/img":>9}  {"share %":>7}'
    ]
    for name in [*stages, UNTIMED, 'total']:
        share = 100 * means[name] / total if total > 0 else float('nan')
        lines.append(
            f'{name:<{width}}  {means[name]:9.2f}  '
            f'{means[name] / max(images, 1):9.2f}  {share:7.1f}'
        )
    return '\n'.join(lines)


def stage_times_json(
    iterations: Sequence[IterationTimes], stages: Sequence[str]
) -> dict:
    """The raw times (milliseconds) of every iteration, each stage of
    ``stages`` listed (0 when not entered; others entered added, see
    :func:`stage_names`), and their means."""
    stages = stage_names(iterations, stages)
    return dict(
        stages=list(stages),
        iterations=[
            dict(
                images=it.images,
                total_ms=1000 * it.total,
                untimed_ms=1000 * it.untimed,
                stages_ms={
                    name: 1000 * it.stages.get(name, 0.0) for name in stages
                },
                spans_ms={
                    name: 1000 * value for name, value in it.spans.items()
                },
            )
            for it in iterations
        ],
        mean_ms=mean_stage_ms(iterations, stages),
    )
