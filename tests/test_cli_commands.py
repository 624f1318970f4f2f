"""The CLI package: one module per command, assembled by ``build_parser``."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from brainvit_effnet.cli import COMMANDS, build_parser, main


def test_every_command_module_brings_its_help_example_flags_and_run() -> None:
    parser = build_parser()
    for name, command in COMMANDS.items():
        assert command.HELP, name
        assert f"brainvit-effnet {name}" in command.EXAMPLE, f"{name}'s example runs another command"
        assert callable(command.add_arguments) and callable(command.run)
    # the subcommands are exactly the modules, in their order
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == list(COMMANDS)


def test_a_command_help_ends_with_its_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = capsys.readouterr().out
    assert out.rstrip().endswith(COMMANDS["predict"].EXAMPLE) and "``" not in out


def test_python_dash_m_runs_the_command_as_torchrun_launches_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "brainvit_effnet.cli", "models", "effnet_b0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "effnet_b0" in done.stdout


def test_the_demo_lets_go_of_the_crop_warnings_when_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from brainvit_effnet.cli import demo

    logger = logging.getLogger("brainvit_effnet.data.base")
    before = list(logger.filters)

    def fail_inside() -> None:
        with demo._CollectWarnings("brainvit_effnet.data.base") as notes:
            assert notes in logger.filters
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert logger.filters == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["explain", "effnet_lite0.figshare", "--data", "heldout", "--n", "0"],
            "argument --n: must be >= 1; got 0",
        ),
        (["explain", "effnet_lite0.figshare", "--limit", "-5"], "argument --limit: must be >= 1; got -5"),
        (["explain", "effnet_lite0.figshare", "--steps", "x"], "argument --steps: expected a whole number"),
        (["demo", "--explain-limit", "-3"], "argument --explain-limit: must be >= 1; got -3"),
        (["evaluate", "effnet_lite0.figshare", "--bootstrap", "-1"], "argument --bootstrap: must be >= 0"),
        (
            ["predict", "effnet_lite0.figshare", "x.png", "--batch-size", "0"],
            "argument --batch-size: must be >= 1",
        ),
        (["export", "effnet_lite0.figshare", "--opset", "5"], "argument --opset: must be >= 18; got 5"),
        (
            ["export", "effnet_lite0.figshare", "--parity-images", "-1"],
            "argument --parity-images: must be >= 0",
        ),
        (["train", "--epochs", "0"], "argument --epochs: must be >= 1; got 0"),
        (["leakage", "a", "--examples", "-2"], "argument --examples: must be >= 0"),
    ],
)
def test_a_count_out_of_range_is_refused_by_the_parser_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("data", ["heldout", "folder:."])
def test_folds_for_data_without_official_folds_is_an_error_not_ignored(
    data: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "effnet_lite0.figshare", "--data", data, "--folds", "9"]) == 2
    err = capsys.readouterr().err
    assert "--folds chooses official Figshare folds" in err and ("fold 1 only" in err) == (data == "heldout")


def test_export_onnx_refuses_an_opset_below_the_exporters() -> None:
    import brainvit_effnet as bve
    from brainvit_effnet.export import MIN_OPSET, export_onnx

    with pytest.raises(ValueError, match=rf"opset must be an int >= {MIN_OPSET}.*version_converter"):
        export_onnx(bve.create_model("effnet_test", num_classes=3), "m.onnx", opset=5)


@pytest.mark.parametrize(
    ("clean", "tumour_hidden", "random_drop", "verdict"),
    [
        (0.96, 0.96, 0.0, "recognised without the tumour"),
        (0.92, 0.30, 0.01, "looks at the tumour"),
        (
            0.92,
            0.43,
            0.04,
            "mostly at the tumour (hiding elsewhere costs 0.04)",
        ),  # the shipped model's meningioma
        (0.92, 0.45, 0.30, "any occlusion hurts (not specific to the tumour)"),
    ],
)
def test_the_reliance_verdict_weighs_the_tumour_against_the_control(
    clean: float, tumour_hidden: float, random_drop: float, verdict: str
) -> None:
    from brainvit_effnet.cli.explain import reliance_verdict

    scores = {"clean": clean, "tumour_hidden": tumour_hidden, "random_drop": random_drop}
    assert reliance_verdict(scores) == verdict


def test_split_for_data_without_split_folders_is_an_error_not_ignored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["evaluate", "effnet_lite0.figshare", "--data", "sample", "--split", "train"]) == 2
    assert "--split chooses a class-per-folder tree's split folder" in capsys.readouterr().err


def test_a_path_that_is_neither_file_nor_folder_is_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "effnet_lite0.figshare", "/dev/null", "--out", "x.csv"]) == 2
    assert "/dev/null is neither a file nor a folder" in capsys.readouterr().err


def test_a_folder_that_takes_no_new_file_names_the_target_not_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from brainvit_effnet._atomic import write_text_atomically

    real_open = os.open

    def refuse(path: str, *args: object) -> int:  # a read-only or pseudo file system
        if ".tmp" in str(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(OSError, match="Read-only file system") as caught:
        write_text_atomically(tmp_path / "out.csv", "x")
    assert caught.value.filename == str(tmp_path / "out.csv") and caught.value.errno == errno.EROFS
