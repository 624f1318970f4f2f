"""Packaging, layering, the README's commands, the CLI and the bundled sample."""

from __future__ import annotations

import ast
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import brainvit_effnet as bve
from brainvit_effnet.cli import main

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(bve.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against the package)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            else:
                names.add(node.module or "")
    return names


def test_dependency_direction() -> None:
    """layers -> models -> hub; leaves import nothing of ours; only cli sits on top."""
    allowed = {
        "brainvit_effnet.errors": set(),
        "brainvit_effnet.labels": set(),
        "brainvit_effnet.data": {"brainvit_effnet.labels"},
        "brainvit_effnet.models": {"brainvit_effnet.errors", "brainvit_effnet.labels", "brainvit_effnet"},
        "brainvit_effnet.hub": {"brainvit_effnet.models", "brainvit_effnet"},
    }
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        owner = next((k for k in allowed if module == k or module.startswith(k + ".")), None)
        if owner is None:
            continue
        ours = {
            n
            for n in _imports(path)
            if n.startswith("brainvit_effnet") and not (n == owner or n.startswith(owner + "."))
        }

        # `from .. import __version__` is the only use of the package root allowed below cli
        def permitted(name: str, deps: set[str]) -> bool:
            return name in deps or any(d != "brainvit_effnet" and name.startswith(d + ".") for d in deps)

        forbidden = {n for n in ours if not permitted(n, allowed[owner])}
        assert not forbidden, f"{module} imports {forbidden}"
        assert "brainvit_effnet.cli" not in ours


def test_typed_and_versioned() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert bve.__version__ and bve.__version__ != "0.0.0+unknown"


def test_no_pickle_loading_anywhere() -> None:
    for path in [
        *PACKAGE.rglob("*.py"),
        *(ROOT / "benchmarks").rglob("*.py"),
        *(ROOT / "examples").rglob("*.py"),
    ]:
        source = path.read_text()
        assert "torch.load(" not in source or "weights_only=True" in source, path
        assert "import pickle" not in source, path


def test_readme_opens_with_the_two_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert first_block == [
        "pip install . && brainvit-effnet demo",
        'pip install ".[dev]" && python -m pytest',
    ]
    assert readme.index("```bash") < readme.index("```python")
    assert "Not for clinical use" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci and "set -euo pipefail" in ci


def test_cli_demo_runs_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "not for clinical use" in out
    assert "effnet_b2_tf" in out
    assert out.count(".png") == 6
    assert "CC BY 4.0" in out
    assert "arbitrary" in out  # honest about untrained weights


def test_cli_demo_with_a_trained_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = bve.create_model("effnet_test", num_classes=3, label_names=["x", "y", "z"])
    bve.save_pretrained(model, tmp_path)
    assert main(["demo", "--model", "effnet_test", "--checkpoint", str(tmp_path / "model.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "arbitrary" not in out and str(tmp_path) in out


def test_cli_models_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "effnet_b2*"]) == 0
    out = capsys.readouterr().out
    assert "effnet_b2_tf" in out and "260 px" in out and "in1k, figshare" in out and "effnet_b3" not in out
    assert main(["models", "nothing*"]) == 1
    assert main(["demo", "--model", "effnet_b9"]) == 2
    assert "Did you mean" in capsys.readouterr().err


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "brainvit-effnet"
    if not exe.exists():
        pytest.skip("console script not on this interpreter's bin folder (package not installed here)")
    out = subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    assert out.returncode == 0 and "demo" in out.stdout


@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "examples").glob("*.py")))
def test_examples_run_offline(example: str, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(ROOT / "examples" / example), run_name="__main__")
    assert capsys.readouterr().out
