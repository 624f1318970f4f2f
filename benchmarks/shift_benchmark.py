"""Benchmark: accuracy on Figshare fold-1 slices under the controlled shifts of other sources.

Every slice of the test fold goes through each shift of :data:`brainvit_effnet.data.shifts.SHIFTS`
(framing, resolution, contrast, MRI artefacts, mirroring; three severities each) *before* the
model's own preprocessing (brain crop, resize, normalisation), as a file from another scanner or
site would. The JSON holds the clean accuracy, the accuracy of every shift and severity, the mean
over all of them and its ratio to the clean accuracy (target: >= 0.93), for each model, in the
same run so the ratios compare models on the same slices.

Fold 1 is the held-out fold of the bundled models (never trained on, never used for a choice).

    python benchmarks/shift_benchmark.py --data ../shared/data/figshare \\
        --models effnet_b0.figshare runs/recipe_benchmark/finetune_lite0_192/fold1/model
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import machine_info, write_json

import brainvit_effnet as bve
from brainvit_effnet.data import FigshareDataset
from brainvit_effnet.data.shifts import SHIFTS, apply_shift

RESULTS = Path(__file__).parent / "results" / "shift_benchmark.json"
TARGET_RATIO = 0.93


def load_model(name: str) -> torch.nn.Module:
    """A save_pretrained folder, or a zoo name with a trained tag (``effnet_b0.figshare``)."""
    model = bve.from_pretrained(name) if Path(name).is_dir() else bve.create_model(name, pretrained=True)
    return model.eval()


def _predict(model: torch.nn.Module, slices: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
    preprocess = bve.preprocess_for(model)
    out = []
    with torch.no_grad():
        for start in range(0, len(slices), batch_size):
            x = torch.stack(
                [preprocess(torch.from_numpy(s)[None]) for s in slices[start : start + batch_size]]
            )
            out.append(model(x).argmax(-1).numpy())
    return np.concatenate(out)


def measure(
    model: torch.nn.Module, slices: list[np.ndarray], labels: np.ndarray, seed: int
) -> dict[str, Any]:
    started = time.perf_counter()
    clean = float((_predict(model, slices) == labels).mean())
    if clean == 0.0:  # say so before the 38 shifted passes: every ratio to clean would be undefined
        raise ValueError(
            f"the model gets none of the {len(slices)} clean slices right, so accuracy under shifts "
            f"relative to clean is undefined; check that the model is trained and that its classes are "
            f"in the data's order ({sorted(set(labels.tolist()))})."
        )
    shifts: dict[str, dict[str, Any]] = {}
    for name, shift in SHIFTS.items():
        accuracies = []
        for severity in range(1, len(shift.levels) + 1):
            rng = np.random.default_rng([seed, severity, *name.encode()])
            shifted = [apply_shift(s, name, severity, rng) for s in slices]
            accuracies.append(float((_predict(model, shifted) == labels).mean()))
        shifts[name] = {"group": shift.group, "levels": list(shift.levels), "accuracy": accuracies}
        print(f"  {name:<12} {' '.join(f'{a:.3f}' for a in accuracies)}", flush=True)
    every = [a for s in shifts.values() for a in s["accuracy"]]
    mean = float(np.mean(every))
    return {
        "clean_accuracy": clean,
        "shift_mean_accuracy": mean,
        "ratio_shift_over_clean": mean / clean,
        "target_ratio": TARGET_RATIO,
        "target_met": mean / clean >= TARGET_RATIO,
        "worst": min(((n, s["accuracy"][-1]) for n, s in shifts.items()), key=lambda t: t[1]),
        "shifts": shifts,
        "minutes": round((time.perf_counter() - started) / 60, 2),
    }


def measure_fold(
    model: torch.nn.Module, data_root: str, fold: int, every: int = 1, seed: int = 0
) -> dict[str, Any]:
    """:func:`measure` on one slice in ``every`` of an official fold, read raw (before the model's
    own crop and resize, as a file from elsewhere arrives); the record says which slices."""
    data = FigshareDataset(data_root, folds=[fold], crop=False)
    records = data.records[::every]
    slices = [data.decode_record(r).image[0].numpy() for r in records]
    record = measure(model, slices, np.array([r.label for r in records]), seed=seed)
    record["slices"] = f"one slice in {every} of fold {fold} ({len(records)} slices)"
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release folder")
    parser.add_argument("--models", nargs="+", required=True, help="zoo names or save_pretrained folders")
    parser.add_argument("--fold", type=int, default=1, help="official test fold (default: %(default)s)")
    parser.add_argument("--limit", type=int, help="use the first N slices only (a quick check)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    data = FigshareDataset(args.data, folds=[args.fold], crop=False)
    records = data.records[: args.limit] if args.limit else data.records
    slices = [data.decode_record(r).image[0].numpy() for r in records]
    labels = np.array([r.label for r in records])
    results = {}
    for name in args.models:
        model = load_model(name)
        names = tuple(model.pretrained_cfg.get("label_names") or ())
        if names != tuple(data.classes):
            raise SystemExit(f"{name} predicts {names}, the data has {tuple(data.classes)}: not comparable.")
        print(f"{name}:", flush=True)
        results[name] = measure(model, slices, labels, args.seed)
        r = results[name]
        print(
            f"{name}: clean {r['clean_accuracy']:.3f}, shift mean {r['shift_mean_accuracy']:.3f} "
            f"(ratio {r['ratio_shift_over_clean']:.3f}, target {TARGET_RATIO})",
            flush=True,
        )
    write_json(
        args.out,
        {
            "data": f"Figshare fold {args.fold}, {len(slices)} slices",
            "shifts": {n: {"group": s.group, "levels": list(s.levels)} for n, s in SHIFTS.items()},
            "models": results,
            "machine": machine_info(torch.device("cpu")),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
