"""The transformer x label-smoothing study script and its page: the study on the recipe, collect, render."""

from __future__ import annotations

import json
from pathlib import Path

from brainvit_effnet.ablation import run_ablation
from brainvit_effnet.experiment import ExperimentConfig
from brainvit_effnet.recipes import RECIPES

from ._scripts import load_benchmark


class Fake:
    """Stands in for run_experiment: the transformer adds 2 points on every fold."""

    def __call__(self, cfg: ExperimentConfig) -> dict:
        bonus = 0.02 * cfg.model.endswith("_tf") + 0.01 * cfg.test_folds[0]
        return {
            "test": {"accuracy": 0.6 + bonus, "balanced_accuracy": 0.6, "macro_f1": 0.55 + bonus, "ece": 0.1}
        }


def test_the_study_is_the_recipe_with_only_the_epoch_cut(tmp_path: Path) -> None:
    study_mod = load_benchmark("transformer_study")
    from brainvit_effnet.data.sample import sample_root

    study = study_mod.build_study(str(sample_root()), tmp_path / "study")
    recipe = RECIPES[study_mod.RECIPE].config
    base = study.base
    assert base.model == recipe["model"] and base.model_kwargs == recipe["model_kwargs"]
    assert base.train.epochs == study_mod.EPOCHS < recipe["train"]["epochs"]
    for key in ("lr", "batch_size", "weight_decay", "warmup_epochs", "scheduler"):
        assert getattr(base.train, key) == recipe["train"][key]
    assert base.cache and base.cache_dir == str(tmp_path / "study" / "slice_cache")
    assert [c.name for c in study.cells()] == [
        "transformer-off__label_smoothing-0",
        "transformer-off__label_smoothing-0.1",
        "transformer-on__label_smoothing-0",
        "transformer-on__label_smoothing-0.1",
    ]
    assert len(study.runs()) == 20  # 4 cells x 5 official folds x 1 seed


def test_collect_and_the_page_show_the_paired_effects(tmp_path: Path) -> None:
    study_mod, page = load_benchmark("transformer_study"), load_benchmark("study_page")
    from brainvit_effnet.data.sample import sample_root

    study = study_mod.build_study(str(sample_root()), tmp_path / "study")
    run_ablation(study, runner=Fake())
    results = tmp_path / "results"
    summary = study_mod.collect(study, results)
    assert summary["protocol"]["runs_finished"] == summary["protocol"]["runs_planned"] == 20
    assert len(list((results / "records").glob("*.json"))) == 20
    text = page.render_study_page(results)
    assert "**All 20 runs finished.**" in text and "| + transformer layer |" in text
    assert "**transformer on vs off**: +2.00 accuracy points" in text and "better on 5 of 5 folds" in text
    assert "the smallest p possible with n = 5 is 0.062" in text
    assert "98.84%" in text  # the proposal's number, side by side
    assert "For scale" not in text  # no recipe benchmark beside these results
    recipe_summary = tmp_path / "recipe_benchmark" / "scratch_b0" / "summary.json"
    recipe_summary.parent.mkdir(parents=True)
    recipe_summary.write_text(json.dumps({"folds": {"1": {"recipe": {"accuracy": 0.946}}}}))
    assert "For scale: the full recipe (20 epochs) reached 0.946 on test fold 1" in page.render_study_page(
        results
    )
    # the sentence names the length the grid was cut from, not a fixed 20
    ablation = json.loads((results / "ablation.json").read_text())
    ablation["protocol"]["epochs_cut_from"] = 30
    (results / "ablation.json").write_text(json.dumps(ablation))
    assert "the full recipe (30 epochs) reached" in page.render_study_page(results)
    out = page.plot(results, tmp_path / "plot.png")
    assert out.stat().st_size > 1000
    assert json.loads((results / "ablation.json").read_text())["n_runs"] == 20


