"""Packaging, layering, the README's commands, the CLI and the bundled sample."""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
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


def test_private_timm_imports_are_the_known_few() -> None:
    """timm's private modules may change in any release; use the public ``timm.models`` names.

    The ones left have no public equivalent in timm 1.0.31 (``timm.models.hub`` only re-exports
    ``_hub`` with a deprecation warning). A new one must be added here on purpose.
    """
    private = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("timm"):
                if any(part.startswith("_") for part in (node.module or "").split(".")):
                    private.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                private.update(a.name for a in node.names if a.name.startswith("timm") and "._" in a.name)
    assert private == {
        "timm.models._hub._parse_model_cfg",  # config.json -> pretrained_cfg, as timm's hub loader does
        "timm.models._hub.load_cfg_from_json",
        "timm.models._hub.load_model_config_from_path",
        "timm.models._hub.save_config_for_hf",
    }


def test_dependency_direction() -> None:
    """layers -> models -> hub -> train -> experiment -> ablation; leaves import nothing of ours
    but other leaves; every module belongs to a layer; only cli sits on top."""
    # Utilities with no dependency of ours that any layer may use (errors among them: every
    # check of input raises one of its classes).
    shared_leaves = {
        "brainvit_effnet._atomic",
        "brainvit_effnet._checks",
        "brainvit_effnet.errors",
        "brainvit_effnet._json",
        "brainvit_effnet._outputs",
        "brainvit_effnet._progress",
        "brainvit_effnet._suggest",
        "brainvit_effnet._tensors",
        "brainvit_effnet._version",
        "brainvit_effnet.results",
        "brainvit_effnet.occlusion",
    }
    allowed = {
        "brainvit_effnet._atomic": set(),
        "brainvit_effnet._checks": set(),
        "brainvit_effnet._json": set(),
        # The rule for files a command writes (never an input, never another kind of file).
        "brainvit_effnet._outputs": set(),
        "brainvit_effnet._progress": set(),
        "brainvit_effnet._suggest": set(),
        "brainvit_effnet._tensors": set(),
        "brainvit_effnet._version": set(),
        "brainvit_effnet.results": set(),
        # Hiding regions of images: the occlusion test (explain) and counterfactual training share it.
        "brainvit_effnet.occlusion": set(),
        "brainvit_effnet.errors": set(),
        "brainvit_effnet.labels": set(),
        "brainvit_effnet.data": {"brainvit_effnet.labels"},
        "brainvit_effnet.models": {"brainvit_effnet.errors", "brainvit_effnet.labels"},
        # Cards and config.json record the data layer's preprocessing (brain crop, resize).
        "brainvit_effnet.cards": {"brainvit_effnet.models", "brainvit_effnet.data"},
        "brainvit_effnet.hub": {"brainvit_effnet.models", "brainvit_effnet.data", "brainvit_effnet.cards"},
        "brainvit_effnet.losses": set(),
        "brainvit_effnet.metrics": set(),
        "brainvit_effnet.reports": set(),
        "brainvit_effnet.explain": set(),
        "brainvit_effnet.train": {
            "brainvit_effnet.errors",
            "brainvit_effnet.hub",
            "brainvit_effnet.losses",
            "brainvit_effnet.metrics",
        },
        # ONNX files carry the model's preprocessing record (the data layer's crop and resize).
        "brainvit_effnet.export": {"brainvit_effnet.data"},
        # The experiment layer composes data, models, training, reports and saving.
        "brainvit_effnet.experiment": {
            "brainvit_effnet.cards",
            "brainvit_effnet.data",
            "brainvit_effnet.hub",
            "brainvit_effnet.metrics",
            "brainvit_effnet.models",
            "brainvit_effnet.reports",
            "brainvit_effnet.train",
        },
        "brainvit_effnet.recipes": {"brainvit_effnet.experiment"},
        "brainvit_effnet.ablation": {
            "brainvit_effnet.data",
            "brainvit_effnet.experiment",
            "brainvit_effnet.models",
            "brainvit_effnet.train",
        },
    }
    # The package root and the CLI (a package of one module per command) may import anything.
    on_top = {"brainvit_effnet", "brainvit_effnet.cli"}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        owner = next((k for k in allowed if module == k or module.startswith(k + ".")), None)
        if owner is None:
            top = module in on_top or module.startswith("brainvit_effnet.cli.")
            assert top, f"{module} belongs to no layer: give it an entry in allowed"
            continue
        ours = {
            n
            for n in _imports(path)
            if n.startswith("brainvit_effnet") and not (n == owner or n.startswith(owner + "."))
        }

        def permitted(name: str, deps: set[str]) -> bool:
            if name in shared_leaves:
                return True
            return name in deps or any(d != "brainvit_effnet" and name.startswith(d + ".") for d in deps)

        forbidden = {n for n in ours if not permitted(n, allowed[owner])}
        assert not forbidden, f"{module} imports {forbidden}"
        assert not any(n == "brainvit_effnet.cli" or n.startswith("brainvit_effnet.cli.") for n in ours)


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


