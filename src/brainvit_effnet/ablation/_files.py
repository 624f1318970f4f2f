"""Atomic JSON and text writing, with NaN as null."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_text_atomically


def _write_json(path: Path, payload: Any) -> Path:
    """Write JSON atomically (temporary file in the same folder, then rename)."""
    return write_text_atomically(path, json.dumps(_jsonable(payload), indent=2, allow_nan=False) + "\n")


def _write_text(path: Path, text: str) -> Path:
    return write_text_atomically(path, text)


def _jsonable(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python numbers, tuples -> lists, paths -> strings."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, Path):
        return str(value)
    return value
