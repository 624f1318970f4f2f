"""Audit the release's tumour outlines, and measure what the brain crop's margin would save.

1. :func:`brainvit_effnet.data.outline_audit.audit_outlines` over every slice: outlines whose box
   disagrees with ``metadata.csv``'s tumour box, outlines outside the head, and slices whose brain
   crop cuts the tumour.
2. For crop margins of 0 (the study's crop) to 48 px on each side (512-px slices): how many slices
   lose any / more than 10% / all of their tumour to the crop, and how much of the slice the crop
   keeps (a wider crop shows the brain smaller at the model's input size).

    python benchmarks/outline_audit.py --data ../shared/data/figshare   # results/outline_audit.json
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from _common import machine_info, write_json

from brainvit_effnet.data import FigshareDataset
from brainvit_effnet.data.outline_audit import audit_outlines, crop_box

RESULTS = Path(__file__).parent / "results" / "outline_audit.json"
MARGINS = (0, 8, 16, 32, 48)


def margin_table(data: FigshareDataset) -> dict[str, dict[str, float]]:
    kept: dict[int, list[float]] = {m: [] for m in MARGINS}
    area: dict[int, list[float]] = {m: [] for m in MARGINS}
    for record in data.records:
        decoded = data.decode_record(record)
        if decoded.mask is None or not bool(decoded.mask.any()):
            continue
        image, mask = decoded.image[0].numpy(), decoded.mask.numpy().astype(bool)
        box = crop_box(image)
        for margin in MARGINS:
            if box is None:  # a collapsed crop: the datasets keep the whole slice
                kept[margin].append(1.0)
                area[margin].append(1.0)
                continue
            h, w = image.shape
            top, bottom = max(0, box[0] - margin), min(h, box[1] + margin)
            left, right = max(0, box[2] - margin), min(w, box[3] + margin)
            kept[margin].append(float(mask[top:bottom, left:right].sum() / mask.sum()))
            area[margin].append((bottom - top) * (right - left) / mask.size)
    table = {}
    for margin in MARGINS:
        k = np.asarray(kept[margin])
        table[str(margin)] = {
            "slices": int(k.size),
            "any_tumour_cut": int((k < 1).sum()),
            "over_10pct_cut": int((k < 0.9).sum()),
            "all_tumour_cut": int((k == 0).sum()),
            "mean_crop_area_fraction": float(np.mean(area[margin])),
        }
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    data = FigshareDataset(args.data, crop=False)
    findings = audit_outlines(data)
    counts = Counter(f.kind for f in findings)
    print(f"{len(data)} slices: {dict(counts) or 'no findings'}")
    table = margin_table(data)
    for margin, row in table.items():
        print(f"margin {margin:>2} px: {row}")
    write_json(
        args.out,
        {
            "data": f"Figshare release, {len(data)} slices",
            "findings": [asdict(f) for f in findings],
            "counts": dict(counts),
            "crop_margins": table,
            "machine": machine_info(torch.device("cpu")),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
