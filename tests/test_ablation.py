"""Ablation studies: grid expansion, config mapping, resumable runs, paired statistics, report, CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from brainvit_effnet.ablation import (
    AblationStudy,
    ablation_tables,
    run_ablation,
    summarize_ablation,
    write_ablation_report,
)
from brainvit_effnet.cli import main
from brainvit_effnet.experiment import ExperimentConfig

TINY_BASE: dict[str, Any] = {
    "model": "effnet_test",
    "data": "sample",
    "model_kwargs": {"img_size": 64},
    "augment": {"augment": False},
    "bootstrap": 0,
    "train": {"epochs": 1, "batch_size": 32, "limit_train_batches": 1, "progress": False},
}


def study(tmp_path: Path, **values: Any) -> AblationStudy:
    return AblationStudy.from_dict({"base": TINY_BASE, "output_dir": str(tmp_path / "study"), **values})


class FakeRunner:
    """Stands in for run_experiment: writes a file into the run folder, returns made-up metrics."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.configs: list[ExperimentConfig] = []
        self.fail_on = fail_on

    def __call__(self, cfg: ExperimentConfig) -> dict[str, Any]:
        self.configs.append(cfg)
        out = Path(cfg.train.output_dir)
        (out / "log.jsonl").write_text("{}\n")
        (out / "checkpoints" / "last").mkdir(parents=True)
        if self.fail_on is not None and len(self.configs) == self.fail_on:
            raise RuntimeError("interrupted")
        bonus = 0.1 * cfg.model.endswith("_tf") + 0.01 * cfg.test_folds[0]
        metrics = {"accuracy": 0.5 + bonus, "balanced_accuracy": 0.5, "macro_f1": 0.4 + bonus, "ece": 0.1}
        return {"test": {**metrics, "n": 19}}


# -- grid and configuration -----------------------------------------------------------------------
def test_grid_expands_every_combination_and_maps_factors_onto_the_config(tmp_path: Path) -> None:
    s = study(
        tmp_path, factors={"transformer": [False, True], "label_smoothing": [0.0, 0.1], "cbam": [False, True]}
    )
    cells = s.cells()
    assert len(cells) == 8 and not any(c.skipped for c in cells)  # the baseline takes CBAM too
    assert cells[0].name == "transformer-off__label_smoothing-0__cbam-off"
    assert cells[-1].name == "transformer-on__label_smoothing-0.1__cbam-on"
    assert [c.levels["cbam"] for c in cells[:2]] == [False, True]  # the last factor varies fastest
    by_levels = {tuple(c.levels.values()): c.config for c in cells}
    plain, full = by_levels[(False, 0.0, False)], by_levels[(True, 0.1, True)]
    assert (plain.model, plain.train.loss, plain.train.loss_kwargs) == ("effnet_test", "cross_entropy", {})
    assert plain.model_kwargs == {"img_size": 64, "cbam": False}
    assert (full.model, full.train.loss, full.train.loss_kwargs) == (
        "effnet_test_tf",
        "label_smoothing",
        {"smoothing": 0.1},
    )
    assert full.model_kwargs == {"img_size": 64, "cbam": True}
    assert TINY_BASE["model_kwargs"] == {"img_size": 64}  # the base is never mutated

    runs = s.runs(cells)
    assert len(runs) == 8 * 5  # every official fold by default, one seed
    first = runs[0]
    assert (first.fold, first.val_fold, first.seed) == (1, 2, 0)
    assert (first.config.test_folds, first.config.val_folds) == ([1], [2])
    assert runs[-1].val_fold == 1  # fold 5 is validated by fold 1
    assert first.output_dir == tmp_path / "study" / "runs" / cells[0].name / "fold_1_seed_0"
    assert first.config.train.output_dir == str(first.output_dir)


