"""Running a study: resuming, setting unfinished runs aside, recording finished ones."""

from __future__ import annotations

import datetime
import inspect
import itertools
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._checks import is_real
from .._json import write_json
from .._version import __version__
from ..errors import InvalidArgumentError, OutputExistsError
from ..experiment import DatasetReuse, ExperimentConfig
from ..results import AblationResult
from ..train.checkpoint import tidy_checkpoints
from ..train.seeding import seed_everything
from .grid import _RESULT, AblationRun, AblationStudy, _comparable
from .report import write_ablation_report
from .stats import _finite, summarize_ablation

_logger = logging.getLogger(__name__)

_RUN_CONFIG = "run_config.json"
_STUDY = "study.json"


def _scalar_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in report.items() if is_real(v) and k != "num_classes"}


def _check_output_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} is a file; choose a folder for the study.")
    if out.is_dir() and any(out.iterdir()) and not (out / _STUDY).is_file():
        raise OutputExistsError(
            f"{out} is not empty and holds no ablation study ({_STUDY}); choose a new or empty folder."
        )


def _set_aside(run: AblationRun, out: Path) -> Path:
    """Move an unfinished run to ``incomplete/`` (nothing is deleted); returns where it went."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = out / "incomplete" / run.cell.name / f"{run.output_dir.name}-{stamp}"
    for i in itertools.count(1):
        if not target.exists():
            break
        target = target.with_name(f"{run.output_dir.name}-{stamp}-{i}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run.output_dir), str(target))
    return target


def _run_config(run: AblationRun) -> dict[str, Any]:
    return {"cell": run.cell.levels, "fold": run.fold, "seed": run.seed, "experiment": run.config.to_dict()}


def _planned_and_recorded(
    run: AblationRun, experiment: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's planned configuration and a recorded one, flattened for comparison.

    An option added to the library after the record was written is absent from it: the run used
    that option's default, so it is compared as the default.
    """
    planned = _comparable(run.config.to_dict())
    defaults = _comparable(ExperimentConfig().to_dict())
    recorded = {**{k: v for k, v in defaults.items() if k in planned}, **_comparable(dict(experiment))}
    return planned, recorded


