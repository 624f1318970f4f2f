"""'Did you mean' hints for unknown names: the one place that asks :mod:`difflib`.

Two phrasings exist because the messages that carry them are already public (tests and users match
them): a trailing sentence listing up to three names (models, losses), and a parenthesised aside
naming the single closest one (recipes, config options, ablation factors).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["close_matches", "close_names", "did_you_mean"]


def close_names(name: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.5) -> list[str]:
    """Up to ``n`` of ``candidates`` that look like ``name``, closest first."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=cutoff)


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A sentence suggesting the closest candidates, or an empty string when none is close.

    Examples:
        >>> close_matches("effnet_b9", ["effnet_b0", "effnet_b3"])
        " Did you mean 'effnet_b3', 'effnet_b0'?"
    """
    matches = close_names(name, candidates, n=n)
    return f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the single closest candidate, or an empty string.

    Uses :func:`difflib.get_close_matches`' default cutoff (0.6), stricter than :func:`close_matches`.

    Examples:
        >>> did_you_mean("epoch", ["epochs", "lr"])
        " (did you mean 'epochs'?)"
    """
    close = close_names(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
