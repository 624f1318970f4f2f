"""benchmarks/cam_layers.py, shift_benchmark.py, model_evidence.py and robustness_page.py on tiny inputs.

What is checked: the records they write and what the page shows from them. Not accuracy: the
model is the tiny untrained ``effnet_test`` on a few bundled slices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import brainvit_effnet as bve
from brainvit_effnet.data import create_transforms, load_sample
from brainvit_effnet.data.shifts import SHIFTS

from ._scripts import load_benchmark


def _tiny() -> torch.nn.Module:
    return bve.create_model("effnet_test", num_classes=3, label_names=bve.TUMOUR_TYPE_CLASSES).eval()


def test_cam_layers_scores_every_layer_with_its_resolution_cap() -> None:
    cam_layers = load_benchmark("cam_layers")
    model = _tiny()
    _, tf = create_transforms(model)
    data = load_sample([1], transform=tf, return_mask=True)
    result = cam_layers.measure(model, data, ("backbone.blocks.2", "backbone.bn2"), batch_size=8)
    layers = result["layers"]
    assert layers["backbone.blocks.2"]["grid"] == [8, 8] and layers["backbone.bn2"]["grid"] == [2, 2]
    # A finer grid can point more precisely: its cap is at least the coarse one's.
    assert layers["backbone.blocks.2"]["resolution_cap"] >= layers["backbone.bn2"]["resolution_cap"]
    assert set(layers["backbone.bn2"]["per_class"]) <= set(data.classes)
    assert result["n"] == len(data)


def test_cam_layers_counts_flat_maps_as_misses_not_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Grad-CAM with no positive evidence is flat: it points nowhere, so it scores 0, and is counted."""
    cam_layers = load_benchmark("cam_layers")

    class FlatCAM:
        def __init__(self, model: Any, target_layers: Any) -> None:
            pass

        def __enter__(self) -> FlatCAM:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def __call__(self, images: torch.Tensor, targets: list[int]) -> torch.Tensor:
            return torch.zeros(len(images), *images.shape[-2:])

    monkeypatch.setattr(cam_layers, "GradCAM", FlatCAM)
    model = _tiny()
    _, tf = create_transforms(model)
    data = load_sample([1], transform=tf, return_mask=True)
    layer = cam_layers.measure(model, data, ("backbone.bn2",), batch_size=8)["layers"]["backbone.bn2"]
    assert layer["pointing_game"] == 0.0 and layer["energy_inside"] == 0.0
    assert layer["flat_maps"] == len(data) and all(
        v["pointing_game"] == 0.0 for v in layer["per_class"].values()
    )


def test_shift_benchmark_records_every_shift_and_the_ratio() -> None:
    shift = load_benchmark("shift_benchmark")
    model = _tiny()
    rng = np.random.default_rng(0)
    slices = [rng.random((300, 300), dtype=np.float32) for _ in range(3)]
    record = shift.measure(model, slices, np.array([0, 1, 2]), seed=0)
    assert set(record["shifts"]) == set(SHIFTS)
    every = [a for s in record["shifts"].values() for a in s["accuracy"]]
    assert record["shift_mean_accuracy"] == np.mean(every)
    if record["clean_accuracy"]:
        assert record["ratio_shift_over_clean"] == record["shift_mean_accuracy"] / record["clean_accuracy"]


def test_shift_benchmark_refuses_a_model_that_gets_no_clean_slice_right() -> None:
    """No ratio to clean exists: said before the 38 shifted passes, not as a ZeroDivisionError after."""
    shift = load_benchmark("shift_benchmark")
    model = _tiny()
    slices = [np.random.default_rng(i).random((300, 300), dtype=np.float32) for i in range(3)]
    predicted = shift._predict(model, slices)
    wrong = (predicted + 1) % 3
    calls = []
    original = shift._predict
    shift._predict = lambda m, s: calls.append(1) or original(m, s)
    with pytest.raises(ValueError, match="gets none of the 3 clean slices right"):
        shift.measure(model, slices, wrong, seed=0)
    assert len(calls) == 1  # the clean pass only


def test_the_robustness_page_shows_each_record(tmp_path: Path) -> None:
    page = load_benchmark("robustness_page")
    scores = {"n": 10, "clean": 0.9, "tumour_hidden": 0.3, "random_hidden": 0.9}
    loc = {"grid": [6, 6], "pointing_game": 0.4, "resolution_cap": 0.6, "energy_inside": 0.1}
    record = {
        "val_fold": 2,
        "cam_layers_on_val": {"layers": {"backbone.bn2": loc}},
        "localisation": {**loc, "layer": "backbone.bn2", "chosen_on_fold": 2, "default_bn2": loc},
        "tumour_reliance": {"per_class": {"glioma": scores}, "overall": scores},
        "targets": {"pointing_game>=0.5": False},
        "shift_benchmark": {
            "clean_accuracy": 0.9,
            "shift_mean_accuracy": 0.81,
            "ratio_shift_over_clean": 0.9,
            "shifts": {"blur": {"levels": [1, 2, 3], "accuracy": [0.9, 0.8, 0.7]}},
        },
    }
    folder = tmp_path / "model_evidence"
    folder.mkdir()
    import json

    (folder / "m.json").write_text(json.dumps(record))
    text = page.render_robustness_page(tmp_path)
    assert "| `m` | `backbone.bn2` (2) | 6x6 | 0.400 | 0.600 |" in text
    assert "| `m` | glioma | 10 | 0.900 | 0.300 | 0.900 |" in text
    assert "| blur | 1 / 2 / 3 | 0.900 / 0.800 / 0.700 |" in text and "**0.900**" in text
    assert "is empty" in page.render_robustness_page(tmp_path / "nothing")
