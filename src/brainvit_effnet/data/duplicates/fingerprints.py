"""Fingerprints of images: file and pixel SHA-256, pHash, dHash and 64x64 thumbnails.

Also the two comparisons built on them: :func:`hamming_distances` between packed hashes and
:func:`thumbnail_similarity`, the shift-tolerant thumbnail correlation that verifies near-duplicate
candidates. The method and its thresholds are described in :mod:`brainvit_effnet.data.duplicates`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..._checks import is_int
from ..._progress import progress_bar
from ...errors import InvalidArgumentError, InvalidTypeError
from ..mri import NIFTI_SUFFIXES, is_mri_file, nifti_slices, read_mri_slice

__all__ = [
    "THUMBNAIL_SIZE",
    "Fingerprints",
    "ImageRef",
    "UnreadableImageError",
    "compute_fingerprints",
    "expand_volumes",
    "hamming_distances",
    "thumbnail_similarity",
]

logger = logging.getLogger(__name__)

#: Side of the greyscale thumbnails kept for verification.
THUMBNAIL_SIZE = 64
#: Shifts (in thumbnail pixels, both axes) searched when comparing thumbnails: up to 1/64 of the side.
_SHIFTS = np.arange(-1.0, 1.0 + 1e-9, 0.25)

_POPCOUNT_LUT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)
# Candidate pairs whose thumbnails are compared at once (bounds memory to a few tens of MB).
_VERIFY_BATCH = 1024


class UnreadableImageError(InvalidArgumentError):
    """An image file that is missing, truncated or not an image. The message names the file."""


@dataclass(frozen=True)
class ImageRef:
    """One image to check: where it is, and optionally its label, the set it belongs to and an id.

    Args:
        path: Image file: any format Pillow reads, a DICOM file (``.dcm``), a NIfTI image or volume
            (``.nii``, ``.nii.gz``; a 3-D volume stands for its axial slices), or one slice of a
            volume addressed as ``"file.nii.gz::z=N"`` (DICOM and NIfTI need the ``mri`` extra).
        label: Class label, compared between the two items of a pair; ``None`` if unknown.
        split: The set the item belongs to (``"train"``, ``"test"``, a dataset name); informative.
        key: Identifier used in reports and to match items; defaults to ``str(path)``.

    Examples:
        >>> ref = ImageRef("Training/glioma/Tr-gl_0001.jpg", label="glioma", split="train")
        >>> ref.key
        'Training/glioma/Tr-gl_0001.jpg'
    """

    path: str | Path
    label: str | None = None
    split: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, Path)):
            raise InvalidTypeError(
                f"ImageRef.path must be a str or pathlib.Path; got {type(self.path).__name__} "
                f"({self.path!r}). Pass the image file's path."
            )
        for name in ("label", "split", "key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidTypeError(
                    f"ImageRef.{name} must be a str or None; got {type(value).__name__} ({value!r}). "
                    f"Convert it with str(...) first."
                )
        if self.key is None:
            object.__setattr__(self, "key", str(self.path))

    @property
    def name(self) -> str:
        """The item's key (``str(path)`` unless given), as a plain ``str``."""
        return self.key if self.key is not None else str(self.path)

    def to_dict(self) -> dict[str, str | None]:
        """JSON-serialisable form: ``{"path", "label", "split", "key"}``."""
        return {"path": str(self.path), "label": self.label, "split": self.split, "key": self.name}


