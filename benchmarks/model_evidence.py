"""Everything that says whether a trained model is right for the right reasons, in one JSON per model.

For a model tested on official fold ``--test-fold`` (validated on ``--val-fold``):

1. **Grad-CAM layer**: every candidate layer scored on the *validation* fold
   (:mod:`cam_layers`); the layer with the best pointing game there is the model's layer, and only
   it is then scored on the test fold (with its resolution cap);
2. **tumour reliance** on the test fold: accuracy per class with the tumour blacked out, against
   a same-shaped region elsewhere in the brain (:func:`brainvit_effnet.explain.tumour_reliance`);
3. **shifts** on the test fold (:mod:`shift_benchmark`).

Targets (the issue on models beyond Figshare): pointing game >= 0.5; tumour hidden -> accuracy
<= 0.5 for every class while the control costs <= 2 points; shift mean >= 0.93 x clean.

    python benchmarks/model_evidence.py --data ../shared/data/figshare --model effnet_b0.figshare \\
        --name effnet_b0.figshare      # -> results/model_evidence/effnet_b0.figshare.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from _common import machine_info, write_json
from cam_layers import LAYERS
from cam_layers import measure as measure_layers
from shift_benchmark import load_model, measure_fold

from brainvit_effnet.data import FigshareDataset, create_transforms
from brainvit_effnet.data.inference import preprocessing_of
from brainvit_effnet.explain import tumour_reliance

RESULTS = Path(__file__).parent / "results" / "model_evidence"
TARGETS = {"pointing_game": 0.5, "tumour_hidden_max": 0.5, "control_cost_max": 0.02, "shift_ratio": 0.93}


def _masked(data_root: str, model: torch.nn.Module, fold: int) -> FigshareDataset:
    _, eval_tf = create_transforms(model)
    crop = preprocessing_of(model)["brain_crop"]
    return FigshareDataset(data_root, folds=[fold], crop=crop, transform=eval_tf, return_mask=True)


def evidence(
    data_root: str,
    model_name: str,
    test_fold: int,
    val_fold: int,
    shifts: bool,
    out: Path,
    shift_every: int = 1,
) -> dict[str, Any]:
    """The record (see the module docstring); written to ``out`` before the slow shift benchmark too."""
    model = load_model(model_name)
    started = time.perf_counter()
    chosen_from = measure_layers(model, _masked(data_root, model, val_fold), LAYERS, 32)
    layer = max(chosen_from["layers"], key=lambda name: chosen_from["layers"][name]["pointing_game"])
    test_data = _masked(data_root, model, test_fold)
    on_test = measure_layers(
        model, test_data, (layer, "backbone.bn2") if layer != "backbone.bn2" else (layer,), 32
    )
    print(f"layer {layer}: {on_test['layers'][layer]}", flush=True)
    reliance = tumour_reliance(model, test_data)
    print(f"reliance: {reliance['per_class']}", flush=True)
    record: dict[str, Any] = {
        "model": model_name,
        "test_fold": test_fold,
        "val_fold": val_fold,
        "cam_layers_on_val": chosen_from,
        "localisation": {
            "layer": layer,
            "chosen_on_fold": val_fold,
            "n": on_test["n"],
            "mask_fraction": on_test["mask_fraction"],
            **{k: v for k, v in on_test["layers"][layer].items() if k != "per_class"},
            "per_class": on_test["layers"][layer]["per_class"],
            "default_bn2": on_test["layers"]["backbone.bn2"],
        },
        "tumour_reliance": reliance,
    }
    per_class = reliance["per_class"].values()
    record["targets"] = {
        "pointing_game>=0.5": record["localisation"]["pointing_game"] >= TARGETS["pointing_game"],
        "tumour_hidden<=0.5_every_class": all(
            r["tumour_hidden"] <= TARGETS["tumour_hidden_max"] for r in per_class
        ),
        "control_cost<=0.02": reliance["overall"]["random_drop"] <= TARGETS["control_cost_max"],
    }
    record["machine"] = machine_info(torch.device("cpu"))
    write_json(out, record)  # the slow part follows: keep what is measured so far
    if shifts:
        shift = measure_fold(model, data_root, test_fold, every=shift_every)
        record["shift_benchmark"] = shift
        record["targets"]["shift_ratio>=0.93"] = shift["ratio_shift_over_clean"] >= TARGETS["shift_ratio"]
    record["minutes"] = round((time.perf_counter() - started) / 60, 2)
    write_json(out, record)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release folder")
    parser.add_argument("--model", required=True, help="a zoo name or save_pretrained folder")
    parser.add_argument("--name", required=True, help="the record's name (the JSON file's stem)")
    parser.add_argument("--test-fold", type=int, default=1)
    parser.add_argument("--val-fold", type=int, default=2)
    parser.add_argument("--no-shifts", action="store_true", help="skip the shift benchmark (the slow part)")
    parser.add_argument(
        "--shift-every", type=int, default=1, help="shift benchmark on every K-th test slice (default: all)"
    )
    args = parser.parse_args(argv)
    out = RESULTS / f"{args.name}.json"
    record = evidence(
        args.data, args.model, args.test_fold, args.val_fold, not args.no_shifts, out, args.shift_every
    )
    print(record["targets"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
