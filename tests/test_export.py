"""ONNX export: the exported graph computes what the PyTorch model computes (when the extra is installed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import brainvit_effnet as bve
from brainvit_effnet.cli import main
from brainvit_effnet.export import export_onnx

needs_onnx = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxscript", "onnxruntime")),
    reason="optional extra brainvit-effnet[onnx] is absent",
)


@needs_onnx
@pytest.mark.parametrize("name", ["effnet_test", "effnet_test_tf"])
def test_export_matches_pytorch_at_any_batch_size(name: str, tmp_path: Path) -> None:
    import onnxruntime as ort

    model = bve.create_model(name, num_classes=3).train()
    path = export_onnx(model, tmp_path / "m.onnx")
    assert model.training  # mode restored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary files left
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-4


@needs_onnx
def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = bve.save_pretrained(bve.create_model("effnet_test_tf", num_classes=3), tmp_path / "model")
    assert main(["export", str(folder), "--out", str(tmp_path / "model.onnx")]) == 0
    assert "verified with ONNX Runtime" in capsys.readouterr().out
    assert (tmp_path / "model.onnx").stat().st_size > 10_000


def test_missing_input_size_is_a_clear_error(tmp_path: Path) -> None:
    if any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxscript", "onnxruntime")):
        with pytest.raises(ImportError, match=r"brainvit-effnet\[onnx\]"):
            export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")
        return
    with pytest.raises(ValueError, match="input_size"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")
