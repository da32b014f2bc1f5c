"""Training curves from mmengine's scalar logs.

mmengine writes one JSON dict per logged step to
``WORK_DIR/<timestamp>/vis_data/scalars.json`` (and the same records to
``vis_data/<timestamp>.json``): train records carry ``iter`` and ``step``
(and ``epoch`` in epoch-based runs) beside ``loss``, ``lr`` ...; validation
records carry the metrics (``coco/segm_mAP`` ...) and a ``step`` that is the
epoch unless the LoggerHook has ``log_metric_by_epoch=False``.
"""

import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple


class ScalarLog(list):
    """The records (dicts) of one scalar log, and the file they came from
    (``path``), which errors and legends name."""

    def __init__(self, records: Sequence[dict], path: str) -> None:
        super().__init__(records)
        self.path = path


def load_scalar_log(json_log_path: str) -> List[dict]:
    """Read an mmengine scalar log (``scalars.json`` or ``<timestamp>.json``).

    Args:
        json_log_path (str): The log file: one JSON dict per line; blank
            lines are skipped.

    Returns:
        List[dict]: The records in file order, as a :class:`ScalarLog`
        (``.path`` is ``json_log_path``).

    Raises:
        FileNotFoundError: No such file.
        ValueError: A line is not a JSON dict (names the file and line).
    """
    if not osp.isfile(json_log_path):
        raise FileNotFoundError(f'log file not found: {json_log_path}')
    records = []
    with open(json_log_path) as log_file:
        for number, line in enumerate(log_file, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f'{json_log_path}, line {number}: not JSON ({error}); '
                    "expected one JSON dict per line (mmengine's "
                    'vis_data/scalars.json)'
                ) from None
            if not isinstance(record, dict):
                raise ValueError(
                    f'{json_log_path}, line {number}: a JSON '
                    f'{type(record).__name__}, expected a dict'
                )
            records.append(record)
    return ScalarLog(records, json_log_path)


def _log_name(log: Sequence[dict], index: int) -> str:
    return getattr(log, 'path', f'log {index}')


def _short_name(name: str) -> str:
    """The run of ``.../<timestamp>/vis_data/*.json``, else the file name
    without ``.json``."""
    folder, file_name = osp.split(osp.abspath(name))
    if osp.basename(folder) == 'vis_data':
        return osp.basename(osp.dirname(folder))
    return osp.splitext(file_name)[0]


def _resolve_key(log: Sequence[dict], key: str, name: str) -> str:
    """``key`` itself, or the one logged key ending in ``/key`` (so that
    ``segm_mAP`` finds ``coco/segm_mAP``, as mmdet's analyze_logs does)."""
    logged = {k for record in log for k in record}
    if key in logged:
        return key
    matches = sorted(k for k in logged if k.split('/')[-1] == key)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise KeyError(
            f'{name}: key "{key}" is ambiguous, it matches '
            f'{matches}; give the full key'
        )
    raise KeyError(f'{name} has no key "{key}"; its keys: {sorted(logged)}')


def curve_points(
    log: Sequence[dict], key: str, name: str = 'log'
) -> Tuple[List[float], List[float]]:
    """(iterations, values) of ``key`` in ``log``.

    The iteration of a record is its ``iter``; a record without one (a
    validation record) takes the ``iter`` of the record before it, the
    iteration at which validation ran, or its own ``step`` when no record
    before has an ``iter``.

    Raises:
        KeyError: ``key`` is in no record, or a record holding it has no
            ``iter`` or ``step`` (names ``name``, the log file).
    """
    key = _resolve_key(log, key, name)
    xs, ys = [], []
    last_iter = None
    for number, record in enumerate(log, 1):
        if 'iter' in record:
            last_iter = record['iter']
        if key not in record:
            continue
        x = last_iter if last_iter is not None else record.get('step')
        if x is None:
            raise KeyError(
                f'{name}, record {number}: "{key}" is logged '
                'without "iter" or "step"'
            )
        xs.append(x)
        ys.append(record[key])
    return xs, ys


def plot_curves(
    logs: List[List[dict]],
    keys: Sequence[str],
    out_file: str,
    legend: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
) -> None:
    """Plot ``keys`` of every log against the iteration into one PNG.

    Args:
        logs (List[List[dict]]): Logs, e.g. from :func:`load_scalar_log`.
        keys (Sequence[str]): Logged keys (``loss``, ``lr``,
            ``coco/segm_mAP`` or ``segm_mAP`` ...), one curve per log and
            key; sparse series (validation) get markers.
        out_file (str): The image to write (its folder is made).
        legend (Sequence[str], optional): One label per curve, in the order
            log 0 key 0, log 0 key 1, ...; default: the key, preceded
            by the run (``<timestamp>`` of ``vis_data``) or file name when
            there are several logs.
        title (str, optional): Figure title.

    Raises:
        ValueError: No logs or keys, or a legend of the wrong length.
        KeyError: A key absent from a log (names the key and the file).
    """
    # Figure without pyplot: no global backend switch, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not logs or not keys:
        raise ValueError(f'nothing to plot: {len(logs)} logs, keys {keys}')
    num_curves = len(logs) * len(keys)
    if legend is not None and len(legend) != num_curves:
        raise ValueError(
            f'legend has {len(legend)} labels for '
            f'{num_curves} curves ({len(logs)} logs x '
            f'{len(keys)} keys)'
        )
    curves = []
    for index, log in enumerate(logs):
        name = _log_name(log, index)
        for key in keys:
            curves.append((name, key, *curve_points(log, key, name)))

    figure = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, (name, key, xs, ys) in enumerate(curves):
        axes.plot(
            xs,
            ys,
            label=_curve_label(legend, index, len(logs), name, key),
            linewidth=1,
            marker='o' if len(xs) <= 20 else None,
        )
    axes.set_xlabel('iter')
    axes.grid(alpha=0.3)
    axes.legend()
    if title is not None:
        axes.set_title(title)
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    figure.savefig(out_file)


def _curve_label(
    legend: Optional[Sequence[str]],
    index: int,
    num_logs: int,
    name: str,
    key: str,
) -> str:
    """Label of curve ``index``: the legend's, else the key, preceded by
    the log's short name when there are several logs."""
    if legend is not None:
        return legend[index]
    if num_logs == 1:
        return key
    return f'{_short_name(name)}: {key}'
