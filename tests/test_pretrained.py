"""Weights: save/load round trips, the offline Hub path, checkpoints, and every bad-weights error."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from torch import nn

import brainvit_effnet as bve
from brainvit_effnet.models.zoo import BRAIN_TUMOUR_HUB_REPOS

X = torch.randn(2, 3, 64, 64)


def tiny(name: str = "effnet_test_tf", **kwargs: object) -> nn.Module:
    kwargs.setdefault("num_classes", 3)
    return bve.create_model(name, **kwargs)


def perturbed(model: nn.Module) -> nn.Module:
    """Give every tensor non-default values so a silently skipped key cannot go unnoticed."""
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.randn_like(t) * 0.05)
    return model.eval()


def timm_backbone_file(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """An ImageNet checkpoint in timm's own format (keys conv_stem.*, classifier.*)."""
    reference = perturbed(timm.create_model("test_efficientnet", num_classes=1000))
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    path = tmp_path / "timm_test_efficientnet.safetensors"
    save_file(state, str(path))
    return path, state


# -- save / load -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["effnet_test", "effnet_test_tf"])
def test_save_load_round_trip_is_bit_identical(name: str, tmp_path: Path) -> None:
    model = perturbed(tiny(name, label_names=["glioma", "meningioma", "pituitary"]))
    folder = bve.save_pretrained(model, tmp_path / "saved", model_card={"metrics": {"accuracy": 0.9}})
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = bve.from_pretrained(folder).eval()
    assert torch.equal(loaded(X), model(X))
    assert loaded.pretrained_cfg["label_names"] == ("glioma", "meningioma", "pituitary")
    # timm reads the same folder
    assert torch.equal(timm.create_model(f"local-dir:{folder}", pretrained=True).eval()(X), model(X))


def test_config_json_follows_timm_schema(tmp_path: Path) -> None:
    model = tiny(depth=2, cbam=True, in_chans=1, label_names=["a", "b", "c"])
    config = json.loads((bve.save_pretrained(model, tmp_path) / "config.json").read_text())
    assert config["architecture"] == "effnet_test_tf"
    assert config["num_classes"] == 3
    assert config["label_names"] == ["a", "b", "c"]
    assert config["model_args"]["depth"] == 2 and config["model_args"]["cbam"] is True
    assert config["model_args"]["in_chans"] == 1
    assert config["pretrained_cfg"]["input_size"] == [1, 64, 64]
    reloaded = bve.from_pretrained(tmp_path)
    assert len(reloaded.blocks) == 2 and reloaded.in_chans == 1


def test_model_card_is_honest(tmp_path: Path) -> None:
    model = tiny(label_names=["glioma", "meningioma", "pituitary"])
    card_path = (
        bve.save_pretrained(model, tmp_path, model_card={"metrics": {"balanced_accuracy": 0.87}})
        / "README.md"
    )
    card = card_path.read_text()
    assert "**Not for clinical use.**" in card
    assert "## Intended use" in card and "## Split protocol" in card and "## Training data" in card
    assert "| balanced_accuracy | 0.87 |" in card
    assert "`meningioma`" in card
    assert card.count("Not recorded") == 2  # training data and split protocol were not given


