"""DICOM and NIfTI end to end: files generated here from real slices of the bundled sample."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pydicom = pytest.importorskip("pydicom", reason="the mri extra (pydicom) is not installed")
nib = pytest.importorskip("nibabel", reason="the mri extra (nibabel) is not installed")

from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid  # noqa: E402

from brainvit_effnet.cli import main  # noqa: E402
from brainvit_effnet.data import FolderDataset  # noqa: E402
from brainvit_effnet.data.mri import (  # noqa: E402
    dicom_ids,
    nifti_slices,
    read_dicom,
    read_mri_slice,
    read_nifti_slice,
)
from brainvit_effnet.data.sample import sample_root  # noqa: E402
from brainvit_effnet.models.zoo import BUNDLED_MODEL, BUNDLED_WEIGHTS  # noqa: E402


def real_slice(name: str = "1.png") -> np.ndarray:
    return np.asarray(Image.open(sample_root() / "images" / name).convert("L"))


def minmax(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    return (a - a.min()) / (a.max() - a.min())


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    patient: str = "P1",
    series: str | None = None,
    instance: int = 1,
    photometric: str = "MONOCHROME2",
    window: tuple[float, float] | None = None,
) -> Path:
    """A 12-bit MR slice stored as ``pixels * 16``, with rescale slope 2 and intercept -100."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID, ds.InstanceNumber = "MR", patient, instance
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = series or generate_uid()
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 2, -100
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_nifti(path: Path, volume: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(nib.Nifti1Image(volume.astype(np.int16), np.eye(4) if affine is None else affine), str(path))
    return path


# -- DICOM ----------------------------------------------------------------------------------------
def test_dicom_rescale_and_photometric_interpretation(tmp_path: Path) -> None:
    pixels = real_slice()
    plain = read_dicom(write_dicom(tmp_path / "a.dcm", pixels))
    # Slope, intercept and the 12-bit container cancel in the min-max scale: the slice itself.
    np.testing.assert_allclose(plain, minmax(pixels), atol=1e-6)
    inverted = read_dicom(write_dicom(tmp_path / "b.dcm", pixels, photometric="MONOCHROME1"))
    np.testing.assert_allclose(inverted, 1 - minmax(pixels), atol=1e-6)


def test_dicom_window_from_the_file_is_applied(tmp_path: Path) -> None:
    pixels = real_slice()
    rescaled = pixels.astype(np.float64) * 16 * 2 - 100
    centre, width = float(np.percentile(rescaled, 90)), 800.0
    windowed = read_dicom(write_dicom(tmp_path / "w.dcm", pixels, window=(centre, width)))
    below = rescaled <= centre - width / 2 - 1
    assert below.mean() > 0.3 and np.all(windowed[below] == 0)
    assert np.all(windowed[rescaled >= centre + width / 2] == 1)
    inside = (rescaled > centre - width / 2 + 10) & (rescaled < centre + width / 2 - 10)
    assert windowed[inside].min() > 0 and windowed[inside].max() < 1


def test_dicom_ids_group_folder_datasets_by_patient(tmp_path: Path) -> None:
    for i, (cls, patient) in enumerate([("glioma", "P1"), ("glioma", "P1"), ("pituitary", "P2")]):
        (tmp_path / "tree" / cls).mkdir(parents=True, exist_ok=True)
        write_dicom(tmp_path / "tree" / cls / f"{i}.dcm", real_slice(), patient=patient, instance=i)
    assert dicom_ids(tmp_path / "tree" / "glioma" / "0.dcm")["patient"] == "P1"
    data = FolderDataset(tmp_path / "tree")
    assert data.class_counts() == {"glioma": 2, "pituitary": 1}
    assert data.sample(0).image.shape[0] == 1
    assert [r.group for r in data.records] == ["patient:P1", "patient:P1", "patient:P2"]


@pytest.mark.parametrize("strict", [True, False])
def test_folder_datasets_expand_a_nifti_volume_into_slices_of_one_group(tmp_path: Path, strict: bool) -> None:
    for cls in ("glioma", "pituitary"):
        (tmp_path / "tree" / cls).mkdir(parents=True)
    volume = np.stack([real_slice("1.png"), real_slice("1029.png"), real_slice("1.png")], axis=-1)
    write_nifti(tmp_path / "tree" / "glioma" / "t1.nii.gz", volume)
    Image.fromarray(real_slice()).save(tmp_path / "tree" / "pituitary" / "a.png")
    data = FolderDataset(tmp_path / "tree", strict=strict)  # lenient used to drop the volume as unreadable
    assert data.class_counts() == {"glioma": 3, "pituitary": 1}
    volume_records = [r for r in data.records if r.class_name == "glioma"]
    assert [r.source.rsplit("::", 1)[1] for r in volume_records] == ["z=0", "z=1", "z=2"]
    assert len({r.group for r in volume_records}) == 1  # one scan stays on one side of a split
    assert all(data.sample(i).image.shape[0] == 1 for i in range(len(data)))


# -- NIfTI ----------------------------------------------------------------------------------------
def test_nifti_volume_slices_follow_the_canonical_orientation(tmp_path: Path) -> None:
    stack = np.stack([real_slice(n).T for n in ("1.png", "1029.png", "1.png")], axis=-1)  # (x, y, z)
    stack[:20, :20, :] = 255  # a corner marker: orientation mistakes move it
    canonical = write_nifti(tmp_path / "ras.nii.gz", stack)
    flipped_affine = np.diag([-1.0, 1.0, 1.0, 1.0])  # the same anatomy stored with x reversed
    flipped = write_nifti(tmp_path / "las.nii", stack[::-1], flipped_affine)
    sources = nifti_slices(canonical)
    assert sources == [f"{canonical}::z=0", f"{canonical}::z=1", f"{canonical}::z=2"]
    a = read_nifti_slice(sources[1])
    b = read_nifti_slice(f"{flipped}::z=1")
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert a.shape == real_slice().shape  # rotated back to (rows, columns)
    with pytest.raises(ValueError, match=r"is a 3-D volume .* address one slice"):
        read_nifti_slice(str(canonical))


def test_nifti_slices_are_laid_out_as_dicom_shows_them(tmp_path: Path) -> None:
    """Radiological convention: anterior up, the patient's right on the image's left."""
    pixels = real_slice()
    ras = pixels[::-1, ::-1].T  # (x: right, y: anterior) of a slice shown as DICOM stores it
    path = write_nifti(tmp_path / "one.nii.gz", np.stack([ras, ras], -1))
    shown = read_nifti_slice(f"{path}::z=0")  # scaled by the volume's percentiles: compare shapes

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    assert corr(shown, pixels) > 0.99
    assert corr(shown, pixels[:, ::-1]) < 0.9 and corr(shown, pixels[::-1]) < 0.9  # not mirrored


def test_a_2d_nifti_is_one_image(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "one.nii.gz", real_slice().T)
    assert nifti_slices(path) == [str(path)]
    assert read_nifti_slice(str(path)).shape == real_slice().shape


def test_without_the_extra_the_error_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_dicom(tmp_path / "a.dcm", real_slice())
    monkeypatch.setitem(sys.modules, "pydicom", None)  # as if not installed
    with pytest.raises(ImportError, match=r"brainvit-effnet\[mri\]"):
        read_dicom(path)


# -- predict --------------------------------------------------------------------------------------
def test_predict_on_a_nifti_volume_and_a_dicom_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = np.zeros_like(real_slice())
    volume = np.stack([real_slice(n).T for n in ("1.png", "1029.png")] + [empty], -1)
    nii = write_nifti(tmp_path / "t1.nii.gz", volume)
    series = tmp_path / "series"
    series.mkdir()
    uid = generate_uid()
    for i, name in enumerate(("1.png", "1029.png")):
        write_dicom(series / f"IM{i}.dcm", real_slice(name), series=uid, instance=i + 1)
    out = tmp_path / "preds.csv"
    model = str(BUNDLED_WEIGHTS[BUNDLED_MODEL])
    assert main(["predict", model, str(nii), str(series), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    kinds = [(Path(r["path"].split("::")[0]).name, r["kind"]) for r in rows]
    assert kinds.count(("t1.nii.gz", "slice")) == 3 and ("t1.nii.gz", "volume") in kinds
    assert sum(1 for r in rows if r["kind"] == "slice" and r["path"].endswith(".dcm")) == 2
    summary = next(r for r in rows if r["kind"] == "volume" and "t1.nii.gz" in r["path"])
    assert summary["slices"] == "2/3"  # the empty slice has no brain: left out of the mean
    labels = [k for k in rows[0] if k.startswith("p_")]
    slices = [r for r in rows if r["kind"] == "slice" and "t1.nii.gz" in r["path"]]
    mean = np.mean([[float(r[k]) for k in labels] for r in slices[:2]], axis=0)
    np.testing.assert_allclose([float(summary[k]) for k in labels], mean, atol=1e-5)
    assert any(r["kind"] == "volume" and "series=" in r["path"] for r in rows)
    assert "volume(s)" in capsys.readouterr().out


# -- duplicate checks -----------------------------------------------------------------------------
def _mri_tree(root: Path) -> dict[str, Path]:
    """A glioma folder: a slice as PNG and as DICOM, a NIfTI volume holding another slice (plus a
    distinct one) and that slice's PNG; the PNG of a third, distinct slice as a decoy."""
    folder = root / "glioma"
    folder.mkdir(parents=True)
    Image.fromarray(real_slice("1.png")).save(folder / "a.png")
    write_dicom(folder / "a.dcm", real_slice("1.png"))
    shown = real_slice("1029.png")
    ras = shown[::-1, ::-1].T  # stored so that the volume's slice shows as `shown` (see above)
    other = real_slice("1043.png")[::-1, ::-1].T
    write_nifti(folder / "vol.nii.gz", np.stack([other, ras], -1))
    Image.fromarray(shown).save(folder / "b.png")
    Image.fromarray(real_slice("1105.png")).save(folder / "decoy.png")
    return {
        "png": folder / "a.png",
        "dcm": folder / "a.dcm",
        "vol": folder / "vol.nii.gz",
        "b": folder / "b.png",
    }


def test_duplicates_across_png_dicom_and_nifti_slices(tmp_path: Path) -> None:
    from brainvit_effnet.data.duplicates import ImageRef, expand_volumes, find_duplicates

    files = _mri_tree(tmp_path / "tree")
    refs = [ImageRef(p, label="glioma") for p in sorted((tmp_path / "tree" / "glioma").iterdir())]
    expanded, skipped = expand_volumes(refs)
    assert not skipped and f"{files['vol']}::z=1" in {str(r.path) for r in expanded}
    assert len(expanded) == len(refs) + 1  # the 2-slice volume became two items
    report = find_duplicates(refs)
    pairs = {frozenset((str(p.query.path), str(p.reference.path))): p for p in report.pairs}
    assert set(pairs) == {
        frozenset((str(files["png"]), str(files["dcm"]))),
        frozenset((str(files["b"]), f"{files['vol']}::z=1")),
    }, [(p.query.key, p.reference.key, p.kind, p.similarity) for p in report.pairs]
    for pair in pairs.values():  # the same picture, stored differently: near, nearly identical
        assert pair.similarity > 0.995 and pair.labels_agree
        assert not pair.same_bytes


def test_the_same_dicom_pixels_with_other_metadata_are_exact(tmp_path: Path) -> None:
    from brainvit_effnet.data.duplicates import ImageRef, find_duplicates

    a = write_dicom(tmp_path / "a.dcm", real_slice(), patient="P1")
    b = write_dicom(tmp_path / "b.dcm", real_slice(), patient="P2")
    report = find_duplicates([ImageRef(a), ImageRef(b)])
    assert [(p.kind, p.same_bytes) for p in report.pairs] == [("exact", False)]


def test_leakage_cli_reads_dicom_and_nifti_trees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _mri_tree(tmp_path / "tree")
    out = tmp_path / "leakage"
    assert main(["leakage", str(tmp_path / "tree"), "--out", str(out)]) == 0
    report = json.loads((out / "leakage.json").read_text())
    assert report["counts"]["n_exact_pairs"] + report["counts"]["n_near_pairs"] == 2
    assert (out / "pairs.png").read_bytes()[:4] == b"\x89PNG"
    assert "vol.nii.gz::z=1" in (out / "leakage.md").read_text()


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        (np.full((8, 8, 6), np.nan, dtype=np.float32), "every voxel is NaN or infinite"),
        (np.zeros((64, 64, 0), dtype=np.float32), "holds no voxels"),
    ],
)
def test_a_nifti_with_nothing_to_classify_is_a_row_with_the_reason_not_probabilities(
    tmp_path: Path, volume: np.ndarray, message: str
) -> None:
    path = tmp_path / "bad.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.eye(4)), str(path))
    out = tmp_path / "preds.csv"
    assert main(["predict", str(BUNDLED_WEIGHTS[BUNDLED_MODEL]), str(path), "--out", str(out)]) == 1
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and message in rows[0]["error"] and not rows[0]["predicted"]


def test_dicom_files_as_scanners_write_them_are_read_by_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Suffix-less (IM0001) and UID-named files are DICOM by their content; a folder whose path holds
    '::' is a folder; a DICOMDIR is skipped in folders and refused, by name, on its own."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian

    series = tmp_path / "exam::2024" / "series"
    series.mkdir(parents=True)
    uid = generate_uid()
    write_dicom(series / "IM0001", real_slice("1.png"), series=uid, instance=1)
    write_dicom(series / "1.2.840.113619.2.1", real_slice("1029.png"), series=uid, instance=2)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    index = Dataset()
    index.file_meta = meta
    index.FileSetID = "EXAM"
    index.DirectoryRecordSequence = Sequence([])
    dicomdir = series / "DICOMDIR"
    index.save_as(dicomdir, enforce_file_format=True)
    out = tmp_path / "preds.csv"
    assert main(["predict", str(BUNDLED_WEIGHTS[BUNDLED_MODEL]), str(series), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    slices = sorted(Path(r["path"]).name for r in rows if r["kind"] == "slice")
    assert slices == ["1.2.840.113619.2.1", "IM0001"] and all(r["predicted"] for r in rows)
    assert not any("DICOMDIR" in r["path"] for r in rows)
    assert read_mri_slice(str(series / "IM0001")).shape == real_slice("1.png").shape
    with pytest.raises(ValueError, match="is a DICOMDIR, the index of a DICOM media set, not an image"):
        read_mri_slice(str(dicomdir))


def _compressed(path: Path, syntax: str) -> Path:
    """A DICOM slice whose header says its pixels use ``syntax`` (the pixel bytes are not valid)."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID

    write_dicom(path, real_slice()[:32, :32])
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    ds.PixelData = encapsulate([b"\xff\xd8 not really compressed \xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_transfer_syntax_without_a_decoder_is_found_up_front_naming_the_plugin(tmp_path: Path) -> None:
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGLSLossless

    if get_decoder(JPEGLSLossless).is_available:
        pytest.skip("a JPEG-LS decoder is installed here: nothing is missing to report")
    (tmp_path / "glioma").mkdir()
    scan = _compressed(tmp_path / "glioma" / "IM0001", JPEGLSLossless)
    data = FolderDataset(tmp_path, crop=False)  # listing reads headers only
    with pytest.raises(
        ValueError, match=r"IM0001: its pixels are compressed as JPEG-LS .* pip install pylibjpeg"
    ):
        data.check_files()  # the up-front check, before a long job
    with pytest.raises(ValueError, match=r"no decoder for it is installed.*pyjpegls"):
        read_dicom(scan)


def test_a_transfer_syntax_pydicom_cannot_decode_at_all_says_convert(tmp_path: Path) -> None:
    from brainvit_effnet.data.mri import check_mri

    scan = _compressed(tmp_path / "odd.dcm", "1.2.840.10008.1.2.4.100")  # MPEG-2 video
    with pytest.raises(
        ValueError, match=r"odd\.dcm: its pixels are stored as MPEG2 .*no DICOM decoder.*gdcmconv"
    ):
        check_mri(str(scan))
