"""Render the transformer x label-smoothing study (``transformer_study.py``) as Markdown and a figure.

Reads ``benchmarks/results/transformer_study/ablation.json`` (the paired summary) and its
``records/*.json`` (one record per finished run). The docs hook calls :func:`render_study_page` at
build time (``<!-- generated: study-results -->`` on ``docs/study.md``);
``python benchmarks/study_page.py --plot`` redraws ``docs/assets/study_per_fold_accuracy.png``:
test accuracy per fold for each configuration, with lines joining the same fold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "transformer_study"
PLOT = Path(__file__).parents[1] / "docs" / "assets" / "study_per_fold_accuracy.png"


def grid_plot(setting: str) -> Path:
    """The per-fold figure of one grid: ``short`` (the first one) or a full-length grid's own."""
    return PLOT if setting == "short" else PLOT.with_name(f"study_{setting}_per_fold_accuracy.png")


# The proposal's single-split numbers (../shared/docs/REFERENCE_RESULTS.md): EfficientNet-B2 at
# 240 px, ImageNet weights, 50 epochs, one random image-level 80:20 split of the Nickparvar release.
PROPOSAL = {
    (False, 0.0): (98.74, 98.73),
    (False, 0.1): (98.74, 98.75),
    (True, 0.0): (98.84, 98.85),
    (True, 0.1): (98.55, 98.54),
}
_NAMES = {
    (False, 0.0): "EfficientNet (baseline)",
    (False, 0.1): "+ label smoothing",
    (True, 0.0): "+ transformer layer",
    (True, 0.1): "+ transformer + label smoothing",
}


def _key(levels: dict[str, Any]) -> tuple[bool, float]:
    return bool(levels.get("transformer")), float(levels.get("label_smoothing", 0.0))


def load(results: Path = RESULTS) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The summary (or ``None``) and the run records, sorted by fold."""
    summary_file = results / "ablation.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else None
    runs = [json.loads(p.read_text()) for p in sorted((results / "records").glob("*.json"))]
    return summary, sorted(runs, key=lambda r: (r["seed"], r["fold"], r["cell"]))


def per_fold_table(runs: list[dict[str, Any]]) -> str:
    """Test accuracy of every run: configurations as rows, test folds as columns."""
    folds = sorted({r["fold"] for r in runs})
    by_cell: dict[tuple[bool, float], dict[int, float]] = {}
    for r in runs:
        by_cell.setdefault(_key(r["levels"]), {})[r["fold"]] = r["metrics"]["accuracy"]
    head = "| configuration | " + " | ".join(f"fold {f}" for f in folds) + " |"
    rows = [head, "|---|" + "---|" * len(folds)]
    for key in sorted(by_cell):
        cells = [f"{by_cell[key][f]:.3f}" if f in by_cell[key] else "-" for f in folds]
        rows.append(f"| {_NAMES.get(key, str(key))} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def side_by_side(summary: dict[str, Any]) -> str:
    """Our mean over folds next to the proposal's single split, per configuration."""
    rows = [
        "| configuration | proposal: accuracy (one random split) | proposal: macro-F1 | here: accuracy, "
        "mean ± std over folds | here: macro-F1 |",
        "|---|---|---|---|---|",
    ]
    for cell in summary["cells"]:
        key = _key(cell["levels"])
        acc, f1 = cell["metrics"]["accuracy"], cell["metrics"]["macro_f1"]
        prop = PROPOSAL.get(key, (float("nan"), float("nan")))
        rows.append(
            f"| {_NAMES.get(key, cell['label'])} | {prop[0]:.2f}% | {prop[1]:.2f}% | "
            f"{_mean_std(acc)} | {_mean_std(f1, with_n=False)} |"
        )
    return "\n".join(rows) + "\n"


def _listed(values: list[Any] | None) -> str:
    """``1, 2 and 3``: a list of folds or seeds as the page's prose writes it."""
    words = [str(v) for v in values or []]
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words) or "none"


def _numbered(noun: str, values: list[Any] | None) -> str:
    """``fold 1`` or ``folds 1, 2 and 3`` (``noun`` ``fold``, ``seed``...)."""
    return f"{noun}{'s' if len(values or []) != 1 else ''} {_listed(values)}"


