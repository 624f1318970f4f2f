"""The training-copy check: hashes shipped with a model name the inputs it was trained on."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import brainvit_effnet as bve
from brainvit_effnet.cli import main
from brainvit_effnet.data import load_heldout_sample, load_sample
from brainvit_effnet.data.duplicates import (
    ImageRef,
    TrainingHashes,
    compute_fingerprints,
    find_training_copies,
    match_training_copies,
    training_hashes_of,
)
from brainvit_effnet.data.duplicates.training_copies import HASHES_FILE
from brainvit_effnet.errors import CheckpointError, InvalidArgumentError
from brainvit_effnet.models.zoo import BUNDLED_WEIGHTS


def _sample_by_fold() -> dict[int, list[str]]:
    by_fold: dict[int, list[str]] = {}
    for record in load_sample().records:
        by_fold.setdefault(int(record.fold), []).append(record.source)
    return by_fold


@pytest.mark.parametrize("shipped", sorted(BUNDLED_WEIGHTS))
def test_shipped_hashes_name_the_training_slices_and_nothing_else(shipped: str) -> None:
    """The bundled sample holds 160-px PNG copies of Figshare slices: those of the model's training
    folds are all found, those of the other folds and the held-out sample never."""
    model = bve.create_model(shipped, pretrained=True)
    hashes = training_hashes_of(model)
    assert hashes is not None and len(hashes) == 1839 and "folds 3, 4, 5" in hashes.description
    train_folds = set(model.pretrained_cfg["provenance"]["train_folds"])
    for fold, paths in _sample_by_fold().items():
        copies = find_training_copies(hashes, paths)
        assert len(copies) == (len(paths) if fold in train_folds else 0), fold
        for path, matches in copies.items():  # each names its own slice
            assert matches[0].key == f"figshare:{Path(path).stem}"
    assert find_training_copies(hashes, [r.source for r in load_heldout_sample().records]) == {}


def test_a_mirrored_resized_copy_is_found_and_said_to_be_mirrored(tmp_path: Path) -> None:
    source, other = _sample_by_fold()[3][:2]
    reference = TrainingHashes.from_fingerprints(compute_fingerprints([ImageRef(source, key="slice-a")]))
    with Image.open(source) as image:
        image.convert("L").resize((224, 224)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
            tmp_path / "copy.jpg", quality=75
        )
    found = match_training_copies(
        compute_fingerprints([ImageRef(tmp_path / "copy.jpg"), ImageRef(other)]), reference
    )
    assert [str(m) for m in found[0]] == ["slice-a (mirrored)"] and found[0][0].mirrored
    assert found[1] == []  # another slice of the same fold is not a copy


def test_hashes_round_trip_and_a_bad_file_is_named(tmp_path: Path) -> None:
    fingerprints = compute_fingerprints([ImageRef(p) for p in _sample_by_fold()[4][:3]])
    hashes = TrainingHashes.from_fingerprints(fingerprints, "three slices")
    hashes.save(tmp_path)
    again = TrainingHashes.load(tmp_path)
    assert again is not None and again.keys == hashes.keys and again.description == "three slices"
    assert np.array_equal(again.phash, hashes.phash) and np.array_equal(again.dhash, hashes.dhash)
    assert TrainingHashes.load(tmp_path / "nowhere") is None  # no file: no check, no error
    (tmp_path / HASHES_FILE).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match=rf"{HASHES_FILE} is not a valid training-hash file.*Move it"):
        TrainingHashes.load(tmp_path)
    with pytest.raises(InvalidArgumentError, match=r"uint8 of shape \(2, 8\)"):
        TrainingHashes(np.zeros((2, 4), np.uint8), np.zeros((2, 8), np.uint8), ("a", "b"))
    with pytest.raises(InvalidArgumentError, match="hash_size=8"):
        TrainingHashes.from_fingerprints(
            compute_fingerprints([ImageRef(_sample_by_fold()[4][0])], hash_size=16)
        )


def test_predict_and_evaluate_name_copies_of_the_training_slices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(BUNDLED_WEIGHTS["effnet_lite0.figshare"])
    by_fold = _sample_by_fold()
    inputs = [by_fold[1][0], by_fold[3][0], by_fold[5][0]]
    out = tmp_path / "preds.csv"
    assert main(["predict", model, *inputs, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "2 input(s) are copies of slices this model was trained on" in err
    rows = {Path(r["path"]).stem: r for r in csv.DictReader(out.open())}
    stems = [Path(p).stem for p in inputs]
    assert rows[stems[0]]["training_copy"] == "" and rows[stems[0]]["predicted"]
    assert [rows[s]["training_copy"] for s in stems[1:]] == [f"figshare:{s}" for s in stems[1:]]
    assert all(rows[s]["predicted"] for s in stems)  # a copy still gets its prediction: nothing is dropped

    assert main(["predict", model, *inputs, "--out", str(out), "--skip-copy-check"]) == 0
    assert "copies" not in capsys.readouterr().err
    assert all(r["training_copy"] == "" for r in csv.DictReader(out.open()))

    argv = ["evaluate", model, "--data", "sample", "--folds", "1", "3", "--out", str(tmp_path / "e")]
    assert main([*argv, "--bootstrap", "0"]) == 0
    err = capsys.readouterr().err
    assert f"{len(by_fold[3])} of {len(by_fold[1]) + len(by_fold[3])} images are copies" in err
    report = json.loads((tmp_path / "e" / "report.json").read_text())
    assert len(report["extra"]["training_copies"]) == len(by_fold[3])
