"""Tests for exact / near-duplicate detection with planted duplicates in synthetic MRI-like images."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from brainvit_effnet.data import BhuvajiDataset, NickparvarDataset
from brainvit_effnet.data import duplicates as dup
from brainvit_effnet.data.duplicates import (
    DuplicateReport,
    Fingerprints,
    ImageRef,
    UnreadableImageError,
    compute_fingerprints,
    drop_duplicates_of,
    find_duplicates,
    hamming_distances,
    leakage_report,
    thumbnail_similarity,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLASSES = ("glioma", "meningioma", "no_tumor", "pituitary")
N_TRAIN = 10


def mri_like(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """A dark background, an elliptical 'head' and smooth random blobs: distinct per seed."""
    y, x = np.mgrid[0:size, 0:size] / size
    cx, cy = rng.uniform(0.4, 0.6, 2)
    ax, ay = rng.uniform(0.28, 0.42, 2)
    head = ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0
    img = np.where(head, rng.uniform(40, 80), 0.0)
    for _ in range(7):
        bx, by = rng.uniform(0.15, 0.85, 2)
        sigma = rng.uniform(0.03, 0.12)
        img = img + rng.uniform(-60, 160) * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * sigma**2)) * head
    return np.clip(img, 0, 255).astype(np.uint8)


def shifted(a: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(a)
    out[k:, k:] = a[:-k, :-k]
    return out


class Planted:
    """Train/test sets with known duplicates (see ``planted`` below)."""

    def __init__(self, root: Path) -> None:
        rng = np.random.default_rng(1234)
        bases = [mri_like(rng) for _ in range(N_TRAIN + 3)]
        self.root = root
        self.train: list[ImageRef] = []
        for i in range(N_TRAIN):
            path = root / "train" / f"base_{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(bases[i]).save(path)
            self.train.append(ImageRef(path, label=CLASSES[i % 4], split="train", key=f"train/base_{i}"))
        test_dir = root / "test"
        test_dir.mkdir()
        # Planted duplicates of train/base_0..4, then three images seen nowhere else.
        shutil.copyfile(self.train[0].path, test_dir / "exact_0.png")
        Image.fromarray(bases[1]).resize((256, 256), Image.Resampling.BICUBIC).save(
            test_dir / "resized_jpeg_1.jpg", quality=75
        )
        bright = np.clip(bases[2].astype(float) * 1.08 + 6, 0, 255).astype(np.uint8)
        Image.fromarray(bright).save(test_dir / "bright_2.png")
        Image.fromarray(shifted(bases[3], 2)).save(test_dir / "shift_3.jpg", quality=90)
        shutil.copyfile(self.train[4].path, test_dir / "relabelled_4.png")
        for i in range(N_TRAIN, N_TRAIN + 3):
            Image.fromarray(bases[i]).save(test_dir / f"new_{i}.png")

        def ref(name: str, label: str) -> ImageRef:
            return ImageRef(test_dir / name, label=label, split="test", key=f"test/{Path(name).stem}")

        self.test = [
            ref("exact_0.png", CLASSES[0]),
            ref("resized_jpeg_1.jpg", CLASSES[1]),
            ref("bright_2.png", CLASSES[2]),
            ref("shift_3.jpg", CLASSES[3]),
            ref("relabelled_4.png", "pituitary"),  # train/base_4 is glioma: a label disagreement
            *(ref(f"new_{i}.png", CLASSES[i % 4]) for i in range(N_TRAIN, N_TRAIN + 3)),
        ]
        #: (test key, train key) -> kind
        self.expected = {
            ("test/exact_0", "train/base_0"): "exact",
            ("test/resized_jpeg_1", "train/base_1"): "near",
            ("test/bright_2", "train/base_2"): "near",
            ("test/shift_3", "train/base_3"): "near",
            ("test/relabelled_4", "train/base_4"): "exact",
        }


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return Planted(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def report(planted: Planted) -> DuplicateReport:
    return leakage_report(planted.train, planted.test)


def pair_kinds(rep: DuplicateReport) -> dict[tuple[str, str], str]:
    return {(p.query.name, p.reference.name): p.kind for p in rep.pairs}


# -- fingerprints ------------------------------------------------------------------------------


def test_fingerprints_shapes_and_dtypes(planted: Planted) -> None:
    fp = compute_fingerprints(planted.train[:3])
    assert len(fp) == 3
    assert fp.phash.shape == (3, 8) and fp.phash.dtype == np.uint8
    assert fp.dhash.shape == (3, 8)
    assert fp.thumbnails.shape == (3, 64, 64) and fp.thumbnails.dtype == np.uint8
    assert all(len(h) == 64 for h in fp.sha256.tolist())
    # A median-thresholded pHash sets exactly half of its 64 bits.
    assert np.unpackbits(fp.phash, axis=1).sum(axis=1).tolist() == [32, 32, 32]
    assert len(fp.phash_hex()[0]) == 16
    assert fp.n_skipped == 0


def test_fingerprints_threads_match_serial(planted: Planted) -> None:
    serial = compute_fingerprints(planted.test)
    threaded = compute_fingerprints(planted.test, workers=2)
    np.testing.assert_array_equal(serial.phash, threaded.phash)
    np.testing.assert_array_equal(serial.sha256, threaded.sha256)


def test_hash_size_other_than_8(planted: Planted) -> None:
    fp = compute_fingerprints(planted.train[:2], hash_size=5)  # 25 bits -> 4 bytes
    assert fp.phash.shape == (2, 4)
    rep = find_duplicates(planted.test[:2], planted.train[:2], hash_size=5, max_distance=3)
    assert pair_kinds(rep) == {
        ("test/exact_0", "train/base_0"): "exact",
        ("test/resized_jpeg_1", "train/base_1"): "near",
    }


def test_hamming_distances_match_naive_and_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    for n_bytes in (8, 4, 32):
        a = rng.integers(0, 256, (7, n_bytes), dtype=np.uint8)
        b = rng.integers(0, 256, (5, n_bytes), dtype=np.uint8)
        naive = np.array([[int(np.unpackbits(x ^ y).sum()) for y in b] for x in a])
        np.testing.assert_array_equal(hamming_distances(a, b), naive)
        monkeypatch.delattr(np, "bitwise_count", raising=False)  # numpy < 2: lookup-table popcount
        np.testing.assert_array_equal(hamming_distances(a, b), naive)
        monkeypatch.undo()


def test_thumbnail_similarity_properties() -> None:
    rng = np.random.default_rng(0)
    img = mri_like(rng, 256)
    thumb = np.asarray(Image.fromarray(img).resize((64, 64), Image.Resampling.BICUBIC))
    other = np.asarray(Image.fromarray(mri_like(rng, 256)).resize((64, 64), Image.Resampling.BICUBIC))
    constant = np.full((64, 64), 7, dtype=np.uint8)
    a = np.stack([thumb, thumb, thumb, constant])
    b = np.stack([thumb, np.clip(thumb * 0.5 + 20, 0, 255).astype(np.uint8), other, constant])
    sim = thumbnail_similarity(a, b)
    assert sim[0] > 0.9999 and sim[1] > 0.999  # contrast/brightness invariant
    assert sim[2] < 0.95
    assert sim[3] == 1.0
    with pytest.raises(ValueError, match="square thumbnails"):
        thumbnail_similarity(a, b[:, :32])


# -- planted duplicates, cross-set ------------------------------------------------------------


def test_finds_exactly_the_planted_pairs(planted: Planted, report: DuplicateReport) -> None:
    assert pair_kinds(report) == planted.expected
    by_key = {p.query.name: p for p in report.pairs}
    assert by_key["test/exact_0"].same_bytes and by_key["test/exact_0"].distance == 0
    assert not by_key["test/shift_3"].same_bytes
    assert all(p.similarity >= 0.985 for p in report.pairs)
    assert all(p.distance <= 12 for p in report.near_pairs)


def test_counts_and_fractions(report: DuplicateReport) -> None:
    assert report.n_query == 8 and report.n_reference == N_TRAIN
    assert report.n_exact_pairs == 2 and report.n_near_pairs == 3
    assert report.n_query_with_exact == 2 and report.frac_query_with_exact == pytest.approx(2 / 8)
    assert report.n_query_with_any == 5 and report.frac_query_with_any == pytest.approx(5 / 8)
    assert report.n_label_disagreements == 1
    (bad,) = report.label_disagreements
    assert (bad.query.name, bad.reference.name) == ("test/relabelled_4", "train/base_4")
    assert bad.labels_agree is False and bad.kind == "exact"
    assert [r.name for r in report.query_items_with_duplicates()] == [
        "test/exact_0",
        "test/resized_jpeg_1",
        "test/bright_2",
        "test/shift_3",
        "test/relabelled_4",
    ]
    assert [r.name for r in report.query_items_with_duplicates("exact")] == [
        "test/exact_0",
        "test/relabelled_4",
    ]
    assert [r.name for r in report.reference_items_with_duplicates()] == [f"train/base_{i}" for i in range(5)]
    assert report.counts()["n_redundant"] == 5


def test_no_false_positives_among_distinct_images(planted: Planted) -> None:
    distinct = planted.train + planted.test[5:]
    rep = find_duplicates(distinct)
    assert rep.pairs == []
    # Even without the thumbnail check, the synthetic images are far apart in pHash.
    fp = compute_fingerprints(distinct)
    dist = hamming_distances(fp.phash, fp.phash)
    assert dist[np.triu_indices(len(distinct), 1)].min() > 12
    assert find_duplicates(fp, min_similarity=None).pairs == []


def test_hash_only_mode_and_strict_threshold(planted: Planted) -> None:
    loose = find_duplicates(planted.test, planted.train, min_similarity=None)
    assert pair_kinds(loose) == planted.expected
    exact_only = find_duplicates(planted.test, planted.train, max_distance=0, min_similarity=1.0)
    assert set(pair_kinds(exact_only).values()) == {"exact"}
    assert len(exact_only.pairs) == 2
    both = find_duplicates(planted.test, planted.train, method="both")
    assert pair_kinds(both) == planted.expected


def test_leakage_report_is_find_duplicates_test_vs_train(planted: Planted, report: DuplicateReport) -> None:
    direct = find_duplicates(planted.test, planted.train)
    assert pair_kinds(direct) == pair_kinds(report)
    assert (report.query_name, report.reference_name) == ("test", "train")
    # Reversed roles: fractions are of training items now.
    reverse = find_duplicates(planted.train, planted.test)
    assert reverse.n_query_with_any == 5 and reverse.frac_query_with_any == pytest.approx(5 / N_TRAIN)


def test_precomputed_fingerprints_are_reused(planted: Planted, report: DuplicateReport) -> None:
    fq, fr = compute_fingerprints(planted.test), compute_fingerprints(planted.train)
    assert pair_kinds(find_duplicates(fq, fr)) == pair_kinds(report)
    with pytest.raises(ValueError, match="hash_size=8"):
        find_duplicates(fq, fr, hash_size=6)


# -- drop_duplicates_of --------------------------------------------------------------------------


def test_drop_duplicates_of(planted: Planted, report: DuplicateReport) -> None:
    kept = drop_duplicates_of(planted.test, planted.train)
    assert [r.name for r in kept] == [f"train/base_{i}" for i in range(5, N_TRAIN)]
    assert drop_duplicates_of(planted.test, planted.train, report=report) == kept
    assert drop_duplicates_of(planted.test[5:], planted.train) == planted.train


def test_drop_duplicates_of_rejects_wrong_reports(planted: Planted, report: DuplicateReport) -> None:
    within = find_duplicates(planted.train)
    with pytest.raises(ValueError, match="cross-set report"):
        drop_duplicates_of(planted.test, planted.train, report=within)
    with pytest.raises(ValueError, match="not this training set"):
        drop_duplicates_of(planted.test, planted.train[:3], report=report)
    with pytest.raises(ValueError, match="both a report"):
        drop_duplicates_of(planted.test, planted.train, report=report, max_distance=4)


# -- within-set ---------------------------------------------------------------------------------


def test_within_set(planted: Planted) -> None:
    everything = planted.train + planted.test
    rep = find_duplicates(everything, query_name="all")
    assert rep.within_set and rep.reference is None and rep.n_reference == rep.n_query == 18
    # Within one list the planted pairs read (train item, test item): train comes first.
    assert pair_kinds(rep) == {(b, a): kind for (a, b), kind in planted.expected.items()}
    assert all(p.query_index < p.reference_index for p in rep.pairs)
    assert rep.n_query_with_any == 10 and rep.frac_query_with_any == pytest.approx(10 / 18)
    assert rep.n_query_with_exact == 4
    assert len(rep.groups()) == 5 and rep.n_redundant == 5
    assert find_duplicates(planted.train).pairs == []
    with pytest.raises(ValueError, match="cross-set report"):
        rep.reference_items_with_duplicates()
    with pytest.raises(ValueError, match="within-set report"):
        find_duplicates(planted.test, planted.train).groups()


def test_within_set_groups_chain(planted: Planted) -> None:
    copy_dir = planted.root / "copies"
    copy_dir.mkdir(exist_ok=True)
    refs = [planted.train[0]]
    for k in range(2):
        target = copy_dir / f"copy_{k}.png"
        shutil.copyfile(planted.train[0].path, target)
        refs.append(ImageRef(target))
    rep = find_duplicates([*refs, planted.train[1]])
    assert rep.n_exact_pairs == 3  # all pairs among three identical files
    assert [len(g) for g in rep.groups()] == [3]
    assert rep.n_redundant == 2


def test_pixel_identical_files_are_exact(tmp_path: Path) -> None:
    img = mri_like(np.random.default_rng(5), 128)
    Image.fromarray(img).save(tmp_path / "a.png")
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "same pixels, other bytes")
    Image.fromarray(img).save(tmp_path / "b.png", pnginfo=info)
    Image.fromarray(np.stack([img] * 3, axis=-1)).save(tmp_path / "c.png")  # grey image stored as RGB
    rep = find_duplicates([ImageRef(tmp_path / n) for n in ("a.png", "b.png", "c.png")])
    assert rep.n_exact_pairs == 3
    assert [p.same_bytes for p in rep.pairs] == [False, False, False]


# -- report output ---------------------------------------------------------------------------------


def test_to_dict_is_json_and_consistent(report: DuplicateReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert data["counts"]["n_exact_pairs"] == 2
    assert data["counts"]["frac_query_with_any"] == pytest.approx(0.625)
    assert data["settings"] == {
        "method": "phash",
        "hash_size": 8,
        "max_distance": 12,
        "min_similarity": 0.985,
    }
    assert len(data["pairs"]) == 5
    assert {p["kind"] for p in data["pairs"]} == {"exact", "near"}
    assert data["within_set"] is False and data["reference_name"] == "train"


def test_examples_and_markdown(report: DuplicateReport) -> None:
    ex = report.examples(3)
    assert len(ex) == 3 and {p.kind for p in ex} == {"exact", "near"}
    assert [p.kind for p in report.examples(10, kind="exact")] == ["exact", "exact"]
    assert report.examples(0) == []
    md = report.to_markdown(max_examples=10)
    assert "### Duplicate check: test vs train" in md
    assert "| test items | 8 | |" in md
    assert "| test items with an exact or near duplicate in train | 5 | 62.5% |" in md
    assert "#### Label-disagreeing pairs (1 of 1)" in md
    assert "test/relabelled_4" in md.split("Label-disagreeing")[1]
    assert "Hamming distance <= 12" in md
    assert "test (n=8) vs train (n=10)" in report.summary()


# -- unreadable files ---------------------------------------------------------------------------------


@pytest.fixture
def broken(tmp_path: Path, planted: Planted) -> list[ImageRef]:
    data = Path(planted.test[1].path).read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "notes.png").write_text("not an image")
    return [
        ImageRef(tmp_path / "truncated.jpg"),
        ImageRef(tmp_path / "notes.png"),
        ImageRef(tmp_path / "gone.png"),
    ]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_unreadable_file_raises_naming_it(planted: Planted, broken: list[ImageRef], index: int) -> None:
    bad = broken[index]
    with pytest.raises(UnreadableImageError, match=Path(bad.path).name) as info:
        leakage_report(planted.train, [planted.test[0], bad])
    assert isinstance(info.value, ValueError)
    assert "strict=False" in str(info.value)


def test_lenient_mode_skips_with_one_warning(
    planted: Planted, broken: list[ImageRef], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=dup.__name__):
        rep = leakage_report(planted.train, [planted.test[0], *broken], strict=False)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Skipped 3 unreadable" in warnings[0].getMessage()
    assert rep.n_query == 1 and rep.n_exact_pairs == 1
    assert rep.counts()["n_skipped"] == 3
    assert sorted(Path(s).name for s in rep.skipped) == ["gone.png", "notes.png", "truncated.jpg"]
    assert "| unreadable files skipped | 3 | |" in rep.to_markdown()
    # Unreadable training items are not known duplicates: drop_duplicates_of keeps them.
    kept = drop_duplicates_of(planted.test[:1], [*planted.train[:2], broken[0]], strict=False)
    assert [r.name for r in kept] == ["train/base_1", broken[0].name]


# -- bad arguments --------------------------------------------------------------------------------------


def test_image_ref_validation() -> None:
    ref = ImageRef(Path("x") / "a.jpg", label="glioma")
    assert ref.key == str(Path("x") / "a.jpg") and ref.name == ref.key
    assert ImageRef("a.jpg", key="id-1").name == "id-1"
    with pytest.raises(TypeError, match=r"str or pathlib\.Path"):
        ImageRef(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ImageRef\.label must be a str"):
        ImageRef("a.jpg", label=1)  # type: ignore[arg-type]


def test_bad_arguments(planted: Planted) -> None:
    with pytest.raises(ValueError, match="max_distance must be an int between 0 and 64"):
        find_duplicates(planted.test, planted.train, max_distance=65)
    with pytest.raises(ValueError, match="min_similarity"):
        find_duplicates(planted.test, planted.train, min_similarity=1.5)
    with pytest.raises(ValueError, match="method"):
        find_duplicates(planted.test, planted.train, method="ahash")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hash_size"):
        compute_fingerprints(planted.test, hash_size=1)
    with pytest.raises(ValueError, match="workers"):
        compute_fingerprints(planted.test, workers=-3)
    with pytest.raises(TypeError, match=r"items\[0\] must be an ImageRef"):
        compute_fingerprints([str(planted.test[0].path)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="sequence of ImageRef"):
        find_duplicates(planted.test[0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        find_duplicates(planted.test).query_items_with_duplicates("near")  # type: ignore[arg-type]


# -- folders, scale and real data --------------------------------------------------------------------------


def test_scales_to_thousands_of_hashes() -> None:
    """7000 x 7000 comparisons (random 64-bit hashes) run in chunks, in well under the test budget."""
    rng = np.random.default_rng(0)

    def fake(n: int, tag: str) -> Fingerprints:
        return Fingerprints(
            items=tuple(ImageRef(f"{tag}/{i}.png") for i in range(n)),
            sha256=np.array([f"{tag}{i}" for i in range(n)]),
            pixel_sha256=np.array([f"{tag}{i}" for i in range(n)]),
            phash=rng.integers(0, 256, (n, 8), dtype=np.uint8),
            dhash=rng.integers(0, 256, (n, 8), dtype=np.uint8),
            thumbnails=np.zeros((n, 64, 64), dtype=np.uint8),
            hash_size=8,
        )

    q, r = fake(7000, "q"), fake(7000, "r")
    r.phash[123] = q.phash[45]
    rep = find_duplicates(q, r, min_similarity=None)
    assert ("q/45.png", "r/123.png") in pair_kinds(rep)
    assert rep.n_near_pairs < 20  # random 64-bit hashes are rarely within 12 bits


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data folder {SHARED_DATA} is absent")
def test_kaggle_samples_known_findings() -> None:
    """What the finder reports on the shared Kaggle samples (checked by eye: real copies)."""
    bhuvaji = BhuvajiDataset(SHARED_DATA / "kaggle_sartaj_sample").image_refs()
    nickparvar = NickparvarDataset(SHARED_DATA / "kaggle_nickparvar_sample").image_refs()
    within = find_duplicates(bhuvaji)
    assert within.n_exact_pairs == 1 and within.n_near_pairs == 0
    pair = within.pairs[0]
    assert {Path(pair.query.path).name, Path(pair.reference.path).name} == {"image(1).jpg", "image(3).jpg"}
    across = find_duplicates(nickparvar, bhuvaji)
    assert across.n_exact_pairs == 0 and across.n_near_pairs == 6 and across.n_label_disagreements == 0
    # One of them is a mirrored copy (checked by eye: the same sagittal slice, flipped).
    (mirrored,) = [p for p in across.pairs if p.mirrored]
    assert (
        Path(mirrored.query.path).name == "Tr-me_1068.jpg"
        and Path(mirrored.reference.path).name == "m3 (172).jpg"
    )
    for train_test in (bhuvaji, nickparvar):
        train = [r for r in train_test if r.split == "train"]
        test = [r for r in train_test if r.split == "test"]
        assert leakage_report(train, test).n_query_with_any == 0


def test_mirrored_copies_are_found_and_marked(tmp_path: Path) -> None:
    """A horizontally flipped copy of a training slice in the test set (the Kaggle releases hold many)."""
    from brainvit_effnet.data.sample import sample_root

    images = sorted((sample_root() / "images").glob("*.png"))[:12]
    train = [ImageRef(p, label="x", split="train") for p in images]
    test = []
    for i, p in enumerate(images[:4]):
        copy = tmp_path / f"mirror_{i}.png"
        Image.open(p).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(copy)
        test.append(ImageRef(copy, label="x", split="test"))
    found = leakage_report(train, test)
    mirrored = {(p.query.name, p.reference.name) for p in found.pairs if p.mirrored}
    assert mirrored == {(str(tmp_path / f"mirror_{i}.png"), str(images[i])) for i in range(4)}
    assert all(p.to_dict()["mirrored"] for p in found.pairs if p.mirrored)
    plain = leakage_report(train, test, mirrors=False)
    assert not plain.pairs  # the plain comparison alone misses every mirrored copy


def test_no_image_pairs_with_its_own_mirror_and_distinct_slices_stay_apart() -> None:
    from brainvit_effnet.data.sample import sample_root

    refs = [ImageRef(p) for p in sorted((sample_root() / "images").glob("*.png"))]
    report = find_duplicates(refs)
    assert not [p for p in report.pairs if p.mirrored]  # 96 distinct slices, each roughly symmetric


def test_fingerprinting_shows_a_bar_only_when_asked_or_on_a_terminal(
    planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    refs = planted.train[:3]
    compute_fingerprints(refs)
    assert "fingerprints" not in capsys.readouterr().err  # capsys' stderr is not a terminal: quiet
    find_duplicates(refs, progress=True, workers=2)
    err = capsys.readouterr().err
    assert "fingerprints" in err and "/3 " in err  # a bar over the 3 files
