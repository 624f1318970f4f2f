"""Finding exact and near-duplicate pairs: :func:`find_duplicates`, :func:`leakage_report` and
:func:`drop_duplicates_of`. The method and its thresholds are described in
:mod:`brainvit_effnet.data.duplicates`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._checks import is_int, is_real
from ...errors import InvalidArgumentError
from .fingerprints import (
    Fingerprints,
    ImageRef,
    UnreadableImageError,
    _as_words,
    _check_hash_size,
    _check_refs,
    _popcount,
    compute_fingerprints,
    expand_volumes,
    thumbnail_similarity,
)
from .report import DuplicatePair, DuplicateReport, HashMethod

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_MIN_SIMILARITY",
    "drop_duplicates_of",
    "find_duplicates",
    "leakage_report",
]

logger = logging.getLogger(__name__)

#: Default candidate threshold, in bits of a 64-bit pHash (see the package docstring).
DEFAULT_MAX_DISTANCE = 12
#: Default verification threshold: shift-tolerant correlation of 64x64 thumbnails.
DEFAULT_MIN_SIMILARITY = 0.985
# Elements of the (rows x reference x words) XOR block processed at once.
_CHUNK_ELEMENTS = 1 << 22


def _close_pairs(
    q: npt.NDArray[np.uint64], r: npt.NDArray[np.uint64], max_distance: int, within: bool
) -> Iterator[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    """Yield index arrays (i, j) of pairs at distance <= max_distance, chunked over query rows."""
    n_q, n_r, n_words = len(q), len(r), q.shape[1]
    if n_q == 0 or n_r == 0:
        return
    rows = max(1, _CHUNK_ELEMENTS // max(1, n_r * n_words))
    cols = np.arange(n_r)
    for start in range(0, n_q, rows):
        stop = min(n_q, start + rows)
        dist = _popcount(q[start:stop, None, :] ^ r[None, :, :]).sum(axis=-1)
        close = dist <= max_distance
        if within:
            close &= cols[None, :] > np.arange(start, stop)[:, None]
        i, j = np.nonzero(close)
        if len(i):
            yield i + start, j


def _fingerprints_of(
    items: Sequence[ImageRef] | Fingerprints,
    name: str,
    hash_size: int,
    workers: int,
    strict: bool,
    progress: bool | None = None,
) -> Fingerprints:
    if isinstance(items, Fingerprints):
        if items.hash_size != hash_size:
            raise InvalidArgumentError(
                f"{name} fingerprints were computed with hash_size={items.hash_size}, but "
                f"hash_size={hash_size} was requested. Pass hash_size={items.hash_size} or recompute "
                f"the fingerprints."
            )
        return items
    return compute_fingerprints(
        _check_refs(items, name), hash_size=hash_size, workers=workers, strict=strict, progress=progress
    )


def _labels_agree(a: ImageRef, b: ImageRef) -> bool | None:
    if a.label is None or b.label is None:
        return None
    return a.label == b.label


def find_duplicates(
    query: Sequence[ImageRef] | Fingerprints,
    reference: Sequence[ImageRef] | Fingerprints | None = None,
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    min_similarity: float | None = DEFAULT_MIN_SIMILARITY,
    hash_size: int = 8,
    method: HashMethod = "phash",
    workers: int = 0,
    strict: bool = True,
    query_name: str = "query",
    reference_name: str = "reference",
    mirrors: bool = True,
    progress: bool | None = None,
) -> DuplicateReport:
    """Exact and near-duplicate pairs within one set, or between a query set and a reference set.

    Args:
        query: Items to check (or their precomputed :class:`Fingerprints`, to reuse them).
        reference: Items to check the query against (e.g. the training set when ``query`` is the
            test set). ``None`` checks all pairs ``i < j`` within ``query``.
        max_distance: Largest hash Hamming distance (bits, of ``hash_size ** 2``) for a
            near-duplicate candidate. Default 12 of 64 (see the package docstring).
        min_similarity: A candidate is a near pair only if its thumbnail similarity
            (:func:`thumbnail_similarity`) is at least this. Default 0.985. ``None`` accepts every
            candidate: plain hash matching, which on MRI also pairs adjacent slices and some
            different scans.
        hash_size: Hash block side (8: 64-bit hashes).
        method: Hash for candidates: ``"phash"`` (default), ``"dhash"``, or ``"both"`` (both
            distances <= max_distance).
        workers: Threads for fingerprinting (see :func:`compute_fingerprints`).
        strict: Raise on unreadable files (True) or skip them with a warning (False).
        query_name: Name of the query set in reports.
        reference_name: Name of the reference set in reports.
        mirrors: Also find mirrored copies: each query image's horizontal mirror is matched
            against the reference images with the same thresholds and verification, and such
            pairs carry ``mirrored=True``. A pair that matches plainly is reported plainly.
        progress: A progress bar while the files are fingerprinted: ``True``/``False`` forces it
            on/off; ``None`` (default) draws it when stderr is a terminal.

    DICOM files and NIfTI images are read as the datasets read them (the ``mri`` extra); a 3-D
    NIfTI volume stands for its axial slices (see :func:`expand_volumes`), so a slice and a PNG
    export of it pair up.

    Returns:
        A :class:`DuplicateReport`.

    Raises:
        TypeError: If the items are not sequences of :class:`ImageRef`.
        ValueError: For a bad ``max_distance``/``min_similarity``/``method``/``hash_size``/
            ``workers``, or (strict) an unreadable file.

    Examples:
        >>> report = find_duplicates(test, train, query_name="test", reference_name="train")  # doctest: +SKIP
        >>> report.n_exact_pairs, report.n_near_pairs  # doctest: +SKIP
        (3, 7)
    """
    hash_size = _check_hash_size(hash_size)
    n_bits = hash_size * hash_size
    if not is_int(max_distance) or not 0 <= max_distance <= n_bits:
        raise InvalidArgumentError(
            f"max_distance must be an int between 0 and {n_bits} (bits of a {hash_size}x{hash_size} hash); "
            f"got {max_distance!r}. The default {DEFAULT_MAX_DISTANCE} suits 64-bit hashes; 0 finds "
            f"only identical hashes."
        )
    if min_similarity is not None and (not is_real(min_similarity) or not -1.0 <= min_similarity <= 1.0):
        raise InvalidArgumentError(
            f"min_similarity must be a number between -1 and 1 (a correlation) or None (no check); "
            f"got {min_similarity!r}. The default is {DEFAULT_MIN_SIMILARITY}."
        )
    if method not in ("phash", "dhash", "both"):
        raise InvalidArgumentError(f"method must be 'phash', 'dhash' or 'both'; got {method!r}.")
    within = reference is None
    fq = _fingerprints_of(query, "query", hash_size, workers, strict, progress)
    fr = (
        fq
        if reference is None
        else _fingerprints_of(reference, "reference", hash_size, workers, strict, progress)
    )

    pq, pr = _as_words(fq.phash), _as_words(fr.phash)
    dq, dr = _as_words(fq.dhash), _as_words(fr.dhash)
    primary_q, primary_r = (dq, dr) if method == "dhash" else (pq, pr)
    chunks = list(_close_pairs(primary_q, primary_r, max_distance, within))
    n_r = len(fr)

    # Exact pairs by digest join (identical bytes or pixels), whatever their hash distance.
    exact_codes: set[int] = set()
    for q_digests, r_digests in ((fq.sha256, fr.sha256), (fq.pixel_sha256, fr.pixel_sha256)):
        by_digest: dict[str, list[int]] = {}
        for j, digest in enumerate(r_digests.tolist()):
            by_digest.setdefault(digest, []).append(j)
        for i, digest in enumerate(q_digests.tolist()):
            exact_codes.update(i * n_r + j for j in by_digest.get(digest, ()) if not within or j > i)

    codes = np.unique(
        np.concatenate(
            [i * n_r + j for i, j in chunks]
            + [np.fromiter(exact_codes, dtype=np.intp, count=len(exact_codes))]
        )
    ).astype(np.intp)
    ii, jj = codes // max(n_r, 1), codes % max(n_r, 1)
    p_dist = _popcount(pq[ii] ^ pr[jj]).sum(axis=1)
    d_dist = _popcount(dq[ii] ^ dr[jj]).sum(axis=1)
    similarity = thumbnail_similarity(fq.thumbnails[ii], fr.thumbnails[jj])
    is_exact = np.isin(codes, np.fromiter(exact_codes, dtype=np.intp, count=len(exact_codes)))
    keep = is_exact.copy()
    near = ~is_exact
    if method == "both":
        near &= np.maximum(p_dist, d_dist) <= max_distance
    if min_similarity is not None:
        near &= similarity >= min_similarity
    keep |= near
    n_rejected = int((~is_exact).sum() - near.sum())

    pairs: list[DuplicatePair] = []
    for k in np.flatnonzero(keep).tolist():
        i, j = int(ii[k]), int(jj[k])
        pairs.append(
            _pair(
                fq,
                fr,
                i,
                j,
                kind="exact" if is_exact[k] else "near",
                distances=(int(p_dist[k]), int(d_dist[k])),
                similarity=float(similarity[k]),
                same_bytes=bool(fq.sha256[i] == fr.sha256[j]),
            )
        )
    if mirrors and fq.mirror_phash is not None and fq.mirror_dhash is not None:
        found = {(p.query_index, p.reference_index) for p in pairs}
        if within:
            found |= {(j, i) for i, j in found}
        pairs += _mirrored_pairs(fq, fr, within, found, max_distance, min_similarity, method)
    pairs.sort(key=lambda p: (p.kind != "exact", p.distance, p.query_index, p.reference_index))
    skipped = fq.skipped if within else fq.skipped + fr.skipped
    report = DuplicateReport(
        pairs=pairs,
        query=fq.items,
        reference=None if within else fr.items,
        max_distance=max_distance,
        min_similarity=None if min_similarity is None else float(min_similarity),
        hash_size=hash_size,
        method=method,
        query_name=query_name,
        reference_name=reference_name,
        skipped=skipped,
    )
    logger.info(
        "Duplicate check: %s (%d hash candidates rejected by the thumbnail check)",
        report.summary(),
        n_rejected,
    )
    return report


def _pair(
    fq: Fingerprints,
    fr: Fingerprints,
    i: int,
    j: int,
    *,
    kind: Any,
    distances: tuple[int, int],
    similarity: float,
    same_bytes: bool,
    mirrored: bool = False,
) -> DuplicatePair:
    """Query item ``i`` and reference item ``j`` as a pair (distances: pHash, dHash)."""
    a, b = fq.items[i], fr.items[j]
    return DuplicatePair(
        query=a,
        reference=b,
        query_index=i,
        reference_index=j,
        kind=kind,
        distance=distances[0],
        dhash_distance=distances[1],
        similarity=similarity,
        same_bytes=same_bytes,
        labels_agree=_labels_agree(a, b),
        mirrored=mirrored,
    )


def _mirrored_pairs(
    fq: Fingerprints,
    fr: Fingerprints,
    within: bool,
    found: set[tuple[int, int]],
    max_distance: int,
    min_similarity: float | None,
    method: HashMethod,
) -> list[DuplicatePair]:
    """Near pairs between the mirror of a query image and a reference image, not already found."""
    assert fq.mirror_phash is not None and fq.mirror_dhash is not None
    mp, md = _as_words(fq.mirror_phash), _as_words(fq.mirror_dhash)
    pr, dr = _as_words(fr.phash), _as_words(fr.dhash)
    primary_q, primary_r = (md, dr) if method == "dhash" else (mp, pr)
    pairs = []
    for ii, jj in _close_pairs(primary_q, primary_r, max_distance, within=False):
        if within:  # each unordered pair once, and never an image with its own mirror
            keep = ii != jj
            ii, jj = np.minimum(ii, jj)[keep], np.maximum(ii, jj)[keep]
        if not len(ii):
            continue
        p_dist = _popcount(mp[ii] ^ pr[jj]).sum(axis=1)
        d_dist = _popcount(md[ii] ^ dr[jj]).sum(axis=1)
        ok = np.ones(len(ii), dtype=bool)
        if method == "both":
            ok &= np.maximum(p_dist, d_dist) <= max_distance
        similarity = thumbnail_similarity(
            np.ascontiguousarray(fq.thumbnails[ii][:, :, ::-1]), fr.thumbnails[jj]
        )
        if min_similarity is not None:
            ok &= similarity >= min_similarity
        for k in np.flatnonzero(ok).tolist():
            i, j = int(ii[k]), int(jj[k])
            if (i, j) in found:
                continue
            found.add((i, j))
            pairs.append(
                _pair(
                    fq,
                    fr,
                    i,
                    j,
                    kind="near",
                    distances=(int(p_dist[k]), int(d_dist[k])),
                    similarity=float(similarity[k]),
                    same_bytes=False,
                    mirrored=True,
                )
            )
    return pairs


def leakage_report(
    train: Sequence[ImageRef] | Fingerprints, test: Sequence[ImageRef] | Fingerprints, **kw: Any
) -> DuplicateReport:
    """Which test items have an exact or near duplicate in the training set.

    Same as ``find_duplicates(test, train, query_name="test", reference_name="train", **kw)``:
    fractions are of test items, pairs read (test item, train item).

    Args:
        train: Training items (the reference).
        test: Test items (the query).
        **kw: Keyword arguments of :func:`find_duplicates` (``max_distance``, ``workers``, ...).

    Examples:
        >>> report = leakage_report(train_refs, test_refs, workers=2)  # doctest: +SKIP
        >>> print(report.to_markdown(max_examples=5))  # doctest: +SKIP
    """
    kw.setdefault("query_name", "test")
    kw.setdefault("reference_name", "train")
    return find_duplicates(test, train, **kw)


def drop_duplicates_of(
    test: Sequence[ImageRef],
    train: Sequence[ImageRef],
    report: DuplicateReport | None = None,
    **kw: Any,
) -> list[ImageRef]:
    """The training items minus every exact or near duplicate of any test item.

    Use it to train on data that cannot have memorised the test set. Items are matched by
    :attr:`ImageRef.key`; unreadable training items skipped in lenient mode are kept (nothing is
    known about them). A 3-D NIfTI volume among ``train`` comes back as its slices that are kept.

    Args:
        test: Test items.
        train: Training items.
        report: A :func:`leakage_report` of these two sets, to avoid hashing again; computed if None.
        **kw: Keyword arguments of :func:`find_duplicates` when ``report`` is None.

    Returns:
        The training items to keep, in their original order.

    Raises:
        ValueError: If ``report`` is a within-set report, or its reference items are not ``train``.

    Examples:
        >>> clean_train = drop_duplicates_of(test_refs, train_refs, max_distance=6)  # doctest: +SKIP
    """
    train_refs: list[ImageRef] = []
    for ref in _check_refs(train, "train"):  # volumes as their slices, which the report pairs
        try:
            train_refs += expand_volumes([ref])[0]
        except UnreadableImageError:  # nothing is known about it: kept, as unreadable files are
            train_refs.append(ref)
    if report is None:
        report = leakage_report(train_refs, _check_refs(test, "test"), **kw)
    elif kw:
        raise InvalidArgumentError(
            f"drop_duplicates_of got both a report and find_duplicates options {sorted(kw)}; the options "
            f"only apply when the report is computed here. Drop them or drop report=."
        )
    if report.reference is None:
        raise InvalidArgumentError(
            "drop_duplicates_of needs a cross-set report (leakage_report(train, test)); got a within-set "
            "report. Compute it with leakage_report(train, test) or pass report=None."
        )
    known = {ref.name for ref in train_refs}
    foreign = [ref.name for ref in report.reference if ref.name not in known]
    if foreign:
        raise InvalidArgumentError(
            f"The report's reference items are not this training set ({len(foreign)} unknown, e.g. "
            f"{foreign[0]!r}). Pass the report of leakage_report(train, test) for the same train list."
        )
    drop = {ref.name for ref in report.reference_items_with_duplicates()}
    kept = [ref for ref in train_refs if ref.name not in drop]
    logger.info(
        "Dropped %d of %d training items that duplicate test items",
        len(train_refs) - len(kept),
        len(train_refs),
    )
    return kept