def _resumable(run: AblationRun, runner: Runner) -> Path | None:
    """The checkpoint an unfinished run can continue from, or ``None`` (it is redone instead).

    It can continue when the runner takes ``resume=`` (the default runner does), the run recorded
    the configuration this study asks for, and it wrote ``checkpoints/last`` (repaired first if a
    kill interrupted the write). Anything else is set aside and redone, as before.
    """
    if "resume" not in inspect.signature(runner).parameters:
        return None
    tidy_checkpoints(run.output_dir / "checkpoints")
    last = run.output_dir / "checkpoints" / "last"
    try:
        recorded = json.loads((run.output_dir / _RUN_CONFIG).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    planned, started = _planned_and_recorded(run, recorded.get("experiment", {}))
    if started != planned:
        return None
    return last if (last / "trainer_state.json").is_file() else None


def _load_finished(run: AblationRun) -> dict[str, Any]:
    path = run.output_dir / _RESULT
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InvalidArgumentError(
            f"{path} is unreadable ({e}); move that run folder away to redo it."
        ) from e
    planned, recorded = _planned_and_recorded(run, record.get("experiment", {}))
    if recorded != planned:
        changed = sorted(k for k in set(recorded) | set(planned) if recorded.get(k) != planned.get(k))
        detail = ", ".join(f"{k}: {recorded.get(k)!r} -> {planned.get(k)!r}" for k in changed[:5])
        raise InvalidArgumentError(
            f"{run.output_dir} finished with another configuration than this study asks for ({detail}). "
            f"Finished runs are never overwritten: use a new output_dir, or move that run folder away."
        )
    return record


def _record(run: AblationRun, metrics: dict[str, float], seconds: float, out: Path) -> dict[str, Any]:

    return {
        "cell": run.cell.name,
        "levels": run.cell.levels,
        "fold": run.fold,
        "val_fold": run.val_fold,
        "seed": run.seed,
        "metrics": metrics,
        "output_dir": run.output_dir.relative_to(out).as_posix(),
        "seconds": round(seconds, 3),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "experiment": run.config.to_dict(),
    }


Runner = Callable[[ExperimentConfig], Mapping[str, Any]]


def run_ablation(
    study: AblationStudy,
    *,
    runner: Runner | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    lane: tuple[int, int] | None = None,
) -> AblationResult:
    """Run the study's missing runs, then summarise every finished run into ``ablation.json``/``.md``.

    Finished runs (with a ``result.json``) are reused; an unfinished one continues from its
    ``checkpoints/last`` when it has one and recorded this study's configuration (and the runner
    takes ``resume=``); any other is moved to ``incomplete/`` and redone. Before each run the
    Python, NumPy and PyTorch generators are seeded with the run's seed, so the model's initial
    weights depend on the seed alone. One process at a time per study folder and lane: a run
    another process is still training looks unfinished.

    Lanes split a study across processes (e.g. one per core): lane ``(i, n)`` trains the runs whose
    position in :meth:`~AblationStudy.runs` is ``i`` modulo ``n`` (``i`` counts from 1), and only
    reads the others, reusing them when finished and leaving them alone otherwise. Positions run
    repeat by repeat, so the lanes finish paired repeats together. Give every lane the same
    ``cache_dir`` so that the data is decoded once for all of them.

    Args:
        study: The study.
        runner: Trains and tests one configuration and returns a mapping with the test report
            under ``"test"``; default :func:`~brainvit_effnet.experiment.run_experiment`, with
            the data opened once for all runs on it (:class:`~brainvit_effnet.experiment.DatasetReuse`).
        on_run: Called after each run with its record plus ``"status"`` (``"trained"``,
            ``"resumed"``, ``"redone"`` or ``"reused"``), ``"index"`` and ``"total"``; e.g. to print progress.
        lane: ``(i, n)``: train only this lane's runs (see above); ``None`` trains them all.

    Returns:
        ``{"summary": summarize_ablation(...), "report_files": {"json", "markdown"}, "runs": [...],
        "counts": {"trained", "resumed", "redone", "reused", "pending"}}``. ``pending`` counts other lanes'
        runs that are not finished yet; while there are any, the summary covers the finished runs
        only and no report files are written (``report_files`` is empty): the last lane to finish
        writes them, as does a rerun without ``lane``.

    Raises:
        FileExistsError: ``output_dir`` is a non-empty folder that holds no study.
        ValueError: invalid study, or a finished run whose configuration differs from the study's.
    """
    # One opened dataset for all runs on the same data: scanned (and with cache, decoded) once.
    reuse: DatasetReuse | None = None
    if runner is None:
        reuse = DatasetReuse()
        runner = reuse.run_experiment
    if lane is not None:
        lane_index, lanes = lane
        if not (isinstance(lanes, int) and isinstance(lane_index, int) and 1 <= lane_index <= lanes):
            raise InvalidArgumentError(f"lane must be (i, n) with 1 <= i <= n, e.g. (1, 2); got {lane!r}.")
    out = Path(study.output_dir)
    _check_output_dir(out)
    cells = study.cells()
    # The folds are read from the dataset the runs will share, not from a scan of their own.
    runs = study.runs(cells, open_data=None if reuse is None else lambda: reuse.dataset(study.base))
    for run in runs:  # fail before any training if a finished run does not match the study
        if run.state() == "finished":
            _load_finished(run)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / _STUDY, study.to_dict())

    records: list[dict[str, Any]] = []
    counts = {"trained": 0, "resumed": 0, "redone": 0, "reused": 0, "pending": 0}
    pending: list[AblationRun] = []
    for index, run in enumerate(runs, 1):
        state = run.state()
        if state == "finished":
            record, status = _load_finished(run), "reused"
        elif lane is not None and (index - 1) % lane[1] != lane[0] - 1:
            pending.append(run)  # another lane's run, not finished yet: never touched here
            continue
        else:
            status = "trained"
            resume = _resumable(run, runner) if state == "partial" else None
            if resume is not None:
                status = "resumed"
                _logger.warning("%s is unfinished: continuing from %s", run.name, resume)
            elif state == "partial" and not any(run.output_dir.iterdir()):
                run.output_dir.rmdir()  # an empty folder: nothing to keep
            elif state == "partial":
                _logger.warning(
                    "%s is unfinished: set aside in %s, redoing it", run.name, _set_aside(run, out)
                )
                status = "redone"
            if resume is None:
                run.output_dir.mkdir(parents=True)
                write_json(run.output_dir / _RUN_CONFIG, _run_config(run))
            seed_everything(run.seed)  # a resume restores the checkpoint's RNG states over this
            start = time.perf_counter()
            result = runner(run.config) if resume is None else runner(run.config, resume=resume)
            seconds = time.perf_counter() - start
            if not study.keep_checkpoints:
                shutil.rmtree(run.output_dir / "checkpoints", ignore_errors=True)
            record = _record(run, _scalar_metrics(result["test"]), seconds, out)
            if resume is not None:  # ``seconds`` is this process's share; the epochs' own times are in timing
                record["resumed_from"] = resume.relative_to(out).as_posix()
            record["timing"] = _timing(result, seconds)
            write_json(run.output_dir / _RESULT, record)  # written last: marks the run finished
        missing = [m for m in study.metrics if not _finite(record["metrics"].get(m))]
        if missing:  # say so now, not after the last run; finished runs are kept
            raise InvalidArgumentError(
                f"{run.name} has no metric {missing} in its test report "
                f"(it has {sorted(record['metrics'])}); "
                f"fix the study's metrics and run it again (finished runs are reused)."
            )
        counts[status] += 1
        records.append(record)
        if on_run is not None:
            on_run({**record, "status": status, "index": index, "total": len(runs)})

    # Other lanes kept working meanwhile: what they have finished since counts; the rest is pending.
    for run in pending:
        if run.state() == "finished":
            records.append(_load_finished(run))
            counts["reused"] += 1
        else:
            counts["pending"] += 1
    summary = summarize_ablation(
        records,
        study.factors,
        study.metrics,
        skipped=[{"cell": c.name, "levels": c.levels, "reason": c.skipped} for c in cells if c.skipped],
        confidence=study.confidence,
        permutations=study.permutations,
    )
    summary["settings"] = _settings(study, records)
    files = write_ablation_report(summary, out) if not counts["pending"] else {}
    return {
        "summary": summary,
        "report_files": {k: str(v) for k, v in files.items()},
        "runs": records,
        "counts": counts,
    }


