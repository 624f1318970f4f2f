"""One rule for the files a command writes: never one of its inputs, never a model's own file,
never a file of another kind. Checked before any work is done, so a typo costs nothing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import InvalidArgumentError

__all__ = ["check_output_file"]


def check_output_file(
    out: str | Path,
    *,
    suffixes: tuple[str, ...],
    what: str,
    inputs: Iterable[str | Path] = (),
    flag: str = "--out",
) -> Path:
    """Refuse an output path that would destroy something; returns it as a ``Path``.

    Args:
        out: The file the command will write (replacing it if it exists).
        suffixes: The suffixes of that kind of file, the usual one first (``(".csv",)``).
        what: What is written, for the message (``"the predictions"``).
        inputs: The command's input files: the output may be none of them.
        flag: The option the path came from, for the message.

    Raises:
        InvalidArgumentError: ``out`` is a folder, has another suffix (an image, a model's
            weights or config: the suffix rule keeps a model's own files safe), or is one of
            ``inputs``.
    """
    path = Path(out)
    if path.is_dir():
        raise InvalidArgumentError(
            f"{flag} {path} is a folder; give the file to write, e.g. {flag} {path / ('out' + suffixes[0])}."
        )
    if path.suffix.lower() not in suffixes:
        raise InvalidArgumentError(
            f"{flag} {path}: this command writes {what} as a {suffixes[0]} file, and this path names "
            f"another kind of file, which would be replaced. Give a path ending in "
            f"{' or '.join(suffixes)}, e.g. "
            f"{flag} {path.with_suffix(suffixes[0])}."
        )
    resolved = path.resolve()
    for given in inputs:
        if Path(str(given).split("::")[0]).resolve() == resolved:
            raise InvalidArgumentError(
                f"{flag} {path} is one of the inputs; writing {what} there would destroy it. "
                f"Choose another file."
            )
    return path