def test_generic_factors_tags_and_other_losses(tmp_path: Path) -> None:
    s = study(
        tmp_path,
        base={
            **TINY_BASE,
            "model": "effnet_b0_tf.in1k",
            "train": {"loss": "focal", "loss_kwargs": {"gamma": 2}},
        },
        factors={"transformer": [False], "label_smoothing": [0.1], "train.lr": [1e-3, 3e-4]},
        folds=[3],
        seeds=[0, 7],
    )
    cells = s.cells()
    assert [c.name for c in cells] == [
        "transformer-off__label_smoothing-0.1__train.lr-0.001",
        "transformer-off__label_smoothing-0.1__train.lr-0.0003",
    ]
    cfg = cells[1].config
    assert cfg.model == "effnet_b0.in1k"  # the pretrained tag is kept
    assert (cfg.train.loss, cfg.train.loss_kwargs, cfg.train.lr) == (
        "focal",
        {"gamma": 2, "smoothing": 0.1},
        3e-4,
    )
    runs = s.runs(cells)
    assert [(r.fold, r.val_fold, r.seed) for r in runs] == [(3, 4, 0)] * 2 + [(3, 4, 7)] * 2
    assert runs[-1].config.train.seed == 7

    nested = study(
        tmp_path,
        base={**TINY_BASE, "train": {"loss": "focal", "loss_kwargs": {"gamma": 2.0}}},
        factors={"train.loss_kwargs.gamma": [1.0, 3.0]},
    )
    assert [c.config.train.loss_kwargs for c in nested.cells()] == [{"gamma": 1.0}, {"gamma": 3.0}]
    assert nested.base.train.loss_kwargs == {"gamma": 2.0}  # levels never leak into the base


def test_cells_whose_model_cannot_be_built_are_skipped_with_the_reason(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"transformer": [False, True], "model_kwargs.depth": [1, 2]})
    cells = s.cells()
    skipped = [c for c in cells if c.skipped]
    assert [c.levels for c in skipped] == [
        {"transformer": False, "model_kwargs.depth": 1},
        {"transformer": False, "model_kwargs.depth": 2},
    ]
    assert "depth" in str(skipped[0].skipped)
    assert len(s.runs(cells)) == 2 * 5
    with pytest.raises(ValueError, match="no cell of the study can run"):
        study(tmp_path, factors={"transformer": [False], "model_kwargs.depth": [1, 2]}).cells()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"factors": {"transfomer": [False, True]}}, "did you mean 'transformer'"),
        ({"factors": {"train.lrr": [1e-3]}}, "did you mean 'train.lr'"),
        ({"factors": {"cbam": []}}, "has no levels"),
        ({"factors": {}}, "non-empty mapping"),
        ({"factors": {"cbam": "yes"}}, "levels must be a list"),
        ({"factors": {"cbam": [0, 1]}}, "true/false"),
        ({"factors": {"label_smoothing": [0.0, 1.0]}}, r"\[0, 1\)"),
        ({"factors": {"cbam": [True, True]}}, "repeats a level"),
        ({"factors": {"transformer": [True], "model": ["effnet_b0"]}}, "both set 'model'"),
        ({"factors": {"label_smoothing": [0.1], "train.loss": ["focal"]}}, "both set 'train.loss'"),
        ({"factors": {"train.seed": [1, 2]}}, "set by the study"),
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"folds": [1, 1]}, "distinct integers"),
        ({"metric": ["accuracy"]}, "did you mean 'metrics'"),
    ],
)
def test_bad_studies_are_rejected_clearly(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        study(tmp_path, **values)


def test_bad_base_configurations_are_rejected_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not such a name"):
        study(tmp_path, base={**TINY_BASE, "model": "local-dir:/x"}, factors={"transformer": [True]}).cells()
    with pytest.raises(ValueError, match="base loss is 'ols'"):
        study(
            tmp_path, base={**TINY_BASE, "train": {"loss": "ols"}}, factors={"label_smoothing": [0.1]}
        ).cells()
    with pytest.raises(ValueError, match=r"cell train\.lr-1"):
        study(tmp_path, factors={"train.lr": [-1]}).cells()
    with pytest.raises(ValueError, match="official folds"):
        study(tmp_path, base={**TINY_BASE, "data": f"folder:{tmp_path}"}, factors={"cbam": [True]}).runs()
    with pytest.raises(ValueError, match=r"folds \[7\] are not among"):
        study(tmp_path, factors={"cbam": [True]}, folds=[7]).runs()


def test_study_file_round_trip(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"cbam": [False, True]}, folds=[1, 2], seeds=[0, 1])
    path = tmp_path / "study.json"
    path.write_text(json.dumps(s.to_dict()))
    again = AblationStudy.from_file(path, {"base.train.epochs": 3})
    assert again.factors == s.factors and again.folds == [1, 2] and again.base.train.epochs == 3


