"""Exceptions raised at the library's public boundary.

Every error says what was expected, what was received, and how to fix it. All of them derive from
:class:`BrainvitError`, which is how the CLI tells a mistake the user can fix (one line, exit code
2) from a bug (a traceback). Each also subclasses the built-in exception a caller would catch
anyway (``ValueError``, ``TypeError``, ``FileNotFoundError``, ...), so code written against the
standard library keeps working: ``except ValueError`` still catches :class:`InvalidArgumentError`.
"""

from __future__ import annotations

import errno

__all__ = [
    "BrainvitError",
    "CheckpointError",
    "InterruptedAgain",
    "InvalidArgumentError",
    "InvalidTypeError",
    "MissingDependencyError",
    "MissingFileError",
    "NotAFolderError",
    "OutputExistsError",
    "TrainingInterrupted",
    "UnknownModelError",
    "WeightsUnavailableError",
    "os_error_message",
]


class BrainvitError(Exception):
    """Base of the library's own errors: catch it to tell them from bugs and other libraries' errors."""


class InvalidArgumentError(BrainvitError, ValueError):
    """A value the library was given (an argument, a config entry, a file's content) that it cannot use."""


class InvalidTypeError(BrainvitError, TypeError):
    """An argument or config entry of the wrong type (e.g. a string where a number goes)."""


class MissingFileError(BrainvitError, FileNotFoundError):
    """A file or folder the caller named that does not exist."""


class NotAFolderError(BrainvitError, NotADirectoryError):
    """A path that should be a folder (a dataset root, a model folder) but is a file."""


class OutputExistsError(BrainvitError, FileExistsError):
    """An output path that already holds something the call would replace (pass ``overwrite``)."""


class MissingDependencyError(BrainvitError, ImportError):
    """An optional dependency that is not installed; the message names the extra that brings it."""


class UnknownModelError(BrainvitError, ValueError):
    """A model name or pretrained tag that is not registered."""


class CheckpointError(BrainvitError, ValueError):
    """A weights file that cannot be read or does not fit the model it is loaded into."""


class WeightsUnavailableError(BrainvitError, OSError):
    """Pretrained weights that could not be found locally nor downloaded.

    The message names the Hub repository and the cache that were searched, and how to supply the
    weights offline. The original exception is kept as ``__cause__``.
    """


class InterruptedAgain(KeyboardInterrupt):
    """A second SIGINT/SIGTERM arrived while training was stopping after the first.

    Training gives up at once, without a new checkpoint: the checkpoints already written are intact
    (each is written atomically). A ``KeyboardInterrupt``, so that no ``except Exception`` on the
    way swallows it; the CLI turns it into a message and the shell's code for the signal.
    """

    def __init__(self, signum: int, output_dir: str) -> None:
        super().__init__(f"stopped again by signal {signum}")
        self.signum, self.output_dir = signum, output_dir

    @property
    def exit_code(self) -> int:
        """``128 + signum``, what a shell reports for a process killed by that signal."""
        return 128 + self.signum


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


_OS_ERROR_FIXES = {
    errno.ENOSPC: "The disk is full: free some space, or write somewhere else.",
    errno.EDQUOT: "The disk quota is used up: free some space, or write somewhere else.",
    errno.EACCES: "Permission denied: check who may read or write that path, or choose another.",
    errno.EPERM: "Operation not permitted: check the path's permissions, or choose another.",
    errno.EROFS: "The file system is read-only: write somewhere else.",
    errno.ENAMETOOLONG: "The file name is too long: choose a shorter path.",
    errno.EMFILE: "Too many open files: close other programs or raise the limit (ulimit -n).",
}


def os_error_message(error: OSError) -> str:
    """One sentence for an operating-system error: what failed, on which path, and the fix.

    The one place where OS errors become user messages (the CLI prints it instead of a traceback).
    Files are written atomically (:mod:`brainvit_effnet._atomic`), so a failed write leaves no
    half-written file: the message says so.
    """
    what = error.strerror or str(error)
    where = f" ({error.filename})" if error.filename else ""
    fix = _OS_ERROR_FIXES.get(error.errno or -1, "")
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix += " Nothing half-written was left behind; files written before are intact."
    return f"{what}{where}. {fix}".strip()