def test_the_finetune_setting_is_the_recipe_at_full_length(tmp_path: Path) -> None:
    study_mod = load_benchmark("transformer_study")
    from brainvit_effnet.data.sample import sample_root

    study = study_mod.build_study(str(sample_root()), tmp_path / "ft", "finetune")
    recipe = RECIPES["finetune_lite0_192"].config
    assert study.base.model == "effnet_lite0" and study.base.pretrained is True
    assert study.base.train.epochs == recipe["train"]["epochs"]
    assert study.base.augment == recipe["augment"]
    runs = study.runs()
    assert {run.config.model for run in runs} == {"effnet_lite0", "effnet_lite0_tf"}
    assert {run.config.train.epochs for run in runs} == {recipe["train"]["epochs"]}
    assert len(runs) == 20
    run_ablation(study, runner=Fake())
    summary = study_mod.collect(study, tmp_path / "results", "finetune")
    assert summary["protocol"]["epochs_cut_from"] is None
    recipe_summary = tmp_path / "recipe_benchmark" / "finetune_lite0_192" / "summary.json"
    recipe_summary.parent.mkdir(parents=True)  # beside a full-length grid, no "for scale" sentence
    recipe_summary.write_text(json.dumps({"folds": {"1": {"recipe": {"accuracy": 0.956}}}}))
    text = load_benchmark("study_page").render_study_page(tmp_path / "results")
    assert f"at its full length, **{recipe['train']['epochs']} epochs** for every configuration" in text
    assert "For scale" not in text and "\n\n\n" not in text
    assert "test folds 1, 2, 3, 4 and 5, seed 0." in text


def test_outcomes_of_a_run_are_scored_and_enter_the_paired_effects(tmp_path: Path) -> None:
    outcomes_mod, study_mod = load_benchmark("study_outcomes"), load_benchmark("transformer_study")
    import brainvit_effnet as bve
    from brainvit_effnet.data.sample import sample_root

    model = bve.create_model("effnet_test_tf", num_classes=3).eval()
    record = outcomes_mod.outcomes(
        model, str(sample_root()), 1, layers=("backbone.blocks.2", "backbone.bn2"), shift_every=7
    )
    assert set(record["gradcam"]["layers"]) == {"backbone.blocks.2", "backbone.bn2"}
    assert "rollout" in record and record["tumour_reliance"]["n"] > 0
    assert record["shift_benchmark"]["slices"].startswith("one slice in 7 of fold 1")
    assert set(record["scalars"]) == {*outcomes_mod.EFFECT_METRICS, "rollout_pointing_game"}
    assert all(0.0 <= v <= 1.0 for v in record["scalars"].values())

    study = study_mod.build_study(str(sample_root()), tmp_path / "study")
    run_ablation(study, runner=Fake())
    runs = study.runs()
    for run in runs[:-1]:  # one run not scored yet: the outcomes stay out of the effects
        (run.output_dir / outcomes_mod.OUTCOMES).write_text(json.dumps(record))
    summary = study_mod.collect(study, tmp_path / "results")
    assert summary["protocol"]["runs_with_outcomes"] == 19 and "pointing_game" not in summary["metrics"]
    kept = json.loads(
        (tmp_path / "results" / "records" / f"{runs[0].cell.name}__fold_1_seed_0.json").read_text()
    )
    assert kept["outcomes"]["scalars"] == record["scalars"] and kept["metrics"]["pointing_game"] >= 0
    (runs[-1].output_dir / outcomes_mod.OUTCOMES).write_text(json.dumps(record))
    summary = study_mod.collect(study, tmp_path / "results")
    assert set(outcomes_mod.EFFECT_METRICS) <= set(summary["metrics"])
    text = load_benchmark("study_page").render_study_page(tmp_path / "results", figure="f.png")
    assert "### Beyond accuracy: localisation, reliance on the tumour, shifts" in text
    assert "| + transformer layer | 5 |" in text and "(assets/f.png)" in text


def test_collect_keeps_the_validation_curve_and_the_page_says_whether_it_is_flat(tmp_path: Path) -> None:
    study_mod, page = load_benchmark("transformer_study"), load_benchmark("study_page")
    from brainvit_effnet.data.sample import sample_root

    study = study_mod.build_study(str(sample_root()), tmp_path / "study")
    run_ablation(study, runner=Fake())
    first = study.runs()[0]
    f1s = [0.80, 0.90, 0.93, 0.931, 0.935]
    (first.output_dir / "log.jsonl").write_text(
        "\n".join(
            json.dumps({"epoch": e, "train_loss": 1.0 / e, "val_macro_f1": v, "lr": 0.1})
            for e, v in enumerate(f1s, 1)
        )
        + "\n"
    )
    results = tmp_path / "results"
    study_mod.collect(study, results)
    record = json.loads(
        (results / "records" / f"{first.cell.name}__fold_{first.fold}_seed_0.json").read_text()
    )
    assert [c["val_macro_f1"] for c in record["curve"]] == f1s and "lr" not in record["curve"][0]
    text = page.render_study_page(results)
    assert "### Did the runs converge?" in text
    assert "| 0.930 → 0.931 → 0.935 | 5 of 5 | yes (moved 0.005) |" in text
    climbing = {
        **record,
        "curve": [{"epoch": e, "val_macro_f1": v} for e, v in enumerate([0.8, 0.85, 0.9], 1)],
    }
    assert "**no** (moved 0.100)" in page.convergence_table([climbing])


