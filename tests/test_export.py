"""Export: ONNX (when the extra is installed) and TorchScript graphs compute what PyTorch computes.

Checked on random batches of several sizes and on real MRI slices of the bundled sample.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import brainvit_effnet as bve
from brainvit_effnet.cli import main
from brainvit_effnet.export import export_onnx, export_torchscript, parity_on_sample, sample_images

# torch.jit.load in the tests themselves: deprecated upstream, still the way to load TorchScript files
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")

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
@pytest.mark.parametrize("name", ["effnet_test", "effnet_test_tf"])
def test_onnx_graph_takes_other_image_sizes(name: str, tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    model = bve.create_model(name, num_classes=3).eval()
    path = export_onnx(model, tmp_path / "m.onnx")
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["dynamic_axes"]) == {"0": "batch", "2": "height", "3": "width"}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for height, width in ((64, 64), (96, 160)):  # the configured size and another one
        x = torch.randn(2, 3, height, width)
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {"image": x.numpy()})[0]
        assert got.shape == (2, 3) and np.abs(got - expected).max() < 1e-4


class _FixedSizeNet(torch.nn.Module):
    """Flattens the image into a linear layer: only one image size can work."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3 * 32 * 32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.reshape(x.shape[0], -1))


@needs_onnx
def test_a_model_that_needs_its_image_size_is_exported_static(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import onnx

    with caplog.at_level("WARNING", logger="brainvit_effnet.export"):
        path = export_onnx(_FixedSizeNet(), tmp_path / "m.onnx", input_size=(3, 32, 32))
    assert "cannot be exported with a dynamic image size" in caplog.text
    graph = onnx.load(str(path))
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["dynamic_axes"]) == {"0": "batch"}
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 32, 32]


def test_export_restores_every_modules_mode(tmp_path: Path) -> None:
    """A model in train mode with one submodule in eval mode comes back exactly so."""
    model = bve.create_model("effnet_test", num_classes=3).train()
    model.head_drop.eval()
    before = {name: m.training for name, m in model.named_modules()}
    assert not all(before.values()) and any(before.values())
    export_torchscript(model, tmp_path / "m.pt", verify=False)
    assert {name: m.training for name, m in model.named_modules()} == before
    parity_on_sample(model, tmp_path / "m.pt", n_images=2)
    assert {name: m.training for name, m in model.named_modules()} == before
    if not any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxscript", "onnxruntime")):
        export_onnx(model, tmp_path / "m.onnx", dynamic_image_size=False)
        assert {name: m.training for name, m in model.named_modules()} == before


@needs_onnx
def test_onnx_file_names_its_tensors_and_carries_the_preprocessing(tmp_path: Path) -> None:
    import onnx

    model = bve.create_model(
        "effnet_test_tf", num_classes=3, label_names=("glioma", "meningioma", "pituitary")
    )
    path = export_onnx(model, tmp_path / "m.onnx")
    graph = onnx.load(str(path))
    assert [i.name for i in graph.graph.input] == ["image"] and [o.name for o in graph.graph.output] == [
        "logits"
    ]
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["label_names"]) == ["glioma", "meningioma", "pituitary"]
    assert json.loads(meta["input_size"]) == list(model.pretrained_cfg["input_size"])
    assert json.loads(meta["mean"]) == list(model.pretrained_cfg["mean"])
    assert (
        "brain_crop" in json.loads(meta["preprocessing"])
        and meta["brainvit_effnet_version"] == bve.__version__
    )


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = bve.save_pretrained(bve.create_model("effnet_test_tf", num_classes=3), tmp_path / "model")
    assert main(["export", str(folder), "--out", str(tmp_path / "model.onnx"), "--parity-images", "4"]) == 0
    out = capsys.readouterr().out
    assert "verified with ONNX Runtime" in out
    assert "Max abs logit difference on 4 real sample images" in out
    assert (tmp_path / "model.onnx").stat().st_size > 10_000


def test_missing_input_size_is_a_clear_error(tmp_path: Path) -> None:
    if any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxscript", "onnxruntime")):
        with pytest.raises(ImportError, match=r"brainvit-effnet\[onnx\]"):
            export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")
        return
    with pytest.raises(ValueError, match="input_size"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")


@needs_onnx
def test_onnx_parity_on_real_sample_images(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test_tf", num_classes=3)
    report = parity_on_sample(model, export_onnx(model, tmp_path / "m.onnx"), n_images=6)
    assert report.format == "onnx" and report.n_images == 6 and report.image_size == (3, 64, 64)
    assert report.max_abs_diff < 1e-4 and report.argmax_agreement == 1.0
    assert "Figshare" in report.source and report.to_dict()["image_size"] == [3, 64, 64]


@pytest.mark.parametrize("name", ["effnet_test", "effnet_test_tf"])
def test_torchscript_export_matches_pytorch(name: str, tmp_path: Path) -> None:
    model = bve.create_model(name, num_classes=3).train()
    path = export_torchscript(model, tmp_path / "m.pt")
    assert model.training  # mode restored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temporary files left
    loaded = torch.jit.load(str(path))
    x = torch.randn(5, 3, 64, 64)  # a batch size the trace never saw
    with torch.no_grad():
        assert torch.allclose(loaded(x), model.eval()(x), atol=1e-5)
    report = parity_on_sample(model, path, n_images=4)
    assert report.format == "torchscript" and report.n_images == 4
    assert report.max_abs_diff < 1e-5 and report.argmax_agreement == 1.0


def test_cli_export_torchscript(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = bve.save_pretrained(bve.create_model("effnet_test_tf", num_classes=3), tmp_path / "model")
    out_file = tmp_path / "model.pt"
    assert main(["export", str(folder), "--format", "torchscript", "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "verified against PyTorch" in out
    assert "Max abs logit difference on 16 real sample images" in out
    assert torch.jit.load(str(out_file))(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_sample_images_are_real_preprocessed_slices() -> None:
    model = bve.create_model("effnet_test", num_classes=3)
    images = sample_images(model, 5)
    assert images.shape == (5, 3, 64, 64) and images.dtype == torch.float32
    assert images.std() > 0.1  # real, normalised images, not blanks
    with pytest.raises(ValueError, match="n must be"):
        sample_images(model, 0)


def test_parity_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot tell the format"):
        parity_on_sample(torch.nn.Linear(2, 2), tmp_path / "model.bin")


def test_a_model_with_nan_logits_is_not_verified(tmp_path: Path) -> None:
    """``nan > atol`` is False: verification must refuse NaN logits, not pass them."""
    model = bve.create_model("effnet_test", num_classes=3)
    with torch.no_grad():
        model.get_classifier().bias[1] = float("nan")
    with pytest.raises(ValueError, match="gives NaN or infinite logits"):
        export_torchscript(model, tmp_path / "m.pt", verify=True)
    assert not (tmp_path / "m.pt").exists()  # an unverified file is not left behind
