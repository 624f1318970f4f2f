"""Strict JSON for the files this package writes: NaN/inf become ``null``, the write is atomic.

Undefined metrics (a class that never occurs, an all-zero heatmap) are NaN in memory; Python's
:mod:`json` would write them as the non-standard ``NaN`` that strict parsers (JavaScript, ``jq``)
reject, so every report goes through :func:`jsonable` first.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import write_text_atomically
from .errors import InvalidArgumentError, InvalidTypeError

__all__ = ["dumps", "jsonable", "read_json", "write_json"]


def jsonable(value: Any, where: str = "payload") -> Any:
    """Plain-JSON copy of ``value``: non-finite numbers to ``None``, numpy values to Python, paths to str.

    Mappings become dicts (keys must be ``str`` or ``int``), tuples and arrays become lists.

    Raises:
        TypeError: a key or value JSON cannot hold; the message names where it sits (``where``).
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise InvalidTypeError(
                    f"{where} has a key of type {type(key).__name__}; JSON keys must be str"
                )
            out[str(key)] = jsonable(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidTypeError(f"{where} is a {type(value).__name__}, which cannot be written to JSON")


def dumps(payload: Any, where: str = "payload", *, indent: int | None = 2) -> str:
    """Strict JSON text of ``payload`` (see :func:`jsonable`); with ``indent``, one trailing newline."""
    text = json.dumps(jsonable(payload, where), indent=indent, ensure_ascii=False, allow_nan=False)
    return text + "\n" if indent is not None else text


def write_json(path: str | os.PathLike[str], payload: Any, where: str | None = None) -> Path:
    """Write ``payload`` as strict, indented JSON to ``path`` atomically and return the path.

    The text is built before the file is touched, so a payload that cannot be serialised leaves an
    existing file as it was.
    """
    return write_text_atomically(path, dumps(payload, where or Path(path).name))


def read_json(path: str | os.PathLike[str], *, lines: bool = False, fix: str = "") -> Any:
    """The JSON value in ``path`` (``lines=True``: the list of one value per non-empty line, JSON Lines).

    Raises:
        InvalidArgumentError: the file is not valid JSON; the message names the file, the line and
            ``fix`` (what the user can do about it).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if lines:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except json.JSONDecodeError as e:
        where = f"line {e.lineno}" if not lines else "a line"
        raise InvalidArgumentError(f"{path} is not valid JSON ({where}: {e.msg}). {fix}".rstrip()) from e
