"""The CLI package: one module per command, assembled by ``build_parser``."""

from __future__ import annotations

import logging
import subprocess
import sys

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
