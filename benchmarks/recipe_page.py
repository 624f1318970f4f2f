"""Render the from-scratch recipe study and benchmark JSON as Markdown (and the minutes plot).

Reads ``benchmarks/results/recipe/*.json`` (``recipe_study.py``) and
``benchmarks/results/recipe_benchmark/<recipe>/*.json`` (``recipe_benchmark.py``, one folder per
recipe). The docs hook calls
:func:`render_recipe_page` at build time; ``python benchmarks/recipe_page.py --plot`` redraws
``docs/assets/recipe_accuracy_vs_minutes.png`` (test accuracy against training minutes, every
run of both files) with matplotlib.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from _records import val_metrics_at

RESULTS = Path(__file__).parent / "results"
PLOT = Path(__file__).parents[1] / "docs" / "assets" / "recipe_accuracy_vs_minutes.png"


def _load(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json")) if p.stem != "summary"}


def _ci(test: dict[str, Any], key: str) -> str:
    low_high = test.get("ci95", {}).get(key)
    return f" [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else ""


def _setting(config: dict[str, Any]) -> str:
    t = config["train"]
    loss = t.get("loss", "cross_entropy")
    parts = [
        config["model"],
        f"{config['model_kwargs'].get('img_size', '?')} px",
        f"{t['epochs']} ep",
        f"bs {t['batch_size']}",
        f"lr {t['lr']:g}",
        f"crop {'on' if config['crop'] else 'off'}",
    ]
    if loss != "cross_entropy":
        parts.append(f"{loss} {t.get('loss_kwargs', {}).get('smoothing', '')}".strip())
    if t.get("ema_decay"):
        parts.append(f"EMA {t['ema_decay']}" + (" with warm-up" if t.get("ema_warmup") else ""))
    if config.get("augment"):
        parts.append("aug " + ", ".join(f"{k} {v}" for k, v in config["augment"].items()))
    return ", ".join(parts)


def study_table(runs: dict[str, dict[str, Any]]) -> str:
    if not runs:
        return "*No study run has finished yet (`benchmarks/results/recipe/` is empty).*\n"
    ranked = sorted(
        runs.values(), key=lambda r: (r["val"].get("macro_f1", 0), r["val"].get("accuracy", 0)), reverse=True
    )
    rows = [
        "| rank | run | settings | val macro-F1 | val accuracy | test accuracy [95% CI] | test macro-F1 "
        "| train min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(ranked, 1):
        v, t = r["val"], r["test"]
        rows.append(
            f"| {i} | `{r['run']}` | {_setting(r['config'])} | {v.get('macro_f1', float('nan')):.4f} | "
            f"{v.get('accuracy', float('nan')):.4f} | {t['accuracy']:.4f}{_ci(t, 'accuracy')} | "
            f"{t['macro_f1']:.4f} | {r['train_minutes']:.1f} |"
        )
    return "\n".join(rows) + "\n"


def benchmark_table(folder: Path) -> str:
    parts = _load(folder)
    if not parts:
        return f"*The recipe benchmark has not run yet (`{folder.name}/` holds no record).*\n"
    summary_path = folder / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {"folds": {}}
    rows = [
        "| test fold | loop | accuracy [95% CI] | macro-F1 [95% CI] | train min | threads "
        "| recipe / baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    target = summary.get("target", {"accuracy": 0.93, "macro_f1": 0.92, "minutes": 45, "baseline": "bare"})
    for _, r in sorted(parts.items()):
        fold = str(r["test_fold"])
        ratio = summary["folds"].get(fold, {}).get(f"accuracy_ratio_recipe_over_{target['baseline']}")
        t = r["test"]
        rows.append(
            f"| {fold} | {r['part']} | {t['accuracy']:.4f}{_ci(t, 'accuracy')} | {t['macro_f1']:.4f}"
            f"{_ci(t, 'macro_f1')} | {r['train_minutes']:.1f} | "
            f"{r.get('machine', {}).get('torch_num_threads', '?')} | "
            f"{'x' + format(ratio, '.3f') if ratio and r['part'] == 'recipe' else ''} |"
        )
    met = summary.get("target_met")
    baseline = "the bare loop" if target["baseline"] == "bare" else f"`{target['baseline']}`"
    verdict = (
        ""
        if met is None
        else f"\nTarget (>= {target['accuracy']:.0%} accuracy, macro-F1 >= {target['macro_f1']:g}, "
        f"<= {target['minutes']:g} min, beats {baseline} on the same fold, on two folds): "
        f"**{'met' if met else 'not met'}**.\n"
    )
    return "\n".join(rows) + "\n" + verdict


def _recipe_folders(folder: Path) -> list[Path]:
    """The benchmark's per-recipe folders, the library's default recipe first."""
    from brainvit_effnet.recipes import DEFAULT_RECIPE

    found = [p for p in sorted(folder.glob("*/")) if p.is_dir()] if folder.is_dir() else []
    return sorted(found, key=lambda p: (p.name != DEFAULT_RECIPE, p.name))


def full_length_table(folder: Path, val_fold: int = 2) -> str:
    """The recipes' own runs validated on ``val_fold``, ranked by its macro-F1: the choice between recipes."""
    rows = []
    for recipe_dir in _recipe_folders(folder):
        for r in _load(recipe_dir).values():
            if r.get("part") == "recipe" and r.get("val_fold") == val_fold:
                rows.append((val_metrics_at(r.get("history", []), r.get("best_epoch")), r))
    if not rows:
        return f"*No recipe has run with validation fold {val_fold} yet.*\n"
    rows.sort(key=lambda vr: (vr[0].get("macro_f1", 0), vr[0].get("accuracy", 0)), reverse=True)
    lines = [
        "| rank | recipe | settings | best val macro-F1 | val accuracy | epoch chosen | train min |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, (v, r) in enumerate(rows, 1):
        lines.append(
            f"| {i} | `{r['recipe']}` | {_setting(r['config'])} | {v.get('macro_f1', float('nan')):.4f} | "
            f"{v.get('accuracy', float('nan')):.4f} | "
            f"{r['best_epoch']} of {r['config']['train']['epochs']} | "
            f"{r['train_minutes']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def render_recipe_page(results: Path = RESULTS) -> str:
    bench = results / "recipe_benchmark"
    parts = [
        "### The study (validation fold 2; choices read validation only)\n\n",
        study_table(_load(results / "recipe")),
        "\n### Full-length recipes on validation fold 2 (training folds 3-5)\n\n",
        full_length_table(bench),
    ]
    folders = _recipe_folders(bench)
    if not folders:
        parts.append("\n### The benchmark\n\n*The recipe benchmark has not run yet.*\n")
    for recipe_dir in folders:
        parts += [f"\n### The benchmark of `{recipe_dir.name}` against a bare timm loop\n\n"]
        parts.append(benchmark_table(recipe_dir))
    return "".join(parts)


def plot(results: Path = RESULTS, out: Path = PLOT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    groups = [("study run (8-epoch proxy, 1 core each)", results / "recipe", "o", "tab:blue")]
    colours = ("tab:green", "tab:orange", "tab:purple", "tab:brown")
    for recipe_dir, colour in zip(_recipe_folders(results / "recipe_benchmark"), colours, strict=False):
        groups.append((f"benchmark of {recipe_dir.name}", recipe_dir, "s", colour))
    for label, folder, marker, colour in groups:
        runs = _load(folder)
        for name, r in runs.items():
            x, y = r["train_minutes"], r["test"]["accuracy"]
            ax.scatter(x, y, marker=marker, color=colour, label=label if name == min(runs) else None)
            ax.annotate(r.get("run", name), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(0.93, ls="--", lw=0.8, color="grey")
    ax.set_xlabel("training minutes (CPU, epochs' own timings)")
    ax.set_ylabel("test accuracy")
    ax.set_title("From-scratch runs on Figshare: accuracy against training time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--plot", action="store_true", help=f"redraw {PLOT.name}")
    args = parser.parse_args(argv)
    if args.plot:
        print(plot())
    else:
        print(render_recipe_page())
    return 0


if __name__ == "__main__":
    sys.exit(main())
