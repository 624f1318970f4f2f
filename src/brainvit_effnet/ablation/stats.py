"""Statistics of a study: t intervals, the sign-flip test, per-cell summaries and paired effects."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from .._checks import is_real
from ..errors import InvalidArgumentError
from ..results import LOWER_IS_BETTER, AblationSummary
from .grid import DEFAULT_METRICS, _check_levels, _level_key, _level_label

_EXACT_SIGN_FLIPS = 16  # enumerate all 2**n sign patterns up to this many repeats


def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    n = values.size
    if n < 2:
        return math.nan, math.nan
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def _sign_flip_p(diffs: np.ndarray, permutations: int, seed: int) -> tuple[float, str]:
    """Two-sided sign-flip permutation p-value of mean(diffs) = 0 (exact for <= 16 values)."""
    n = diffs.size
    observed = abs(float(diffs.mean()))
    tol = 1e-12 * max(1.0, observed)
    if n <= _EXACT_SIGN_FLIPS:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        flipped = np.abs(signs @ diffs) / n
        return float(np.mean(flipped >= observed - tol)), "exact"
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(permutations, n))
    flipped = np.abs(signs @ diffs) / n
    return float((1 + np.sum(flipped >= observed - tol)) / (permutations + 1)), "monte-carlo"


def _describe(values: np.ndarray, confidence: float) -> dict[str, Any]:
    n = values.size
    lo, hi = _t_interval(values, confidence)
    return {
        "n": int(n),
        "mean": float(values.mean()) if n else math.nan,
        "std": float(values.std(ddof=1)) if n > 1 else math.nan,
        "ci": [lo, hi],
    }


def _check_records(
    runs: Sequence[Mapping[str, Any]], factors: Mapping[str, Sequence[Any]], metrics: Sequence[str]
) -> None:
    seen: set[tuple[str, Any, Any]] = set()
    for i, run in enumerate(runs):
        for key in ("levels", "fold", "seed", "metrics"):
            if key not in run:
                raise InvalidArgumentError(
                    f"runs[{i}] has no {key!r}; each run needs levels, fold, seed and metrics."
                )
        levels = run["levels"]
        if set(levels) != set(factors):
            raise InvalidArgumentError(
                f"runs[{i}] has levels for {sorted(levels)}; the factors are {sorted(factors)}."
            )
        for name, level in levels.items():
            if _level_key(level) not in {_level_key(v) for v in factors[name]}:
                raise InvalidArgumentError(
                    f"runs[{i}]: {level!r} is not a level of {name!r} ({list(factors[name])})."
                )
        for m in metrics:
            value = run["metrics"].get(m)
            if not is_real(value):
                raise InvalidArgumentError(
                    f"runs[{i}] has no numeric metric {m!r} (it has {sorted(run['metrics'])}); "
                    f"choose metrics that every run reports."
                )
        run_key = (_level_key([levels[f] for f in factors]), run["fold"], run["seed"])
        if run_key in seen:
            raise InvalidArgumentError(
                f"runs[{i}] repeats cell {levels} on fold {run['fold']}, seed {run['seed']}."
            )
        seen.add(run_key)


def summarize_ablation(
    runs: Sequence[Mapping[str, Any]],
    factors: Mapping[str, Sequence[Any]],
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    skipped: Sequence[Mapping[str, Any]] = (),
    confidence: float = 0.95,
    permutations: int = 10_000,
    seed: int = 0,
) -> AblationSummary:
    """Per-cell statistics and paired factor effects of a factorial study.

    A *repeat* is a (fold, seed) pair. **Cells**: mean, sample standard deviation (``ddof=1``) and
    a Student-t interval of each metric over the cell's repeats. **Effects**: for each factor and
    each of its levels after the first (the reference), and each metric, the difference
    ``metric(level) - metric(reference)`` is taken between cells that agree on every other factor
    (a *context*) within the same repeat, then averaged over the contexts, one difference ``d_r``
    per repeat. Only repeats in which every runnable context has both cells are used, so each
    ``d_r`` averages the same contexts. Reported: mean ``d_r`` (the main effect), its t interval,
    a two-sided sign-flip permutation p-value over the repeats (exact enumeration of all ``2**n``
    sign patterns up to 16 repeats, otherwise ``permutations`` random ones), the smallest p the
    test can give with this many repeats (``2 / 2**n``), how many repeats favour the level, and
    the mean difference in each context (interactions show as contexts that disagree).

    Repeats over folds share training data, so they are not independent: the intervals and
    p-values are optimistic, and with few repeats they are wide or cannot reach significance.

    Args:
        runs: One mapping per finished run: ``levels`` (factor -> level), ``fold``, ``seed`` and
            ``metrics`` (metric -> number).
        factors: Factor -> levels (the first level is each factor's reference).
        metrics: Metrics to summarise; each must be a number in every run.
        skipped: Cells that could not run, as ``{"cell", "levels", "reason"}``; listed in the report.
        confidence: Interval level.
        permutations: Random sign patterns when there are more than 16 repeats.
        seed: Seed of those random sign patterns.

    Returns:
        ``{"factors", "metrics", "lower_is_better", "confidence", "n_runs", "repeats", "cells",
        "effects", "skipped", "method"}``; NaN where a statistic is undefined (e.g. the standard
        deviation of a single repeat).

    Examples:
        >>> runs = [
        ...     {"levels": {"tf": tf}, "fold": f, "seed": 0, "metrics": {"accuracy": 0.8 + tf / 10 + f / 100}}
        ...     for tf in (False, True)
        ...     for f in (1, 2, 3)
        ... ]
        >>> s = summarize_ablation(runs, {"tf": [False, True]}, ["accuracy"])
        >>> effect = s["effects"][0]
        >>> round(effect["mean"], 3), effect["n"], effect["p_value"], effect["better"]
        (0.1, 3, 0.25, 3)
    """
    factors = _check_levels(factors)
    if isinstance(metrics, str) or not metrics:
        raise InvalidArgumentError(f"metrics must be a non-empty list of metric names; got {metrics!r}.")
    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"confidence must be in (0, 1); got {confidence}.")
    _check_records(runs, factors, metrics)
    names = list(factors)
    level_keys = {f: [_level_key(v) for v in factors[f]] for f in names}
    skipped_cells = {tuple(_level_key(s["levels"][f]) for f in names) for s in skipped if "levels" in s}

    # values[cell index tuple][(fold, seed)] = metrics
    values: dict[tuple[int, ...], dict[tuple[Any, Any], Mapping[str, Any]]] = {}
    for run in runs:
        idx = tuple(level_keys[f].index(_level_key(run["levels"][f])) for f in names)
        values.setdefault(idx, {})[(run["fold"], run["seed"])] = run["metrics"]
    repeats = sorted({(r["fold"], r["seed"]) for r in runs}, key=lambda r: (r[1], r[0]))

    cells = []
    for idx in itertools.product(*(range(len(factors[f])) for f in names)):
        levels = {f: factors[f][i] for f, i in zip(names, idx, strict=True)}
        by_repeat = values.get(idx, {})
        keys = [r for r in repeats if r in by_repeat]
        is_skipped = tuple(level_keys[f][i] for f, i in zip(names, idx, strict=True)) in skipped_cells
        cells.append(
            {
                "levels": levels,
                "label": ", ".join(f"{f} {_level_label(v)}" for f, v in levels.items()),
                "n": len(keys),
                "repeats": [list(k) for k in keys],
                "skipped": is_skipped,
                "metrics": {
                    m: {
                        **_describe(np.array([float(by_repeat[k][m]) for k in keys]), confidence),
                        "values": [float(by_repeat[k][m]) for k in keys],
                    }
                    for m in metrics
                },
            }
        )

    effects = _paired_effects(values, repeats, factors, metrics, confidence, permutations, seed)
    return {
        "factors": {f: list(v) for f, v in factors.items()},
        "metrics": list(metrics),
        "lower_is_better": [m for m in metrics if m in LOWER_IS_BETTER],
        "confidence": confidence,
        "n_runs": len(runs),
        "repeats": [list(r) for r in repeats],
        "cells": cells,
        "effects": effects,
        "skipped": [dict(s) for s in skipped],
        "method": _METHOD.format(level=round(confidence * 100)),
    }


Cell = tuple[int, ...]
Repeat = tuple[Any, Any]


def _paired_effects(
    values: Mapping[Cell, Mapping[Repeat, Mapping[str, Any]]],
    repeats: Sequence[Repeat],
    factors: Mapping[str, Sequence[Any]],
    metrics: Sequence[str],
    confidence: float,
    permutations: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Each non-reference level of each factor against the reference level, paired by repeat."""
    names = list(factors)
    effects = []
    for fi, factor in enumerate(names):
        other_names = [g for g in names if g != factor]
        for level_i in range(1, len(factors[factor])):

            def cell(ctx: Cell, i: int, fi: int = fi) -> Cell:
                return (*ctx[:fi], i, *ctx[fi:])

            # Contexts (levels of the other factors) in which both cells ran, and the repeats that
            # hold both cells in every one of them, so that every repeat averages the same contexts.
            contexts = [
                ctx
                for ctx in itertools.product(*(range(len(factors[g])) for g in other_names))
                if cell(ctx, 0) in values and cell(ctx, level_i) in values
            ]
            usable = [
                r
                for r in repeats
                if contexts
                and all(r in values[cell(c, 0)] and r in values[cell(c, level_i)] for c in contexts)
            ]
            for m in metrics:
                per_context = np.array(
                    [
                        [
                            float(values[cell(c, level_i)][r][m]) - float(values[cell(c, 0)][r][m])
                            for r in usable
                        ]
                        for c in contexts
                    ],
                    dtype=float,
                ).reshape(len(contexts), len(usable))
                d = per_context.mean(axis=0) if usable else np.array([], dtype=float)
                sign = -1.0 if m in LOWER_IS_BETTER else 1.0
                p, p_method = _sign_flip_p(d, permutations, seed) if d.size else (math.nan, "none")
                effects.append(
                    {
                        "factor": factor,
                        "level": factors[factor][level_i],
                        "reference": factors[factor][0],
                        "comparison": (
                            f"{_level_label(factors[factor][level_i])} vs {_level_label(factors[factor][0])}"
                        ),
                        "metric": m,
                        **_describe(d, confidence),
                        "diffs": d.tolist(),
                        "repeats": [list(r) for r in usable],
                        "n_contexts": len(contexts),
                        "p_value": p,
                        "p_method": p_method,
                        "min_p": 2.0 / 2**d.size if 0 < d.size <= _EXACT_SIGN_FLIPS else math.nan,
                        "better": int(np.sum(sign * d > 0)),
                        "worse": int(np.sum(sign * d < 0)),
                        "by_context": [
                            {
                                "levels": {g: factors[g][i] for g, i in zip(other_names, c, strict=True)},
                                "mean": float(row.mean()) if usable else math.nan,
                            }
                            for c, row in zip(contexts, per_context, strict=True)
                        ],
                    }
                )
    return effects


_METHOD = (
    "A repeat is one (test fold, seed) pair: the cell is trained on the other folds but one, which "
    "validates (best epoch), and tested on the test fold. Cells: mean ± sample standard deviation over "
    "repeats, with a Student-t {level}% interval. Effects: within each repeat, the metric at a level "
    "minus the metric at the factor's first level, between cells that agree on every other factor, "
    "averaged over those other factors' levels; then the mean over repeats with a Student-t {level}% "
    "interval and a two-sided sign-flip permutation p-value (exact over all 2^n sign patterns up to 16 "
    "repeats). With n repeats the smallest possible p is 2/2^n. Folds share training data, so repeats "
    "are not independent and the intervals are optimistic."
)


def _finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(float(value))
