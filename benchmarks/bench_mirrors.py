"""Mirrored-copy recall and false pairs of the duplicate finder, measured on the Figshare release.

* **Recall**: ``--n`` random Figshare slices are mirrored (left-right) into a temporary folder and
  checked against the release; the share found as mirrored pairs of their original is the recall
  (plainly: the share found at all, the number before mirror matching existed).
* **False pairs**: a within-set check of the whole release. Figshare holds no copies, but adjacent
  slices of one patient look alike, so every pair it reports (plain or mirrored) is counted as a
  false positive of the calibrated thresholds.

Writes ``benchmarks/results/duplicates_mirrors.json``. Run from the repository root::

    python benchmarks/bench_mirrors.py --data ../shared/data/figshare --n 200
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import machine_info, write_json
from PIL import Image

from brainvit_effnet.data import FigshareDataset
from brainvit_effnet.data.duplicates import ImageRef, compute_fingerprints, find_duplicates

OUT = Path(__file__).parent / "results" / "duplicates_mirrors.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release (converted layout)")
    parser.add_argument("--n", type=int, default=200, help="slices to mirror (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    refs = FigshareDataset(args.data).image_refs()
    started = time.perf_counter()
    release = compute_fingerprints(refs, workers=args.workers)
    fingerprint_s = time.perf_counter() - started
    within = find_duplicates(release)
    picked = random.Random(0).sample(range(len(refs)), args.n)
    with tempfile.TemporaryDirectory() as tmp:
        mirrored = []
        for i in picked:
            target = Path(tmp) / f"mirror_{i}.png"
            Image.open(refs[i].path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(target)
            mirrored.append(ImageRef(target, key=f"mirror_of:{refs[i].name}"))
        found = find_duplicates(mirrored, release)
        plain = find_duplicates(mirrored, release, mirrors=False)
    original = {f"mirror_of:{refs[i].name}": refs[i].name for i in picked}
    hits = {p.query.name for p in found.pairs if p.mirrored and original[p.query.name] == p.reference.name}
    plain_hits = {p.query.name for p in plain.pairs if original[p.query.name] == p.reference.name}
    result = {
        "release": "Figshare (converted layout)",
        "n_slices": len(refs),
        "mirrored_copies": args.n,
        "mirror_recall": len(hits) / args.n,
        "plain_recall_without_mirror_matching": len(plain_hits) / args.n,
        "within_release_pairs": {
            "plain": sum(not p.mirrored for p in within.pairs),
            "mirrored": sum(p.mirrored for p in within.pairs),
            "examples": [p.to_dict() for p in within.pairs[:10]],
        },
        "settings": {"max_distance": within.max_distance, "min_similarity": within.min_similarity},
        "fingerprint_seconds": round(fingerprint_s, 1),
        "machine": machine_info(torch.device("cpu")),
    }
    write_json(OUT, result)
    print({k: v for k, v in result.items() if k not in ("machine", "within_release_pairs")})
    print(
        "within-release pairs:",
        result["within_release_pairs"]["plain"],
        "plain,",
        result["within_release_pairs"]["mirrored"],
        "mirrored",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
