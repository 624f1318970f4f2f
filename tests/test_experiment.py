"""run_experiment and cross_validate: reproducibility, what they return, and who writes files."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

import brainvit_effnet as bve
from brainvit_effnet import experiment
from brainvit_effnet.experiment import ExperimentConfig, cross_validate, run_experiment


def _cfg(out: Path, seed: int = 0) -> ExperimentConfig:
    train = bve.TrainConfig(
        epochs=1, batch_size=16, output_dir=str(out), progress=False, max_steps=1, seed=seed
    )
    return ExperimentConfig(model="effnet_test", model_kwargs={"img_size": 64}, bootstrap=0, train=train)


def test_same_seed_same_result_different_seed_different_result(tmp_path: Path) -> None:
    # The seed must reach the model's initial weights, not only what fit() draws.
    a = run_experiment(_cfg(tmp_path / "a"))["test"]["nll"]
    b = run_experiment(_cfg(tmp_path / "b"))["test"]["nll"]
    c = run_experiment(_cfg(tmp_path / "c", seed=1))["test"]["nll"]
    assert a == b
    assert a != c


def test_run_experiment_reports_split_sizes(tmp_path: Path) -> None:
    result = run_experiment(_cfg(tmp_path / "run"))
    sample = bve.data.load_sample()
    by_fold = {k: sum(r.fold == k for r in sample.records) for k in range(1, 6)}
    assert result["sizes"] == {
        "train": by_fold[1] + by_fold[2] + by_fold[3],
        "val": by_fold[4],
        "test": by_fold[5],
    }
    assert (Path(result["model_dir"]) / "model.safetensors").is_file()
    # The card names the Figshare data, its licence and the test split; config.json the crop.
    from huggingface_hub import metadata_load

    card = metadata_load(Path(result["model_dir"]) / "README.md") or {}
    assert card["datasets"] == ["figshare-brain-tumor"] and card["license"] == "cc-by-4.0"
    assert "base_model" not in card  # pretrained=False by default here: trained from scratch
    assert (
        card["model-index"][0]["results"][0]["dataset"]["name"] == f"sample: test part ({by_fold[5]} slices)"
    )
    config = json.loads((Path(result["model_dir"]) / "config.json").read_text())
    assert config["pretrained_cfg"]["preprocessing"]["brain_crop"] is True


def test_only_rank_zero_writes_model_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(experiment, "is_main", lambda: False)  # as on rank 1 under torchrun
    result = run_experiment(_cfg(tmp_path / "run"))
    assert result["report_files"] == {}
    assert not (tmp_path / "run" / "model").exists() and not (tmp_path / "run" / "report").exists()


def test_cross_validation_reports_name_their_fold(tmp_path: Path) -> None:
    result = cross_validate(_cfg(tmp_path / "cv"))
    assert [r["test_fold"] for r in result["folds"]] == [1, 2, 3, 4, 5]
    assert Path(result["report_files"]["json"]).is_file()


def test_a_resume_on_a_different_split_is_refused(tmp_path: Path) -> None:
    """Removing one file of a folder tree draws another split: resuming would test on training images."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("glioma", "meningioma", "pituitary"):
        (tmp_path / "tree" / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(
                tmp_path / "tree" / name / f"{i}.png"
            )
    cfg = ExperimentConfig.from_dict(
        {
            "model": "effnet_test",
            "data": f"folder:{tmp_path / 'tree'}",
            "model_kwargs": {"img_size": 64},
            "bootstrap": 0,
            "train": {"epochs": 2, "max_steps": 1, "progress": False, "output_dir": str(tmp_path / "run")},
        }
    )
    run_experiment(cfg)
    recorded = json.loads((tmp_path / "run" / "split.json").read_text())
    assert {"train", "val", "test"} == set(recorded) and recorded["train"]["n"] > 0
    last = tmp_path / "run" / "checkpoints" / "last"
    # The same data in another folder is the same split: the record names files relative to it.
    shutil.move(tmp_path / "tree", tmp_path / "moved")
    moved = ExperimentConfig.from_dict({**cfg.to_dict(), "data": f"folder:{tmp_path / 'moved'}"})
    from brainvit_effnet.experiment import _record_split, _split_fingerprint, load_data
    from brainvit_effnet.models import resolve_model_config

    parts = load_data(moved, resolve_model_config(moved.model, **moved.model_kwargs))
    assert _split_fingerprint(parts) == recorded
    _record_split(tmp_path / "run", parts, resuming=True)  # accepted
    (tmp_path / "moved" / "glioma" / "3.png").unlink()  # as a user removes a corrupt file
    with pytest.raises(ValueError, match="its data split differs from the one it started with"):
        run_experiment(moved, resume=last)
    (tmp_path / "run" / "split.json").unlink()  # without the record, a resume could redraw the split
    with pytest.raises(ValueError, match=r"its split\.json is missing"):
        run_experiment(moved, resume=last)


def test_a_corrupt_test_image_stops_the_run_before_training(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("glioma", "meningioma", "pituitary"):
        (tmp_path / "tree" / name).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 255, (40, 40), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "tree" / name / f"{i}.png")
    broken = tmp_path / "tree" / "pituitary" / "5.png"
    broken.write_bytes(broken.read_bytes()[:70])
    cfg = ExperimentConfig.from_dict(
        {
            "model": "effnet_test",
            "data": f"folder:{tmp_path / 'tree'}",
            "model_kwargs": {"img_size": 64},
            "train": {"epochs": 1, "progress": False, "output_dir": str(tmp_path / "run")},
        }
    )
    with pytest.raises(ValueError, match=r"5\.png: unreadable image"):
        run_experiment(cfg)
    assert not (tmp_path / "run" / "log.jsonl").exists()  # stopped before the first epoch


def _tree(root: Path, per_class: int = 10) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("glioma", "meningioma", "pituitary"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def _split_of(cfg: ExperimentConfig) -> list[list[str]]:
    model_cfg = bve.models.resolve_model_config(cfg.model, **cfg.model_kwargs)
    return [sorted(r.source for r in part.records) for part in experiment.load_data(cfg, model_cfg)]


def test_the_training_seed_does_not_move_a_folder_test_set(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")

    def cfg(seed: int, split_seed: int | None = None) -> ExperimentConfig:
        values: dict = {"model": "effnet_test", "data": f"folder:{tree}", "train": {"seed": seed}}
        if split_seed is not None:
            values["split_seed"] = split_seed
        return ExperimentConfig.from_dict(values)

    assert _split_of(cfg(0)) == _split_of(cfg(1)) == _split_of(cfg(7))
    # The split still has a seed of its own: choosing another one draws another test set.
    assert _split_of(cfg(0, split_seed=1))[2] != _split_of(cfg(0))[2]


def test_official_folds_split_the_data() -> None:
    cfg = ExperimentConfig.from_dict(
        {"model": "effnet_test", "data": "sample", "val_folds": [4], "test_folds": [5]}
    )
    model_cfg = bve.models.resolve_model_config(cfg.model, **cfg.model_kwargs)
    train, val, test = experiment.load_data(cfg, model_cfg)
    assert {r.fold for r in train.records} == {1, 2, 3}
    assert {r.fold for r in val.records} == {4} and {r.fold for r in test.records} == {5}


@pytest.mark.parametrize(
    ("folds", "pattern"),
    [
        (
            {"val_folds": [4], "test_folds": [6]},
            r"test_fold=\[6\] is not one of the dataset's fold ids \[1, 2, 3, 4, 5\]",
        ),
        ({"val_folds": [5], "test_folds": [5]}, r"val_fold and test_fold must differ; both are 5"),
        ({"val_folds": [1, 2], "test_folds": [3, 4, 5]}, r"no fold is left for training"),
    ],
)
def test_official_fold_choices_that_cannot_split_are_refused(folds: dict, pattern: str) -> None:
    cfg = ExperimentConfig.from_dict({"model": "effnet_test", "data": "sample", **folds})
    model_cfg = bve.models.resolve_model_config(cfg.model, **cfg.model_kwargs)
    with pytest.raises(
        bve.BrainvitError, match=r"val_folds \[.*\] and test_folds \[.*\] cannot split sample: " + pattern
    ):
        experiment.load_data(cfg, model_cfg)


def test_cross_validation_opens_and_decodes_the_data_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections import Counter

    from brainvit_effnet.data import FigshareDataset

    opened: list[int] = []
    decoded: Counter[str] = Counter()
    real_load, real_decode = experiment.load_sample, FigshareDataset.decode_record

    def counting_load(*args: object, **kwargs: object) -> FigshareDataset:
        opened.append(1)
        return real_load(*args, **kwargs)

    def counting_decode(self: FigshareDataset, record: object) -> object:
        decoded[record.source] += 1  # type: ignore[attr-defined]
        return real_decode(self, record)

    monkeypatch.setattr(experiment, "load_sample", counting_load)
    monkeypatch.setattr(FigshareDataset, "decode_record", counting_decode)
    cfg = _cfg(tmp_path / "cv")
    cfg.cache = True
    result = cross_validate(cfg)
    assert [r["test_fold"] for r in result["folds"]] == [1, 2, 3, 4, 5]
    assert len(opened) == 1  # one scan for five folds
    assert len(decoded) == len(bve.data.load_sample()) and set(decoded.values()) == {1}


def test_a_dataset_opened_for_other_options_is_refused(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path / "run")
    uncropped = dataclasses.replace(cfg, crop=False)
    with pytest.raises(ValueError, match=r"crop: False vs True"):
        run_experiment(cfg, dataset=experiment.open_dataset(uncropped))
    assert not (tmp_path / "run").exists()


def test_dataset_reuse_opens_each_dataset_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(experiment, "run_experiment", lambda cfg, **kw: calls.append(cfg.data) or kw)
    reuse = experiment.DatasetReuse()
    a = _cfg(tmp_path / "a")
    first = reuse.run_experiment(a)
    second = reuse.run_experiment(dataclasses.replace(a, test_folds=[4], val_folds=[3]))
    assert first["dataset"] is second["dataset"] and reuse.opened == 1
    third = reuse.run_experiment(dataclasses.replace(a, crop=False))
    assert third["dataset"] is not first["dataset"] and reuse.opened == 2