@dataclass(frozen=True)
class Fingerprints:
    """Hashes of a list of images, row-aligned with ``items``.

    Attributes:
        items: The items that could be read, in input order (unreadable ones are left out when
            ``strict=False``).
        sha256: File-content SHA-256 per item, hex strings, shape ``(n,)``.
        pixel_sha256: SHA-256 of the decoded pixels per item, hex strings, shape ``(n,)``.
        phash: pHash bits packed big-endian into bytes, ``uint8`` of shape ``(n, ceil(hash_size**2 / 8))``.
        dhash: dHash bits packed the same way.
        thumbnails: Greyscale ``THUMBNAIL_SIZE x THUMBNAIL_SIZE`` thumbnails, ``uint8`` of shape
            ``(n, 64, 64)``, used to verify near-duplicate candidates.
        hash_size: Side of the hash block; hashes have ``hash_size ** 2`` bits.
        skipped: Paths of files that could not be read (only with ``strict=False``).
        mirror_phash, mirror_dhash: The same hashes of each image's horizontal mirror, to find
            mirrored copies (``None`` in fingerprints made without them). The mirrored thumbnail
            is ``thumbnails[:, :, ::-1]``.

    Examples:
        >>> fp = compute_fingerprints([ImageRef("a.jpg")])  # doctest: +SKIP
        >>> fp.phash_hex()[0]  # doctest: +SKIP
        'c3a1f0e0f0e0c0c0'
    """

    items: tuple[ImageRef, ...]
    sha256: npt.NDArray[np.str_]
    pixel_sha256: npt.NDArray[np.str_]
    phash: npt.NDArray[np.uint8]
    dhash: npt.NDArray[np.uint8]
    thumbnails: npt.NDArray[np.uint8]
    hash_size: int
    skipped: tuple[str, ...] = ()
    mirror_phash: npt.NDArray[np.uint8] | None = None
    mirror_dhash: npt.NDArray[np.uint8] | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def n_skipped(self) -> int:
        """Number of unreadable files left out."""
        return len(self.skipped)

    @property
    def n_bits(self) -> int:
        """Bits per hash (``hash_size ** 2``)."""
        return self.hash_size * self.hash_size

    def phash_hex(self) -> list[str]:
        """pHashes as hex strings (for hash_size 8, the usual 16-digit form)."""
        return [row.tobytes().hex() for row in self.phash]

    def dhash_hex(self) -> list[str]:
        """dHashes as hex strings."""
        return [row.tobytes().hex() for row in self.dhash]


# -- hashing ----------------------------------------------------------------------------------


