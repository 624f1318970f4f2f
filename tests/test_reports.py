"""Tests for evaluation reports (brainvit_effnet.reports): figures, Markdown, JSON, atomic writing."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from PIL import Image

from brainvit_effnet import reports
from brainvit_effnet.reports import (
    plot_confusion_matrix,
    plot_reliability,
    plot_training_curves,
    render_markdown,
    write_cv_report,
    write_evaluation_report,
)

NAMES = ["glioma", "meningioma", "pituitary"]
NAN = float("nan")
HISTORY = [
    {"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.6, "val_macro_f1": 0.55, "lr": 1e-3},
    {"epoch": 2, "train_loss": 0.7, "lr": 1e-3, "seconds": 12.3},  # no validation this epoch
    {"epoch": 3, "train_loss": 0.5, "val_loss": 0.6, "val_accuracy": 0.8, "img_per_s": 50.0},
]


def make_report(*, ci: bool = False, shift: float = 0.0) -> dict[str, Any]:
    """A classification_report-shaped dict (the schema of brainvit_effnet.metrics), built by hand."""
    report: dict[str, Any] = {
        "n": 140,
        "num_classes": 3,
        "class_names": list(NAMES),
        "accuracy": 0.8357 + shift,
        "balanced_accuracy": 0.8211,
        "macro_precision": 0.8302,
        "macro_recall": 0.8211,
        "macro_f1": 0.8234,
        "per_class": {
            "glioma": {"precision": 0.8889, "recall": 0.8, "f1": 0.8421, "support": 50, "roc_auc": 0.9312},
            "meningioma": {
                "precision": 0.8108,
                "recall": 0.75,
                "f1": 0.7792,
                "support": 40,
                "roc_auc": 0.8877,
            },
            "pituitary": {"precision": 0.7966, "recall": 0.94, "f1": 0.8624, "support": 50, "roc_auc": NAN},
        },
        "confusion_matrix": [[40, 5, 5], [4, 30, 6], [1, 2, 47]],
        "roc_auc_macro": 0.9123,
        "ece": 0.0412,
        "nll": 0.4567,
        "brier": 0.2345,
        "reliability": {
            "bin_edges": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            "confidence": [NAN, 0.35, 0.52, 0.71, 0.93],
            "accuracy": [NAN, 0.3, 0.5, 0.7, 0.95],
            "count": [0, 4, 10, 30, 96],
        },
    }
    if ci:
        report["ci95"] = {
            "accuracy": [0.7761, 0.8881],
            "balanced_accuracy": [0.7602, 0.8755],
            "macro_f1": [0.7633, 0.8790],
            "roc_auc_macro": [0.8701, 0.9499],
            "ece": [0.0205, 0.0733],
        }
    return report


def nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nan_to_none(v) for v in value]
    return value


def strict_json(path: Path) -> Any:
    def reject(constant: str) -> None:
        raise AssertionError(f"{path.name} is not strict JSON: contains {constant}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


def check_png(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        image.verify()
    assert 300 <= width <= 4000
    assert 300 <= height <= 4000
    return width, height


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ----------------------------------------------------------------------------------------------
# Report folders
# ----------------------------------------------------------------------------------------------


def test_evaluation_report_writes_named_files(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "eval"  # created, parents included
    paths = write_evaluation_report(make_report(), out, history=HISTORY, extra={"model": "effnet_b2_tf"})
    expected = {
        "json": "report.json",
        "markdown": "report.md",
        "confusion_matrix": "confusion_matrix.png",
        "reliability": "reliability.png",
        "training_curves": "training_curves.png",
    }
    assert {key: path.name for key, path in paths.items()} == expected
    assert all(path.parent == out and path.is_file() for path in paths.values())
    assert sorted(os.listdir(out)) == sorted(expected.values())  # nothing else, no temporary files
    for key in ("confusion_matrix", "reliability", "training_curves"):
        check_png(paths[key])
    width, height = check_png(paths["training_curves"])
    assert width > height  # two panels side by side


def test_evaluation_report_without_history_has_no_curves(tmp_path: Path) -> None:
    paths = write_evaluation_report(make_report(), tmp_path)
    assert set(paths) == {"json", "markdown", "confusion_matrix", "reliability"}
    assert sorted(os.listdir(tmp_path)) == [
        "confusion_matrix.png",
        "reliability.png",
        "report.json",
        "report.md",
    ]
    assert "training_curves.png" not in paths["markdown"].read_text(encoding="utf-8")


def test_report_json_round_trips(tmp_path: Path) -> None:
    report = make_report(ci=True)
    extra = {
        "model": "effnet_b2_tf",
        "seed": 0,
        "checkpoint": tmp_path / "best.safetensors",
        "lr": np.float32(0.5),
    }
    paths = write_evaluation_report(report, tmp_path, extra=extra)
    loaded = strict_json(paths["json"])
    expected = nan_to_none(copy.deepcopy(report))  # empty reliability bins and undefined AUCs -> null
    expected["extra"] = {**extra, "checkpoint": str(tmp_path / "best.safetensors"), "lr": 0.5}
    assert loaded == expected
    # A reloaded report renders again, settings included.
    assert render_markdown(loaded, "Again").count("effnet_b2_tf") == 1


def test_markdown_contents(tmp_path: Path) -> None:
    paths = write_evaluation_report(
        make_report(),
        tmp_path,
        title="Figshare fold 1",
        history=HISTORY,
        extra={"model": "effnet_b2_tf", "lr": 1e-3},
    )
    md = paths["markdown"].read_text(encoding="utf-8")
    assert md.startswith("# Figshare fold 1\n")
    assert "Not for clinical use" in md
    for value in ("0.8357", "0.8211", "0.8302", "0.8234", "0.9123", "0.0412", "0.4567", "0.2345"):
        assert value in md
    for name in NAMES:
        assert f"| {name} |" in md  # per-class row
        assert f"**{name}**" in md  # confusion-matrix row
    assert "| True ↓ / Predicted → | glioma | meningioma | pituitary |" in md
    assert "| **meningioma** | 4 | 30 | 6 |" in md
    assert "| meningioma | 0.8108 | 0.7500 | 0.7792 | 40 | 0.8877 |" in md
    assert "| pituitary | 0.7966 | 0.9400 | 0.8624 | 50 | n/a |" in md  # NaN AUC
    assert "| model | effnet_b2_tf |" in md
    assert "| lr | 0.001 |" in md
    assert "CI" not in md  # no bootstrap, no CI columns
    for image in ("confusion_matrix.png", "reliability.png", "training_curves.png"):
        assert f"]({image})" in md


def test_markdown_ci_columns() -> None:
    md = render_markdown(make_report(ci=True), "With CI")
    assert "| Metric | Value | 95% CI low | 95% CI high |" in md
    assert "| Accuracy | 0.8357 | 0.7761 | 0.8881 |" in md
    assert "| Macro precision | 0.8302 | - | - |" in md  # no interval for this metric
    assert "| 0.0412 | 0.0205 | 0.0733 |" in md  # ECE interval in the calibration table
    assert "Not for clinical use" in md


def test_markdown_escapes_table_cells() -> None:
    report = make_report()
    report["class_names"][0] = "glioma|grade IV"
    report["per_class"]["glioma|grade IV"] = report["per_class"].pop("glioma")
    md = render_markdown(report, "Escaping", extra={"note": "a | b\nc"}, images={"My figure": "a b.png"})
    assert "| glioma\\|grade IV |" in md
    assert "| note | a \\| b c |" in md
    assert "![My figure](<a b.png>)" in md


def test_cv_report(tmp_path: Path) -> None:
    folds = [make_report(shift=0.01 * i) for i in range(3)]
    summary = {"accuracy": {"mean": 0.8457, "std": 0.0082}, "macro_f1": {"mean": 0.8234, "std": 0.0}}
    paths = write_cv_report(folds, summary, tmp_path / "cv", extra={"protocol": "official folds"})
    assert {key: path.name for key, path in paths.items()} == {
        "json": "cv_report.json",
        "markdown": "cv_report.md",
    }
    assert sorted(os.listdir(tmp_path / "cv")) == ["cv_report.json", "cv_report.md"]
    loaded = strict_json(paths["json"])
    assert loaded == {
        "title": "Cross-validation",
        "num_folds": 3,
        "folds": nan_to_none(folds),
        "summary": summary,
        "extra": {"protocol": "official folds"},
    }
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "Not for clinical use" in md
    assert "| Accuracy | 0.8457 | 0.0082 | 0.8457 ± 0.0082 |" in md
    assert "| Macro F1 | 0.8234 | 0.0000 | 0.8234 ± 0.0000 |" in md
    for i, accuracy in enumerate(("0.8357", "0.8457", "0.8557")):
        assert f"| {i + 1} | 140 | {accuracy} |" in md
    assert "| **glioma** | 120 | 15 | 15 |" in md  # pooled confusion matrix
    assert "| protocol | official folds |" in md


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def test_training_curves_with_missing_keys(tmp_path: Path) -> None:
    sparse: list[dict[str, Any]] = [
        {"train_loss": 1.2},
        {"train_loss": 0.9, "val_accuracy": None},
        {"val_loss": NAN},
    ]  # no epochs
    check_png(plot_training_curves(sparse, tmp_path / "sparse.png"))
    check_png(plot_training_curves([{"epoch": 1}], tmp_path / "nothing.png"))  # panels say "no ... recorded"
    assert plot_training_curves(HISTORY, tmp_path / "curves.svg").read_text().lstrip().startswith("<?xml")


def test_plots_return_paths_and_accept_str(tmp_path: Path) -> None:
    cm = plot_confusion_matrix(
        np.array([[3, 1], [0, 4]]), ["a", "b"], str(tmp_path / "cm.png"), normalize=False
    )
    assert cm == tmp_path / "cm.png"
    check_png(cm)
    rel = plot_reliability(make_report()["reliability"], tmp_path / "sub" / "rel.pdf", ece=None)
    assert rel.read_bytes().startswith(b"%PDF")
    many = [f"class_{i}" for i in range(12)]
    check_png(plot_confusion_matrix(np.eye(12) * 5 + 1, many, tmp_path / "many.png"))


def test_written_files_get_normal_permissions(tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    paths = write_evaluation_report(make_report(), tmp_path)
    for path in paths.values():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ----------------------------------------------------------------------------------------------
# Atomic writing
# ----------------------------------------------------------------------------------------------


def test_failed_plot_leaves_existing_report_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_evaluation_report(make_report(), tmp_path, history=HISTORY, extra={"run": "first"})
    before = snapshot(tmp_path)

    def broken(*args: Any, **kwargs: Any) -> Path:
        raise RuntimeError("plotting failed")

    for name in ("plot_confusion_matrix", "plot_reliability", "plot_training_curves"):
        with monkeypatch.context() as patch:
            patch.setattr(reports.folders, name, broken)  # where the report writer looks it up
            with pytest.raises(RuntimeError, match="plotting failed"):
                write_evaluation_report(
                    make_report(shift=0.1), tmp_path, history=HISTORY, extra={"run": "2nd"}
                )
        assert snapshot(tmp_path) == before  # same files, same bytes, no temporary files


def test_failed_save_leaves_existing_figure_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = plot_confusion_matrix([[1, 0], [0, 1]], ["a", "b"], tmp_path / "cm.png")
    before = snapshot(tmp_path)

    def half_written(self: Any, fh: Any, **kwargs: Any) -> None:
        fh.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(reports.figures.Figure, "savefig", half_written)
    with pytest.raises(OSError, match="disk full"):
        plot_confusion_matrix([[5, 5], [5, 5]], ["a", "b"], target)
    assert snapshot(tmp_path) == before


def test_unserialisable_extra_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="object"):
        write_evaluation_report(make_report(), tmp_path / "out", extra={"model": object()})
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


# ----------------------------------------------------------------------------------------------
# No global matplotlib state
# ----------------------------------------------------------------------------------------------


def test_plotting_keeps_global_backend(tmp_path: Path) -> None:
    backend = matplotlib.get_backend()
    plot_training_curves(HISTORY, tmp_path / "curves.png")
    plot_reliability(make_report()["reliability"], tmp_path / "rel.png", ece=0.04)
    assert matplotlib.get_backend() == backend


def test_import_has_no_matplotlib_side_effects(tmp_path: Path) -> None:
    # Load the reports package in a fresh interpreter without brainvit_effnet's __init__ (no torch), with
    # a non-default backend chosen first: importing and plotting must keep it, and never import pyplot.
    probe = f"""