def _common_folds(runs: list[dict[str, Any]], cells: list[tuple[bool, float]]) -> list[int]:
    """The test folds on which every configuration in ``cells`` has a run in ``runs``."""
    folds_of: dict[tuple[bool, float], set[int]] = {}
    for r in runs:
        folds_of.setdefault(_key(r["levels"]), set()).add(r["fold"])
    return sorted(set.intersection(*(folds_of.get(k, set()) for k in cells))) if cells else []


def on_common_folds(summary: dict[str, Any], runs: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The summary over the folds every configuration has finished, and a sentence saying so.

    While a grid is partial, a configuration with more finished folds would be averaged over other
    (easier or harder) folds than the rest; the paired effects already use common folds only, and
    the means must too. A complete grid (or one with no common fold yet) is returned as it is.
    """
    from brainvit_effnet.ablation.stats import summarize_ablation

    common = _common_folds(runs, [_key(c["levels"]) for c in summary["cells"]])
    if not common or common == sorted({r["fold"] for r in runs}):
        return summary, ""
    view = summarize_ablation(
        [r for r in runs if r["fold"] in common],
        summary["factors"],
        summary["metrics"],
        confidence=summary.get("confidence", 0.95),
    )
    return view, (
        f"While the grid is partial, the means and effects below use only the folds every configuration "
        f"has finished ({_numbered('fold', common)}), so that all are averaged over the same folds.\n"
    )


def outcome_view(
    summary: dict[str, Any], runs: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, list[int], list[dict[str, Any]]]:
    """The paired effects on the outcomes beyond accuracy, the folds they use, and the runs on them.

    Scoring (``benchmarks/study_outcomes.py``) trails training, and ``transformer_study.py --collect``
    puts the outcomes into the summary's effects only once every finished run is scored. Until then
    the view covers the test folds where every configuration is scored, so that no configuration is
    averaged over other folds than the rest. It compares the outcomes every scored run has (the
    rollout exists for ``_tf`` runs only). ``None`` (and no fold) before any fold is fully scored; the
    summary itself once it has the outcomes.
    """
    from brainvit_effnet.ablation.stats import summarize_ablation

    scored = [r for r in runs if "outcomes" in r]
    folds = _common_folds(scored, [_key(c["levels"]) for c in summary["cells"]])
    if not folds:
        return None, [], []
    on_folds = [r for r in scored if r["fold"] in folds]
    metrics = sorted(set.intersection(*(set(r["outcomes"]["scalars"]) for r in scored)))
    if set(metrics) <= set(summary["metrics"]):
        return summary, folds, on_folds
    view = summarize_ablation(
        on_folds, summary["factors"], metrics, confidence=summary.get("confidence", 0.95)
    )
    return view, folds, on_folds


def outcomes_section(summary: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """Outcomes beyond accuracy: means per configuration and paired effects, over the same folds
    (see :func:`outcome_view`); before any fold is fully scored, the means of what is, said to be so."""
    from brainvit_effnet.ablation import ablation_tables

    scored = [r for r in runs if "outcomes" in r]
    if not scored:
        return ""
    view, folds, on_folds = outcome_view(summary, runs)
    intro = (
        f"Grad-CAM at `blocks.5`; rollout for the transformer variants only. ↑ marks the direction "
        f"read as better: for the accuracy lost with the tumour hidden (`tumour_reliance_drop`), a "
        f"larger loss means the model needs the tumour more. Scored by "
        f"`benchmarks/study_outcomes.py`: {len(scored)} of {len(runs)} finished runs"
    )
    if view is None:
        return (
            f"{intro}; no test fold is scored for every configuration yet, so these means are over "
            f"different folds and not comparable between rows.\n\n{outcomes_table(scored)}"
        )
    parts = [
        f"{intro}. Means over test {_numbered('fold', folds)}, where every configuration is scored.\n",
        outcomes_table(on_folds),
    ]
    if view is not summary:  # the summary's own effect tables below show them otherwise
        effects = ablation_tables(view).split("\n\n", 1)[1]  # the effect table, not the cell table
        parts.append(
            f"Their paired effects over the same folds (n = {len(folds)}; the smallest possible "
            f"sign-flip p is {min(1.0, 2 / 2 ** len(folds)):.3g}):\n\n{effects}"
        )
    return "\n".join(parts)


#: How each grid's headline starts, by ``protocol.setting``.
_SETTING_PHRASES = {
    "finetune": "Fine-tuned from ImageNet",
    "scratch": "Trained from scratch at the full recipe",
    "short": "From scratch and cut to 4 epochs",
}


def _effect(summary: dict[str, Any] | None, factor: str, metric: str) -> dict[str, Any] | None:
    effects = (summary or {}).get("effects", [])
    return next((e for e in effects if e["factor"] == factor and e["metric"] == metric), None)


def _change(effect: dict[str, Any] | None, scale: float, unit: str) -> str:
    """``+0.13 points [-1.54, +1.80] (better on 1 of 2 folds)``, or why there is no interval."""
    if effect is None or not effect["n"]:
        return "not measured yet"
    digits = 2 if scale > 1 else 3  # accuracy points to 0.01, fractions such as the pointing game to 0.001
    size = f"{scale * effect['mean']:+.{digits}f}{unit}"
    if effect["n"] < 2:
        return f"{size} on its one fold (no interval)"
    low, high = (scale * v for v in effect["ci"])
    ties = effect["n"] - effect["better"] - effect["worse"]
    return (
        f"{size} [{low:+.{digits}f}, {high:+.{digits}f}] (better on {effect['better']} of {effect['n']} "
        f"folds, worse on {effect['worse']}{f', tied on {ties}' if ties else ''})"
    )


def headline(summary: dict[str, Any], common: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """The answer in a sentence per factor: its effect on test accuracy and on the Grad-CAM pointing
    game, with intervals, over the folds both are measured on; marked as partial while the grid is."""
    protocol = summary.get("protocol", {})
    setting = protocol.get("setting") or ("short" if protocol.get("epochs_cut_from") else "")
    phrase = _SETTING_PHRASES.get(setting, "In this grid")
    view, scored_folds, _ = outcome_view(summary, runs)
    unscored, never = not any("outcomes" in r for r in runs), "not scored in this grid"
    complete = protocol.get("runs_finished") == protocol.get("runs_planned")
    lines = [
        "**The answer so far** (the numbers will change as the remaining runs land):"
        if not complete
        else "**The answer.**",
        "",
    ]
    for factor, levels in summary["factors"].items():
        if len(levels) < 2:
            continue
        acc = _effect(common, factor, "accuracy")
        pointing = _effect(view, factor, "pointing_game")
        what = "the transformer head" if factor == "transformer" else factor.replace("_", " ")
        if acc is None or not acc["n"]:
            lines.append(f"- {phrase}, {what}: not measured yet (no test fold has both levels finished).")
            continue
        comparison = acc["comparison"]
        lines.append(
            f"- {phrase}, {what} ({comparison}) changes test accuracy by "
            f"{_change(acc, 100, ' points')}"
            + (
                f" and the Grad-CAM pointing game (scored on {_numbered('fold', scored_folds)}) by "
                f"{_change(pointing, 1, '')}."
                if pointing
                else f"; the pointing game is {never if unscored and complete else 'not scored yet'}."
            )
        )
    lines += [
        "",
        "An interval that includes zero means the data cannot tell the effect's sign; see "
        "[what n = 5 can and cannot say](#what-n-5-can-and-cannot-say).",
        "",
    ]
    return "\n".join(lines)


def _mean_std(stats: dict[str, Any], with_n: bool = True) -> str:
    """``mean% ± std (n=k)``; a dash where no run has finished, no spread from a single run."""
    n = stats["n"]
    if not n:
        return "— (n=0)" if with_n else "—"
    spread = f" ± {100 * stats['std']:.2f}" if n > 1 else ""
    return f"{100 * stats['mean']:.2f}%{spread}" + (f" (n={n})" if with_n else "")


def verdict(summary: dict[str, Any]) -> str:
    """One plain sentence per factor from the accuracy effect: its size, interval, p and sign count."""
    lines = []
    for effect in summary["effects"]:
        if effect["metric"] != "accuracy":
            continue
        name = f"**{effect['factor']} {effect['comparison']}**"
        if effect["n"] < 2:  # no interval and no test from fewer than two paired folds
            lines.append(
                f"- {name}: not yet measurable; "
                + (
                    f"one fold has both levels finished (there, {100 * effect['mean']:+.2f} accuracy points)."
                    if effect["n"]
                    else "no fold has both levels finished yet."
                )
            )
            continue
        low, high = effect["ci"]
        excludes_zero = low > 0 or high < 0
        reading = (
            "the interval excludes zero"
            if excludes_zero
            else "the interval includes zero: no effect can be claimed either way"
        )
        lines.append(
            f"- {name}: {100 * effect['mean']:+.2f} accuracy points "
            f"[{100 * low:+.2f}, {100 * high:+.2f}], sign-flip p = {effect['p_value']:.3f} "
            f"(the smallest p possible with n = {effect['n']} is {effect['min_p']:.3f}); better on "
            f"{effect['better']} of {effect['n']} folds, worse on {effect['worse']}. {reading.capitalize()}."
        )
    return "\n".join(lines) + "\n"


def _full_recipe_accuracy(summary_file: Path, full_epochs: int) -> str:
    """A sentence putting the cut runs next to the full recipe's test accuracy (``full_epochs`` long)."""
    if not summary_file.is_file():
        return ""
    folds = json.loads(summary_file.read_text()).get("folds", {})
    done = {k: v["recipe"]["accuracy"] for k, v in sorted(folds.items()) if "recipe" in v}
    if not done:
        return ""
    listed = ", ".join(f"{acc:.3f} on test fold {k}" for k, acc in done.items())
    return (
        f"For scale: the full recipe ({full_epochs} epochs) reached {listed} "
        f"([From-scratch recipe](recipes.md)). "
        f"These runs are shorter, so they compare configurations trained equally briefly, not at "
        f"their best."
    )


def outcomes_table(runs: list[dict[str, Any]]) -> str:
    """Mean outcomes beyond accuracy per configuration, over the scored runs among ``runs``."""
    scored = [r for r in runs if "outcomes" in r]
    if not scored:
        return ""
    columns = [
        ("pointing_game", "Grad-CAM pointing game"),
        ("energy_inside", "energy inside"),
        ("rollout_pointing_game", "rollout pointing game"),
        ("tumour_reliance_drop", "accuracy lost, tumour hidden"),
        ("control_hidden_accuracy", "accuracy, control hidden"),
        ("shift_mean_accuracy", "accuracy under shifts"),
    ]
    lines = [
        "| configuration | runs | " + " | ".join(title for _, title in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for key in sorted({_key(r["levels"]) for r in scored}):
        cell = [r["outcomes"]["scalars"] for r in scored if _key(r["levels"]) == key]
        values = [
            f"{sum(c[m] for c in cell) / len(cell):.3f}" if all(m in c for c in cell) else "—"
            for m, _ in columns
        ]
        lines.append(f"| {_NAMES[key]} | {len(cell)} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


#: A run counts as converged when its validation macro-F1 moved by at most this over its last
#: ``_FLAT_EPOCHS`` epochs.
_FLAT_TOLERANCE, _FLAT_EPOCHS = 0.01, 3


def convergence_table(runs: list[dict[str, Any]]) -> str:
    """Per run: validation macro-F1 over its last epochs, the best epoch, and whether the curve is flat."""
    with_curve = [r for r in runs if len(r.get("curve") or []) >= _FLAT_EPOCHS]
    if not with_curve:
        return ""
    lines = [
        f"| configuration | test fold | val macro-F1, last {_FLAT_EPOCHS} epochs | best epoch | flat at "
        "the end |",
        "|---|---|---|---|---|",
    ]
    for r in with_curve:
        curve = r["curve"]
        last = [c["val_macro_f1"] for c in curve[-_FLAT_EPOCHS:]]
        best = max(curve, key=lambda c: c["val_macro_f1"])["epoch"]
        spread = max(last) - min(last)
        flat = f"yes (moved {spread:.3f})" if spread <= _FLAT_TOLERANCE else f"**no** (moved {spread:.3f})"
        lines.append(
            f"| {_NAMES[_key(r['levels'])]} | {r['fold']} | {' → '.join(f'{v:.3f}' for v in last)} | "
            f"{best} of {curve[-1]['epoch']} | {flat} |"
        )
    return "\n".join(lines) + "\n"


def compute_sentence(protocol: dict[str, Any]) -> str:
    """What the finished runs cost: summed wall time and, where runs were resumed, their epochs' time.

    A run resumed from its checkpoint records as wall time only its last process's share, so the
    summed wall time undercounts; the training epochs' own times are complete for every run.
    """
    wall = f"Summed wall time of the finished runs: {protocol.get('cpu_minutes')} minutes, pauses included"
    resumed = protocol.get("runs_resumed") or 0
    if not resumed:
        return wall
    return (
        f"{wall}, in which {resumed} resumed run(s) count only the time since their last start; the "
        f"training epochs of all finished runs alone took {protocol.get('epoch_minutes')} minutes"
    )


def render_study_page(results: Path = RESULTS, figure: str = PLOT.name) -> str:
    """The generated part of ``docs/study.md`` for one grid's records (``figure``: its plot in
    ``docs/assets``)."""
    summary, runs = load(results)
    if summary is None or not runs:
        return f"*No run of this grid has finished yet (`{results.name}/` holds no record).*\n"
    from brainvit_effnet.ablation import ablation_tables

    protocol = summary.get("protocol", {})
    finished, planned = protocol.get("runs_finished", len(runs)), protocol.get("runs_planned", "?")
    status = (
        f"**All {planned} runs finished.**"
        if finished == planned
        else f"**Partial: {finished} of {planned} runs finished**; the grid is still running, and "
        f"the effects below use only the folds in which every configuration has finished."
    )
    common, common_note = on_common_folds(summary, runs)
    machine = protocol.get("machine", {})
    recipe = protocol.get("recipe") or "scratch_b0"
    # The full recipe's accuracy, for scale, only beside a grid cut short of it
    full = (
        _full_recipe_accuracy(
            results.parent / "recipe_benchmark" / recipe / "summary.json", protocol["epochs_cut_from"]
        )
        if protocol.get("epochs_cut_from")
        else ""
    )
    length = (
        f"with **{protocol.get('epochs')} epochs instead of {protocol.get('epochs_cut_from')}** (the same "
        f"cut for every configuration)"
        if protocol.get("epochs_cut_from")
        else f"at its full length, **{protocol.get('epochs')} epochs** for every configuration"
    )
    scored = outcomes_section(summary, runs)
    converged = convergence_table(runs)
    parts = [
        status,
        "",
        headline(summary, common, runs),
        f"Recipe `{protocol.get('recipe')}` {length}, test "
        f"{_numbered('fold', protocol.get('folds'))}, {_numbered('seed', protocol.get('seeds'))}. "
        f"{compute_sentence(protocol)} (one "
        f"thread per run, two runs side by side on {machine.get('cpu_count', '?')} cores: "
        f"{machine.get('cpu_model') or machine.get('platform', '')}).",
        "",
        *([full, ""] if full else []),
        "### Test accuracy per fold",
        "",
        per_fold_table(runs),
        f"![Per-fold test accuracy of each configuration, lines joining the same fold](assets/{figure})",
        "",
        *(
            [
                "### Did the runs converge?",
                "",
                f"Validation macro-F1 (on the fold that chose the epoch) over the last {_FLAT_EPOCHS} "
                f"epochs; flat means it moved by at most {_FLAT_TOLERANCE:.2f}.",
                "",
                converged,
            ]
            if converged
            else []
        ),
        *(
            [
                "### Beyond accuracy: localisation, reliance on the tumour, shifts",
                "",
                scored,
            ]
            if scored
            else []
        ),
        "### What the paired effects say",
        "",
        *([common_note] if common_note else []),
        verdict(common),
        "### Side by side with the proposal",
        "",
        side_by_side(common),
        ablation_tables(common),
    ]
    return "\n".join(parts) + "\n"


def plot(results: Path = RESULTS, out: Path = PLOT) -> Path:
    """Per-fold test accuracy per configuration, one line per fold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, runs = load(results)
    keys = sorted({_key(r["levels"]) for r in runs})
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for fold in sorted({r["fold"] for r in runs}):
        acc = {_key(r["levels"]): r["metrics"]["accuracy"] for r in runs if r["fold"] == fold}
        xs = [i for i, k in enumerate(keys) if k in acc]
        ax.plot(xs, [acc[keys[i]] for i in xs], marker="o", label=f"test fold {fold}")
    ticks = {(False, 0.0): "baseline", (False, 0.1): "+ label\nsmoothing", (True, 0.0): "+ transformer",
             (True, 0.1): "+ transformer\n+ label smoothing"}  # fmt: skip
    ax.set_xticks(range(len(keys)), [ticks.get(k, str(k)) for k in keys], fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_title("Transformer head x label smoothing, per official fold (lines join a fold)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plot", action="store_true", help=f"redraw {PLOT.name}")
    parser.add_argument(
        "--setting", choices=("short", "finetune", "scratch"), default="short", help="which grid"
    )
    args = parser.parse_args(argv)
    if args.plot:
        results = RESULTS if args.setting == "short" else RESULTS / args.setting
        print(plot(results, grid_plot(args.setting)))
    else:
        print(render_study_page())
    return 0


if __name__ == "__main__":
    sys.exit(main())