def _greyscale(image: Image.Image) -> Image.Image:
    """Greyscale float image ("F" mode, 0-255); 16-bit and float images are min-max scaled."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(image.convert("F") if image.mode != "F" else image, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.float32), mode="F")
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGBA" if "A" in image.mode or image.mode == "P" else "RGB")
    return image.convert("L").convert("F")


def _pixel_digest(image: Image.Image) -> str:
    return _array_digest(np.asarray(image), image.mode)


def _array_digest(arr: npt.NDArray[np.generic], mode: str) -> str:
    if (
        mode == "RGB"
        and arr.ndim == 3
        and np.array_equal(arr[..., 0], arr[..., 1])
        and np.array_equal(arr[..., 0], arr[..., 2])
    ):
        arr, mode = np.ascontiguousarray(arr[..., 0]), "L"
    header = f"{mode}:{arr.shape}:{arr.dtype.str};".encode()
    return hashlib.sha256(header + arr.tobytes()).hexdigest()


def _phash_bits(grey: Image.Image, hash_size: int) -> npt.NDArray[np.bool_]:
    side = 4 * hash_size
    small = np.asarray(grey.resize((side, side), Image.Resampling.BICUBIC), dtype=np.float64)
    from scipy.fft import dctn  # here, not at import: scipy.fft costs every `import brainvit_effnet` 0.3 s

    low = dctn(small, type=2, norm="ortho")[:hash_size, :hash_size]
    return np.asarray(low > np.median(low)).ravel()


def _dhash_bits(grey: Image.Image, hash_size: int) -> npt.NDArray[np.bool_]:
    small = np.asarray(grey.resize((hash_size + 1, hash_size), Image.Resampling.BICUBIC), dtype=np.float64)
    return np.asarray(small[:, 1:] > small[:, :-1]).ravel()


def _thumbnail(grey: Image.Image) -> npt.NDArray[np.uint8]:
    small = np.asarray(
        grey.resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.BICUBIC), dtype=np.float32
    )
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


class _Row(NamedTuple):
    sha256: str
    pixel_sha256: str
    phash: npt.NDArray[np.uint8]
    dhash: npt.NDArray[np.uint8]
    thumbnail: npt.NDArray[np.uint8]
    mirror_phash: npt.NDArray[np.uint8]
    mirror_dhash: npt.NDArray[np.uint8]


def _decode_mri(ref: ImageRef, data: bytes) -> tuple[str, Image.Image]:
    """A DICOM file or NIfTI slice as (pixel digest, greyscale "F" image), decoded as the datasets
    read it (:func:`~brainvit_effnet.data.mri.read_mri_slice`: rescale, window, volume scaling)."""
    try:
        unit = read_mri_slice(str(ref.path))
    except (ValueError, FileNotFoundError) as exc:  # an ImportError (no mri extra) names the extra
        raise UnreadableImageError(
            f"Cannot decode MRI file {str(ref.path)!r} (item {ref.name!r}, {len(data)} bytes): {exc} "
            f"Replace or remove the file, or pass strict=False to skip unreadable files."
        ) from exc
    # The digest is of the decoded slice: the same stored pixels with other metadata are exact.
    return _array_digest(unit, "F"), Image.fromarray((unit * 255.0).astype(np.float32))


def _fingerprint_one(ref: ImageRef, hash_size: int) -> _Row:
    # A volume slice "file::z=N" reads its file; its byte digest also covers the slice address,
    # so two slices of one file are not "byte-identical" while the same slice of two copies is.
    file_path, sep, address = str(ref.path).partition("::")
    path = Path(file_path) if sep else Path(ref.path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableImageError(
            f"Cannot read image file {str(path)!r} (item {ref.name!r}): {exc}. Expected an existing, "
            f"readable image file; fix the path or pass strict=False to skip unreadable files."
        ) from exc
    if is_mri_file(ref.path):
        pixel_digest, grey = _decode_mri(ref, data)
    else:
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                pixel_digest = _pixel_digest(image)
                grey = _greyscale(image)
        except _DECODE_ERRORS as exc:
            raise UnreadableImageError(
                f"Cannot decode image file {str(path)!r} (item {ref.name!r}, {len(data)} bytes): "
                f"{type(exc).__name__}: {exc}. Expected a complete image Pillow can read; replace or "
                f"remove the file, or pass strict=False to skip unreadable files."
            ) from exc
    return _Row(
        sha256=hashlib.sha256(data + (f"::{address}".encode() if sep else b"")).hexdigest(),
        pixel_sha256=pixel_digest,
        phash=np.packbits(_phash_bits(grey, hash_size)),
        dhash=np.packbits(_dhash_bits(grey, hash_size)),
        thumbnail=_thumbnail(grey),
        mirror_phash=np.packbits(
            _phash_bits(mirror := grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT), hash_size)
        ),
        mirror_dhash=np.packbits(_dhash_bits(mirror, hash_size)),
    )


def _check_refs(items: object, name: str) -> tuple[ImageRef, ...]:
    if isinstance(items, (str, Path, ImageRef)) or not isinstance(items, Sequence):
        raise InvalidTypeError(
            f"{name} must be a sequence of ImageRef; got {type(items).__name__}. Wrap paths as "
            f"[ImageRef(path, label=...) for path in paths]."
        )
    refs = tuple(items)
    for i, ref in enumerate(refs):
        if not isinstance(ref, ImageRef):
            raise InvalidTypeError(
                f"{name}[{i}] must be an ImageRef; got {type(ref).__name__} ({ref!r}). "
                f"Wrap it as ImageRef(path, label=...)."
            )
    return refs


def _is_volume_file(ref: ImageRef) -> bool:
    return "::" not in str(ref.path) and str(ref.path).lower().endswith(NIFTI_SUFFIXES)


def expand_volumes(items: Sequence[ImageRef], *, strict: bool = True) -> tuple[list[ImageRef], list[str]]:
    """The items with every 3-D NIfTI volume replaced by one item per axial slice.

    A slice item has the path ``"<file>::z=N"`` (see :mod:`brainvit_effnet.data.mri`), the key
    ``"<key>::z=N"`` and the volume's label and split; 2-D NIfTI images, DICOM files and other
    images stay as they are, so every item is one 2-D picture.

    Returns:
        ``(items, skipped)``: skipped are the volumes whose header could not be read (only with
        ``strict=False``; strict raises :class:`UnreadableImageError` naming the file).
    """
    refs = _check_refs(items, "items")
    out: list[ImageRef] = []
    skipped: list[str] = []
    for ref in refs:
        if not _is_volume_file(ref):
            out.append(ref)
            continue
        try:
            sources = nifti_slices(ref.path)
        except (ValueError, FileNotFoundError) as exc:
            if strict:
                raise UnreadableImageError(
                    f"Cannot read NIfTI file {str(ref.path)!r} (item {ref.name!r}): {exc} Replace or "
                    f"remove the file, or pass strict=False to skip unreadable files."
                ) from exc
            skipped.append(str(ref.path))
            continue
        if sources == [str(ref.path)]:  # a 2-D image
            out.append(ref)
            continue
        for source in sources:
            suffix = source[len(str(ref.path)) :]  # "::z=NNN"
            out.append(ImageRef(source, label=ref.label, split=ref.split, key=f"{ref.name}{suffix}"))
    return out, skipped


def _check_hash_size(hash_size: object) -> int:
    if not is_int(hash_size) or not 2 <= hash_size <= 64:
        raise InvalidArgumentError(
            f"hash_size must be an int between 2 and 64 (8 gives 64-bit hashes); got {hash_size!r}."
        )
    return int(hash_size)


def _n_threads(workers: object) -> int:
    if not is_int(workers) or workers < -1:
        raise InvalidArgumentError(
            f"workers must be 0 (no threads), a positive thread count, or -1 (one per CPU); got {workers!r}."
        )
    return (os.cpu_count() or 1) if workers == -1 else int(workers)


def compute_fingerprints(
    items: Sequence[ImageRef],
    hash_size: int = 8,
    workers: int = 0,
    *,
    strict: bool = True,
    progress: bool | None = None,
) -> Fingerprints:
    """SHA-256 of file bytes and pixels, pHash and dHash of every item.

    Args:
        items: The images to fingerprint. A 3-D NIfTI volume stands for its axial slices
            (:func:`expand_volumes`): the fingerprints then hold one item per slice.
        hash_size: Side of the hash block; hashes have ``hash_size ** 2`` bits (default 64).
        workers: ``0`` hashes in this thread; ``k > 0`` uses ``k`` threads (decoding releases the
            GIL); ``-1`` uses one thread per CPU.
        strict: If True, an unreadable, truncated or non-image file raises
            :class:`UnreadableImageError` (a ``ValueError``) naming it. If False, such files are
            skipped, recorded in ``Fingerprints.skipped``, and one warning with their count is logged.
        progress: A progress bar over the files: ``True``/``False`` forces it on/off; ``None``
            (default) draws it when stderr is a terminal.

    Returns:
        The fingerprints, row-aligned with the readable items.

    Raises:
        TypeError: If ``items`` is not a sequence of :class:`ImageRef`.
        ValueError: For a bad ``hash_size`` or ``workers``, or (strict) an unreadable file.

    Examples:
        >>> fp = compute_fingerprints([ImageRef("a.jpg"), ImageRef("b.png")], workers=2)  # doctest: +SKIP
        >>> fp.phash.shape  # doctest: +SKIP
        (2, 8)
    """
    hash_size = _check_hash_size(hash_size)
    threads = _n_threads(workers)
    expanded, unreadable_volumes = expand_volumes(items, strict=strict)
    refs = tuple(expanded)

    def one(ref: ImageRef) -> _Row | UnreadableImageError:
        try:
            return _fingerprint_one(ref, hash_size)
        except UnreadableImageError as exc:
            if strict:
                raise
            return exc

    bar = progress_bar(total=len(refs), progress=progress, desc="fingerprints", unit="image", leave=False)
    results: list[_Row | UnreadableImageError] = []
    with bar:
        if threads > 1 and len(refs) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                for result in pool.map(one, refs):
                    results.append(result)
                    bar.update(1)
        else:
            for ref in refs:
                results.append(one(ref))
                bar.update(1)

    kept: list[ImageRef] = []
    rows: list[_Row] = []
    skipped: list[str] = list(unreadable_volumes)
    for ref, result in zip(refs, results, strict=True):
        if isinstance(result, UnreadableImageError):
            skipped.append(str(ref.path))
        else:
            kept.append(ref)
            rows.append(result)
    if skipped:
        logger.warning(
            "Skipped %d unreadable image file(s) of %d (strict=False), e.g. %s",
            len(skipped),
            len(refs) + len(unreadable_volumes),
            skipped[0],
        )
    n_bytes = math.ceil(hash_size * hash_size / 8)
    return Fingerprints(
        items=tuple(kept),
        sha256=np.array([r.sha256 for r in rows], dtype="<U64"),
        pixel_sha256=np.array([r.pixel_sha256 for r in rows], dtype="<U64"),
        phash=np.array([r.phash for r in rows], dtype=np.uint8).reshape(len(rows), n_bytes),
        dhash=np.array([r.dhash for r in rows], dtype=np.uint8).reshape(len(rows), n_bytes),
        thumbnails=np.array([r.thumbnail for r in rows], dtype=np.uint8).reshape(
            len(rows), THUMBNAIL_SIZE, THUMBNAIL_SIZE
        ),
        hash_size=hash_size,
        skipped=tuple(skipped),
        mirror_phash=np.array([r.mirror_phash for r in rows], dtype=np.uint8).reshape(len(rows), n_bytes),
        mirror_dhash=np.array([r.mirror_dhash for r in rows], dtype=np.uint8).reshape(len(rows), n_bytes),
    )


# -- distances --------------------------------------------------------------------------------


def _as_words(packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Packed hash bytes as uint64 words (zero-padded), shape ``(n, words)``."""
    n, n_bytes = packed.shape
    pad = (-n_bytes) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)


