"""The from-scratch recipe study: which training settings work when no ImageNet weights exist.

Every run trains on the full Figshare release with the official patient-disjoint folds, through
the library's own pipeline (:func:`brainvit_effnet.experiment.run_experiment`), and writes one
JSON file to ``benchmarks/results/recipe/<run>.json``: settings, wall-clock minutes, the best
validation metrics, the test metrics and the learning curve.

Choosing: :func:`choose` ranks runs by **validation** macro-F1 only (then validation accuracy).
Test metrics are recorded for the record and the plot; no choice reads them.

Runs are resumable: a finished run (its JSON exists) is skipped, an interrupted one continues
from its ``checkpoints/last``. ``--lane I/N`` runs every N-th run starting at the I-th (from 1),
so two lanes of one thread each share the 2 cores of the development machine (15 + 15 img/s against 25 img/s
for one two-thread process, measured on that machine).

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/recipe_study.py --data ../shared/data/figshare --lane 1/2 &
    OMP_NUM_THREADS=1 python benchmarks/recipe_study.py --data ../shared/data/figshare --lane 2/2 &
    python benchmarks/recipe_study.py --choose          # the ranking, by validation only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from _common import machine_info, write_json
from _records import val_metrics_at

from brainvit_effnet.experiment import ExperimentConfig, apply_overrides, run_experiment
from brainvit_effnet.recipes import RECIPES
from brainvit_effnet.results import KEY_METRICS

RESULTS = Path(__file__).parent / "results" / "recipe"

#: What every study run shares: the recipe's settings (from scratch, the backbone at the full
#: learning rate, AdamW, warm-up and cosine) without label smoothing, on the study's split (train
#: folds 3-5, validate on 2, report fold 1), as short proxy training at 112 px.
STUDY_BASE: dict[str, Any] = apply_overrides(
    RECIPES["scratch_b0"].config,  # the proxies' base, fixed: a new default recipe must not move it
    {
        "model_kwargs": {"img_size": 112},
        "val_folds": [2],
        "test_folds": [1],
        "bootstrap": 200,
        "train.epochs": 8,
        "train.loss": "cross_entropy",
        "train.loss_kwargs": {},
        "train.progress": False,
        "train.seed": 0,
        # Decoded and cropped once for every run of the study (data/slice_cache.py).
        "cache_dir": "runs/slice_cache",
    },
)

#: Study runs: name -> dotted overrides of STUDY_BASE (one factor at a time).
STUDY_RUNS: dict[str, dict[str, Any]] = {
    "base": {},
    "label_smoothing": {"train.loss": "label_smoothing", "train.loss_kwargs": {"smoothing": 0.1}},
    "transformer": {"model": "effnet_b0_tf"},
    "no_crop": {"crop": False},
    "lr_4e-3": {"train.lr": 4e-3},
    # With the decay warm-up: a plain 0.998 (500 steps) averaged the random start over the whole
    # 464-step proxy and predicted one class for 5 epochs, which measures the horizon, not EMA.
    "ema": {"train.ema_decay": 0.998, "train.ema_warmup": True},
    "batch_16": {"train.batch_size": 16},
    "strong_aug": {"augment": {"rotation": 20.0, "shift": 0.15, "intensity_jitter": 0.2}},
    "mixup": {"train.mixup_alpha": 0.2},
    "cutmix": {"train.cutmix_alpha": 1.0},
    "backbone_lr_0.3": {"train.backbone_lr_scale": 0.3},
    "warmup_2": {"train.warmup_epochs": 2.0},
}


def run_config(name: str, overrides: dict[str, Any], data: str, base: dict[str, Any]) -> ExperimentConfig:
    values = apply_overrides(base, {**overrides, "data": f"figshare:{data}"})
    values = apply_overrides(values, {"train.output_dir": f"runs/recipe/{name}", "train.overwrite": False})
    return ExperimentConfig.from_dict(values)


def execute(name: str, cfg: ExperimentConfig, out: Path) -> dict[str, Any]:
    """Train one run (resuming if interrupted), evaluate, write its JSON."""
    last = Path(cfg.train.output_dir) / "checkpoints" / "last"
    start = time.perf_counter()
    result = run_experiment(cfg, resume=last if last.is_dir() else None)
    seconds = time.perf_counter() - start
    history = result["fit"]["history"]
    test = result["test"]
    record = {
        "run": name,
        "config": cfg.to_dict(),
        "sizes": result["sizes"],
        # Training time is the sum of the epochs' own timings (resume-safe); wall includes evaluation.
        "train_minutes": round(sum(h["seconds"] for h in history) / 60, 2),
        "wall_minutes_this_process": round(seconds / 60, 2),
        "best_epoch": result["fit"]["best_epoch"],
        "val": val_metrics_at(history, result["fit"]["best_epoch"]),
        "test": {k: test[k] for k in (*KEY_METRICS, "nll") if k in test} | {"ci95": test.get("ci95", {})},
        "history": history,
        "machine": machine_info(torch.device("cpu")),
    }
    write_json(out, record)
    return record


def choose(results: dict[str, dict[str, Any]]) -> list[tuple[str, float, float]]:
    """Runs ranked by validation macro-F1, then validation accuracy: never by a test metric."""
    ranked = [(n, r["val"].get("macro_f1", 0.0), r["val"].get("accuracy", 0.0)) for n, r in results.items()]
    return sorted(ranked, key=lambda t: (t[1], t[2]), reverse=True)


def load_results(folder: Path = RESULTS) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", help="the Figshare release folder (e.g. ../shared/data/figshare)")
    parser.add_argument(
        "--lane", default="1/1", help="I/N: every N-th study run from the I-th (I from 1; default: all)"
    )
    parser.add_argument("--only", nargs="*", help="run only these study runs")
    parser.add_argument("--choose", action="store_true", help="print the ranking by validation and exit")
    args = parser.parse_args(argv)
    if args.choose:
        for name, f1, acc in choose(load_results()):
            print(f"{name:20s} val macro-F1 {f1:.4f}  val accuracy {acc:.4f}")
        return 0
    if not args.data or not Path(args.data).is_dir():
        parser.error(f"--data must be the Figshare release folder; got {args.data!r}.")
    lane, lanes = (int(x) for x in args.lane.split("/"))
    names = [
        n for i, n in enumerate(STUDY_RUNS) if i % lanes == lane - 1 and (not args.only or n in args.only)
    ]
    for name in names:
        out = RESULTS / f"{name}.json"
        if out.is_file():
            print(f"{name}: done ({out})", flush=True)
            continue
        print(f"{name}: training ({torch.get_num_threads()} threads)", flush=True)
        record = execute(name, run_config(name, STUDY_RUNS[name], args.data, STUDY_BASE), out)
        print(
            f"{name}: val macro-F1 {record['val'].get('macro_f1', float('nan')):.4f}, "
            f"{record['train_minutes']} train min -> {out}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
