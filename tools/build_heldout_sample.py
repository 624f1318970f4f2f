"""Build the bundled held-out slices: ``--per-class`` slices per class of one official fold.

The bundled model (``effnet_b0.figshare``) never saw official fold 1 (not for training, not for
choosing its epoch or its recipe), so the demo can score it on fold-1 slices shipped in the
package (``brainvit_effnet.data.load_heldout_sample``). The folder takes the bundled sample's
fold-1 slices, then tops each class up with slices of that fold drawn with a fixed seed, in the
sample's format: 160x160 greyscale PNG (bicubic from 512x512) and tumour outlines scaled to match.

The tumour outlines of every slice, old and new, are rebuilt from the release's
``tumor_borders.csv`` on each run (the release's outlines were corrected on 2026-12-07: 15
pituitary slices of fold 1 had been left in 256-px coordinates).

Run from the repository root (idempotent: it tops up to ``--per-class``)::

    python tools/build_heldout_sample.py ../shared/data/figshare --fold 1 --per-class 51
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
from pathlib import Path

from PIL import Image

DATA = Path(__file__).resolve().parents[1] / "src" / "brainvit_effnet" / "data"
SAMPLE = DATA / "sample_data"
HELDOUT = DATA / "heldout_data"
SIDE = 160


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("release", type=Path, help="the converted Figshare release (metadata.csv, images/)")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--per-class", type=int, default=51, help="slices of the fold per class, in total")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rows = _start(args.fold)
    fields = list(rows[0])
    have = {r["index"] for r in rows}
    with (args.release / "metadata.csv").open(newline="") as f:
        release = [r for r in csv.DictReader(f) if int(r["cv_fold"]) == args.fold]
    with (args.release / "tumor_borders.csv").open(newline="") as f:
        borders = {r["index"]: json.loads(r["tumor_border_xy"]) for r in csv.DictReader(f)}

    rng = random.Random(args.seed)
    added = 0
    (HELDOUT / "images").mkdir(parents=True, exist_ok=True)
    for name in sorted({r["class_name"] for r in release}):
        present = [r for r in rows if r["class_name"] == name]
        candidates = sorted(
            (r for r in release if r["class_name"] == name and r["index"] not in have),
            key=lambda r: int(r["index"]),
        )
        for r in rng.sample(candidates, max(0, args.per_class - len(present))):
            image = Image.open(args.release / r["image"]).convert("L")
            scale = SIDE / image.width
            image.resize((SIDE, SIDE), Image.Resampling.BICUBIC).save(
                HELDOUT / "images" / f"{r['index']}.png", optimize=True
            )
            rows.append({**{k: r[k] for k in fields if k in r}, "image": f"images/{r['index']}.png"})
            added += 1
    # Every outline from the release, scaled to the bundled size: the release is their one source.
    by_index = {r["index"]: r for r in release}
    border_rows = []
    for row in rows:
        scale = SIDE / Image.open(args.release / by_index[row["index"]]["image"]).width
        border = [[round(x * scale, 2), round(y * scale, 2)] for x, y in borders[row["index"]]]
        border_rows.append(
            {"index": row["index"], "tumor_border_xy": json.dumps(border, separators=(",", ":"))}
        )
    with (HELDOUT / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    with (HELDOUT / "tumor_borders.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["index", "tumor_border_xy"])
        writer.writeheader()
        writer.writerows(border_rows)
    print(f"added {added} slices of fold {args.fold}; {HELDOUT} now holds {len(rows)}")
    return 0


def _start(fold: int) -> list[dict[str, str]]:
    """The held-out folder's rows so far; a new folder starts from the sample's slices of ``fold``."""
    source = HELDOUT if (HELDOUT / "metadata.csv").is_file() else SAMPLE
    with (source / "metadata.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["cv_fold"]) == fold]
    if source is SAMPLE:
        (HELDOUT / "images").mkdir(parents=True, exist_ok=True)
        for r in rows:
            shutil.copyfile(SAMPLE / r["image"], HELDOUT / r["image"])
    return rows


if __name__ == "__main__":
    sys.exit(main())