def test_cli_demo_shows_the_bundled_model_on_held_out_patients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from brainvit_effnet.models.zoo import BUNDLED_MODEL, BUNDLED_WEIGHTS, bundled_provenance

    out = tmp_path / "demo"
    assert main(["demo", "--output-dir", str(out), "--explain-limit", "6"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    # One bundled slice's crop collapses: said once, in words, not as a log warning on the first screen.
    assert "WARNING" not in captured.err and "collapsed" not in captured.err
    assert "Note: on 1 of the 153 slices (2098.png) the brain crop found only a fragment" in printed
    trained_from = bundled_provenance(BUNDLED_MODEL)["trained_from"]
    assert "not for clinical use" in printed and BUNDLED_MODEL in printed and trained_from in printed
    assert "Bundled held-out slices (153 slices of fold 1)" in printed and "CC BY 4.0" in printed
    assert "pointing game" in printed
    # Localisation beside chance and a map that ignores the image, in words.
    assert "a map that ignores the image (a blob in the centre) scores" in printed
    assert "above the centred blob on both" in printed or "no better than a centred blob" in printed
    assert "Is the model looking at the tumour? 153 slices" in printed  # the occlusion test, per class
    for name in (
        "report/report.md",
        "report/report.json",
        "report/confusion_matrix.png",
        "report/reliability.png",
        "explain/overlays_gradcam.png",
        "explain/overlays_gradcampp.png",
    ):
        assert (out / name).is_file(), name
        assert str(out / name) in printed
    report = json.loads((out / "report" / "report.json").read_text())
    assert report["accuracy"] > 0.6  # a random 3-class model cannot reach this on 153 slices
    # What the install page and the README say the demo does is what it did.
    docs = Path(__file__).resolve().parents[1]
    for page in (docs / "docs" / "install.md", docs / "README.md"):
        text = " ".join(page.read_text(encoding="utf-8").split())
        start = text.index("The first command installs the library")
        said = text[start : text.index("The second installs", start)]  # the demo's description
        assert f"`{BUNDLED_MODEL}`" in said, f"{page.name} names another demo model"
        assert "occlusion test" in said and "Grad-CAM" in said and "never saw" in said
        assert "rollout" not in said and "trains" not in said  # the demo loads a trained model
    assert f"Model: {BUNDLED_MODEL}" in printed and "gradcam" in printed  # what the pages describe ran
    assert main(["demo", "--output-dir", str(out)]) == 2  # never writes into a folder with files
    assert "--overwrite" in capsys.readouterr().err

    # evaluate and predict with the bundled model's folder (laid out as its Hub repo)
    model_dir = BUNDLED_WEIGHTS[BUNDLED_MODEL]
    assert main(["evaluate", str(model_dir), "--out", str(tmp_path / "eval"), "--bootstrap", "50"]) == 0
    printed = capsys.readouterr()
    assert (tmp_path / "eval" / "report.md").is_file() and "21 slices" in printed.out  # the sample's fold 1
    assert "not held-out" not in printed.err
    assert (
        main(["evaluate", str(model_dir), "--folds", "5", "--out", str(tmp_path / "e5"), "--bootstrap", "0"])
        == 0
    )
    assert "fold(s) [5] trained this model" in capsys.readouterr().err
    argv = [
        "evaluate",
        str(model_dir),
        "--data",
        "heldout",
        "--out",
        str(tmp_path / "eh"),
        "--bootstrap",
        "0",
    ]
    assert main(argv) == 0
    assert "153 slices" in capsys.readouterr().out
    images = bve_data_root() / "images"
    csv_path = tmp_path / "preds.csv"
    assert (
        main(
            [
                "predict",
                str(model_dir),
                str(images / "16.png"),
                str(images / "740.png"),
                "--out",
                str(csv_path),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(csv_path.open()))
    assert [Path(r["path"]).name for r in rows] == ["16.png", "740.png"]
    assert all(abs(sum(float(r[f"p_{c}"]) for c in bve.TUMOUR_TYPE_CLASSES) - 1) < 1e-4 for r in rows)


def test_cli_predict_gives_every_input_a_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = bve_data_root() / "images"
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in ("16.png", "740.png"):
        (folder / name).write_bytes((images / name).read_bytes())
    (folder / "broken.png").write_bytes((images / "16.png").read_bytes()[:60])
    (folder / "scan.dcm").write_bytes(b"DICM")  # not a DICOM file, whatever its name says
    (folder / "notes.docx").write_bytes(b"PK")  # a type no reader takes
    from brainvit_effnet.models.zoo import BUNDLED_MODEL, BUNDLED_WEIGHTS

    model = str(BUNDLED_WEIGHTS[BUNDLED_MODEL])  # a save_pretrained folder
    out = tmp_path / "preds.csv"
    assert main(["predict", model, str(folder), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "3 file(s) could not be read" in err
    rows = {Path(r["path"]).name: r for r in csv.DictReader(out.open())}
    assert sorted(rows) == ["16.png", "740.png", "broken.png", "notes.docx", "scan.dcm"]
    assert rows["16.png"]["predicted"] and not rows["16.png"]["error"]
    assert "unreadable image" in rows["broken.png"]["error"] and not rows["broken.png"]["predicted"]
    assert "unsupported file type '.docx'" in rows["notes.docx"]["error"]
    assert "not a readable DICOM file" in rows["scan.dcm"]["error"] and not rows["scan.dcm"]["predicted"]
    assert main(["predict", model, str(folder / "16.png"), "--out", str(tmp_path)]) == 2
    assert "is a folder; give the file to write" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*tmp*"))


def _class_tree(root: Path, names: list[str], per_class: int = 3) -> Path:
    """A class-per-folder tree of bundled sample slices: ``per_class`` distinct slices per name."""
    images = sorted((bve_data_root() / "images").glob("*.png"))
    for i, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for image in images[per_class * i : per_class * (i + 1)]:
            (root / name / image.name).write_bytes(image.read_bytes())
    return root


def test_cli_evaluate_says_which_classes_it_leaves_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from brainvit_effnet.models.zoo import BUNDLED_MODEL, BUNDLED_WEIGHTS

    tree = _class_tree(tmp_path / "tree", ["glioma", "meningioma", "pituitary", "no_tumor"])
    argv = ["evaluate", str(BUNDLED_WEIGHTS[BUNDLED_MODEL]), "--data", f"folder:{tree}"]
    assert main([*argv, "--out", str(tmp_path / "ev"), "--bootstrap", "0"]) == 0
    captured = capsys.readouterr()
    assert "3 image(s) of other classes are not evaluated: {'no_tumor': 3}" in captured.err
    assert "9 slices" in captured.out
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["extra"]["not_evaluated"] == {"no_tumor": 3}


def test_cli_evaluate_works_on_the_classes_a_folder_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from brainvit_effnet.models.zoo import BUNDLED_MODEL, BUNDLED_WEIGHTS

    tree = _class_tree(tmp_path / "tree", ["meningioma", "pituitary"])  # an external set without glioma
    argv = ["evaluate", str(BUNDLED_WEIGHTS[BUNDLED_MODEL]), "--data", f"folder:{tree}"]
    assert main([*argv, "--out", str(tmp_path / "ev"), "--bootstrap", "0"]) == 0
    captured = capsys.readouterr()
    assert "has no image of ['glioma']; evaluating on the classes present" in captured.err
    assert "6 slices" in captured.out
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["extra"]["absent_classes"] == ["glioma"] and report["per_class"]["glioma"]["support"] == 0
    from brainvit_effnet.data import FolderDataset

    with pytest.raises(ValueError, match=r"classes \['glioma'\] are not in .*allow_missing_classes=True"):
        FolderDataset(tmp_path / "tree", classes=["glioma", "meningioma", "pituitary"])


def test_cli_lenient_and_alias_reach_what_the_api_can(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from brainvit_effnet.models.zoo import BUNDLED_MODEL, BUNDLED_WEIGHTS

    images = sorted((bve_data_root() / "images").glob("*.png"))
    for i, name in enumerate(["glioma", "menin", "pituitary"]):
        (tmp_path / "tree" / name).mkdir(parents=True)
        for image in images[3 * i : 3 * i + 3]:
            (tmp_path / "tree" / name / image.name).write_bytes(image.read_bytes())
    (tmp_path / "tree" / "glioma" / "broken.png").write_bytes(images[0].read_bytes()[:50])
    argv = ["evaluate", str(BUNDLED_WEIGHTS[BUNDLED_MODEL]), "--data", f"folder:{tmp_path / 'tree'}"]
    argv += ["--out", str(tmp_path / "ev"), "--bootstrap", "0"]
    assert main(argv) == 2
    assert "--alias 'menin=<class>'" in capsys.readouterr().err
    assert main([*argv, "--alias", "menin=meningioma"]) == 2
    assert "broken.png: unreadable image" in capsys.readouterr().err  # strict: the bad file stops it
    assert main([*argv, "--alias", "menin=meningioma", "--lenient"]) == 0
    assert "9 slices" in capsys.readouterr().out


def bve_data_root() -> Path:
    from brainvit_effnet.data import sample_root

    return sample_root()


def test_cli_train_with_config_overrides_and_cross_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text(
        "model: effnet_test\ndata: sample\nbootstrap: 0\ntrain:\n  epochs: 5\n  batch_size: 16\n"
    )
    out = tmp_path / "cv"
    argv = [
        "train",
        "--config",
        str(config),
        "--set",
        "train.epochs=1",
        "--set",
        "train.limit_train_batches=1",
    ]
    assert main([*argv, "--cv", "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mean ± std" in printed and "macro_f1" in printed
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [f"fold_{k}" for k in range(1, 6)]
    assert (out / "cv_report.md").is_file()
    log = (out / "fold_1" / "log.jsonl").read_text().splitlines()
    assert len(log) == 1  # the --set override won over the file's 5 epochs


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "effnet_b2*"]) == 0
    out = capsys.readouterr().out
    assert "effnet_b2_tf" in out and "260 px" in out and "in1k" in out and "effnet_b3" not in out
    assert "figshare" not in out  # no weights exist for B2: the tag is not offered
    assert main(["models", "nothing*"]) == 1
    assert main(["train", "--model", "effnet_b9", "--epochs", "1", "--output-dir", str(tmp_path / "x")]) == 2
    assert "Did you mean" in capsys.readouterr().err
    assert main(["train", "--set", "train.epoch=3", "--output-dir", str(tmp_path / "y")]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err
    assert main(["train", "--data", "kaggle:/x", "--output-dir", str(tmp_path / "z")]) == 2
    assert "figshare:PATH" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.jsonl").write_text("")  # a run lives here: refused, in CLI words
    args = ["train", "--model", "effnet_test", "--epochs", "1", "--output-dir", str(tmp_path / "run")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        "--overwrite" in err and "--resume" in err and "--output-dir" in err and "overwrite=True" not in err
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("train.lr=fast", "option train.lr must be a number; got 'fast'"),
        ("train.epochs=abc", "option train.epochs must be an integer; got 'abc'"),
        ("train.epochs=true", "option train.epochs must be an integer; got True"),
        ("classes=glioma", "option classes must be a list of strings or null; got 'glioma'"),
    ],
)
def test_cli_set_values_of_the_wrong_type_name_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, message: str
) -> None:
    assert main(["train", "--set", setting, "--output-dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_train_device_flag_reaches_the_config(tmp_path: Path) -> None:
    from brainvit_effnet.cli import build_parser
    from brainvit_effnet.cli.train import experiment as _experiment

    args = build_parser().parse_args(["train", "--device", "cpu", "--output-dir", str(tmp_path / "r")])
    assert _experiment(args).train.device == "cpu"


def test_cli_flag_and_set_for_one_option_must_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--epochs", "2", "--set", "train.epochs=3", "--output-dir", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "--set train.epochs=3 disagrees with the flag that gives 2" in capsys.readouterr().err


def test_cli_version_and_debug(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert (
        exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"brainvit-effnet {bve.__version__}"
    )
    argv = ["train", "--model", "effnet_b9", "--output-dir", str(tmp_path / "x")]
    assert main(argv) == 2  # a user error: one line
    assert capsys.readouterr().err.startswith("error: unknown model")
    with pytest.raises(bve.UnknownModelError):
        main(["--debug", *argv])  # --debug: the exception itself, with its traceback
    assert issubclass(bve.UnknownModelError, bve.BrainvitError) and issubclass(
        bve.CheckpointError, ValueError
    )


def test_cli_reports_user_errors_in_one_line_and_lets_bugs_raise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from brainvit_effnet.cli import models

    # A YAML typo in --set is the user's: one line that names the option.
    assert main(["train", "--set", "train.lr=[1e-3", "--output-dir", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.startswith("error: --set: '[1e-3' is not a YAML value")

    # A ValueError that no check of ours raised is a bug: it keeps its traceback.
    def broken(args: object) -> int:
        raise ValueError("shapes (3,) and (4,) not aligned")

    monkeypatch.setattr(models, "run", broken)
    with pytest.raises(ValueError, match="not aligned"):
        main(["models"])

    # The system refusing a named path is the user's to fix: one line with the path.
    def refused(args: object) -> int:
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked"))

    monkeypatch.setattr(models, "run", refused)
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "locked" in err and "Traceback" not in err


def test_every_check_of_input_raises_a_brainvit_error() -> None:
    """The CLI shows BrainvitErrors as one line; a check raising a bare built-in would show a traceback."""
    import re

    src = Path(bve.__file__).parent
    builtin = re.compile(r"raise (ValueError|TypeError|FileNotFoundError|FileExistsError|ImportError)\(")
    offenders = [
        f"{path.relative_to(src)}:{n}"
        for path in sorted(src.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if builtin.search(line)
    ]
    assert offenders == [], "raise the brainvit_effnet.errors class instead: " + ", ".join(offenders)
    assert issubclass(bve.errors.InvalidArgumentError, ValueError)
    assert issubclass(bve.errors.MissingFileError, FileNotFoundError)


@pytest.mark.parametrize(
    "command", ["demo", "train", "ablate", "evaluate", "predict", "explain", "export", "leakage", "models"]
)
def test_every_subcommand_has_help_on_every_option_and_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from brainvit_effnet.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    undocumented = [a.dest for a in sub._actions if not a.help and a.dest != "help"]
    assert not undocumented, f"{command}: options without help: {undocumented}"
    with pytest.raises(SystemExit):
        main([command, "--help"])
    printed = capsys.readouterr().out
    assert f"example:\n  brainvit-effnet {command}" in printed.replace("OMP_NUM_THREADS=1 ", "")
    assert "``" not in printed and ":func:" not in printed  # help is plain text, not reST


def test_the_top_level_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    printed = capsys.readouterr().out
    assert "The brainvit-effnet command." in printed and "``" not in printed


def test_cli_leakage_reports_copies_across_splits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    images = sorted((bve_data_root() / "images").glob("*.png"))
    for split, picked in (("Training", images[:6]), ("Testing", images[6:9])):
        for cls in ("glioma", "pituitary"):
            (tmp_path / "tree" / split / cls).mkdir(parents=True)
        for i, image in enumerate(picked):
            cls = ("glioma", "pituitary")[i % 2]
            (tmp_path / "tree" / split / cls / image.name).write_bytes(image.read_bytes())
    leaked = tmp_path / "tree" / "Testing" / "glioma" / "copy.png"
    leaked.write_bytes(images[0].read_bytes())  # a training image in the test split
    out = tmp_path / "report"
    assert main(["leakage", str(tmp_path / "tree"), "--out", str(out)]) == 0
    assert "1 exact pairs" in capsys.readouterr().out
    report = json.loads((out / "leakage.json").read_text())
    assert (
        report["counts"]["n_exact_pairs"] == 1
        and (out / "pairs.png").is_file()
        and (out / "leakage.md").is_file()
    )
    # Training on that tree warns first, with the count.
    from brainvit_effnet.data import FolderDataset
    from brainvit_effnet.experiment import _warn_exact_copies

    tree = FolderDataset(tmp_path / "tree")
    train = [i for i, r in enumerate(tree.records) if r.split == "train"]
    test = [i for i, r in enumerate(tree.records) if r.split == "test"]
    with caplog.at_level("WARNING"):
        assert _warn_exact_copies(tree, train, test) == 1
    assert "1 of 4 test images are byte-identical copies of training images" in caplog.text
    # A later experiment on the same opened dataset warns again without reading a file again.
    reads: list[Path] = []
    real_read = Path.read_bytes

    def counting_read(self: Path) -> bytes:
        reads.append(self)
        return real_read(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "read_bytes", counting_read)
        assert _warn_exact_copies(tree, train, test) == 1
        assert reads == []
        assert _warn_exact_copies(FolderDataset(tmp_path / "tree"), train, test) == 1  # a new dataset
        assert len(reads) == len(train) + len(test)
    leaked.unlink()  # no pairs left: no figure (it used to be a blank white page)
    clean = tmp_path / "clean"
    assert main(["leakage", str(tmp_path / "tree"), "--out", str(clean)]) == 0
    assert (clean / "leakage.json").is_file() and not (clean / "pairs.png").exists()


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "brainvit-effnet"
    if not exe.exists():
        pytest.skip("console script not on this interpreter's bin folder (package not installed here)")
    out = subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    assert out.returncode == 0 and "demo" in out.stdout


def test_cli_crops_to_the_brain_as_the_model_was_trained(tmp_path: Path) -> None:
    """evaluate/predict/explain follow the crop that config.json records; --no-crop always wins."""
    from brainvit_effnet.cli._common import crop as _crop
    from brainvit_effnet.models.zoo import BUNDLED_MODEL, BUNDLED_WEIGHTS

    uncropped = bve.save_pretrained(
        bve.create_model("effnet_test", num_classes=3), tmp_path / "m", brain_crop=False
    )
    bundled = bve.from_pretrained(BUNDLED_WEIGHTS[BUNDLED_MODEL])  # records brain_crop: true
    flags = argparse.Namespace(no_crop=False)
    assert _crop(flags, bundled) is True
    assert _crop(flags, bve.from_pretrained(uncropped)) is False
    assert _crop(argparse.Namespace(no_crop=True), bundled) is False