def _popcount(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Set bits per element of a uint64 array."""
    bitwise_count = getattr(np, "bitwise_count", None)  # numpy >= 2.0
    if bitwise_count is not None:
        return np.asarray(bitwise_count(words), dtype=np.int64)
    as_bytes = words.view(np.uint8).reshape(*words.shape, 8)
    return _POPCOUNT_LUT[as_bytes].sum(axis=-1, dtype=np.int64)


def hamming_distances(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Full ``(len(a), len(b))`` matrix of Hamming distances between packed hashes.

    Meant for small sets and inspection; :func:`find_duplicates` works in chunks instead.

    Examples:
        >>> h = np.array([[0b1111_0000], [0b1111_1111]], dtype=np.uint8)
        >>> hamming_distances(h, h).tolist()
        [[0, 4], [4, 0]]
    """
    wa, wb = _as_words(a), _as_words(b)
    return _popcount(wa[:, None, :] ^ wb[None, :, :]).sum(axis=-1)


def _normalised(thumbs: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Zero-mean, unit-variance thumbnails, and which ones are constant (all zeros after this)."""
    x = thumbs.astype(np.float32)
    x -= x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    constant = std[:, 0, 0] < 1e-3
    x /= np.where(std < 1e-3, np.float32(1.0), std)
    x[constant] = 0.0
    return x, constant


def thumbnail_similarity(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """Shift-tolerant correlation between row-aligned stacks of thumbnails, shape ``(n, s, s)`` each.

    The Pearson correlation of the two thumbnails, maximised over sub-pixel translations of up to
    one thumbnail pixel (in steps of 1/4 pixel, by an upsampled cross-power spectrum). It is 1.0
    for the same picture (also after resizing, re-encoding, or a brightness/contrast change) and
    stays above ~0.985 for shifts of up to ~1.5% of the image side; adjacent MRI slices and
    different scans score lower (see the package docstring). Two constant thumbnails score 1.0.

    Examples:
        >>> t = np.random.default_rng(0).integers(0, 255, (1, 64, 64), dtype=np.uint8)
        >>> float(thumbnail_similarity(t, t)[0]) > 0.999
        True
    """
    if a.shape != b.shape or a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise InvalidArgumentError(
            f"thumbnail_similarity expects two stacks of square thumbnails of one shape (n, s, s); "
            f"got {a.shape} and {b.shape}."
        )
    n, side = a.shape[0], a.shape[1]
    out = np.empty(n, dtype=np.float64)
    # Upsampled inverse DFT at the sub-pixel shifts, from the half spectrum of the real FFT:
    # columns 1..side/2-1 stand for their conjugate twins too, hence weight 2.
    n_half = side // 2 + 1
    weights = np.full(n_half, 2.0)
    weights[0] = 1.0
    if side % 2 == 0:
        weights[-1] = 1.0
    from scipy.fft import rfft2  # imported on use, as in _phash_bits

    rows_dft = np.exp(2j * np.pi * np.outer(_SHIFTS, np.fft.fftfreq(side) * side) / side).astype(np.complex64)
    cols_dft = (np.exp(2j * np.pi * np.outer(_SHIFTS, np.arange(n_half)) / side) * weights).astype(
        np.complex64
    )
    n_shifts = len(_SHIFTS)
    for start in range(0, n, _VERIFY_BATCH):
        stop = min(n, start + _VERIFY_BATCH)
        xa, ca = _normalised(a[start:stop])
        xb, cb = _normalised(b[start:stop])
        cross = rfft2(xa) * np.conj(rfft2(xb))  # (m, side, n_half), complex64
        m = stop - start
        over_cols = (cross.reshape(m * side, n_half) @ cols_dft.T).reshape(m, side, n_shifts)
        both = over_cols.transpose(0, 2, 1).reshape(m * n_shifts, side) @ rows_dft.T
        corr = both.real.reshape(m, n_shifts * n_shifts) / float(side) ** 4
        best = corr.max(axis=1).astype(np.float64)
        best[ca & cb] = 1.0
        out[start:stop] = np.clip(best, -1.0, 1.0)
    return out
