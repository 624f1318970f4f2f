"""Progress bars: one rule (forced on/off, else only on a terminal) for every long loop."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from brainvit_effnet import _progress, experiment
from brainvit_effnet._progress import progress_bar, show_progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_rule_forced_values_win_else_the_terminal_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # captured output: not a terminal
    assert show_progress(None) is False
    assert show_progress(True) is True
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert show_progress(None) is True
    assert show_progress(False) is False
    assert progress_bar(range(3), progress=True, enabled=False).disable  # e.g. not rank 0


def test_a_bar_is_drawn_on_a_terminal_and_not_into_captured_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert list(progress_bar(range(3), desc="quiet")) == [0, 1, 2]
    assert "quiet" not in capsys.readouterr().err  # capsys' stderr is not a terminal
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    list(progress_bar(range(3), desc="shown", file=terminal))
    assert "shown" in terminal.getvalue() and "3/3" in terminal.getvalue()


def test_cross_validation_shows_one_bar_over_the_folds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_run(cfg: Any, **kw: Any) -> dict[str, Any]:  # the folds' training is tested elsewhere
        return {"test": {"accuracy": 0.5, "n": 1}}

    monkeypatch.setattr(experiment, "run_experiment", fake_run)
    monkeypatch.setattr(experiment, "summarize_folds", lambda reports: {})
    monkeypatch.setattr(experiment, "write_cv_report", lambda *a, **kw: {})
    cfg = experiment.ExperimentConfig.from_dict({"train": {"output_dir": str(tmp_path / "cv")}})
    experiment.cross_validate(cfg)
    assert "cross-validation" not in capsys.readouterr().err  # not a terminal: quiet
    forced = experiment.ExperimentConfig.from_dict(
        {"train": {"output_dir": str(tmp_path / "cv2"), "progress": True}}
    )
    experiment.cross_validate(forced)
    err = capsys.readouterr().err
    assert "cross-validation" in err and "5/5" in err


def test_every_bar_goes_through_the_one_helper() -> None:
    """No module draws a tqdm bar of its own: the terminal rule lives in one place."""
    package = Path(_progress.__file__).parent
    own = [p for p in package.rglob("*.py") if "tqdm" in p.read_text() and p.name != "_progress.py"]
    assert not own, own
