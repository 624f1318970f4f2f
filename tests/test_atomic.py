"""Atomic writes: all or nothing, and the permissions any new file would get."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import brainvit_effnet as bve
from brainvit_effnet._atomic import write_path_atomically, write_text_atomically


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = write_text_atomically(tmp_path / "a.json", "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_path_atomically(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_files_get_the_umask_permissions_not_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        folder = bve.save_pretrained(bve.create_model("effnet_test"), tmp_path / "model")
        text = write_text_atomically(tmp_path / "deep" / "b.txt", "x")  # parents created
    finally:
        os.umask(old)
    assert _mode(text) == 0o644
    assert {p.name: _mode(p) for p in Path(folder).iterdir()} == {
        "model.safetensors": 0o644,
        "config.json": 0o644,
        "README.md": 0o644,
    }
