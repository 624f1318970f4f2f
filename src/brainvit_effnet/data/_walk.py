"""Listing the files under a folder without losing any in silence.

``Path.rglob`` (before Python 3.13) neither follows a linked folder nor says when it cannot read
one: both drop images without a word. :func:`walk_files` follows links to folders, reads each real
folder once (a link back up the tree cannot loop), and returns the folders it could not read.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["walk_files"]


def walk_files(folder: str | os.PathLike[str]) -> tuple[list[Path], dict[str, str]]:
    """Every file under ``folder`` (dangling links included, so callers can name them), sorted,
    and the folders that could not be read -> a message naming the folder, the cause and the fix."""
    files: list[Path] = []
    unreadable: dict[str, str] = {}
    seen: set[str] = set()

    def refused(error: OSError) -> None:
        where = error.filename or str(folder)
        unreadable[str(where)] = (
            f"{where}: folder could not be read ({error.strerror or error}); the images in it are not "
            f"listed. Check its permissions (it needs read and execute rights), or move it away."
        )

    for top, dirs, names in os.walk(folder, onerror=refused, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:  # a link to a folder already read (or to a folder above): read once
            dirs[:] = []
            continue
        seen.add(real)
        files += [Path(top) / name for name in names]
    return sorted(files), unreadable
