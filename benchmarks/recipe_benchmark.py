"""Benchmark: the library's from-scratch recipe against a bare timm + PyTorch loop, same test fold.

Target (the classifier issue): from scratch, within 45 minutes of training on the 2-core
development CPU, on at least two official Figshare test folds: >= 93% test accuracy and
macro-F1 >= 0.92, and better than the bare loop on the same fold in the same session.

* ``recipe``: :func:`brainvit_effnet.recipes.recipe_config` (the named recipe), trained through
  :func:`~brainvit_effnet.experiment.run_experiment`; the epoch with the best validation
  macro-F1 (validation fold = the fold after the test fold) is the one tested.
* ``bare``: the loop a user would write first, as measured in the issue: timm's
  ``efficientnet_b0`` at 128 px, no brain crop, 15 epochs, batch 32, AdamW (lr 2e-3, weight decay
  0.05) with a one-cycle schedule, dropout 0.3, the study's rotation/shift/flips, every non-test
  fold for training, the last epoch tested; channels-last memory format like the recipe (so
  the comparison is of recipes, not of memory formats). ``--bare-epochs`` gives it another number of epochs,
  e.g. to give it the same minutes as the recipe.

Each part writes ``benchmarks/results/recipe_benchmark/<recipe>/fold<K>_<part>.json`` (settings,
minutes, test metrics with 95% intervals, learning curve; the bare loop is filed beside the recipe
it was run against); ``--summary`` writes that folder's ``summary.json`` with the recipe/bare
accuracy ratio per fold and whether the targets were met.

Test folds: the recipes were chosen on validation fold 2 (``recipe_study.py``), so fold 2 is no
test fold of a recipe chosen that way; folds 1 and 3 are (validated on folds 2 and 4). Parts run
one at a time or side by side (one thread each on 2 cores: ``OMP_NUM_THREADS=1``); the JSON
records the threads and the machine's load, so minutes are comparable only between parts run the
same way.

Run from the repository root::

    export OMP_NUM_THREADS=1 DATA=../shared/data/figshare
    python benchmarks/recipe_benchmark.py --data $DATA --fold 1 --part recipe &
    python benchmarks/recipe_benchmark.py --data $DATA --fold 3 --part recipe &
    wait   # then the same with --part bare, then:
    python benchmarks/recipe_benchmark.py --summary

``recipe_benchmark.sh`` runs that queue one run at a time on both cores instead (the recipe's
minutes then count two threads, as the target means).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import timm
import torch
from _common import machine_info, write_json
from torch import nn
from torch.utils.data import DataLoader

from brainvit_effnet.data import FigshareDataset, create_transforms
from brainvit_effnet.experiment import run_experiment
from brainvit_effnet.metrics import classification_report
from brainvit_effnet.recipes import DEFAULT_RECIPE, recipe_config
from brainvit_effnet.results import KEY_METRICS

RESULTS = Path(__file__).parent / "results" / "recipe_benchmark"


class Target(NamedTuple):
    """What a recipe must reach on two test folds, and what it is compared with on the same fold."""

    accuracy: float
    macro_f1: float
    minutes: float
    baseline: str  # "bare": the bare loop filed beside the recipe; else another recipe's benchmark folder


#: From-scratch recipes: the classifier issue's targets, against the bare timm loop.
DEFAULT_TARGET = Target(0.93, 0.92, 45.0, "bare")
#: Fine-tuning recipes: the issue on models beyond Figshare, beside the from-scratch recipe.
TARGETS: dict[str, Target] = {
    name: Target(0.97, 0.965, 30.0, "scratch_b0_192")
    for name in ("finetune_lite0_192", "finetune_lite0_192_cf")
}
BARE_EPOCHS = 15  # the bare loop
_METRICS = (*KEY_METRICS, "nll")


def _test_summary(report: dict[str, Any]) -> dict[str, Any]:
    ci = report.get("ci95", {})
    return {k: report[k] for k in _METRICS if k in report} | {"ci95": {k: ci[k] for k in _METRICS if k in ci}}


def run_recipe(
    data: str, fold: int, recipe: str, out_dir: str, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train the recipe with ``fold`` as test and the next fold as validation; returns its record."""
    val_fold = fold % 5 + 1
    cfg = recipe_config(
        recipe,
        {
            "data": f"figshare:{data}",
            "test_folds": [fold],
            "val_folds": [val_fold],
            "train.output_dir": out_dir,
            "train.progress": False,
            **(overrides or {}),
        },
    )
    last = Path(out_dir) / "checkpoints" / "last"
    result = run_experiment(cfg, resume=last if last.is_dir() else None)
    history = result["fit"]["history"]
    return {
        "part": "recipe",
        "recipe": recipe,
        "config": cfg.to_dict(),
        "test_fold": fold,
        "val_fold": val_fold,
        "sizes": result["sizes"],
        "train_minutes": round(sum(h["seconds"] for h in history) / 60, 2),
        "preprocess_minutes": round(result["preprocess_seconds"] / 60, 2),
        "best_epoch": result["fit"]["best_epoch"],
        "test": _test_summary(result["test"]),
        "history": history,
        "model_dir": result["model_dir"],
    }


