"""The one JSON writer: NaN/inf as null, numpy and paths made plain, written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from brainvit_effnet._json import dumps, jsonable, write_json


def test_non_finite_numbers_become_null_everywhere(tmp_path: Path) -> None:
    payload = {
        "nan": float("nan"),
        "inf": math.inf,
        "minus_inf": -np.inf,
        "np_nan": np.float32("nan"),
        "nested": [1.5, float("nan"), (np.float64(np.inf), 2)],
        "array": np.array([0.5, np.nan]),
    }
    path = write_json(tmp_path / "report.json", payload)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {
        "nan": None,
        "inf": None,
        "minus_inf": None,
        "np_nan": None,
        "nested": [1.5, None, [None, 2]],
        "array": [0.5, None],
    }
    assert text.endswith("}\n")


def test_numpy_values_paths_and_int_keys_are_made_plain() -> None:
    assert jsonable({1: np.int64(3), "b": np.bool_(True), "p": Path("a/b")}) == {
        "1": 3,
        "b": True,
        "p": "a/b",
    }
    assert dumps([1, "é"], indent=None) == '[1, "é"]'  # UTF-8, not \u escapes


def test_a_payload_that_cannot_be_written_leaves_the_old_file(tmp_path: Path) -> None:
    target = write_json(tmp_path / "a.json", {"ok": 1})
    with pytest.raises(TypeError, match=r"a\.json\['bad'\] is a object"):
        write_json(target, {"bad": object()})
    with pytest.raises(TypeError, match="JSON keys must be str"):
        write_json(target, {("a", "b"): 1})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary file left behind