def test_the_overlay_figure_shows_every_configuration_on_the_same_slices(tmp_path: Path) -> None:
    import brainvit_effnet as bve
    from brainvit_effnet.data.sample import sample_root

    study_mod, overlays = load_benchmark("transformer_study"), load_benchmark("study_overlays")
    data = str(sample_root())
    study = study_mod.build_study(data, tmp_path / "study", "finetune")
    run_ablation(study, runner=Fake())
    for run in study.runs():
        if run.fold == 1:  # a tiny model stands in for each configuration's trained one
            arch = "effnet_test_tf" if run.cell.levels["transformer"] else "effnet_test"
            model = bve.create_model(arch, num_classes=3, label_names=("glioma", "meningioma", "pituitary"))
            bve.save_pretrained(model, run.output_dir / "model")
    out = tmp_path / "overlays.png"
    args = ["--data", data, "--study", str(tmp_path / "study"), "--layer", "backbone.blocks.4", "--n", "3"]
    assert overlays.main([*args, "--out", str(out)]) == 0
    from PIL import Image

    grid = Image.open(out)
    # 4 configurations, the two transformer ones with a rollout row too: 6 rows of 3 slices
    assert grid.width == 3 * 170 + 4 * 4 and grid.height > 6 * 170


def test_the_scratch_arm_is_the_transformer_factor_at_the_full_recipe(tmp_path: Path) -> None:
    study_mod = load_benchmark("transformer_study")
    from brainvit_effnet.data.sample import sample_root

    study = study_mod.build_study(str(sample_root()), tmp_path / "study", "scratch")
    recipe = RECIPES["scratch_b0"].config
    assert study.base.model == "effnet_b0" and study.base.train.epochs == recipe["train"]["epochs"] == 20
    assert study.base.train.loss_kwargs == {"smoothing": 0.1}
    assert [c.name for c in study.cells()] == [
        "transformer-off__label_smoothing-0.1",
        "transformer-on__label_smoothing-0.1",
    ]
    assert len(study.runs()) == 10  # 2 cells x 5 official folds x 1 seed


def test_a_partial_grid_compares_configurations_on_the_same_folds(tmp_path: Path) -> None:
    study_mod, page = load_benchmark("transformer_study"), load_benchmark("study_page")
    from brainvit_effnet.data.sample import sample_root

    study = study_mod.build_study(str(sample_root()), tmp_path / "study")
    run_ablation(study, runner=Fake())
    for run in study.runs():  # the transformer cells have finished fold 1 only
        if run.cell.levels["transformer"] and run.fold > 1:
            (run.output_dir / "result.json").unlink()
    study_mod.collect(study, tmp_path / "results")
    text = page.render_study_page(tmp_path / "results")
    assert "the means and effects below use only the folds every configuration has finished (fold 1)" in text
    assert "**The answer so far**" in text and "the pointing game is not scored yet." in text
    # Fake: the transformer adds 2 points; one paired fold gives no interval
    assert (
        "**transformer on vs off**: not yet measurable; one fold has both levels finished (there, +2.00"
        in text
    )
    # Fake: 0.6 + 0.02 for the transformer + 0.01 x fold; on fold 1 alone the baseline is 61.00%
    assert "| EfficientNet (baseline) | 98.74% | 98.73% | 61.00% (n=1) |" in text
    for run in study.runs():  # no fold with the transformer cells finished: nothing to pair
        if run.cell.levels["transformer"]:
            (run.output_dir / "result.json").unlink(missing_ok=True)
    study_mod.collect(study, tmp_path / "results2")  # collect keeps records it wrote before: a new folder
    text = page.render_study_page(tmp_path / "results2")
    assert "the transformer head: not measured yet (no test fold has both levels finished)." in text