# -- resuming -------------------------------------------------------------------------------------
def test_finished_runs_are_reused_partial_runs_redone_and_nothing_else_touched(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"transformer": [False, True]}, folds=[1, 2])
    out = Path(s.output_dir)
    runner = FakeRunner()
    result = run_ablation(s, runner=runner)
    assert (
        result["counts"] == {"trained": 4, "resumed": 0, "redone": 0, "reused": 0, "pending": 0}
        and len(runner.configs) == 4
    )
    run_dir = out / "runs" / "transformer-on" / "fold_2_seed_0"
    record = json.loads((run_dir / "result.json").read_text())
    assert record["experiment"]["model"] == "effnet_test_tf" and record["experiment"]["test_folds"] == [2]
    assert record["experiment"]["train"]["seed"] == 0 and record["metrics"]["accuracy"] == pytest.approx(0.62)
    assert json.loads((run_dir / "run_config.json").read_text())["experiment"] == record["experiment"]
    assert not (run_dir / "checkpoints").exists() and (run_dir / "log.jsonl").is_file()
    assert (out / "ablation.md").is_file() and (out / "study.json").is_file()

    notes = out / "notes.txt"
    notes.write_text("mine")
    again = run_ablation(s, runner=(runner := FakeRunner()))
    assert (
        again["counts"] == {"trained": 0, "resumed": 0, "redone": 0, "reused": 4, "pending": 0}
        and runner.configs == []
    )
    assert again["summary"]["effects"] == result["summary"]["effects"]

    (run_dir / "result.json").unlink()  # as if killed before the run finished
    third = run_ablation(s, runner=(runner := FakeRunner()))
    assert third["counts"] == {"trained": 0, "resumed": 0, "redone": 1, "reused": 3, "pending": 0}
    assert [Path(c.train.output_dir) for c in runner.configs] == [run_dir]
    (kept,) = (out / "incomplete" / "transformer-on").iterdir()
    assert kept.name.startswith("fold_2_seed_0-") and (kept / "log.jsonl").is_file()
    assert notes.read_text() == "mine"


