"""Wording shared by mmsolo's error messages."""

from typing import Sequence


def abbreviated(items: Sequence[str], max_shown: int = 5) -> str:
    """``items`` joined by commas, the first ``max_shown`` only when there
    are more, then ``' ... N in all'``: ``'a, b ... 7 in all'``."""
    shown = ', '.join(items[:max_shown])
    if len(items) > max_shown:
        shown += f' ... {len(items)} in all'
    return shown
