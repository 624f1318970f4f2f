"""OS errors reach the user as one line naming the path and the fix, disk full included."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from brainvit_effnet._atomic import write_text_atomically
from brainvit_effnet.cli import main
from brainvit_effnet.errors import os_error_message
from brainvit_effnet.models.zoo import BUNDLED_WEIGHTS


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")  # as a write() reports it: no file name


def test_a_full_disk_mid_write_names_the_target_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("the old one")

    def full(handle: object) -> None:
        _disk_full()

    from brainvit_effnet._atomic import write_atomically

    with pytest.raises(OSError, match="No space left on device") as caught:
        write_atomically(target, full)
    assert caught.value.filename == str(target) and caught.value.errno == errno.ENOSPC
    assert target.read_text() == "the old one" and sorted(p.name for p in tmp_path.iterdir()) == [
        "report.json"
    ]
    message = os_error_message(caught.value)
    assert str(target) in message and "The disk is full" in message and "Nothing half-written" in message


def test_the_cli_turns_a_full_disk_into_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import brainvit_effnet.cli.predict as cli

    monkeypatch.setattr(
        cli, "write_text_atomically", lambda path, text: write_text_atomically(path, _disk_full())
    )
    image = next(
        (Path(__file__).parents[1] / "src" / "brainvit_effnet" / "data" / "sample_data" / "images").iterdir()
    )
    out = tmp_path / "preds.csv"
    assert main(["predict", str(BUNDLED_WEIGHTS["effnet_b0.figshare"]), str(image), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No space left on device") and "The disk is full" in err
    assert "Traceback" not in err and not out.exists()


def test_a_permission_error_names_the_path(tmp_path: Path) -> None:
    error = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x.csv"))
    assert os_error_message(error) == (
        f"Permission denied ({tmp_path / 'x.csv'}). Permission denied: check who may read or write that "
        f"path, or choose another."
    )
