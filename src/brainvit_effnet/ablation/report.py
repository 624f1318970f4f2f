"""Reporting a study: the cell and effect tables, the Markdown report, ``ablation.json``/``.md``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._atomic import write_text_atomically
from .._json import dumps, write_json
from .grid import _level_label
from .stats import _finite


def _fmt(value: Any, digits: int = 3, signed: bool = False) -> str:
    if not _finite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _mean_std_ci(stat: Mapping[str, Any]) -> str:
    """``mean ± std (lo, hi)``; the mean alone for a single repeat."""
    if not _finite(stat.get("std")):
        return _fmt(stat.get("mean"))
    return f"{_fmt(stat['mean'])} ± {_fmt(stat['std'])} ({_fmt(stat['ci'][0])}, {_fmt(stat['ci'][1])})"


def _metric_header(metric: str, lower: Sequence[str]) -> str:
    return f"{metric} {'↓' if metric in lower else '↑'}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ablation_tables(summary: Mapping[str, Any], metrics: Sequence[str] | None = None) -> str:
    """The cell table and the main-effect table of a summary, as Markdown (also fine in a terminal).

    Args:
        summary: A :func:`summarize_ablation` result.
        metrics: Metrics to show; default: the summary's.
    """
    metrics = list(summary["metrics"] if metrics is None else metrics)
    lower = summary.get("lower_is_better", [])
    level = round(float(summary.get("confidence", 0.95)) * 100)
    factors = list(summary["factors"])
    rows = []
    for cell in summary["cells"]:
        row = [_level_label(cell["levels"][f]) for f in factors]
        if cell["skipped"]:
            rows.append([*row, "0", *("skipped" for _ in metrics)])
            continue
        rows.append([*row, str(cell["n"]), *(_mean_std_ci(cell["metrics"][m]) for m in metrics)])
    cells = _table([*factors, "n", *(_metric_header(m, lower) for m in metrics)], rows)
    effect_rows = [
        [
            e["factor"],
            e["comparison"],
            _metric_header(e["metric"], lower),
            str(e["n"]),
            _fmt(e["mean"], signed=True),
            f"({_fmt(e['ci'][0], signed=True)}, {_fmt(e['ci'][1], signed=True)})",
            _fmt(e["p_value"], 2) + (f" (min {_fmt(e['min_p'], 2)})" if _finite(e.get("min_p")) else ""),
            f"{e['better']} / {e['worse']}",
        ]
        for e in summary["effects"]
        if e["metric"] in metrics
    ]
    effects = _table(
        ["factor", "comparison", "metric", "n", "mean Δ", f"{level}% CI", "sign-flip p", "better / worse"],
        effect_rows,
    )
    return f"{cells}\n\n{effects}\n"


def _render_markdown(summary: Mapping[str, Any]) -> str:
    level = round(float(summary.get("confidence", 0.95)) * 100)
    settings = summary.get("settings", {})
    n_repeats = len(summary["repeats"])
    lines = ["# Ablation study", ""]
    if settings:
        lines += [
            _table(["setting", "value"], [[k, f"`{dumps(v, indent=None)}`"] for k, v in settings.items()]),
            "",
        ]
    lines += [
        f"{summary['n_runs']} finished runs over {n_repeats} repeats (test fold and seed). "
        "↑: higher is better, ↓: lower is better.",
        "",
    ]
    tables = ablation_tables(summary).split("\n\n", 1)
    lines += [
        f"## Cells: mean ± std over repeats ({level}% CI)",
        "",
        tables[0],
        "",
        "## Effects, paired by test fold and seed",
        "",
        "Δ is the metric at the level minus the metric at the reference level, averaged over the other "
        "factors' levels within each repeat; *better / worse* counts the repeats in which the level did "
        "better or worse than the reference (↑/↓ give the direction).",
        "",
        tables[1].rstrip(),
        "",
    ]
    if n_repeats < 6:
        lines += [
            f"> **Small n.** {n_repeats} repeat(s): the smallest possible sign-flip p is "
            f"{_fmt(2 / 2**n_repeats if n_repeats else math.nan, 3)}, so no effect can reach p < 0.05 "
            "(two-sided); read the intervals and the per-repeat agreement, and add folds or seeds for a "
            "conclusion.",
            "",
        ]
    if summary.get("skipped"):
        lines += ["## Skipped cells", ""]
        lines += [f"- `{s.get('cell', s.get('levels'))}`: {s.get('reason')}" for s in summary["skipped"]]
        lines += [""]
    lines += ["## Method", "", summary["method"], ""]
    return "\n".join(lines)


def write_ablation_report(summary: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``ablation.json`` (everything, NaN as null) and ``ablation.md`` (tables), atomically.

    Args:
        summary: A :func:`summarize_ablation` result (optionally with ``"settings"``).
        out_dir: Folder to write into (created if missing).

    Returns:
        ``{"json": path, "markdown": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(out / "ablation.json", summary),
        "markdown": write_text_atomically(out / "ablation.md", _render_markdown(summary)),
    }
