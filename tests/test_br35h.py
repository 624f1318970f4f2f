"""Br35H in both its layouts: yes/no class folders, and the YOLO detection layout with box files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainvit_effnet.data import Br35HDataset, FolderDataset, read_yolo_boxes
from brainvit_effnet.data.sources import DataSource
from brainvit_effnet.experiment import ExperimentConfig, open_dataset


def _image(path: Path, boxes: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(str(path))).integers(0, 255, size=(40, 50), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    if boxes is not None:
        path.with_suffix(".txt").write_text(boxes)
    return path


def _detection_tree(root: Path) -> Path:
    """traindata/ and valdata/ with y<N>.jpg (a box each) and no<N>.jpg (an empty box file or none)."""
    for split, n in (("traindata", 3), ("valdata", 1)):
        for i in range(n):
            _image(root / split / f"y{i}.jpg", "0 0.5 0.5 0.2 0.4\n")
            _image(root / split / f"no{i}.jpg", "" if i % 2 else None)
    return root


def test_the_detection_layout_reads_with_classes_from_names_splits_and_box_masks(tmp_path: Path) -> None:
    data = Br35HDataset(_detection_tree(tmp_path), return_mask=True, crop=False)
    assert data.classes == ("no_tumor", "tumor")
    assert data.class_counts() == {"no_tumor": 4, "tumor": 4}
    assert {r.split for r in data.records} == {"train", "val"}
    tumour = next(i for i, r in enumerate(data.records) if Path(r.source).name == "y0.jpg")
    mask = data.decode(tumour).mask
    # the box: centre (0.5, 0.5), 0.2 of the width (50 px) and 0.4 of the height (40 px)
    assert mask is not None and mask.shape == (40, 50)
    rows, cols = np.nonzero(mask.numpy())
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (12, 28, 20, 30)
    none = next(i for i, r in enumerate(data.records) if Path(r.source).name == "no1.jpg")
    assert not data.decode(none).mask.any()  # an empty box file: no tumour, an empty mask
    assert len(Br35HDataset(tmp_path, split="val")) == 2


def test_an_image_the_layout_cannot_name_is_refused_or_skipped_with_its_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _detection_tree(tmp_path)
    _image(root / "traindata" / "scan_17.jpg")
    with pytest.raises(ValueError, match=r"scan_17\.jpg: not named as Br35H names its images"):
        Br35HDataset(root)
    with caplog.at_level(logging.WARNING):
        lenient = Br35HDataset(root, strict=False)
    assert len(lenient) == 8 and any("scan_17" in s for s in lenient.skipped)


def test_boxes_on_an_image_named_tumour_free_are_a_contradiction(tmp_path: Path) -> None:
    root = _detection_tree(tmp_path)
    (root / "traindata" / "no0.txt").write_text("0 0.4 0.4 0.1 0.1\n")
    with pytest.raises(ValueError, match=r"no0\.jpg: filed as no tumour, but no0\.txt marks 1 tumour box"):
        Br35HDataset(root)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("0 0.5 0.5 0.2", "is not a YOLO box"),
        ("tumour 0.5 0.5 0.2 0.2", "is not a YOLO box"),
        ("0.5 0.5 0.5 0.2 0.2", "is not a whole number"),
        ("0 120 80 30 40", r"fractions of the image in \[0, 1\]"),
        ("0 0.5 0.5 0 0.2", "has no area"),
        ("0 nan 0.5 0.2 0.2", r"fractions of the image in \[0, 1\]"),
    ],
)
def test_a_box_file_that_is_not_yolo_names_the_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    labels = tmp_path / "y3.txt"
    labels.write_text(f"0 0.5 0.5 0.1 0.1\n\n{line}\n")
    with pytest.raises(ValueError, match=rf"y3\.txt, line 3: .*{problem}"):
        read_yolo_boxes(labels)


def test_a_box_file_written_on_windows_reads(tmp_path: Path) -> None:
    labels = tmp_path / "y1.txt"
    labels.write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\r\n0 0.1 0.1 0.1 0.1\r\n")  # BOM, CRLF
    assert read_yolo_boxes(labels).shape == (2, 4)


def test_box_files_beside_yes_no_folders_become_masks_not_stray_files(tmp_path: Path) -> None:
    _image(tmp_path / "yes" / "y0.jpg", "0 0.25 0.25 0.5 0.5\n")
    _image(tmp_path / "no" / "no0.jpg")
    data = Br35HDataset(tmp_path, return_mask=True, crop=False)
    assert data.class_counts() == {"no_tumor": 1, "tumor": 1}
    masks = {Path(r.source).name: data.decode(i).mask for i, r in enumerate(data.records)}
    assert masks["no0.jpg"] is None and masks["y0.jpg"][:20, :25].all() and not masks["y0.jpg"][20:].any()
    # the generic reader still calls an unknown .txt a stray file
    with pytest.raises(ValueError, match=r"y0\.txt: stray file"):
        FolderDataset(tmp_path)


def test_the_generic_reader_points_a_detection_layout_to_br35h(tmp_path: Path) -> None:
    root = _detection_tree(tmp_path)
    with pytest.raises(
        ValueError, match=r"unknown class folder 'traindata'.*Br35H's detection layout.*br35h:PATH"
    ):
        FolderDataset(root)
    # a folder of images is a class folder, whatever its name: an alias maps it, as before
    data = FolderDataset(root, aliases={"traindata": "tumor", "valdata": "tumor"}, strict=False)
    assert data.class_counts() == {"tumor": 8} and {r.split for r in data.records} == {None}


def test_only_folders_named_as_splits_and_holding_folders_are_splits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for folder in ("Training/glioma", "Testing/glioma", "train_glioma", "contest", "testimonials"):
        _image(tmp_path / folder / "a.png")
    with caplog.at_level(logging.WARNING):
        data = FolderDataset(
            tmp_path, aliases={"train_glioma": "glioma", "contest": "meningioma", "testimonials": "pituitary"}
        )
    assert "['contest', 'testimonials', 'train_glioma'] beside them are not read" in caplog.text
    by_split = {(r.split, r.class_name) for r in data.records}
    assert by_split == {("train", "glioma"), ("test", "glioma")}  # split folders exist: only they are read
    flat = tmp_path / "flat"
    for folder in ("train_glioma", "test", "valdata_x"):
        _image(flat / folder / "a.png")
    data = FolderDataset(
        flat, aliases={"train_glioma": "glioma", "test": "meningioma", "valdata_x": "pituitary"}
    )
    assert {(r.split, r.class_name) for r in data.records} == {
        (None, "glioma"),
        (None, "meningioma"),  # 'test' holds images, not class folders: a class folder (mapped)
        (None, "pituitary"),
    }


def test_br35h_is_a_data_source_for_experiments_and_the_cli(tmp_path: Path) -> None:
    root = _detection_tree(tmp_path)
    assert DataSource.parse(f"br35h:{root}") == DataSource("br35h", root)
    assert not DataSource.parse(f"br35h:{root}").has_official_folds
    data = open_dataset(ExperimentConfig(data=f"br35h:{root}"))
    assert isinstance(data, Br35HDataset) and len(data) == 8


def test_evaluating_a_model_on_none_of_its_classes_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from brainvit_effnet.cli import main

    root = _detection_tree(tmp_path / "br35h")
    code = main(["evaluate", "effnet_b0.figshare", "--data", f"br35h:{root}", "--out", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "is of a class this model predicts" in err and "{'no_tumor': 4, 'tumor': 4}" in err
    assert not (tmp_path / "ev").exists()


def test_predicting_on_an_empty_dataset_says_so() -> None:
    import torch
    from torch.utils.data import TensorDataset

    import brainvit_effnet as bve
    from brainvit_effnet.train import TrainConfig, Trainer

    trainer = Trainer(bve.create_model("effnet_test", num_classes=3), TrainConfig(device="cpu"))
    empty = TensorDataset(torch.zeros(0, 3, 64, 64), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="the dataset to predict on is empty"):
        trainer.predict(empty)


def test_yolos_images_and_labels_folders_read_the_same(tmp_path: Path) -> None:
    for split in ("train", "val"):
        _image(tmp_path / split / "images" / "y1.jpg")
        (tmp_path / split / "labels").mkdir()
        (tmp_path / split / "labels" / "y1.txt").write_text("0 0.5 0.5 0.2 0.4\n")
        _image(tmp_path / split / "images" / "no1.jpg")
    data = Br35HDataset(tmp_path, return_mask=True, crop=False)
    assert data.class_counts() == {"no_tumor": 2, "tumor": 2} and {r.split for r in data.records} == {
        "train",
        "val",
    }
    tumour = next(i for i, r in enumerate(data.records) if Path(r.source).name == "y1.jpg")
    assert data.decode(tumour).mask.sum() == 16 * 10  # 0.4 x 40 rows, 0.2 x 50 columns


def test_explain_scores_heatmaps_against_the_boxes_even_when_the_first_slices_have_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import brainvit_effnet as bve
    from brainvit_effnet.cli import main

    root = tmp_path / "br35h"
    for i in range(5):  # five tumour-free slices sort before the one with a box
        _image(root / "traindata" / f"no{i}.jpg")
    _image(root / "traindata" / "y0.jpg", "0 0.5 0.5 0.2 0.4\n")
    model = bve.create_model("effnet_test", num_classes=2, label_names=("no_tumor", "tumor"))
    folder = bve.save_pretrained(model, tmp_path / "model", brain_crop=False)
    args = ["explain", str(folder), "--data", f"br35h:{root}", "--methods", "gradcam"]
    assert main([*args, "--out", str(tmp_path / "ex")]) == 0
    assert "gradcam        pointing game" in capsys.readouterr().out  # no_tumor slices come first


def test_predict_on_a_detection_folder_reads_the_images_and_names_the_box_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from brainvit_effnet.cli import main
    from brainvit_effnet.data import ImageFiles

    root = _detection_tree(tmp_path / "br35h")
    (root / "valdata" / "notes.txt").write_text("not a box file")  # no image of that name: unsupported
    files = ImageFiles([root / "valdata"])
    assert sorted(Path(p).name for p in files.companions) == ["y0.txt"]
    assert [Path(p).name for p in files.unsupported] == ["notes.txt"] and len(files) == 2
    out = tmp_path / "p.csv"
    assert main(["predict", "effnet_lite0.figshare", str(root / "traindata"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "note: 4 box file(s) beside their images" in printed
    )  # y0-y2, and no1 (empty) and out.read_text().count(".jpg") == 6
