"""Grow the bundled Figshare sample with slices of the bundled model's held-out fold.

The bundled model (``effnet_b0.figshare``) never saw official fold 1 (not for training, not for
choosing its epoch or its recipe), so the demo can score it on fold-1 slices shipped in the
package. This adds slices of that fold, the same number per class, drawn with a fixed seed from
those not already in the sample, in the sample's format: 160x160 greyscale PNG (bicubic from
512x512) and tumour outlines scaled to match.

Run once from the repository root (idempotent: it tops up to ``--per-class``)::

    python tools/grow_sample.py ../shared/data/figshare --fold 1 --per-class 51
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

from PIL import Image

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "brainvit_effnet" / "data" / "sample_data"
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

    with (SAMPLE / "metadata.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    have = {r["index"] for r in rows}
    with (args.release / "metadata.csv").open(newline="") as f:
        release = [r for r in csv.DictReader(f) if int(r["cv_fold"]) == args.fold]
    with (args.release / "tumor_borders.csv").open(newline="") as f:
        borders = {r["index"]: json.loads(r["tumor_border_xy"]) for r in csv.DictReader(f)}

    rng = random.Random(args.seed)
    added: list[dict[str, str]] = []
    new_borders: dict[str, list[list[float]]] = {}
    for name in sorted({r["class_name"] for r in release}):
        in_sample = [r for r in rows if r["class_name"] == name and int(r["cv_fold"]) == args.fold]
        candidates = sorted(
            (r for r in release if r["class_name"] == name and r["index"] not in have),
            key=lambda r: int(r["index"]),
        )
        need = max(0, args.per_class - len(in_sample))
        for r in rng.sample(candidates, need):
            image = Image.open(args.release / r["image"]).convert("L")
            scale = SIDE / image.width
            image.resize((SIDE, SIDE), Image.Resampling.BICUBIC).save(
                SAMPLE / "images" / f"{r['index']}.png", optimize=True
            )
            added.append(
                {
                    "index": r["index"],
                    "label": r["label"],
                    "class_name": name,
                    "cv_fold": r["cv_fold"],
                    "image": f"images/{r['index']}.png",
                }
            )
            new_borders[r["index"]] = [
                [round(x * scale, 2), round(y * scale, 2)] for x, y in borders[r["index"]]
            ]
    with (SAMPLE / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows + [{k: a[k] for k in fields} for a in added])
    with (SAMPLE / "tumor_borders.csv").open("a", newline="") as f:
        writer = csv.writer(f)
        for index, border in new_borders.items():
            writer.writerow([index, json.dumps(border, separators=(",", ":"))])
    print(f"added {len(added)} slices of fold {args.fold}; the sample now has {len(rows) + len(added)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