def test_fold_lists_read_as_prose() -> None:
    page = load_benchmark("study_page")
    listed = page._listed
    assert [listed([1, 2, 3]), listed([4]), listed([]), listed(None)] == ["1, 2 and 3", "4", "none", "none"]
    assert [page._numbered("fold", [1, 2]), page._numbered("seed", [0])] == ["folds 1 and 2", "seed 0"]


def test_outcomes_are_compared_on_the_folds_every_configuration_is_scored_on(tmp_path: Path) -> None:
    """Scoring trails training: means and paired effects of the outcomes use only fully scored folds."""
    study_mod, page = load_benchmark("transformer_study"), load_benchmark("study_page")
    effect_metrics = load_benchmark("study_outcomes").EFFECT_METRICS
    from brainvit_effnet.data.sample import sample_root

    study = study_mod.build_study(str(sample_root()), tmp_path / "study")
    run_ablation(study, runner=Fake())

    def score(run: object) -> None:  # the transformer points 0.05 less; later folds point better
        tf, fold = run.cell.levels["transformer"], run.fold  # type: ignore[attr-defined]
        scalars = dict.fromkeys(effect_metrics, 0.1) | {"pointing_game": 0.3 + 0.1 * fold - 0.05 * tf}
        scalars |= {"rollout_pointing_game": 0.2} if tf else {}
        (run.output_dir / "outcomes.json").write_text(json.dumps({"scalars": scalars}))  # type: ignore[attr-defined]

    runs = study.runs()
    for run in runs:  # every fold-1 run, and the baseline's fold 2 as well
        if run.fold == 1 or (run.fold == 2 and not any(run.cell.levels.values())):
            score(run)
    study_mod.collect(study, tmp_path / "results")
    text = page.render_study_page(tmp_path / "results")
    assert "Means over test fold 1, where every configuration is scored" in text
    assert "| EfficientNet (baseline) | 1 | 0.400 | 0.100 | — |" in text  # fold 1 only, not (0.4 + 0.5) / 2
    assert "| transformer | on vs off | pointing_game ↑ | 1 | -0.050 |" in text
    assert "rollout_pointing_game ↑" not in text  # the baseline has no rollout: not paired
    assert "**The answer.**" in text  # every run trained, not every run scored
    assert "the Grad-CAM pointing game (scored on fold 1) by -0.050 on its one fold (no interval)" in text

    for run in runs:  # all scored: the summary's own effects show the outcomes, not repeated here
        score(run)
    study_mod.collect(study, tmp_path / "results")
    text = page.render_study_page(tmp_path / "results")
    assert "Their paired effects over the same folds" not in text
    assert text.count("| transformer | on vs off | pointing_game ↑ |") == 1
    # the headline: Fake adds 2 accuracy points for the transformer on every fold
    assert (
        "the transformer head (on vs off) changes test accuracy by +2.00 points [+2.00, +2.00] (better on "
        "5 of 5 folds, worse on 0) and the Grad-CAM pointing game (scored on folds 1, 2, 3, 4 and 5) by "
        "-0.050 [-0.050, -0.050] (better on 0 of 5 folds, worse on 5)." in text
    )


def test_compute_counts_the_epochs_of_resumed_runs(tmp_path: Path) -> None:
    """A resumed run's wall time is its last process's share: the page says so and adds the epochs' time."""
    study_mod, page = load_benchmark("transformer_study"), load_benchmark("study_page")
    from brainvit_effnet.data.sample import sample_root

    study = study_mod.build_study(str(sample_root()), tmp_path / "study")
    run_ablation(study, runner=Fake())
    for i, run in enumerate(study.runs()):
        result = json.loads((run.output_dir / "result.json").read_text())
        result["timing"] = {"epochs": 600.0}
        result |= {"resumed_from": "somewhere/checkpoints/last"} if i < 3 else {}
        (run.output_dir / "result.json").write_text(json.dumps(result))
    protocol = study_mod.collect(study, tmp_path / "results")["protocol"]
    assert protocol["runs_resumed"] == 3 and protocol["epoch_minutes"] == 200.0  # 20 runs x 10 min
    text = page.render_study_page(tmp_path / "results")
    assert "in which 3 resumed run(s) count only the time since their last start" in text
    assert "training epochs of all finished runs alone took 200.0 minutes" in text
    assert "resumed" not in page.compute_sentence({"cpu_minutes": 5.0, "runs_resumed": 0})
