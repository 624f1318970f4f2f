"""The result of a duplicate check: :class:`DuplicatePair`, :class:`DuplicateReport`, and its
dict / Markdown rendering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ...errors import InvalidArgumentError
from .fingerprints import ImageRef

__all__ = ["DuplicateKind", "DuplicatePair", "DuplicateReport", "HashMethod"]

DuplicateKind = Literal["exact", "near"]
HashMethod = Literal["phash", "dhash", "both"]


@dataclass(frozen=True)
class DuplicatePair:
    """Two items that are exact or near duplicates.

    In a cross-set check ``query`` is from the query set (e.g. test) and ``reference`` from the
    reference set (e.g. train); in a within-set check ``query`` is the earlier item of the list.

    Attributes:
        query: First item.
        reference: Second item.
        query_index: Position of ``query`` in ``DuplicateReport.query``.
        reference_index: Position of ``reference`` in ``DuplicateReport.reference`` (within-set:
            in ``DuplicateReport.query``).
        kind: ``"exact"`` (identical bytes or pixels) or ``"near"`` (hash distance within the
            threshold and, unless verification is off, thumbnails that match).
        distance: pHash Hamming distance in bits.
        dhash_distance: dHash Hamming distance in bits.
        similarity: Shift-tolerant correlation of the two 64x64 thumbnails (1.0: same picture).
        same_bytes: Whether the files are byte-identical.
        labels_agree: ``False`` if both labels are known and differ, ``True`` if both are known and
            equal, ``None`` if either is unknown.
        mirrored: ``True`` when the match is between one image and the horizontal mirror of the
            other (the distances and similarity are then those of the mirrored comparison).
    """

    query: ImageRef
    reference: ImageRef
    query_index: int
    reference_index: int
    kind: DuplicateKind
    distance: int
    dhash_distance: int
    similarity: float
    same_bytes: bool
    labels_agree: bool | None
    mirrored: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form of the pair."""
        return {
            "query": self.query.to_dict(),
            "reference": self.reference.to_dict(),
            "query_index": self.query_index,
            "reference_index": self.reference_index,
            "kind": self.kind,
            "distance": self.distance,
            "dhash_distance": self.dhash_distance,
            "similarity": round(self.similarity, 6),
            "same_bytes": self.same_bytes,
            "labels_agree": self.labels_agree,
            "mirrored": self.mirrored,
        }


