"""Dataset adapters: Figshare (.mat folder, zip parts, converted layout), class folders, bundled sample."""

from __future__ import annotations

import csv
import logging
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from brainvit_effnet.data import (
    FIGSHARE_ZIP_PARTS,
    BhuvajiDataset,
    Br35HDataset,
    FigshareDataset,
    FolderDataset,
    NickparvarDataset,
    load_sample,
)
from brainvit_effnet.data.mat import fill_border, read_cjdata

from .conftest import SHARED_DATA

MAT_SAMPLE = SHARED_DATA / "figshare_mat_sample"
FIGSHARE = SHARED_DATA / "figshare"
SARTAJ = SHARED_DATA / "kaggle_sartaj_sample"
NICKPARVAR = SHARED_DATA / "kaggle_nickparvar_sample"
needs_shared = pytest.mark.skipif(not MAT_SAMPLE.is_dir(), reason="../shared/data is not available here")


# -- writing small release-format files -------------------------------------------------------------
def write_cjdata(
    path: Path,
    image: np.ndarray,
    label: float = 2.0,
    pid: str = "42",
    border: np.ndarray | None = None,
    drop: str | None = None,
) -> Path:
    """A MATLAB v7.3 slice file as the release lays it out (HDF5, dims reversed, 512-byte header)."""
    border = (
        border if border is not None else np.array([[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]])
    )
    mask = fill_border(border, image.shape)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .".ljust(512, b" ")
    with h5py.File(path, "w", userblock_size=512) as f:
        cj = f.create_group("cjdata")
        fields = {
            "label": np.array([[label]]),
            "PID": np.array([[ord(c)] for c in pid], dtype=np.uint16),
            "image": image.astype(np.int16).T,  # stored column-major
            "tumorBorder": border.reshape(1, -1),
            "tumorMask": mask.astype(np.uint8).T,
        }
        for key, value in fields.items():
            if key != drop:
                cj.create_dataset(key, data=value)
    with open(path, "r+b") as fh:
        fh.write(header)
    return path


def write_cvind(path: Path, folds: list[int]) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("cvind", data=np.array([folds], dtype=np.float64))
    return path


