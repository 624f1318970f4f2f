"""The ``brainvit-effnet`` command.

Subcommands:
    demo      evaluate and explain the bundled trained model on held-out patients of the bundled sample
    train     train from a YAML config plus flag overrides (``--cv``: official-fold cross-validation)
    ablate    factorial ablation (transformer x label smoothing x CBAM) over folds and seeds, summarised
    evaluate  evaluate a saved model on a dataset; JSON + Markdown report and plots
    predict   class probabilities for image files or folders, as CSV
    explain   heatmap overlays (Grad-CAM family, attention rollout) and localisation scores
    leakage   exact, near and mirrored duplicates within a tree or across two
    export    ONNX (verified with ONNX Runtime) or TorchScript export, with parity on real images
    models    list the model zoo

Data are given as ``sample`` (the bundled Figshare sample, the default), ``figshare:PATH`` or
``folder:PATH``. Run ``brainvit-effnet <command> --help`` for options.

Each command is a module of this package with ``HELP``, ``EXAMPLE``, ``add_arguments(parser)`` and
``run(args) -> exit code``; this module assembles them and turns errors into messages.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .._version import __version__
from ..errors import BrainvitError, InterruptedAgain, TrainingInterrupted, os_error_message
from ..train.checkpoint import RUN_FOLDER_ADVICE
from . import ablate, demo, evaluate, explain, export, leakage, models, predict, train
from ._common import DISCLAIMER, HelpFormatter

__all__ = ["COMMANDS", "build_parser", "main"]

#: The subcommands in the order ``--help`` lists them.
COMMANDS = {
    "demo": demo,
    "train": train,
    "ablate": ablate,
    "evaluate": evaluate,
    "predict": predict,
    "explain": explain,
    "leakage": leakage,
    "export": export,
    "models": models,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``brainvit-effnet`` command."""
    parser = argparse.ArgumentParser(
        # Help is plain text: the docstring's reST backticks are for the API docs only.
        prog="brainvit-effnet",
        description=f"{__doc__.splitlines()[0].replace('``', '')} {DISCLAIMER}",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error instead of its message"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=command.HELP,
            description=command.HELP,
            epilog=f"example:\n  {command.EXAMPLE}",
            formatter_class=HelpFormatter,
        )
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


# Errors that are the user's to fix: one line, exit code 2. Every check of the library's input
# raises a BrainvitError. The operating system's refusals of a named path (no such file,
# permission denied, disk full) are the user's to fix too; they carry the path. Anything else,
# a ValueError from numpy or torch included, is a bug and keeps its traceback.
#: OS errors about the machine, not a bug, even when they name no file (a full disk mid-write).
_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EMFILE, errno.EACCES, errno.EPERM}
)


def _is_user_error(e: BaseException) -> bool:
    return isinstance(e, BrainvitError) or (isinstance(e, OSError) and e.filename is not None)


#: Library advice that names API arguments, and what a CLI user types instead.
_CLI_WORDS = {
    RUN_FOLDER_ADVICE: "Choose another --output-dir, resume it (--resume <that folder>/checkpoints/last), "
    "or pass --overwrite to replace it.",
}


def _in_cli_words(message: str) -> str:
    for api, cli in _CLI_WORDS.items():
        message = message.replace(api, cli)
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brainvit-effnet`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except TrainingInterrupted as e:  # not finished: no "Test" line, and the shell's code for the signal
        print(f"stopped: {e}", file=sys.stderr)
        return e.exit_code
    except InterruptedAgain as e:  # a second signal while stopping: no new checkpoint, no traceback
        last = Path(e.output_dir) / "checkpoints" / "last"
        print(
            f"stopped at once by a second {signal.Signals(e.signum).name}, without saving a new checkpoint. "
            f"The checkpoints already written are intact: resume with --resume {last}"
            + ("" if last.is_dir() else " once one exists (none was written yet: start again)")
            + ".",
            file=sys.stderr,
        )
        return e.exit_code
    except BrokenPipeError:
        # The reader went away (`brainvit-effnet models | head`). Point stdout at devnull so the
        # interpreter's final flush does not raise again (the recipe of Python's signal docs).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # disk full, permissions...: the path and the fix, not a traceback
        ours = isinstance(e, BrainvitError)  # our own errors that are also OSErrors carry their message
        if args.debug or not (ours or e.filename is not None or e.errno in _ENVIRONMENT_ERRNOS):
            raise
        print(f"error: {_in_cli_words(str(e)) if ours else os_error_message(e)}", file=sys.stderr)
        return 2
    except Exception as e:
        if args.debug or not _is_user_error(e):  # --debug: the traceback, e.g. for a bug report
            raise
        print(f"error: {_in_cli_words(str(e))}", file=sys.stderr)
        return 2
