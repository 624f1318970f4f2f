"""Progress bars: the one place that decides whether a bar is drawn.

Every long loop of the library (training epochs, evaluation, prediction, explanation scoring,
duplicate scans, cross-validation folds) draws its bar through :func:`progress_bar`, so the rule
is the same everywhere: ``progress=True`` always draws, ``False`` never does, and ``None`` (the
default) draws only when stderr is a terminal. Logs, CI output and captured stderr therefore stay
free of bar redraws unless a bar is asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

__all__ = ["progress_bar", "show_progress"]

T = TypeVar("T")


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw a bar: ``progress`` when given, else whether stderr is a terminal."""
    if progress is not None:
        return bool(progress)
    isatty = getattr(sys.stderr, "isatty", None)  # a replaced stderr may not have it
    return bool(isatty is not None and isatty())


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    progress: bool | None = None,
    enabled: bool = True,
    **kwargs: Any,
) -> tqdm[T]:
    """A :class:`tqdm.tqdm` bar over ``iterable`` that is disabled unless :func:`show_progress` says so.

    Args:
        iterable: What to iterate over (``None`` for a bar advanced by hand with ``update``).
        progress: ``True``/``False`` forces the bar on/off; ``None`` draws it on a terminal only.
        enabled: An extra condition of the caller, e.g. "this is the main process" under
            torchrun, so that one rank draws.
        **kwargs: Passed to :class:`tqdm.tqdm` (``total``, ``desc``, ``leave``, ``unit``...).
    """
    return tqdm(iterable, disable=not (enabled and show_progress(progress)), **kwargs)