def test_save_is_atomic_and_keeps_the_old_save_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = perturbed(tiny())
    folder = bve.save_pretrained(model, tmp_path)
    before = (folder / "model.safetensors").read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        Path(args[1]).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr("brainvit_effnet.hub.save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        bve.save_pretrained(tiny(), folder)
    assert (folder / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]


def test_save_pretrained_rejects_a_file_path(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        bve.save_pretrained(tiny(), target)
    assert target.read_text() == "mine"


# -- checkpoint_path and head handling ------------------------------------------------------------------
def test_checkpoint_path_keeps_the_trained_head(tmp_path: Path) -> None:
    model = perturbed(tiny(num_classes=5))
    folder = bve.save_pretrained(model, tmp_path)
    loaded = bve.create_model("effnet_test_tf", checkpoint_path=folder / "model.safetensors").eval()
    assert loaded.num_classes == 5
    assert torch.equal(loaded(X), model(X))


def test_different_num_classes_resets_the_head_and_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = perturbed(tiny(num_classes=5))
    folder = bve.save_pretrained(model, tmp_path)
    with caplog.at_level(logging.WARNING, logger="brainvit_effnet"):
        loaded = bve.from_pretrained(folder, num_classes=2).eval()
    assert "5-class head" in caplog.text and "num_classes=2" in caplog.text
    assert loaded(X).shape == (2, 2)
    assert torch.equal(loaded.proj.weight, model.proj.weight)
    assert torch.equal(loaded.backbone.conv_stem.weight, model.backbone.conv_stem.weight)


def test_greyscale_model_from_rgb_checkpoint_sums_stem_filters(tmp_path: Path) -> None:
    model = perturbed(tiny())
    folder = bve.save_pretrained(model, tmp_path)
    grey = bve.create_model("effnet_test_tf", in_chans=1, checkpoint_path=folder)
    assert torch.allclose(
        grey.backbone.conv_stem.weight, model.backbone.conv_stem.weight.sum(1, keepdim=True)
    )


def test_positional_grid_is_resampled_from_another_input_size(tmp_path: Path) -> None:
    model = perturbed(tiny(img_size=128))  # 4x4 grid
    folder = bve.save_pretrained(model, tmp_path)
    small = bve.create_model("effnet_test_tf", img_size=64, checkpoint_path=folder)  # 2x2 grid
    assert small.pos_embed.weight.shape == (1, 4, 32)
    assert torch.equal(small.proj.weight, model.proj.weight)


# -- Hub, offline -----------------------------------------------------------------------------------------
def test_imagenet_tag_loads_the_backbone_from_a_timm_file_through_the_hub_cache(
    hub_cache, tmp_path: Path
) -> None:
    cache, add = hub_cache
    path, state = timm_backbone_file(tmp_path)
    add("timm/test_efficientnet.r160_in1k", {"model.safetensors": path})
    model = bve.create_model("effnet_test_tf.in1k", pretrained=True, num_classes=3, cache_dir=cache)
    backbone = model.backbone.state_dict()
    assert all(torch.equal(backbone[k], v) for k, v in state.items() if not k.startswith("classifier."))
    # the default tag is in1k: same weights without naming it
    default = bve.create_model("effnet_test", pretrained=True, cache_dir=cache)
    assert torch.equal(default.backbone.conv_stem.weight, state["conv_stem.weight"])


def test_imagenet_backbone_from_a_local_timm_file_adapts_to_greyscale(tmp_path: Path) -> None:
    path, state = timm_backbone_file(tmp_path)
    model = bve.create_model(
        "effnet_test", pretrained=True, in_chans=1, pretrained_cfg_overlay={"file": str(path)}
    )
    assert torch.allclose(model.backbone.conv_stem.weight, state["conv_stem.weight"].sum(1, keepdim=True))
    assert torch.equal(model.backbone.blocks[0][0].conv.weight, state["blocks.0.0.conv.weight"])


def test_hf_hub_repo_loads_from_the_offline_cache(hub_cache, tmp_path: Path) -> None:
    cache, add = hub_cache
    model = perturbed(tiny(label_names=["glioma", "meningioma", "pituitary"]))
    folder = bve.save_pretrained(model, tmp_path / "saved")
    add(
        "someone/brain-model",
        {name: folder / name for name in ("model.safetensors", "config.json", "README.md")},
    )
    for loaded in (
        bve.create_model("hf-hub:someone/brain-model", pretrained=True, cache_dir=cache),
        bve.from_pretrained("someone/brain-model", cache_dir=cache),
    ):
        assert torch.equal(loaded.eval()(X), model(X))
        assert loaded.pretrained_cfg["label_names"] == ("glioma", "meningioma", "pituitary")


@pytest.mark.parametrize("shipped", ["effnet_b0.figshare", "effnet_lite0.figshare"])
def test_bundled_tag_loads_offline_with_an_empty_hub_cache(shipped: str, tmp_path: Path) -> None:
    """create_model and timm.create_model both load the shipped weights, no Hub in sight."""
    assert sorted(BRAIN_TUMOUR_HUB_REPOS) == [
        "effnet_b0.figshare",
        "effnet_lite0.figshare",
    ]  # tags with weights
    code = (
        "import json, timm, torch, brainvit_effnet as bve\n"
        f"a = bve.create_model({shipped!r}, pretrained=True).eval()\n"
        f"b = timm.create_model({shipped!r}, pretrained=True).eval()\n"
        "x = torch.randn(2, 3, 128, 128)\n"
        "with torch.no_grad():\n"
        "    same = torch.equal(a(x), b(x))\n"
        "c = a.pretrained_cfg\n"
        "p = c['provenance']\n"
        "print(json.dumps({'same': same, 'classes': a.num_classes, 'labels': c['label_names'],\n"
        "  'input': c['input_size'], 'held_out': p['held_out_folds'], 'train': p['train_folds'],\n"
        "  'crop': p['preprocessing']['brain_crop'], 'source': a.weights_source}))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(tmp_path / "empty"),
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path),
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["same"] and info["classes"] == 3
    assert tuple(info["labels"]) == bve.TUMOUR_TYPE_CLASSES
    assert info["held_out"] == [1] and 1 not in info["train"] and info["crop"] is True
    assert info["input"][-1] == info["input"][-2] > 0
    assert "weights" in info["source"] and not any((tmp_path / "empty").glob("*"))  # nothing downloaded


def test_hub_cache_environment_variables_are_honoured(tmp_path: Path) -> None:
    """HF_HUB_CACHE and HF_HUB_OFFLINE are read by huggingface_hub at import: use a fresh process."""
    cache = tmp_path / "env-cache"
    repo_dir = cache / "models--timm--test_efficientnet.r160_in1k"
    path, state = timm_backbone_file(tmp_path)
    (repo_dir / "snapshots" / "abc123").mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text("abc123")
    (repo_dir / "snapshots" / "abc123" / "model.safetensors").write_bytes(path.read_bytes())
    code = (
        "import brainvit_effnet as bve\n"
        "m = bve.create_model('effnet_test', pretrained=True)\n"
        "print(float(m.backbone.conv_stem.weight.sum()))\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) == pytest.approx(float(state["conv_stem.weight"].sum()), rel=1e-6)


def test_missing_weights_offline_give_one_clear_error(tmp_path: Path) -> None:
    cache = tmp_path / "empty-cache"
    with pytest.raises(bve.WeightsUnavailableError) as info:
        bve.create_model("effnet_test_tf.in1k", pretrained=True, cache_dir=cache)
    message = str(info.value)
    assert "timm/test_efficientnet.r160_in1k" in message
    assert str(cache) in message
    assert "HF_HUB_OFFLINE is on" in message and "checkpoint_path=" in message
    assert info.value.__cause__ is not None
    with pytest.raises(bve.UnknownModelError, match=r"unknown pretrained tag 'figshare' for effnet_b2_tf"):
        bve.create_model(
            "effnet_b2_tf.figshare", pretrained=True, cache_dir=cache
        )  # unpublished: not offered
    with pytest.raises(OSError, match="someone/missing"):  # WeightsUnavailableError is an OSError
        bve.from_pretrained("someone/missing", cache_dir=cache)


# -- bad weights --------------------------------------------------------------------------------------------
def test_truncated_safetensors_names_the_file(tmp_path: Path) -> None:
    folder = bve.save_pretrained(tiny(), tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(bve.CheckpointError, match=r"model\.safetensors.*truncated or corrupted"):
        bve.from_pretrained(folder)


def test_corrupted_safetensors_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match=r"garbage\.safetensors"):
        bve.create_model("effnet_test_tf", checkpoint_path=path)


def test_pickle_checkpoints_are_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    path.write_bytes(b"not even read")
    with pytest.raises(bve.CheckpointError, match="only reads safetensors"):
        bve.create_model("effnet_test", num_classes=3, checkpoint_path=path)


def test_checkpoint_from_another_architecture(tmp_path: Path) -> None:
    folder = bve.save_pretrained(tiny("effnet_test"), tmp_path)
    with pytest.raises(bve.CheckpointError, match=r"does not fit effnet_test_tf.*saved from 'effnet_test'"):
        bve.create_model("effnet_test_tf", checkpoint_path=folder)
    other = tmp_path / "resnet.safetensors"
    save_file({k: v.contiguous() for k, v in timm.create_model("resnet10t").state_dict().items()}, str(other))
    with pytest.raises(bve.CheckpointError, match="missing keys"):
        bve.create_model("effnet_test", pretrained=True, pretrained_cfg_overlay={"file": str(other)})


def test_missing_local_folder_and_missing_config(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        bve.create_model("local-dir:" + str(tmp_path / "nope"), pretrained=True)
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        bve.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoint_path="):
        bve.from_pretrained(tmp_path / "model.safetensors")
    with pytest.raises(bve.WeightsUnavailableError, match="does not exist"):
        bve.create_model("effnet_test", checkpoint_path=tmp_path / "missing.safetensors")


def test_config_naming_an_unknown_architecture(tmp_path: Path) -> None:
    folder = bve.save_pretrained(tiny(), tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["architecture"] = "effnet_b9_tf"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(bve.UnknownModelError, match=r"effnet_b9_tf.*Did you mean"):
        bve.from_pretrained(folder)


def edited_config(folder: Path, **model_args: object) -> Path:
    config = json.loads((folder / "config.json").read_text())
    config["model_args"].update(model_args)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("key", ["checkpoint_path", "pretrained_cfg_overlay", "pretrained_cfg"])
def test_a_saved_config_cannot_choose_another_weight_source(tmp_path: Path, key: str) -> None:
    pickle = tmp_path / "elsewhere.pth"
    torch.save(tiny().state_dict(), pickle)  # a pickle that timm would torch.load
    value = str(pickle) if key == "checkpoint_path" else {"file": str(pickle)}
    folder = edited_config(bve.save_pretrained(tiny(), tmp_path / "m"), **{key: value})
    with pytest.raises(bve.CheckpointError, match=rf"sets model_args \['{key}'\].*never chooses"):
        bve.from_pretrained(folder)


def test_unknown_saved_model_args_are_a_clear_error(tmp_path: Path) -> None:
    folder = edited_config(bve.save_pretrained(tiny(), tmp_path), heads=2)
    with pytest.raises(
        bve.CheckpointError, match=r"\['heads'\], which are not architecture options.*num_heads"
    ):
        bve.from_pretrained(folder)


def test_a_saved_config_and_weights_with_other_class_counts_do_not_load(tmp_path: Path) -> None:
    folder = edited_config(bve.save_pretrained(tiny(), tmp_path), num_classes=5)
    with pytest.raises(
        bve.CheckpointError, match=r"num_classes=5 but model\.safetensors holds a 3-class head"
    ):
        bve.from_pretrained(folder)
    # Asking for a new head on purpose (fine-tuning) still works.
    assert bve.create_model(f"local-dir:{folder}", pretrained=True, num_classes=2).num_classes == 2


# -- publishing --------------------------------------------------------------------------------
def test_push_to_hub_uploads_the_saved_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, object] = {}

    class FakeApi:
        def __init__(self, **kwargs: object) -> None:
            calls["init"] = kwargs

        def create_repo(self, repo_id: str, **kwargs: object) -> object:
            calls["create_repo"] = (repo_id, kwargs)
            return type("RepoUrl", (), {"repo_id": repo_id})()

        def upload_folder(self, *, repo_id: str, folder_path: str, **kwargs: object) -> object:
            calls["files"] = sorted(os.listdir(folder_path))
            calls["card"] = (Path(folder_path) / "README.md").read_text()
            return type("Commit", (), {"commit_url": f"https://hub.example/{repo_id}/commit/1"})()

    monkeypatch.setattr("huggingface_hub.HfApi", FakeApi)
    url = bve.push_to_hub(tiny(), "me/brain", private=True, model_card={"training_data": "Figshare"})
    assert url.endswith("me/brain/commit/1")
    assert calls["files"] == ["README.md", "config.json", "model.safetensors"]
    assert calls["create_repo"] == ("me/brain", {"private": True, "exist_ok": True})
    assert "Figshare" in str(calls["card"])
    assert 'timm.create_model("hf-hub:me/brain", pretrained=True)' in str(calls["card"])  # how to load it


def test_bundled_model_beats_chance_on_its_held_out_slices() -> None:
    """153 balanced held-out slices: a model guessing at random scores 0.33 +- 0.04 (1 sd); 0.6 is
    more than 6 sd above it, so only a model that learned the task passes."""
    from brainvit_effnet.data import create_transforms, load_heldout_sample

    model = bve.create_model("effnet_b0.figshare", pretrained=True).eval()
    _, tf = create_transforms(model)
    data = load_heldout_sample(transform=tf)
    images = torch.stack([data[i][0] for i in range(len(data))])
    labels = torch.tensor(data.targets)
    with torch.no_grad():
        predicted = torch.cat([model(chunk).argmax(1) for chunk in images.split(64)])
    assert float((predicted == labels).float().mean()) > 0.6
    assert set(predicted.tolist()) == {0, 1, 2}  # not one class for everything


@pytest.mark.parametrize("name", ["effnet_b0.figshare", "brainvit-effnet/effnet_b0.figshare"])
def test_shipped_model_loads_by_its_zoo_or_hub_name_offline(name: str) -> None:
    """The card's own from_pretrained line works without the Hub: the shipped copy wins."""
    model = bve.from_pretrained(name).eval()
    reference = bve.create_model("effnet_b0.figshare", pretrained=True).eval()
    x = torch.randn(1, 3, 192, 192)
    assert torch.equal(model(x), reference(x))


def test_cli_takes_a_shipped_model_by_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from brainvit_effnet.cli import main

    assert main(["evaluate", "effnet_b0.figshare", "--data", "sample", "--out", str(tmp_path / "ev")]) == 0
    # The sample's held-out fold (21 slices of fold 1, the model's own held-out fold) was evaluated.
    assert capsys.readouterr().out.startswith("21 slices: accuracy")
    assert (tmp_path / "ev" / "report.json").is_file()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("nan_bias", r"tensor 'head.bias' holds 1 NaN or infinite value\(s\) of 3"),
        ("int8", r"is torch.int8, not a float; this library loads float32"),
    ],
)
def test_weights_that_would_predict_nonsense_are_refused_naming_the_tensor(
    tmp_path: Path, damage: str, message: str
) -> None:
    from safetensors.torch import load_file, save_file

    model = bve.create_model("effnet_test", num_classes=3)
    folder = bve.save_pretrained(model, tmp_path / "model")
    state = load_file(str(folder / "model.safetensors"))
    if damage == "nan_bias":
        state["head.bias"][1] = float("nan")
    else:
        key = next(k for k in state if k.endswith("conv_stem.weight"))
        state[key] = state[key].to(torch.int8)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(bve.CheckpointError, match=message):
        bve.from_pretrained(folder)


def test_an_unreachable_hub_fails_fast_instead_of_retrying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No network here: the probe is made to fail, and the download must never be attempted."""
    import socket
    import time

    from brainvit_effnet.models import _pretrained

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OSError("Name or service not known")

    real_download = _pretrained.hf_hub_download

    def download(*args: object, **kwargs: object) -> object:
        if not kwargs.get("local_files_only"):
            pytest.fail("a download was attempted although the Hub is unreachable")
        return real_download(*args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(_pretrained, "hf_hub_download", download)
    monkeypatch.setattr(_pretrained.hf_constants, "HF_HUB_OFFLINE", False)
    _pretrained._hub_unreachable.cache_clear()
    start = time.perf_counter()
    with pytest.raises(
        bve.WeightsUnavailableError, match=r"huggingface\.co:443 is unreachable from this machine"
    ):
        bve.create_model("effnet_test", pretrained=True, cache_dir=tmp_path / "empty")
    assert time.perf_counter() - start < 10
    _pretrained._hub_unreachable.cache_clear()  # the next test probes afresh
