"""benchmarks/recipe_study.py, recipe_benchmark.py and recipe_page.py on the bundled sample.

What is checked: the records they write (settings, minutes, validation and test metrics, curves),
that choices read validation metrics only, the recipe/bare ratio and target verdict, and the page.
Accuracy is not: the runs here are one epoch of the tiny model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from brainvit_effnet.data import sample_root

from ._scripts import load_benchmark

TINY = {
    "model": "effnet_test",
    "model_kwargs": {},
    "train.epochs": 1,
    "bootstrap": 10,
    "train.overwrite": True,
}


def test_recipe_and_bare_parts_record_what_the_summary_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_benchmark("recipe_benchmark")
    monkeypatch.chdir(tmp_path)
    recipe = bench.run_recipe(str(sample_root()), 5, "scratch_b0", str(tmp_path / "run"), TINY)
    assert recipe["test_fold"] == 5 and recipe["val_fold"] == 1  # the next fold validates
    assert recipe["sizes"]["test"] == 18 and len(recipe["history"]) == 1
    assert recipe["config"]["train"]["backbone_lr_scale"] == 1.0
    bare = bench.run_bare(str(sample_root()), 5, epochs=1, size=64)
    assert bare["settings"]["train_folds"] == [1, 2, 3, 4] and bare["sizes"]["test"] == 18
    for name, record in (("fold5_recipe", recipe), ("fold5_bare", bare)):
        (tmp_path / f"{name}.json").write_text(json.dumps(record))
    summary = bench.summarise(tmp_path)
    row = summary["folds"]["5"]
    expected = round(recipe["test"]["accuracy"] / bare["test"]["accuracy"], 4)
    assert row["accuracy_ratio_recipe_over_bare"] == expected
    assert set(row["targets"]) == {"accuracy>=0.93", "macro_f1>=0.92", "minutes<=45", "beats_bare"}
    assert summary["target_met"] is False  # one fold can never meet a two-fold target
    assert (tmp_path / "summary.json").is_file()


def _study_record(name: str, val_f1: float, test_acc: float) -> dict[str, Any]:
    study = load_benchmark("recipe_study")
    cfg = study.run_config(name, study.STUDY_RUNS[name], "/data", study.STUDY_BASE).to_dict()
    return {
        "run": name,
        "config": cfg,
        "train_minutes": 1.0,
        "val": {"macro_f1": val_f1, "accuracy": val_f1},
        "test": {"accuracy": test_acc, "macro_f1": test_acc, "ci95": {"accuracy": [0.1, 0.9]}},
    }


def test_study_choice_reads_validation_only_and_the_page_renders(tmp_path: Path) -> None:
    study, page = load_benchmark("recipe_study"), load_benchmark("recipe_page")
    runs = {
        "base": _study_record("base", 0.70, 0.99),
        "label_smoothing": _study_record("label_smoothing", 0.71, 0.50),
    }
    assert [name for name, *_ in study.choose(runs)] == [
        "label_smoothing",
        "base",
    ]  # despite its test accuracy
    for name, record in runs.items():
        (tmp_path / "recipe").mkdir(exist_ok=True)
        (tmp_path / "recipe" / f"{name}.json").write_text(json.dumps(record))
    markdown = page.render_recipe_page(tmp_path)
    assert markdown.index("`label_smoothing`") < markdown.index("`base`")
    assert "label_smoothing 0.1" in markdown and "0.9900 [0.100, 0.900]" in markdown
    assert "has not run yet" in markdown  # no benchmark records in this folder
    png = page.plot(tmp_path, tmp_path / "plot.png")
    assert png.stat().st_size > 1000


def _benchmark_record(recipe: str, val_f1: float, test_acc: float) -> dict[str, Any]:
    from brainvit_effnet.recipes import recipe_config

    cfg = recipe_config(recipe, {"data": "figshare:/data"}).to_dict()
    history = [
        {"epoch": 1, "seconds": 60.0, "val_macro_f1": val_f1 - 0.1, "val_accuracy": 0.5},
        {"epoch": 2, "seconds": 60.0, "val_macro_f1": val_f1, "val_accuracy": 0.6},
    ]
    return {
        "part": "recipe",
        "recipe": recipe,
        "config": cfg,
        "test_fold": 1,
        "val_fold": 2,
        "best_epoch": 2,
        "history": history,
        "train_minutes": 2.0,
        "test": {"accuracy": test_acc, "macro_f1": test_acc},
    }


def test_full_length_recipes_are_ranked_by_validation_and_each_has_its_benchmark(tmp_path: Path) -> None:
    page = load_benchmark("recipe_page")
    for recipe, val_f1, test_acc in (("scratch_b0", 0.80, 0.99), ("scratch_b0_192", 0.85, 0.10)):
        folder = tmp_path / "recipe_benchmark" / recipe
        folder.mkdir(parents=True)
        (folder / "fold1_recipe.json").write_text(json.dumps(_benchmark_record(recipe, val_f1, test_acc)))
    table = page.full_length_table(tmp_path / "recipe_benchmark")
    assert table.index("`scratch_b0_192`") < table.index("`scratch_b0`")  # by validation, not test
    assert "| 0.8500 | 0.6000 | 2 of 40 |" in table
    markdown = page.render_recipe_page(tmp_path)
    assert markdown.count("### The benchmark of `") == 2


def test_a_fine_tuning_recipe_is_judged_beside_the_from_scratch_recipe(tmp_path: Path) -> None:
    bench, page = load_benchmark("recipe_benchmark"), load_benchmark("recipe_page")
    for recipe, test_acc in (("finetune_lite0_192", 0.96), ("scratch_b0_192", 0.94)):
        folder = tmp_path / "recipe_benchmark" / recipe
        folder.mkdir(parents=True)
        (folder / "fold1_recipe.json").write_text(json.dumps(_benchmark_record(recipe, 0.9, test_acc)))
    summary = bench.summarise(tmp_path / "recipe_benchmark" / "finetune_lite0_192")
    row = summary["folds"]["1"]
    assert row["accuracy_ratio_recipe_over_scratch_b0_192"] == round(0.96 / 0.94, 4)
    assert row["targets"] == {
        "accuracy>=0.97": False,
        "macro_f1>=0.965": False,
        "minutes<=30": True,
        "beats_scratch_b0_192": True,
    }
    table = page.benchmark_table(tmp_path / "recipe_benchmark" / "finetune_lite0_192")
    assert "beats `scratch_b0_192` on the same fold" in table and "**not met**" in table
