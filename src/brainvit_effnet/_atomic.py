"""Atomic file writing: a temporary file next to the target, then a rename.

A crash or an error mid-write never leaves half a file, and never replaces a good file with a
broken one. The temporary file is created with mode 0o666 so the umask decides the permissions,
as for any new file (``tempfile.mkstemp`` would leave the result readable by its owner only).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import OutputExistsError

__all__ = ["reserve_temp", "write_atomically", "write_path_atomically", "write_text_atomically"]


def reserve_temp(path: Path) -> Path:
    """Create an empty, uniquely named hidden file next to ``path`` (same suffix) and return it."""
    for _ in range(100):
        tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as e:  # a folder that takes no new file: name the file the user asked for
            raise type(e)(e.errno, e.strerror, str(path)) from e
        os.close(fd)
        return tmp
    raise OutputExistsError(f"could not create a temporary file next to {path}")


def write_path_atomically(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename it to ``path``; for writers that take a file name.

    ``write`` may also check what it wrote (e.g. load an exported model back): if it raises, the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = reserve_temp(target)
    mode = tmp.stat().st_mode & 0o777  # what the umask gives a new file
    try:
        write(tmp)
        # Some writers replace the file with their own, owner-only one (safetensors does).
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno is not None and e.filename in (None, str(tmp)):  # name the file the user asked for
            raise type(e)(e.errno, e.strerror, str(target)) from e
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, fsync it, rename it."""

    def via_handle(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())

    return write_path_atomically(path, via_handle)


def write_text_atomically(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    return write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))