def _timing(result: Mapping[str, Any], seconds: float) -> dict[str, float]:
    """Where a run's time went: preprocessing (decoding, or reading the slice cache), the training
    steps of every epoch, and the rest.

    ``overhead`` is everything else: building the model and data, each epoch's validation, the best
    model's test evaluation with its bootstrap, saving checkpoints, the model and the report.
    """
    fit = result.get("fit") or {}
    epochs = sum(float(h.get("seconds", 0.0)) for h in fit.get("history", []) if isinstance(h, Mapping))
    preprocess = float(result.get("preprocess_seconds", 0.0) or 0.0)
    return {
        "total": round(seconds, 3),
        "preprocess": round(preprocess, 3),
        "epochs": round(epochs, 3),
        "overhead": round(max(0.0, seconds - epochs - preprocess), 3),
    }


def _settings(study: AblationStudy, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    base = study.base
    return {
        "model": base.model,
        "pretrained": base.pretrained,
        "model_kwargs": base.model_kwargs,
        "data": base.data,
        "folds": sorted({r["fold"] for r in records}),
        "seeds": sorted({r["seed"] for r in records}),
        "epochs": base.train.epochs,
        "batch_size": base.train.batch_size,
        "lr": base.train.lr,
        "loss": base.train.loss,
        "output_dir": study.output_dir,
    }