def asymmetric_image(seed: int, shape: tuple[int, int] = (48, 40)) -> np.ndarray:
    """An image whose orientation is unambiguous (a bright column band on the left, top rows dark)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(200, 400, size=shape).astype(np.int16)
    image[:, :5] = 3000
    image[:3, :] = 0
    return image


# -- Figshare .mat ----------------------------------------------------------------------------------
@needs_shared
def test_mat_slices_come_out_upright_with_masks_matching_borders() -> None:
    for path in sorted(MAT_SAMPLE.glob("*.mat")):
        data = read_cjdata(path)
        jpg = np.asarray(Image.open(FIGSHARE / "images" / f"{path.stem}.jpg"))
        assert np.array_equal(data.image, jpg.astype(np.int16) * 8 + 3), path.name
        filled = fill_border(data.border, data.image.shape)
        assert (filled & data.mask).sum() / (filled | data.mask).sum() > 0.98, path.name


@needs_shared
def test_mat_folder_records_labels_patients_and_release_order(tmp_path: Path) -> None:
    ds = FigshareDataset(MAT_SAMPLE, crop=False)
    assert ds.layout == "mat"
    assert [r.index for r in ds.records] == sorted(int(p.stem) for p in MAT_SAMPLE.glob("*.mat"))
    meta = {r["index"]: r["class_name"] for r in csv.DictReader((FIGSHARE / "metadata.csv").open())}
    assert all(r.class_name == meta[str(r.index)] for r in ds.records)
    assert all(ds.classes[r.label] == r.class_name for r in ds.records)
    assert all(r.patient_id for r in ds.records)
    image, label = ds[0]
    assert image.shape == (1, 512, 512) and image.min() >= 0.0 and image.max() <= 1.0
    assert label == ds.records[0].label
    with pytest.raises(ValueError, match=r"cvind\.mat"):
        FigshareDataset(MAT_SAMPLE, folds=[1])


def test_mat_folder_with_cvind_selects_patient_disjoint_folds(tmp_path: Path) -> None:
    pids = ["p1", "p1", "p2", "p2", "p3", "p3"]
    folds = [1, 1, 2, 2, 3, 3]
    for n, pid in enumerate(pids, start=1):
        write_cjdata(tmp_path / f"{n}.mat", asymmetric_image(n), label=1 + n % 3, pid=pid)
    write_cvind(tmp_path / "cvind.mat", folds)
    train = FigshareDataset(tmp_path, folds=[1, 2])
    test = FigshareDataset(tmp_path, folds=[3])
    assert [r.fold for r in train.records] == [1, 1, 2, 2]
    assert {r.patient_id for r in train.records}.isdisjoint({r.patient_id for r in test.records})
    assert len(train) + len(test) == 6
    with pytest.raises(ValueError, match=r"folds \[7\] do not exist"):
        FigshareDataset(tmp_path, folds=[7])


def test_generated_mat_orientation_and_label_codes(tmp_path: Path) -> None:
    image = asymmetric_image(0)
    write_cjdata(tmp_path / "1.mat", image, label=1.0)  # meningioma
    write_cjdata(tmp_path / "2.mat", image, label=3.0)  # pituitary
    ds = FigshareDataset(tmp_path, crop=False, return_mask=True)
    assert [r.class_name for r in ds.records] == ["meningioma", "pituitary"]
    decoded = ds.decode(0)
    assert torch.all(decoded.image[0, 3:, :5] == 1.0)  # the bright band is on the left, not the top
    assert torch.all(decoded.image[0, :3, 5:] == 0.0)
    assert decoded.mask is not None and decoded.mask[20, 20] and not decoded.mask[40, 35]
    _, label, mask = ds[1]
    assert label == 2 and mask.shape == (48, 40)


def test_border_stored_row_first_is_reoriented_by_the_mask(tmp_path: Path) -> None:
    border = np.array([[5.0, 20.0], [15.0, 20.0], [15.0, 35.0], [5.0, 35.0]])  # x = column, y = row
    path = write_cjdata(tmp_path / "1.mat", asymmetric_image(1), border=border)
    with h5py.File(path, "r+") as f:  # rewrite the border as (row, column) pairs, keeping the mask
        del f["cjdata/tumorBorder"]
        f["cjdata"].create_dataset("tumorBorder", data=border[:, ::-1].reshape(1, -1))
    assert np.array_equal(read_cjdata(path).border, border)


def test_zip_parts_are_read_without_unzipping(tmp_path: Path) -> None:
    folder, zips = tmp_path / "mat", tmp_path / "zips"
    folder.mkdir()
    zips.mkdir()
    indices = [1, 766, 767, 1600, 2299, 3064]
    for n in indices:
        write_cjdata(folder / f"{n}.mat", asymmetric_image(n), label=1 + n % 3, pid=f"p{n}")
    for part in FIGSHARE_ZIP_PARTS:
        lo, hi = (int(x) for x in part.removeprefix("brainTumorDataPublic_").removesuffix(".zip").split("-"))
        with zipfile.ZipFile(zips / part, "w") as zf:
            for n in indices:
                if lo <= n <= hi:
                    zf.write(folder / f"{n}.mat", arcname=f"{n}.mat")
    from_zip = FigshareDataset(zips, crop=False)
    from_folder = FigshareDataset(folder, crop=False)
    assert from_zip.layout == "zip" and len(from_zip) == 6
    assert [r.index for r in from_zip.records] == indices
    assert not any(p.suffix == ".mat" for p in zips.iterdir())
    for i in range(6):
        assert torch.equal(from_zip[i][0], from_folder[i][0])
    # workers get their own zip handles
    loader = DataLoader(from_zip, batch_size=3, num_workers=2)
    assert sum(len(batch[1]) for batch in loader) == 6
    (zips / FIGSHARE_ZIP_PARTS[2]).unlink()
    with pytest.raises(FileNotFoundError, match=r"brainTumorDataPublic_1533-2298\.zip"):
        FigshareDataset(zips)


def _zip_release(tmp_path: Path, members: dict[str, dict[int, bytes]]) -> Path:
    zips = tmp_path / "zips"
    zips.mkdir()
    for part in FIGSHARE_ZIP_PARTS:
        with zipfile.ZipFile(zips / part, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for n, data in members.get(part, {}).items():
                zf.writestr(f"{n}.mat", data)
    return zips


def test_the_same_slice_in_two_zip_parts_is_refused(tmp_path: Path) -> None:
    data = write_cjdata(tmp_path / "1.mat", asymmetric_image(1)).read_bytes()
    first, second = FIGSHARE_ZIP_PARTS[:2]
    zips = _zip_release(tmp_path, {first: {1: data}, second: {1: data}})
    with pytest.raises(
        ValueError, match=r"slice 1 is listed twice: .*1-766\.zip::1\.mat and .*\.zip::1\.mat"
    ):
        FigshareDataset(zips, crop=False)


def test_a_zip_member_that_inflates_too_far_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import brainvit_effnet.data.figshare as figshare

    monkeypatch.setattr(figshare, "MAX_MEMBER_BYTES", 2**20)  # the same rule, at a size a test can afford
    zips = _zip_release(
        tmp_path, {FIGSHARE_ZIP_PARTS[0]: {1: bytes(3 * 2**20)}}
    )  # 3 MB of zeros: a 3 KB member
    assert (zips / FIGSHARE_ZIP_PARTS[0]).stat().st_size < 2**16
    with pytest.raises(ValueError, match=r"1\.mat inflates to more than 1 MB, far more than a slice"):
        FigshareDataset(zips, crop=False)


# -- Figshare bad input -----------------------------------------------------------------------------
def test_v5_mat_file_is_named_and_explained(tmp_path: Path) -> None:
    from scipy.io import savemat

    savemat(tmp_path / "1.mat", {"cjdata": {"label": 1.0, "image": np.zeros((8, 8), np.int16)}})
    with pytest.raises(ValueError, match=r"1\.mat is a MATLAB v5 file.*-v7\.3"):
        FigshareDataset(tmp_path)


@pytest.mark.parametrize("field", ["tumorMask", "image", "label"])
def test_mat_missing_fields(tmp_path: Path, field: str) -> None:
    write_cjdata(tmp_path / "1.mat", asymmetric_image(0), drop=field)
    with pytest.raises(ValueError, match=rf"1\.mat.*{field}"):
        FigshareDataset(tmp_path)[0]


def test_mat_label_outside_release_codes(tmp_path: Path) -> None:
    write_cjdata(tmp_path / "1.mat", asymmetric_image(0), label=4.0)
    with pytest.raises(ValueError, match=r"1\.mat: label 4 is outside"):
        FigshareDataset(tmp_path)


def test_truncated_mat_strict_and_lenient(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_cjdata(tmp_path / "1.mat", asymmetric_image(0))
    bad = write_cjdata(tmp_path / "2.mat", asymmetric_image(1))
    bad.write_bytes(bad.read_bytes()[:700])
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    with pytest.raises(ValueError, match=r"\.DS_Store: stray file"):
        FigshareDataset(tmp_path)
    (tmp_path / ".DS_Store").unlink()
    with pytest.raises(ValueError, match=r"2\.mat.*(truncated|not a MATLAB)"):
        FigshareDataset(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    with caplog.at_level(logging.WARNING):
        ds = FigshareDataset(tmp_path, strict=False)
    assert len(ds) == 1 and len(ds.skipped) == 2
    assert "Skipped 2" in caplog.text and caplog.text.count("Skipped") == 1


# -- Figshare converted layout ----------------------------------------------------------------------
@needs_shared
def test_converted_layout_counts_folds_and_masks() -> None:
    ds = FigshareDataset(FIGSHARE, crop=False)
    assert ds.layout == "converted" and len(ds) == 3064
    assert ds.class_counts() == {"glioma": 1426, "meningioma": 708, "pituitary": 930}
    assert sorted({r.fold for r in ds.records}) == [1, 2, 3, 4, 5]
    decoded = ds.decode(0)
    assert decoded.mask is not None and decoded.mask.sum() > 100
    mat = read_cjdata(MAT_SAMPLE / "1.mat")
    assert ds.records[0].index == 1
    assert (decoded.mask.numpy() == mat.mask).mean() > 0.999
    parts = [FigshareDataset(FIGSHARE, folds=f) for f in ([1, 2, 3], [4], [5])]
    groups = [{r.group for r in p.records} for p in parts]
    assert all(a.isdisjoint(b) for i, a in enumerate(groups) for b in groups[i + 1 :])
    assert sum(len(p) for p in parts) == 3064


def _converted(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    (tmp_path / "images").mkdir(parents=True, exist_ok=True)
    for row in rows:
        Image.fromarray(np.full((40, 40), 120, np.uint8)).save(tmp_path / row["image"])
    with (tmp_path / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_converted_layout_label_errors(tmp_path: Path) -> None:
    row = {"index": "1", "label": "4", "class_name": "glioma", "cv_fold": "1", "image": "images/1.jpg"}
    with pytest.raises(ValueError, match=r"metadata\.csv line 2: label 4 is outside"):
        FigshareDataset(_converted(tmp_path, [row]))
    row.update(label="1")
    with pytest.raises(ValueError, match="contradicts label 1"):
        FigshareDataset(_converted(tmp_path, [row]))


def test_a_slice_listed_twice_is_refused_before_it_can_sit_in_two_folds(tmp_path: Path) -> None:
    first = {"index": "1", "label": "2", "class_name": "glioma", "cv_fold": "1", "image": "images/1.jpg"}
    again = {**first, "cv_fold": "3", "image": "images/1b.jpg"}  # the same slice filed under another fold
    with pytest.raises(ValueError, match=r"slice 1 is listed twice: .*1\.jpg and .*1b\.jpg"):
        FigshareDataset(_converted(tmp_path / "a", [first, again]))
    same_file = {**first, "index": "2"}
    with pytest.raises(ValueError, match=r"images/1\.jpg is listed twice \(as slices 1 and 2\)"):
        FigshareDataset(_converted(tmp_path / "b", [first, same_file]))


def test_a_second_outline_for_one_slice_is_refused(tmp_path: Path) -> None:
    rows = [
        {"index": str(i), "label": "2", "class_name": "glioma", "cv_fold": "1", "image": f"images/{i}.jpg"}
        for i in (1, 2)
    ]
    root = _converted(tmp_path, rows)
    outline = "[[1, 1], [5, 1], [5, 5]]"
    (root / "tumor_borders.csv").write_text(f'index,tumor_border_xy\n1,"{outline}"\n1,"{outline}"\n')
    with pytest.raises(ValueError, match=r"tumor_borders\.csv line 3: slice 1 has a second outline"):
        FigshareDataset(root)


@pytest.mark.parametrize("image", ["../outside/1.jpg", "images/../../outside/1.jpg", "/etc/passwd"])
def test_converted_layout_refuses_paths_outside_the_dataset(tmp_path: Path, image: str) -> None:
    row = {"index": "1", "label": "2", "class_name": "glioma", "cv_fold": "1", "image": "images/1.jpg"}
    root = _converted(tmp_path / "data", [row])
    (tmp_path / "outside").mkdir()
    shutil.copy(root / "images" / "1.jpg", tmp_path / "outside" / "1.jpg")
    text = (root / "metadata.csv").read_text().replace("images/1.jpg", image)
    (root / "metadata.csv").write_text(text)
    with pytest.raises(ValueError, match=r"metadata\.csv line 2: image .* is outside the dataset folder"):
        FigshareDataset(root)


@pytest.mark.parametrize(("fold", "message"), [("9", "cv_fold 9 is not an official fold"), ("x", "integer")])
def test_converted_layout_refuses_unknown_folds(tmp_path: Path, fold: str, message: str) -> None:
    row = {"index": "1", "label": "2", "class_name": "glioma", "cv_fold": fold, "image": "images/1.jpg"}
    with pytest.raises(ValueError, match=rf"metadata\.csv line 2: .*{message}"):
        FigshareDataset(_converted(tmp_path, [row]))


def test_converted_layout_truncated_image_is_named(tmp_path: Path) -> None:
    row = {"index": "1", "label": "2", "class_name": "glioma", "cv_fold": "1", "image": "images/1.jpg"}
    root = _converted(tmp_path, [row])
    data = (root / "images" / "1.jpg").read_bytes()
    (root / "images" / "1.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"1\.jpg: unreadable image"):
        FigshareDataset(root)[0]


def test_unknown_layout(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(FileNotFoundError, match="no Figshare layout"):
        FigshareDataset(tmp_path)


# -- class folders ----------------------------------------------------------------------------------
@needs_shared
@pytest.mark.parametrize(("cls", "root"), [(BhuvajiDataset, SARTAJ), (NickparvarDataset, NICKPARVAR)])
def test_kaggle_layouts_map_to_canonical_classes(cls: type[FolderDataset], root: Path) -> None:
    train = cls(root, split="train", crop=False)
    both = cls(root, crop=False)
    assert train.classes == ("glioma", "meningioma", "no_tumor", "pituitary")
    assert train.class_counts() == dict.fromkeys(train.classes, 5)
    assert {r.split for r in both.records} == {"train", "test"} and len(both) == 40
    assert any(" " in r.source or "(" in r.source for r in both.records) or cls is NickparvarDataset
    image, _ = train[0]
    assert image.ndim == 3 and image.shape[0] == 1
    tumours = cls(root, split="test", classes=["glioma", "meningioma", "pituitary"])
    assert tumours.classes == ("glioma", "meningioma", "pituitary") and len(tumours) == 15
    assert all(tumours.classes[r.label] == r.class_name for r in tumours.records)


@needs_shared
def test_release_classes_reject_another_release() -> None:
    with pytest.raises(ValueError, match=r"unknown class folder 'glioma'.*Bhuvaji"):
        BhuvajiDataset(NICKPARVAR, split="train")


def _tree(root: Path, spec: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    for folder, n in spec.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 255, size=(36, 36), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / f"img ({i}).png")
    return root


def test_br35h_yes_no_and_ignored_pred(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"yes": 3, "no": 2, "pred": 4})
    ds = Br35HDataset(root)
    assert ds.classes == ("no_tumor", "tumor") and ds.class_counts() == {"no_tumor": 2, "tumor": 3}


def test_generic_tree_aliases_unknown_and_empty_folders(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"Glioma Tumor": 2, "menin": 2})
    with pytest.raises(ValueError, match=r"unknown class folder 'menin'.*aliases="):
        FolderDataset(root)
    ds = FolderDataset(root, aliases={"menin": "meningioma"})
    assert ds.classes == ("glioma", "meningioma")
    (root / "pituitary").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        FolderDataset(root, aliases={"menin": "meningioma"})
    with pytest.raises(ValueError, match=r"classes \['no_tumor'\] are not in"):
        FolderDataset(root, aliases={"menin": "meningioma"}, classes=["no_tumor"], strict=False)


def test_stray_and_corrupt_files_strict_and_lenient(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _tree(tmp_path, {"glioma": 3, "pituitary": 2})
    (root / "glioma" / ".DS_Store").write_bytes(b"\x00")
    (root / "Thumbs.db").write_bytes(b"\x00")
    broken = root / "pituitary" / "img (1).png"
    broken.write_bytes(broken.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"Thumbs\.db: stray file"):
        FolderDataset(root)
    (root / "Thumbs.db").unlink()
    with pytest.raises(ValueError, match=r"\.DS_Store: stray file"):
        FolderDataset(root)
    (root / "glioma" / ".DS_Store").unlink()
    strict = FolderDataset(root)
    bad_index = [r.source for r in strict.records].index(str(broken))
    with pytest.raises(ValueError, match=r"img \(1\)\.png: unreadable image"):
        strict[bad_index]
    (root / "glioma" / "notes.txt").write_text("mine")
    with caplog.at_level(logging.WARNING):
        lenient = FolderDataset(root, strict=False)
    assert len(lenient) == 4 and len(lenient.skipped) == 2
    assert caplog.text.count("Skipped 2") == 1
    assert (root / "glioma" / "notes.txt").read_text() == "mine"  # nothing of the user's is touched


def test_a_dangling_link_is_named_not_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _tree(tmp_path, {"glioma": 2, "pituitary": 2})
    (root / "glioma" / "gone.png").symlink_to(tmp_path / "deleted.png")
    with pytest.raises(ValueError, match=r"gone\.png: dangling link"):
        FolderDataset(root)
    with caplog.at_level(logging.WARNING):
        lenient = FolderDataset(root, strict=False)
    assert len(lenient) == 4 and lenient.skipped == [str(root / "glioma" / "gone.png")]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_images_keep_their_grey_levels(tmp_path: Path, suffix: str) -> None:
    """A 12-bit MRI slice stored in 16 bits reads like its 8-bit copy, not clipped to 0/255."""
    from brainvit_effnet.data.sample import sample_root

    eight = np.asarray(Image.open(sample_root() / "images" / "1.png").convert("L"))
    sixteen = eight.astype(np.uint16) * 16  # 0..4080: a 12-bit range, as scanners write it
    root = tmp_path / "tree" / "glioma"
    root.mkdir(parents=True)
    Image.fromarray(sixteen).save(root / f"a{suffix}")
    Image.fromarray(eight).save(root / "b.png")
    data = FolderDataset(tmp_path / "tree", crop=False)
    high, low = (data.sample(i).image[0].numpy() for i in range(2))
    assert data.records[0].source.endswith(suffix)
    assert (high >= 0.999).mean() < 0.01  # clipping sends most of the brain to 1.0
    np.testing.assert_allclose(high * (eight.max() - eight.min()) / 255 + eight.min() / 255, low, atol=1e-3)


def test_a_file_given_as_the_dataset_folder_is_named_as_a_file(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"glioma": 1})
    with pytest.raises(NotADirectoryError, match=r"img \(0\)\.png is a file; give the folder"):
        FolderDataset(root / "glioma" / "img (0).png")


def test_release_adapters_honour_aliases(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"yes": 2, "no": 2, "maybe_tumour": 1})
    with pytest.raises(ValueError, match="unknown class folder 'maybe_tumour'"):
        Br35HDataset(root)
    data = Br35HDataset(root, aliases={"maybe_tumour": "tumor"})
    assert data.class_counts() == {"no_tumor": 2, "tumor": 3}


def test_a_missing_image_and_one_over_the_size_limit_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path, {"glioma": 2, "pituitary": 1})
    data = FolderDataset(root)
    gone = Path(data.records[0].source)
    gone.unlink()
    with pytest.raises(FileNotFoundError, match=r"img \(0\)\.png: no such image file"):
        data.sample(0)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 36x36 test images exceed 2x this
    with pytest.raises(ValueError, match=r"img \(1\)\.png: the image is larger than PIL's safety limit"):
        data.sample(1)
    lenient = FolderDataset(root, strict=False)  # lenient: both left are skipped and listed, no crash
    assert len(lenient) == 0 and len(lenient.skipped) == 2


def test_split_argument_errors(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"Training/glioma": 1, "Testing/glioma": 1})
    assert len(FolderDataset(root, split="Testing")) == 1
    with pytest.raises(ValueError, match="split must be one of"):
        FolderDataset(root, split="holdout")
    with pytest.raises(FileNotFoundError, match="no 'val' split folder"):
        FolderDataset(root, split="val")


# -- the bundled sample and the shared pipeline -----------------------------------------------------
def test_bundled_sample_loads_offline_with_labels_folds_and_masks() -> None:
    sample = load_sample(crop=False)
    assert len(sample) == 96
    assert sample.class_counts() == {"glioma": 32, "meningioma": 32, "pituitary": 32}
    assert sorted({r.fold for r in sample.records}) == [1, 2, 3, 4, 5]
    decoded = sample.decode(0)
    assert decoded.image.shape == (1, 160, 160)
    assert decoded.mask is not None and 10 < decoded.mask.sum() < 160 * 160 / 2
    # the tumour outline lies on the brighter, enhancing tissue more than the image at large
    assert decoded.image[0][decoded.mask].mean() > decoded.image.mean()
    test = load_sample(folds=[5])
    assert len(test) == 18 and {r.fold for r in test.records} == {5}


def test_bundled_heldout_slices_are_one_unseen_fold_with_masks() -> None:
    from brainvit_effnet.data import load_heldout_sample

    held_out = load_heldout_sample(crop=False)
    assert len(held_out) == 153 and {r.fold for r in held_out.records} == {1}
    assert held_out.class_counts() == {"glioma": 51, "meningioma": 51, "pituitary": 51}
    for i in range(0, len(held_out), 17):
        decoded = held_out.decode(i)
        assert decoded.image.shape == (1, 160, 160)
        assert decoded.mask is not None and 10 < decoded.mask.sum() < 160 * 160 / 2
        assert decoded.image[0][decoded.mask].mean() > decoded.image.mean()
    # the sample's fold-1 slices are among them; no other fold of the sample is
    assert {r.index for r in load_sample(folds=[1]).records} <= {r.index for r in held_out.records}


def test_crop_keeps_mask_and_border_aligned() -> None:
    full = load_sample(crop=False)
    cropped = load_sample(crop=True)
    for i in range(0, 96, 16):
        a, b = full.sample(i), cropped.sample(i)
        assert b.image.shape[-1] <= a.image.shape[-1] and b.image.shape[-2] <= a.image.shape[-2]
        assert a.mask is not None and b.mask is not None
        assert int(b.mask.sum()) == int(a.mask.sum())  # the brain crop never cuts the tumour
        refilled = fill_border(b.border, tuple(b.mask.shape))
        assert (refilled & b.mask.numpy()).sum() / (refilled | b.mask.numpy()).sum() > 0.95


def test_a_collapsed_crop_falls_back_to_the_whole_slice_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from brainvit_effnet.data.preprocess import crop_is_plausible

    rows = [
        {"index": str(i), "label": "2", "class_name": "glioma", "cv_fold": "1", "image": f"images/{i}.png"}
        for i in (1, 2)
    ]
    root = _converted(tmp_path, rows)
    fragment = np.zeros((100, 100), np.uint8)
    fragment[10:30, 40:60] = 200  # a bright speck: its box is 5% of the slice
    Image.fromarray(fragment).save(root / "images" / "1.png")
    brain = np.zeros((100, 100), np.uint8)
    brain[20:80, 20:80] = 200
    Image.fromarray(brain).save(root / "images" / "2.png")
    data = FigshareDataset(root, cache=True)
    with caplog.at_level(logging.WARNING):
        data.warm_cache()
        data.sample(0)  # served from the cache: no second warning
    assert tuple(data.sample(0).image.shape) == (1, 100, 100)  # uncropped
    assert data.sample(1).image.shape[-1] < 70  # a plausible box is still cropped
    assert data.crop_fallbacks == {str(root / "images" / "1.png")}
    assert caplog.text.count("the brain crop collapsed") == 1 and "crop_fallbacks=1" in repr(data)
    assert not crop_is_plausible((0, 100, 0, 30), (100, 100))  # a 3.3:1 sliver
    assert crop_is_plausible((0, 100, 0, 40), (100, 100))


def test_cache_serves_the_same_pixels_and_subsets_share_it() -> None:
    plain = load_sample(crop=True)
    cached = load_sample(crop=True, cache=True)
    cached.warm_cache()
    for i in (0, 50, 95):
        assert torch.allclose(cached.sample(i).image, plain.sample(i).image, atol=1 / 255)
    part = cached.subset([3, 4])
    assert part._cache is cached._cache and len(part) == 2 and part.records[0] == cached.records[3]
    with pytest.raises(ValueError, match="cache=True"):
        plain.warm_cache()


def test_subset_can_drop_the_masks_of_a_dataset_read_with_them() -> None:
    with_masks = load_sample(return_mask=True, cache=True)
    assert len(with_masks[0]) == 3
    pairs = with_masks.subset(range(len(with_masks)), return_mask=False)
    assert len(pairs[0]) == 2 and torch.equal(pairs[0][0], with_masks[0][0])
    assert pairs._cache is with_masks._cache and with_masks.return_mask  # the original is unchanged


def test_records_and_targets_agree(tmp_path: Path) -> None:
    sample = load_sample()
    assert sample.targets == [r.label for r in sample.records]
    assert all(sample.classes[t] == r.class_name for t, r in zip(sample.targets, sample.records, strict=True))
    shutil.rmtree(tmp_path)


def test_the_lenient_advice_reaches_the_figshare_adapter_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The strict error says 'CLI: --lenient'; evaluate --lenient must then skip the bad slice."""
    from brainvit_effnet.cli import main
    from brainvit_effnet.models.zoo import BUNDLED_WEIGHTS

    folder = tmp_path / "mat"
    folder.mkdir()
    for n in (1, 2, 3, 4):
        write_cjdata(folder / f"{n}.mat", asymmetric_image(n), label=1 + n % 3, pid=f"p{n}")
    (folder / "5.mat").write_bytes(b"not a mat file")
    write_cvind(folder / "cvind.mat", [1, 1, 2, 3, 1])
    model = str(BUNDLED_WEIGHTS["effnet_b0.figshare"])
    argv = [
        "evaluate",
        model,
        "--data",
        f"figshare:{folder}",
        "--out",
        str(tmp_path / "ev"),
        "--bootstrap",
        "0",
    ]
    assert main(argv) == 2
    assert "CLI: --lenient" in capsys.readouterr().err
    assert main([*argv, "--lenient"]) == 0  # the advice works: the bad slice is skipped, fold 1 evaluated
    assert "2 slices" in capsys.readouterr().out
