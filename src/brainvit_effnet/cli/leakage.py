"""``brainvit-effnet leakage``: exact, near and mirrored duplicates, within a tree or across two.

A tree with train and test folders is checked test against train. Reports in JSON and Markdown,
and a figure of example pairs when there are any (no blank page when there are none).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._atomic import write_text_atomically
from .._json import write_json
from ..data import FolderDataset
from ..errors import InvalidArgumentError
from ._common import add_figure_flags, add_folder_flags, aliases, at_least, print_files

HELP = "exact, near and mirrored duplicates within a tree (test vs train) or across two trees"
EXAMPLE = "brainvit-effnet leakage brain-tumor-mri-dataset figshare-categorised --out leakage"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="a class-per-folder tree (with Training/Testing folders: test vs train)")
    p.add_argument("b", nargs="?", help="a second tree: duplicates of A's images in B")
    p.add_argument("--out", default="leakage", help="report folder")
    p.add_argument("--examples", type=at_least(0), default=8, help="example pairs in the report and figure")
    add_figure_flags(p, "the figure of example pairs")
    add_folder_flags(p)


def _leakage_refs(path: str, args: argparse.Namespace) -> list[Any]:
    """The images of a folder tree as duplicate-check items (labels and splits from the tree)."""
    data = FolderDataset(path, strict=not args.lenient, aliases=aliases(args.alias or []))
    return data.image_refs()


def _pairs_figure(pairs: Sequence[Any], out: Path) -> Path:
    """Example pairs side by side (query | reference), captioned with kind, distance and labels.

    The format is the suffix of ``out`` (``.png``, ``.pdf`` or ``.svg``); images, DICOM files and
    NIfTI slices are shown as the datasets read them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..data.images import read_unit

    rows = max(1, len(pairs))
    fig, axes = plt.subplots(rows, 2, figsize=(5, 2.5 * rows), dpi=100, squeeze=False)
    for row, pair in zip(axes, pairs, strict=False):
        for ax, ref in zip(row, (pair.query, pair.reference), strict=True):
            ax.imshow(read_unit(str(ref.path)), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_title(f"{Path(ref.path).name} ({ref.label or '?'})", fontsize=7)
            ax.axis("off")
        row[0].text(
            0,
            -0.12,
            f"{pair.kind}{' mirrored' if pair.mirrored else ''}, pHash distance {pair.distance}, "
            f"similarity {pair.similarity:.3f}",
            transform=row[0].transAxes,
            fontsize=7,
            va="top",
        )
    for ax in axes[len(pairs) :].ravel() if len(pairs) < rows else []:
        ax.axis("off")
    fig.tight_layout()
    # No creation date in PDF/SVG metadata: the same report gives the same file.
    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(out.suffix.lower()[1:])
    with matplotlib.rc_context({"svg.hashsalt": "brainvit-effnet"}):  # fixed SVG ids, not random ones
        fig.savefig(out, metadata=metadata)
    plt.close(fig)
    return out


def run(args: argparse.Namespace) -> int:
    """Duplicates within one tree (its test split against its training split, when it has both),
    or of tree A against tree B; JSON and Markdown reports and a figure of example pairs."""
    from ..data.duplicates import find_duplicates, leakage_report

    a = _leakage_refs(args.a, args)
    if args.b is not None:
        report = find_duplicates(
            a, _leakage_refs(args.b, args), query_name=args.a, reference_name=args.b, progress=args.progress
        )
    elif {"train", "test"} <= {r.split for r in a}:
        train = [r for r in a if r.split == "train"]
        test = [r for r in a if r.split == "test"]
        report = leakage_report(train, test, progress=args.progress)
    else:
        report = find_duplicates(a, query_name=args.a, progress=args.progress)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidArgumentError(f"--out {out} is a file; give a folder for the report.")
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {
        "json": write_json(out / "leakage.json", report.to_dict()),
        "markdown": write_text_atomically(out / "leakage.md", report.to_markdown(max_examples=args.examples)),
    }
    examples = report.examples(args.examples)
    if examples:  # no pairs, no figure (it would be a blank page)
        files["pairs figure"] = _pairs_figure(examples, out / f"pairs.{args.format}")
    print(report.summary())
    print_files("Files:", files)
    return 0
