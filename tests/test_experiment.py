"""run_experiment and cross_validate: reproducibility, what they return, and who writes files."""

from __future__ import annotations

import json
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
    (tmp_path / "tree" / "glioma" / "3.png").unlink()  # as a user removes a corrupt file
    with pytest.raises(ValueError, match="its data split differs from the one it started with"):
        run_experiment(cfg, resume=tmp_path / "run" / "checkpoints" / "last")


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