class ResumingRunner(FakeRunner):
    """A runner that, like run_experiment, continues a run from a checkpoint it is given."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__(fail_on)
        self.resumed: list[Path | None] = []

    def __call__(self, cfg: ExperimentConfig, *, resume: Path | None = None) -> dict[str, Any]:
        self.resumed.append(resume)
        if resume is None:
            return super().__call__(cfg)
        assert (resume / "trainer_state.json").read_text() == "epoch 3"  # the checkpoint, untouched
        self.configs.append(cfg)
        return {"test": {"accuracy": 0.7, "balanced_accuracy": 0.5, "macro_f1": 0.6, "ece": 0.1, "n": 19}}


def test_an_interrupted_run_continues_from_its_last_checkpoint(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"transformer": [False, True]}, folds=[1])
    out = Path(s.output_dir)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_ablation(s, runner=ResumingRunner(fail_on=2))
    run_dir = out / "runs" / "transformer-on" / "fold_1_seed_0"
    (run_dir / "checkpoints" / "last" / "trainer_state.json").write_text("epoch 3")
    # A write the kill interrupted is repaired before resuming: the old checkpoint is put back.
    (run_dir / "checkpoints" / "last").rename(run_dir / "checkpoints" / ".last.old-123")
    result = run_ablation(s, runner=(runner := ResumingRunner()))
    assert result["counts"] == {"trained": 0, "resumed": 1, "redone": 0, "reused": 1, "pending": 0}
    assert runner.resumed == [run_dir / "checkpoints" / "last"] and not (out / "incomplete").exists()
    record = json.loads((run_dir / "result.json").read_text())
    assert record["resumed_from"] == "runs/transformer-on/fold_1_seed_0/checkpoints/last"
    assert record["metrics"]["accuracy"] == 0.7


@pytest.mark.parametrize("damage", ["no checkpoint", "other configuration", "no run config"])
def test_an_unfinished_run_that_cannot_continue_is_set_aside_and_redone(tmp_path: Path, damage: str) -> None:
    s = study(tmp_path, factors={"transformer": [False, True]}, folds=[1])
    out = Path(s.output_dir)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_ablation(s, runner=ResumingRunner(fail_on=2))
    run_dir = out / "runs" / "transformer-on" / "fold_1_seed_0"
    if damage == "no checkpoint":
        (run_dir / "checkpoints" / "last").rmdir()  # killed before the first epoch ended
    elif damage == "other configuration":
        (run_dir / "checkpoints" / "last" / "trainer_state.json").write_text("epoch 3")
        config = json.loads((run_dir / "run_config.json").read_text())
        config["experiment"]["train"]["epochs"] += 1
        (run_dir / "run_config.json").write_text(json.dumps(config))
    else:
        (run_dir / "checkpoints" / "last" / "trainer_state.json").write_text("epoch 3")
        (run_dir / "run_config.json").unlink()
    result = run_ablation(s, runner=(runner := ResumingRunner()))
    assert result["counts"]["redone"] == 1 and runner.resumed == [None]
    (kept,) = (out / "incomplete" / "transformer-on").iterdir()
    assert (kept / "log.jsonl").is_file()  # nothing is deleted


def test_an_interrupted_study_resumes_where_it_stopped(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"cbam": [False, True]}, folds=[1, 2])
    with pytest.raises(RuntimeError, match="interrupted"):
        run_ablation(s, runner=FakeRunner(fail_on=3))
    result = run_ablation(s, runner=(runner := FakeRunner()))
    assert (
        result["counts"] == {"trained": 1, "resumed": 0, "redone": 1, "reused": 2, "pending": 0}
        and len(runner.configs) == 2
    )
    assert result["summary"]["n_runs"] == 4


def test_finished_runs_are_never_overwritten_by_a_changed_study(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"cbam": [False, True]}, folds=[1])
    run_ablation(s, runner=FakeRunner())
    changed = study(
        tmp_path,
        base={**TINY_BASE, "train": {**TINY_BASE["train"], "epochs": 2}},
        factors=s.factors,
        folds=[1],
    )
    with pytest.raises(ValueError, match=r"another configuration .*train.epochs: 1 -> 2"):
        run_ablation(changed, runner=(runner := FakeRunner()))
    assert runner.configs == []
    # More seeds extend the study: only the new runs train.
    more = study(tmp_path, factors=s.factors, folds=[1], seeds=[0, 1])
    assert run_ablation(more, runner=FakeRunner())["counts"] == {
        "trained": 2,
        "resumed": 0,
        "redone": 0,
        "reused": 2,
        "pending": 0,
    }


def test_lanes_split_the_runs_and_leave_other_lanes_runs_alone(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"transformer": [False, True]}, folds=[1, 2])
    out = Path(s.output_dir)
    # Lane 2 started first, and is training its first run right now: lane 1 must not touch it.
    busy = out / "runs" / "transformer-on" / "fold_1_seed_0"
    busy.mkdir(parents=True)
    (out / "study.json").write_text(json.dumps(s.to_dict(), default=str))
    (busy / "log.jsonl").write_text("in progress")
    first = run_ablation(s, runner=(runner := FakeRunner()), lane=(1, 2))
    assert first["counts"] == {"trained": 2, "resumed": 0, "redone": 0, "reused": 0, "pending": 2}
    assert [c.test_folds for c in runner.configs] == [[1], [2]]
    assert all(not c.model.endswith("_tf") for c in runner.configs)  # positions 1 and 3 of the plan
    assert first["report_files"] == {} and not (out / "ablation.json").exists()
    assert (busy / "log.jsonl").read_text() == "in progress" and not (out / "incomplete").exists()

    (busy / "log.jsonl").unlink()
    busy.rmdir()  # that process finished elsewhere; now lane 2 runs its share
    second = run_ablation(s, runner=(runner := FakeRunner()), lane=(2, 2))
    assert second["counts"] == {"trained": 2, "resumed": 0, "redone": 0, "reused": 2, "pending": 0}
    assert all(c.model.endswith("_tf") for c in runner.configs)
    assert (out / "ablation.json").is_file() and second["summary"]["n_runs"] == 4


def test_the_lane_that_finishes_last_writes_the_report(tmp_path: Path) -> None:
    """Lane 2 finishes its runs while lane 1 trains its last one: lane 1 then reports all of them."""
    s = study(tmp_path, factors={"transformer": [False, True]}, folds=[1, 2])
    out = Path(s.output_dir)
    fake = FakeRunner()

    def lane_1_runner(cfg: ExperimentConfig) -> dict[str, Any]:
        if cfg.test_folds == [2]:  # lane 1's last run: meanwhile, lane 2 does all of its share
            run_ablation(s, runner=FakeRunner(), lane=(2, 2))
        return fake(cfg)

    result = run_ablation(s, runner=lane_1_runner, lane=(1, 2))
    assert result["counts"] == {"trained": 2, "resumed": 0, "redone": 0, "reused": 2, "pending": 0}
    assert (out / "ablation.json").is_file() and result["summary"]["n_runs"] == 4


@pytest.mark.parametrize("lane", [(0, 2), (3, 2), (1, 0)])
def test_bad_lanes_are_refused(tmp_path: Path, lane: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="lane must be"):
        run_ablation(
            study(tmp_path, factors={"cbam": [False, True]}, folds=[1]), runner=FakeRunner(), lane=lane
        )


def test_each_run_records_where_its_time_went(tmp_path: Path) -> None:
    def runner(cfg: ExperimentConfig) -> dict[str, Any]:
        result = FakeRunner()(cfg)
        return {**result, "fit": {"history": [{"seconds": 0.0}]}, "preprocess_seconds": 0.0}

    result = run_ablation(study(tmp_path, factors={"cbam": [False, True]}, folds=[1]), runner=runner)
    timing = result["runs"][0]["timing"]
    assert set(timing) == {"total", "preprocess", "epochs", "overhead"}
    assert timing["overhead"] == pytest.approx(timing["total"], abs=1e-3)


def test_a_run_finished_before_an_option_existed_is_still_reused(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"cbam": [False, True]}, folds=[1])
    run_ablation(s, runner=FakeRunner())
    for result in Path(s.output_dir).glob("runs/*/*/result.json"):
        record = json.loads(result.read_text())
        del record["experiment"]["strict"], record["experiment"]["train"]["device"]  # newer options
        result.write_text(json.dumps(record))
    again = run_ablation(s, runner=(runner := FakeRunner()))
    assert again["counts"]["reused"] == 2 and runner.configs == []


def test_a_folder_that_holds_something_else_is_refused(tmp_path: Path) -> None:
    s = study(tmp_path, factors={"cbam": [False, True]}, folds=[1])
    Path(s.output_dir).mkdir()
    (Path(s.output_dir) / "thesis.tex").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no ablation study"):
        run_ablation(s, runner=FakeRunner())


# -- statistics -----------------------------------------------------------------------------------
def synthetic_runs(
    effects: dict[str, float], repeats: list[tuple[int, int]], noise: float = 0.0
) -> list[dict]:
    """accuracy = 0.6 + sum of effects of the 'on' factors + a repeat offset (+ optional noise)."""
    rng = np.random.default_rng(0)
    runs = []
    for combo in itertools.product([False, True], repeat=len(effects)):
        levels = dict(zip(effects, combo, strict=True))
        for fold, seed in repeats:
            value = 0.6 + sum(e for e, on in zip(effects.values(), combo, strict=True) if on)
            value += 0.03 * fold - 0.02 * seed + noise * rng.standard_normal()
            runs.append(
                {"levels": levels, "fold": fold, "seed": seed, "metrics": {"accuracy": value, "ece": 0.1}}
            )
    return runs


def test_paired_effects_remove_the_repeat_offsets_and_recover_known_effects() -> None:
    repeats = [(f, s) for s in (0, 1) for f in (1, 2, 3)]
    runs = synthetic_runs({"a": 0.1, "b": -0.02}, repeats)
    summary = summarize_ablation(runs, {"a": [False, True], "b": [False, True]}, ["accuracy", "ece"])
    a = next(e for e in summary["effects"] if e["factor"] == "a" and e["metric"] == "accuracy")
    b = next(e for e in summary["effects"] if e["factor"] == "b" and e["metric"] == "accuracy")
    assert a["mean"] == pytest.approx(0.1) and a["std"] == pytest.approx(0.0, abs=1e-12)
    assert b["mean"] == pytest.approx(-0.02) and (b["better"], b["worse"]) == (0, 6)
    assert a["n"] == 6 and a["n_contexts"] == 2 and a["better"] == 6
    assert a["p_value"] == pytest.approx(2 / 2**6) == a["min_p"] and a["p_method"] == "exact"
    assert [c["mean"] for c in a["by_context"]] == pytest.approx([0.1, 0.1])
    ece = next(e for e in summary["effects"] if e["factor"] == "a" and e["metric"] == "ece")
    assert ece["mean"] == 0 and ece["p_value"] == 1.0 and ece["better"] == ece["worse"] == 0

    cell = next(c for c in summary["cells"] if c["levels"] == {"a": True, "b": False})
    values = np.array([0.7 + 0.03 * f - 0.02 * s for f, s in repeats])
    assert cell["n"] == 6 and cell["metrics"]["accuracy"]["mean"] == pytest.approx(values.mean())
    assert cell["metrics"]["accuracy"]["std"] == pytest.approx(values.std(ddof=1))
    lo, hi = stats.t.interval(0.95, 5, loc=values.mean(), scale=stats.sem(values))
    assert cell["metrics"]["accuracy"]["ci"] == pytest.approx([lo, hi])


def test_sign_flip_p_value_and_interval_match_a_brute_force_computation() -> None:
    runs = synthetic_runs({"a": 0.05}, [(f, 0) for f in range(1, 6)], noise=0.05)
    (effect, _) = summarize_ablation(runs, {"a": [False, True]}, ["accuracy", "ece"])["effects"]
    on = {r["fold"]: r["metrics"]["accuracy"] for r in runs if r["levels"]["a"]}
    off = {r["fold"]: r["metrics"]["accuracy"] for r in runs if not r["levels"]["a"]}
    d = np.array([on[f] - off[f] for f in range(1, 6)])
    flips = [abs(np.mean(np.array(signs) * d)) for signs in itertools.product([-1, 1], repeat=5)]
    assert effect["p_value"] == pytest.approx(np.mean(np.array(flips) >= abs(d.mean()) - 1e-12))
    assert effect["diffs"] == pytest.approx(d.tolist())
    assert effect["ci"] == pytest.approx(list(stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d))))
    # More than 16 repeats: Monte-Carlo sign flips, never a p of 0.
    many = synthetic_runs({"a": 0.05}, [(f, s) for f in range(1, 6) for s in range(4)], noise=0.01)
    big = summarize_ablation(many, {"a": [False, True]}, ["accuracy"], permutations=500)["effects"][0]
    assert big["p_method"] == "monte-carlo" and 0 < big["p_value"] <= 1 / 100 and np.isnan(big["min_p"])


def test_incomplete_repeats_and_skipped_cells_are_left_out_of_the_pairs() -> None:
    runs = synthetic_runs({"a": 0.1, "b": 0.0}, [(1, 0), (2, 0), (3, 0)])
    runs = [r for r in runs if not (r["levels"] == {"a": True, "b": True} and r["fold"] == 3)]
    factors = {"a": [False, True], "b": [False, True]}
    a = summarize_ablation(runs, factors, ["accuracy"])["effects"][0]
    assert a["n"] == 2 and a["repeats"] == [[1, 0], [2, 0]]  # fold 3 lacks a cell of a context
    no_ab = [r for r in runs if r["levels"] != {"a": True, "b": True}]
    skipped = [{"cell": "a-on__b-on", "levels": {"a": True, "b": True}, "reason": "unsupported"}]
    summary = summarize_ablation(no_ab, factors, ["accuracy"], skipped=skipped)
    a = summary["effects"][0]
    assert (a["n"], a["n_contexts"], a["mean"]) == (3, 1, pytest.approx(0.1))
    assert summary["cells"][-1]["skipped"] and summary["cells"][-1]["n"] == 0
    assert "skipped" in ablation_tables(summary)


def test_summary_input_errors() -> None:
    runs = synthetic_runs({"a": 0.1}, [(1, 0)])
    with pytest.raises(ValueError, match="no numeric metric 'f1'"):
        summarize_ablation(runs, {"a": [False, True]}, ["f1"])
    with pytest.raises(ValueError, match="repeats cell"):
        summarize_ablation([*runs, runs[0]], {"a": [False, True]}, ["accuracy"])
    with pytest.raises(ValueError, match="not a level"):
        summarize_ablation(runs, {"a": [True, "maybe"]}, ["accuracy"])
    with pytest.raises(ValueError, match="factors are"):
        summarize_ablation(runs, {"b": [False, True]}, ["accuracy"])


def test_report_files_are_valid_json_and_markdown(tmp_path: Path) -> None:
    runs = synthetic_runs({"transformer": 0.02}, [(1, 0), (2, 0)])
    summary = summarize_ablation(runs, {"transformer": [False, True]}, ["accuracy", "ece"])
    files = write_ablation_report(summary, tmp_path)
    data = json.loads(files["json"].read_text())  # strict JSON: NaN written as null
    assert data["effects"][0]["comparison"] == "on vs off" and data["cells"][0]["n"] == 2
    md = files["markdown"].read_text()
    assert "| transformer | n | accuracy ↑ | ece ↓ |" in md and "Small n" in md and "sign-flip" in md
    assert "| transformer | on vs off | accuracy ↑ | 2 | +0.020 |" in md


# -- end to end -----------------------------------------------------------------------------------
def test_a_real_study_trains_tests_and_summarises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from brainvit_effnet import experiment
    from brainvit_effnet.ablation import grid
    from brainvit_effnet.data import load_sample
    from brainvit_effnet.results import AblationResult, AblationSummary

    opened: list[int] = []

    def counting_load(*args: object, **kwargs: object) -> object:
        opened.append(1)
        return load_sample(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(experiment, "load_sample", counting_load)
    monkeypatch.setattr(grid, "load_sample", counting_load)
    s = study(
        tmp_path, factors={"transformer": [False, True]}, folds=[1, 2], metrics=["accuracy", "macro_f1"]
    )
    result = run_ablation(s)
    assert len(opened) == 1  # listing the folds and all four runs: one scan of the data
    # The result has exactly the keys its types declare.
    assert set(result) == AblationResult.__required_keys__
    assert set(result["summary"]) == AblationSummary.__required_keys__ | AblationSummary.__optional_keys__
    out = Path(s.output_dir)
    assert result["counts"]["trained"] == 4
    run_dir = out / "runs" / "transformer-on" / "fold_1_seed_0"
    for name in (
        "result.json",
        "run_config.json",
        "model/model.safetensors",
        "report/report.json",
        "log.jsonl",
    ):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "checkpoints").exists()
    record = json.loads((run_dir / "result.json").read_text())
    # The run's record carries its test report's numbers, on fold 1 of the sample.
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert record["metrics"]["accuracy"] == pytest.approx(report["accuracy"])
    assert record["metrics"]["n"] == report["n"] == sum(r.fold == 1 for r in load_sample().records)
    assert ExperimentConfig.from_dict(record["experiment"]).model == "effnet_test_tf"
    assert [e["metric"] for e in result["summary"]["effects"]] == ["accuracy", "macro_f1"]


def test_cli_ablate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli-study"
    argv = [
        "ablate",
        "--model-size",
        "test",
        "--folds",
        "1",
        "--seeds",
        "0",
        "--epochs",
        "1",
        "--factor",
        "cbam=false,true",
        "--set",
        "train.limit_train_batches=1",
        "--set",
        "model_kwargs.img_size=64",
        "--set",
        "bootstrap=0",
        "--out",
        str(out),
    ]
    assert main([*argv, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert (
        "2 cells x 1 repeats" in printed
        and "0 finished (reused), 0 unfinished" in printed
        and "2 to train" in printed
    )
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "[2/2] runs/cbam-on/fold_1_seed_0: trained" in printed and "| cbam | n | accuracy ↑" in printed
    assert (out / "ablation.md").is_file()
    record = json.loads((out / "runs" / "cbam-on" / "fold_1_seed_0" / "result.json").read_text())
    assert record["experiment"]["model"] == "effnet_test_tf"  # the default model, at the size asked for

    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        f"output_dir: {out}\nfolds: [1]\nbase:\n  model: effnet_test_tf\nfactors:\n  cbam: [false, true]\n"
    )
    assert (
        main(
            [
                "ablate",
                str(study_file),
                "--epochs",
                "1",
                "--set",
                "train.limit_train_batches=1",
                "--set",
                "model_kwargs.img_size=64",
                "--set",
                "bootstrap=0",
                "--dry-run",
            ]
        )
        == 0
    )
    assert "2 finished (reused)" in capsys.readouterr().out
    assert main(["ablate", "--factor", "transfomer=false,true", "--out", str(tmp_path / "x")]) == 2
    assert "did you mean 'transformer'" in capsys.readouterr().err


# A tiny one-batch study from the command line (the flags both CLI tests share).
TINY_CLI = ["ablate", "--model-size", "test", "--epochs", "1", "--set", "train.limit_train_batches=1"]
TINY_CLI += ["--set", "model_kwargs.img_size=64", "--set", "bootstrap=0"]


def test_cli_ablate_lanes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*TINY_CLI, "--folds", "1", "--factor", "cbam=false,true", "--out", str(tmp_path / "study")]
    with pytest.raises(SystemExit):
        main([*argv, "--lane", "0/2"])
    assert "--lane takes I/N with 1 <= I <= N" in capsys.readouterr().err
    assert main([*argv, "--lane", "1/2"]) == 0
    printed = capsys.readouterr().out
    assert "[1/2] runs/cbam-off/fold_1_seed_0: trained" in printed
    assert "1 run(s) of other lanes are not finished" in printed
    assert not (tmp_path / "study" / "ablation.md").exists()
    assert main([*argv, "--lane", "2/2"]) == 0
    assert "Files:" in capsys.readouterr().out and (tmp_path / "study" / "ablation.md").is_file()
