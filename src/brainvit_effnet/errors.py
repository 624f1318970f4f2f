"""Exceptions raised at the library's public boundary.

Every error says what was expected, what was received, and how to fix it. They subclass the
built-in exception a caller would catch anyway (``ValueError``, ``OSError``), so code written
against the standard library keeps working.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "UnknownModelError", "WeightsUnavailableError"]


class UnknownModelError(ValueError):
    """A model name or pretrained tag that is not registered."""


class CheckpointError(ValueError):
    """A weights file that cannot be read or does not fit the model it is loaded into."""


class WeightsUnavailableError(OSError):
    """Pretrained weights that could not be found locally nor downloaded.

    The message names the Hub repository and the cache that were searched, and how to supply the
    weights offline. The original exception is kept as ``__cause__``.
    """