import importlib.util, sys, types
import matplotlib
matplotlib.use("svg")
package = types.ModuleType("brainvit_effnet")  # a bare package: its relative imports resolve
package.__path__ = [{str(Path(reports.__file__).parent.parent)!r}]
sys.modules["brainvit_effnet"] = package
spec = importlib.util.spec_from_file_location(
    "brainvit_effnet.reports",
    {str(Path(reports.__file__))!r},
    submodule_search_locations=[{str(Path(reports.__file__).parent)!r}],
)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
assert "torch" not in sys.modules
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
module.plot_confusion_matrix([[2, 1], [0, 3]], ["a", "b"], {str(tmp_path / "cm.png")!r})
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
"""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    check_png(tmp_path / "cm.png")


# ----------------------------------------------------------------------------------------------
# Bad inputs
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["accuracy", "class_names", "confusion_matrix", "reliability", "per_class", "ece"]
)
def test_missing_key_is_named(key: str, tmp_path: Path) -> None:
    report = make_report()
    del report[key]
    with pytest.raises(ValueError, match=repr(key)):
        render_markdown(report, "x")
    with pytest.raises(ValueError, match=repr(key)):
        write_evaluation_report(report, tmp_path)
    assert os.listdir(tmp_path) == []


def test_inconsistent_reports_raise() -> None:
    not_square = make_report()
    not_square["confusion_matrix"] = [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValueError, match="square"):
        render_markdown(not_square, "x")

    wrong_names = make_report()
    wrong_names["class_names"] = ["glioma", "meningioma"]
    with pytest.raises(ValueError, match="class_names"):
        render_markdown(wrong_names, "x")

    missing_class = make_report()
    del missing_class["per_class"]["pituitary"]
    with pytest.raises(ValueError, match="pituitary"):
        render_markdown(missing_class, "x")

    bad_bins = make_report()
    bad_bins["reliability"]["bin_edges"] = [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="bin_edges"):
        render_markdown(bad_bins, "x")

    bad_ci = make_report(ci=True)
    bad_ci["ci95"]["accuracy"] = [0.8]
    with pytest.raises(ValueError, match="ci95"):
        render_markdown(bad_ci, "x")

    text_metric = make_report()
    text_metric["macro_f1"] = "0.8"
    with pytest.raises(TypeError, match="macro_f1"):
        render_markdown(text_metric, "x")

    with pytest.raises(TypeError, match="mapping"):
        render_markdown([1, 2], "x")  # type: ignore[arg-type]

    reloaded = make_report()
    reloaded["extra"] = {"seed": 0}
    with pytest.raises(ValueError, match="extra"):
        render_markdown(reloaded, "x", extra={"seed": 1})


def test_bad_plot_inputs_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix([[1, 2, 3], [4, 5, 6]], ["a", "b"], tmp_path / "cm.png")
    with pytest.raises(ValueError, match="3 class names"):
        plot_confusion_matrix([[1, 2], [3, 4]], ["a", "b", "c"], tmp_path / "cm.png")
    with pytest.raises(ValueError, match="non-negative"):
        plot_confusion_matrix([[1, -2], [3, 4]], ["a", "b"], tmp_path / "cm.png")
    with pytest.raises(TypeError, match="sequence of strings"):
        plot_confusion_matrix([[1, 2], [3, 4]], "ab", tmp_path / "cm.png")
    with pytest.raises(ValueError, match="format"):
        plot_confusion_matrix([[1, 2], [3, 4]], ["a", "b"], tmp_path / "cm.jpeg")
    with pytest.raises(ValueError, match="'count'"):
        plot_reliability({"bin_edges": [0, 1], "confidence": [0.5], "accuracy": [0.5]}, tmp_path / "r.png")
    with pytest.raises(ValueError, match="empty"):
        plot_training_curves([], tmp_path / "t.png")
    with pytest.raises(TypeError, match=r"history\[1\]"):
        plot_training_curves([{"epoch": 1}, "epoch 2"], tmp_path / "t.png")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="val_loss"):
        plot_training_curves([{"epoch": 1, "val_loss": "low"}], tmp_path / "t.png")
    with pytest.raises(ValueError, match="empty"):
        write_evaluation_report(make_report(), tmp_path / "out", history=[])
    assert os.listdir(tmp_path) == []


def test_bad_cv_inputs_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        write_cv_report([], {}, tmp_path)
    broken = make_report()
    del broken["nll"]
    with pytest.raises(ValueError, match=r"fold_reports\[1\].*'nll'"):
        write_cv_report([make_report(), broken], {}, tmp_path)
    with pytest.raises(ValueError, match="'std'"):
        write_cv_report([make_report()], {"accuracy": {"mean": 0.8}}, tmp_path)
    with pytest.raises(TypeError, match="sequence"):
        write_cv_report(make_report(), {}, tmp_path)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_the_public_names_of_the_former_module_still_import() -> None:
    # reports was one module; it is a package of modules by job since. Same names, same paths.
    before = (
        "DISCLAIMER",
        "plot_confusion_matrix",
        "plot_reliability",
        "plot_training_curves",
        "render_markdown",
        "write_cv_report",
        "write_evaluation_report",
    )
    for name in (*before, "PathLike"):
        assert hasattr(reports, name), name
    assert set(before) <= set(reports.__all__)