@dataclass
class DuplicateReport:
    """Result of :func:`find_duplicates` / :func:`leakage_report`.

    Attributes:
        pairs: All exact and near pairs, exact first, then by distance.
        query: The query items that were checked (unreadable ones excluded in lenient mode).
        reference: The reference items, or ``None`` for a within-set check.
        max_distance: Candidate threshold in hash bits.
        min_similarity: Verification threshold on thumbnail similarity; ``None``: hashes only.
        hash_size: Hash block side (``hash_size ** 2`` bits).
        method: Hash used for near pairs: ``"phash"``, ``"dhash"`` or ``"both"``.
        query_name: Name of the query set in reports (e.g. ``"test"``).
        reference_name: Name of the reference set in reports (e.g. ``"train"``).
        skipped: Unreadable files skipped (lenient mode), from both sets.

    Examples:
        >>> report = find_duplicates(test_refs, train_refs)  # doctest: +SKIP
        >>> report.n_query_with_any, f"{report.frac_query_with_any:.1%}"  # doctest: +SKIP
        (13, '65.0%')
    """

    pairs: list[DuplicatePair]
    query: tuple[ImageRef, ...]
    reference: tuple[ImageRef, ...] | None
    max_distance: int
    min_similarity: float | None
    hash_size: int
    method: HashMethod = "phash"
    query_name: str = "query"
    reference_name: str = "reference"
    skipped: tuple[str, ...] = field(default_factory=tuple)

    # -- counts -------------------------------------------------------------------------------

    @property
    def within_set(self) -> bool:
        """True if this is a check of one set against itself."""
        return self.reference is None

    @property
    def n_query(self) -> int:
        """Number of query items checked."""
        return len(self.query)

    @property
    def n_reference(self) -> int:
        """Number of reference items checked (equals ``n_query`` for a within-set check)."""
        return len(self.query) if self.reference is None else len(self.reference)

    @property
    def exact_pairs(self) -> list[DuplicatePair]:
        """Pairs of identical files or identical pixels."""
        return [p for p in self.pairs if p.kind == "exact"]

    @property
    def near_pairs(self) -> list[DuplicatePair]:
        """Pairs within the hash threshold that are not exact."""
        return [p for p in self.pairs if p.kind == "near"]

    @property
    def label_disagreements(self) -> list[DuplicatePair]:
        """Pairs whose two labels are known and differ."""
        return [p for p in self.pairs if p.labels_agree is False]

    @property
    def n_exact_pairs(self) -> int:
        """Number of exact pairs."""
        return len(self.exact_pairs)

    @property
    def n_near_pairs(self) -> int:
        """Number of near (not exact) pairs."""
        return len(self.near_pairs)

    @property
    def n_label_disagreements(self) -> int:
        """Number of pairs whose labels disagree."""
        return len(self.label_disagreements)

    def _query_indices(self, kind: Literal["any", "exact"]) -> set[int]:
        chosen = [p for p in self.pairs if kind == "any" or p.kind == "exact"]
        indices = {p.query_index for p in chosen}
        if self.within_set:
            indices |= {p.reference_index for p in chosen}
        return indices

    @property
    def n_query_with_exact(self) -> int:
        """Query items with at least one exact duplicate (in the reference set, or elsewhere in the set)."""
        return len(self._query_indices("exact"))

    @property
    def n_query_with_any(self) -> int:
        """Query items with at least one exact or near duplicate."""
        return len(self._query_indices("any"))

    @property
    def frac_query_with_exact(self) -> float:
        """``n_query_with_exact / n_query`` (0.0 for an empty query set)."""
        return self.n_query_with_exact / self.n_query if self.n_query else 0.0

    @property
    def frac_query_with_any(self) -> float:
        """``n_query_with_any / n_query`` (0.0 for an empty query set)."""
        return self.n_query_with_any / self.n_query if self.n_query else 0.0

    def groups(self) -> list[list[ImageRef]]:
        """Connected groups of duplicates (within-set checks), each of two or more items.

        Keeping one item per group and dropping the others removes all duplicates within the set.

        Raises:
            ValueError: For a cross-set report (groups mix two sets; use ``pairs`` instead).
        """
        if not self.within_set:
            raise InvalidArgumentError(
                "groups() needs a within-set report (find_duplicates(items) with reference=None); "
                "this report compares two sets. Use report.pairs or query_items_with_duplicates()."
            )
        parent = list(range(self.n_query))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for p in self.pairs:
            a, b = find(p.query_index), find(p.reference_index)
            if a != b:
                parent[max(a, b)] = min(a, b)
        members: dict[int, list[int]] = {}
        for i in sorted(self._query_indices("any")):
            members.setdefault(find(i), []).append(i)
        return [[self.query[i] for i in idx] for _, idx in sorted(members.items())]

    @property
    def n_redundant(self) -> int:
        """Within-set: items to drop to keep one per duplicate group; cross-set: ``n_query_with_any``."""
        if not self.within_set:
            return self.n_query_with_any
        return sum(len(g) - 1 for g in self.groups())

    def counts(self) -> dict[str, int | float]:
        """All counts as a flat dict (also under ``"counts"`` in :meth:`to_dict`)."""
        return {
            "n_query": self.n_query,
            "n_reference": self.n_reference,
            "n_exact_pairs": self.n_exact_pairs,
            "n_near_pairs": self.n_near_pairs,
            "n_query_with_exact": self.n_query_with_exact,
            "frac_query_with_exact": self.frac_query_with_exact,
            "n_query_with_any": self.n_query_with_any,
            "frac_query_with_any": self.frac_query_with_any,
            "n_label_disagreements": self.n_label_disagreements,
            "n_redundant": self.n_redundant,
            "n_skipped": len(self.skipped),
        }

    # -- items --------------------------------------------------------------------------------

    def query_items_with_duplicates(self, kind: Literal["any", "exact"] = "any") -> list[ImageRef]:
        """Query items that have a duplicate (``kind="exact"``: an exact one), in query order.

        Within a set, both items of every pair count.
        """
        _check_kind(kind)
        return [self.query[i] for i in sorted(self._query_indices(kind))]

    def reference_items_with_duplicates(self, kind: Literal["any", "exact"] = "any") -> list[ImageRef]:
        """Reference items that duplicate some query item, in reference order.

        Raises:
            ValueError: For a within-set report (use :meth:`query_items_with_duplicates`).
        """
        _check_kind(kind)
        if self.reference is None:
            raise InvalidArgumentError(
                "reference_items_with_duplicates() needs a cross-set report; this one is within-set. "
                "Use query_items_with_duplicates() or groups()."
            )
        indices = {p.reference_index for p in self.pairs if kind == "any" or p.kind == "exact"}
        return [self.reference[i] for i in sorted(indices)]

    def examples(self, n: int = 10, kind: DuplicateKind | None = None) -> list[DuplicatePair]:
        """Up to ``n`` example pairs: a mix of exact and near pairs unless ``kind`` is given.

        Near examples are the ones with the largest distance (the least obvious copies), so they
        are the ones worth looking at to judge the threshold.
        """
        if n < 0:
            raise InvalidArgumentError(f"examples(n) needs n >= 0; got {n}.")
        near = sorted(self.near_pairs, key=lambda p: -p.distance)
        exact = self.exact_pairs
        if kind == "exact":
            return exact[:n]
        if kind == "near":
            return near[:n]
        if kind is not None:
            raise InvalidArgumentError(f"kind must be 'exact', 'near' or None; got {kind!r}.")
        n_exact = min(len(exact), max(n - len(near), (n + 1) // 2))
        return exact[:n_exact] + near[: n - n_exact]

    # -- output -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary: settings, counts, every pair and the skipped files."""
        return {
            "query_name": self.query_name,
            "reference_name": None if self.within_set else self.reference_name,
            "within_set": self.within_set,
            "settings": {
                "method": self.method,
                "hash_size": self.hash_size,
                "max_distance": self.max_distance,
                "min_similarity": self.min_similarity,
            },
            "counts": self.counts(),
            "pairs": [p.to_dict() for p in self.pairs],
            "skipped": list(self.skipped),
        }

    def summary(self) -> str:
        """One line of counts, e.g. for logging."""
        other = "itself" if self.within_set else f"{self.reference_name} (n={self.n_reference})"
        return (
            f"{self.query_name} (n={self.n_query}) vs {other}: {self.n_exact_pairs} exact pairs, "
            f"{self.n_near_pairs} near pairs; {self.n_query_with_any} {self.query_name} items "
            f"({self.frac_query_with_any:.1%}) have a duplicate, {self.n_query_with_exact} "
            f"({self.frac_query_with_exact:.1%}) an exact one; "
            f"{self.n_label_disagreements} label disagreements"
        )

    def to_markdown(self, max_examples: int = 10) -> str:
        """A Markdown leakage report: settings, counts, example pairs and label-disagreeing pairs.

        Args:
            max_examples: Rows in the example-pairs table and the label-disagreement table.
        """
        q, r = self.query_name, self.reference_name
        title = f"{q} (within-set)" if self.within_set else f"{q} vs {r}"
        where = f"elsewhere in {q}" if self.within_set else f"in {r}"
        bits = self.hash_size * self.hash_size
        verified = (
            "no thumbnail check"
            if self.min_similarity is None
            else f"verified by thumbnail similarity >= {self.min_similarity}"
        )
        lines = [
            f"### Duplicate check: {title}",
            "",
            f"Near duplicates: {self.method} ({self.hash_size}x{self.hash_size} = {bits} bits) Hamming "
            f"distance <= {self.max_distance}, {verified}; exact: identical file bytes or decoded pixels.",
            "",
            f"| | count | fraction of {q} |",
            "|---|---:|---:|",
            f"| {q} items | {self.n_query} | |",
        ]
        if not self.within_set:
            lines.append(f"| {r} items | {self.n_reference} | |")
        lines += [
            f"| exact pairs | {self.n_exact_pairs} | |",
            f"| near pairs (not exact) | {self.n_near_pairs} | |",
            f"| {q} items with an exact duplicate {where} | {self.n_query_with_exact} "
            f"| {self.frac_query_with_exact:.1%} |",
            f"| {q} items with an exact or near duplicate {where} | {self.n_query_with_any} "
            f"| {self.frac_query_with_any:.1%} |",
        ]
        if self.within_set:
            lines.append(f"| redundant items (all but one per duplicate group) | {self.n_redundant} | |")
        lines += [
            f"| pairs whose labels disagree | {self.n_label_disagreements} | |",
            f"| unreadable files skipped | {len(self.skipped)} | |",
            "",
        ]
        examples = self.examples(max_examples)
        lines.append(f"#### Example pairs ({len(examples)} of {len(self.pairs)})")
        lines.append("")
        lines += _pairs_table(examples, q, q if self.within_set else r) if examples else ["None.", ""]
        disagreeing = self.label_disagreements
        shown = disagreeing[:max_examples]
        lines.append(f"#### Label-disagreeing pairs ({len(shown)} of {len(disagreeing)})")
        lines.append("")
        lines += _pairs_table(shown, q, q if self.within_set else r) if shown else ["None.", ""]
        if self.skipped:
            lines.append(
                f"Skipped unreadable files: {', '.join(_md(s) for s in self.skipped[:max_examples])}"
            )
            if len(self.skipped) > max_examples:
                lines[-1] += f" and {len(self.skipped) - max_examples} more"
            lines.append("")
        return "\n".join(lines)


def _check_kind(kind: str) -> None:
    if kind not in ("any", "exact"):
        raise InvalidArgumentError(f"kind must be 'any' or 'exact'; got {kind!r}.")


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _pairs_table(pairs: Sequence[DuplicatePair], q: str, r: str) -> list[str]:
    rows = [
        f"| kind | pHash dist. | dHash dist. | similarity | {q} item | label | {r} item | label |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for p in pairs:
        kind = "exact (same bytes)" if p.same_bytes else p.kind
        rows.append(
            f"| {kind} | {p.distance} | {p.dhash_distance} | {p.similarity:.4f} | {_md(p.query.name)} "
            f"| {_md(p.query.label)} "
            f"| {_md(p.reference.name)} | {_md(p.reference.label)} |"
        )
    rows.append("")
    return rows
