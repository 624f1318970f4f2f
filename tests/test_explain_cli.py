"""Explanations end to end: scoring over a dataset, the CLI, pytorch-grad-cam interop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import brainvit_effnet as bve
from brainvit_effnet.cli import main
from brainvit_effnet.data import create_transforms, load_sample
from brainvit_effnet.explain import (
    GradCAM,
    available_methods,
    explain,
    score_explanations,
    write_explanation_report,
)
from brainvit_effnet.results import ExplanationReport, MethodScores


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = bve.create_model("effnet_test_tf", num_classes=3, label_names=bve.TUMOUR_TYPE_CLASSES)
    return bve.save_pretrained(model, tmp_path_factory.mktemp("model"))


def test_score_explanations_over_the_sample_writes_strict_json(saved_model: Path, tmp_path: Path) -> None:
    model = bve.from_pretrained(saved_model).eval()
    _, eval_tf = create_transforms(model)
    data = load_sample([5], transform=eval_tf, return_mask=True)
    report = score_explanations(model, data, ["gradcam", "rollout"], limit=6, steps=4)
    assert report["n"] == 6 and 0 < report["mask_fraction"] < 0.5
    assert set(report) == ExplanationReport.__required_keys__
    assert set(report["methods"]["gradcam"]) == MethodScores.__required_keys__
    overall = report["methods"]["gradcam"]["overall"]
    assert set(overall) == {"pointing_game", "energy_inside", "iou@0.5", "deletion_auc", "insertion_auc"}
    assert all(0.0 <= v <= 1.0 for v in overall.values() if not np.isnan(v))
    # The overall score is the mean over slices: the per-class means weighted by their counts.
    per_class = report["methods"]["gradcam"]["per_class"].values()
    for key, value in overall.items():
        weighted = sum(row["n"] * row[key] for row in per_class) / sum(row["n"] for row in per_class)
        assert value == pytest.approx(weighted, nan_ok=True), key
    assert sum(row["n"] for row in report["methods"]["rollout"]["per_class"].values()) == 6
    files = write_explanation_report(report, tmp_path)
    json.loads(files["json"].read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert "| gradcam |" in files["markdown"].read_text()
    with pytest.raises(ValueError, match="return_mask=True"):
        score_explanations(model, load_sample([5], transform=eval_tf), ["gradcam"])


def test_method_availability_and_errors() -> None:
    cnn = bve.create_model("effnet_test", num_classes=3).eval()
    assert available_methods(cnn) == ["gradcam", "gradcampp"]
    with pytest.raises(ValueError, match="need a transformer variant"):
        explain(cnn, torch.randn(1, 3, 64, 64), "rollout")
    with pytest.raises(ValueError, match="unknown explanation method"):
        explain(cnn, torch.randn(1, 3, 64, 64), "lime")


def test_cli_explain_dataset_and_files(
    saved_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ex"
    argv = ["explain", str(saved_model), "--out", str(out), "--limit", "4", "--steps", "3", "--n", "4"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "pointing game" in printed and "chance" in printed
    names = sorted(p.name for p in out.iterdir())
    assert "explanations.md" in names and "overlays_gradcam.png" in names and "overlays_rollout.png" in names
    from brainvit_effnet.data import sample_root

    files_out = tmp_path / "files"
    image = str(sample_root() / "images" / "16.png")
    assert main(["explain", str(saved_model), image, "--methods", "gradcam", "--out", str(files_out)]) == 0
    assert sorted(p.name for p in files_out.iterdir()) == ["overlays_gradcam.png"]


def test_cli_explain_writes_pdf_and_svg_grids(saved_model: Path, tmp_path: Path) -> None:
    from brainvit_effnet.data import sample_root

    image = str(sample_root() / "images" / "16.png")
    for fmt, magic in (("pdf", (b"%PDF",)), ("svg", (b"<?xml", b"<svg"))):
        out = tmp_path / fmt
        argv = [
            "explain",
            str(saved_model),
            image,
            "--methods",
            "gradcam",
            "--out",
            str(out),
            "--format",
            fmt,
        ]
        assert main(argv) == 0
        assert sorted(p.name for p in out.iterdir()) == [f"overlays_gradcam.{fmt}"]
        assert (out / f"overlays_gradcam.{fmt}").read_bytes().startswith(magic)


def test_explanation_scoring_shows_a_bar_only_when_asked_or_on_a_terminal(
    saved_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = bve.from_pretrained(saved_model).eval()
    _, eval_tf = create_transforms(model)
    data = load_sample([5], transform=eval_tf, return_mask=True)
    score_explanations(model, data, ["gradcam"], limit=2, faithfulness=False)
    assert "explain" not in capsys.readouterr().err  # capsys' stderr is not a terminal: quiet
    score_explanations(model, data, ["gradcam"], limit=2, faithfulness=False, progress=True)
    assert "explain" in capsys.readouterr().err


def test_pytorch_grad_cam_runs_on_our_models_through_the_seams() -> None:
    pgc = pytest.importorskip("pytorch_grad_cam", reason="optional extra brainvit-effnet[gradcam] is absent")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = bve.create_model("effnet_test_tf", num_classes=3).eval()
    x = torch.randn(2, 3, 64, 64)
    targets = [ClassifierOutputTarget(1), ClassifierOutputTarget(2)]
    with pgc.GradCAM(model=model, target_layers=model.cam_target_layers()) as theirs:
        their_maps = theirs(input_tensor=x, targets=targets)
    with GradCAM(model) as ours:
        our_maps = ours(x, [1, 2]).numpy()
    assert their_maps.shape == our_maps.shape == (2, 64, 64)
    for a, b in zip(their_maps, our_maps, strict=True):
        if a.std() > 0 and b.std() > 0:
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95  # same method, different resizing
    with pgc.ScoreCAM(
        model=model, target_layers=model.token_cam_target_layers(), reshape_transform=model.reshape_tokens
    ) as score_cam:
        assert score_cam(input_tensor=x, targets=targets).shape == (2, 64, 64)


def test_old_evaluate_module_is_a_deprecated_alias_of_scoring() -> None:
    """``brainvit_effnet.explain.evaluate`` keeps working, warns, and re-exports the same objects."""
    import importlib
    import sys

    from brainvit_effnet.explain import scoring

    sys.modules.pop("brainvit_effnet.explain.evaluate", None)
    with pytest.warns(DeprecationWarning, match=r"explain\.scoring"):
        old = importlib.import_module("brainvit_effnet.explain.evaluate")
    for name in old.__all__:
        assert getattr(old, name) is getattr(scoring, name)
    assert set(old.__all__) == set(scoring.__all__)


def test_score_explanations_leaves_the_model_in_training_mode(saved_model: Path) -> None:
    model = bve.from_pretrained(saved_model).train()
    _, eval_tf = create_transforms(model)
    score_explanations(
        model, load_sample([5], transform=eval_tf, return_mask=True), ["gradcam"], limit=2, steps=2
    )
    assert all(m.training for m in model.modules())


def test_cli_explain_reliance_writes_the_occlusion_report(
    saved_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from brainvit_effnet._json import read_json
    from brainvit_effnet.results import RelianceReport, RelianceScores

    out = tmp_path / "rel"
    assert (
        main(["explain", str(saved_model), "--reliance", "--limit", "6", "--n", "2", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "Is the model looking at the tumour?" in printed and "tumour hidden" in printed
    report = read_json(out / "reliance.json")
    assert set(report) == RelianceReport.__required_keys__ and report["n"] == 6
    # --limit samples every class (the first 6 slices of the sample are one class).
    assert len(report["per_class"]) == 3 and all(r["n"] == 2 for r in report["per_class"].values())
    assert set(report["overall"]) == RelianceScores.__required_keys__
    # --reliance alone is the occlusion test: no heatmap scoring, no overlay grids.
    assert not (out / "explanations.md").exists()
    image = str(tmp_path / "x.png")
    assert main(["explain", str(saved_model), image, "--reliance", "--out", str(out)]) == 2
    assert "--reliance needs tumour masks" in capsys.readouterr().err
