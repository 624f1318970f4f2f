"""Exceptions raised at the library's public boundary.

Every error says what was expected, what was received, and how to fix it. They subclass the
built-in exception a caller would catch anyway (``ValueError``, ``OSError``), so code written
against the standard library keeps working.
"""

from __future__ import annotations

__all__ = [
    "BrainvitError",
    "CheckpointError",
    "TrainingInterrupted",
    "UnknownModelError",
    "WeightsUnavailableError",
]


class BrainvitError(Exception):
    """Base of the library's own errors: catch it to tell them from bugs and other libraries' errors."""


class UnknownModelError(BrainvitError, ValueError):
    """A model name or pretrained tag that is not registered."""


class CheckpointError(BrainvitError, ValueError):
    """A weights file that cannot be read or does not fit the model it is loaded into."""


class WeightsUnavailableError(BrainvitError, OSError):
    """Pretrained weights that could not be found locally nor downloaded.

    The message names the Hub repository and the cache that were searched, and how to supply the
    weights offline. The original exception is kept as ``__cause__``.
    """


class TrainingInterrupted(BrainvitError, RuntimeError):
    """Training stopped by a signal (SIGINT/SIGTERM) before it finished.

    A resumable checkpoint was saved; no final model or report was published. ``signum`` is the
    signal, ``checkpoint`` the folder to resume from, and :attr:`exit_code` the shell's code for
    that signal (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, message: str, *, signum: int, checkpoint: str) -> None:
        super().__init__(message)
        self.signum = signum
        self.checkpoint = checkpoint

    @property
    def exit_code(self) -> int:
        """``128 + signum``, what a shell reports for a process killed by that signal."""
        return 128 + self.signum