def run_bare(
    data: str, fold: int, epochs: int = BARE_EPOCHS, size: int = 128, seed: int = 0
) -> dict[str, Any]:
    """The bare loop of the module docstring; returns its record."""
    torch.manual_seed(seed)
    # channels_last as the recipe has it: the comparison is of recipes, not of memory formats.
    model = timm.create_model("efficientnet_b0", num_classes=3, drop_rate=0.3).to(
        memory_format=torch.channels_last
    )
    cfg = {
        "input_size": (3, size, size),
        "mean": timm.data.IMAGENET_DEFAULT_MEAN,
        "std": timm.data.IMAGENET_DEFAULT_STD,
    }
    train_tf, eval_tf = create_transforms(cfg)
    folds = [f for f in range(1, 6) if f != fold]
    train = FigshareDataset(data, folds=folds, crop=False, cache=True, transform=train_tf)
    test = FigshareDataset(data, folds=[fold], crop=False, cache=True, transform=eval_tf)
    started = time.perf_counter()
    train.warm_cache()  # decoded once before training, as the recipe's run does
    test.warm_cache()
    preprocess_minutes = round((time.perf_counter() - started) / 60, 2)
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in range(epochs):
        model.train()
        start, total, seen = time.perf_counter(), 0.0, 0
        for images, labels in loader:
            loss = loss_fn(model(images.contiguous(memory_format=torch.channels_last)), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total, seen = total + loss.item() * len(labels), seen + len(labels)
        history.append(
            {"epoch": epoch + 1, "train_loss": total / seen, "seconds": time.perf_counter() - start}
        )
        print(f"bare fold {fold} epoch {epoch + 1}: loss {total / seen:.4f}", flush=True)
    model.eval()
    probs, labels = [], []
    with torch.no_grad():
        for images, y in DataLoader(test, batch_size=64):
            probs.append(model(images).softmax(-1))
            labels.append(y)
    report = classification_report(
        torch.cat(labels).numpy(),
        torch.cat(probs).double().numpy(),
        class_names=list(test.classes),
        bootstrap=200,
    )
    return {
        "part": "bare",
        "settings": {
            "model": "timm efficientnet_b0 (random init)",
            "img_size": size,
            "crop": False,
            "epochs": epochs,
            "batch_size": 32,
            "optimizer": "AdamW lr 2e-3, weight decay 0.05, one-cycle",
            "drop_rate": 0.3,
            "augment": "rotation 10, shift 0.1, horizontal and vertical flips",
            "train_folds": folds,
        },
        "test_fold": fold,
        "sizes": {"train": len(train), "test": len(test)},
        "train_minutes": round(sum(h["seconds"] for h in history) / 60, 2),
        "preprocess_minutes": preprocess_minutes,
        "test": _test_summary(report),
        "history": history,
    }


def summarise(folder: Path = RESULTS / DEFAULT_RECIPE) -> dict[str, Any]:
    """Per test fold: the recipe's and its baseline's accuracy, macro-F1 and minutes, the ratio, and
    the targets (:data:`TARGETS`, by the folder's recipe name; else :data:`DEFAULT_TARGET`)."""
    target = TARGETS.get(folder.name, DEFAULT_TARGET)
    parts: dict[int, dict[str, Any]] = {}
    for path in sorted(folder.glob("fold*_*.json")):
        record = json.loads(path.read_text())
        parts.setdefault(record["test_fold"], {})[record["part"]] = record
    if target.baseline != "bare":  # another recipe's runs on the same folds
        for path in sorted((folder.parent / target.baseline).glob("fold*_recipe.json")):
            record = json.loads(path.read_text())
            if record["test_fold"] in parts:
                parts[record["test_fold"]][target.baseline] = record
    folds = {}
    for fold, p in sorted(parts.items()):
        row: dict[str, Any] = {}
        for part in ("recipe", target.baseline):
            if part in p:
                row[part] = {
                    "accuracy": p[part]["test"]["accuracy"],
                    "macro_f1": p[part]["test"]["macro_f1"],
                    "train_minutes": p[part]["train_minutes"],
                    "ci95": p[part]["test"].get("ci95", {}),
                    "threads": p[part].get("machine", {}).get("torch_num_threads"),
                }
        ratio_key = f"accuracy_ratio_recipe_over_{target.baseline}"
        if "recipe" in row and target.baseline in row:
            row[ratio_key] = round(row["recipe"]["accuracy"] / row[target.baseline]["accuracy"], 4)
        if "recipe" in row:
            r = row["recipe"]
            row["targets"] = {
                f"accuracy>={target.accuracy:g}": r["accuracy"] >= target.accuracy,
                f"macro_f1>={target.macro_f1:g}": r["macro_f1"] >= target.macro_f1,
                f"minutes<={target.minutes:g}": r["train_minutes"] <= target.minutes,
                f"beats_{target.baseline}": row.get(ratio_key, 0) > 1,
            }
        folds[str(fold)] = row
    met = [f for f, r in folds.items() if r.get("targets") and all(r["targets"].values())]
    summary = {
        "target": target._asdict(),
        "folds": folds,
        "folds_meeting_every_target": met,
        "target_met": len(met) >= 2,
    }
    write_json(folder / "summary.json", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", help="the Figshare release folder (e.g. ../shared/data/figshare)")
    parser.add_argument("--fold", type=int, choices=range(1, 6), help="official test fold")
    parser.add_argument("--part", choices=("recipe", "bare"), help="which loop to run")
    parser.add_argument("--recipe", default=DEFAULT_RECIPE, help="recipe name (default: %(default)s)")
    parser.add_argument(
        "--bare-epochs",
        type=int,
        default=BARE_EPOCHS,
        help="epochs of the bare loop (default: %(default)s, the issue's loop); lower it to give the bare "
        "loop the recipe's minutes",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where the part's JSON goes (default: results/recipe_benchmark/<recipe>/fold<K>_<part>.json)",
    )
    parser.add_argument("--summary", action="store_true", help="write summary.json from the parts on disk")
    args = parser.parse_args(argv)
    if args.summary:
        print(json.dumps(summarise(RESULTS / args.recipe), indent=2))
        return 0
    if not (args.data and Path(args.data).is_dir() and args.fold and args.part):
        parser.error("give --data (the Figshare folder), --fold and --part, or --summary.")
    part = (
        args.part
        if args.part == "recipe" or args.bare_epochs == BARE_EPOCHS
        else f"bare_{args.bare_epochs}ep"
    )
    out = args.out or RESULTS / args.recipe / f"fold{args.fold}_{part}.json"
    start = time.perf_counter()
    if args.part == "recipe":
        record = run_recipe(
            args.data, args.fold, args.recipe, f"runs/recipe_benchmark/{args.recipe}/fold{args.fold}"
        )
    else:
        record = run_bare(args.data, args.fold, epochs=args.bare_epochs)
    record["part"] = part  # the loop is "bare"; another length is its own part beside it
    record["wall_minutes"] = round((time.perf_counter() - start) / 60, 2)
    record["machine"] = machine_info(torch.device("cpu"))
    write_json(out, record)
    print(
        f"fold {args.fold} {part}: accuracy {record['test']['accuracy']:.4f}, "
        f"macro-F1 {record['test']['macro_f1']:.4f}, {record['train_minutes']} train min -> {out}"
    )
    return 0 if math.isfinite(record["test"]["accuracy"]) else 1


if __name__ == "__main__":
    sys.exit(main())
