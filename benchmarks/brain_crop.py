"""The brain crop against its reference formulation: identical boxes, and how much faster.

:func:`brainvit_effnet.data.preprocess.brain_bbox` follows the study's OpenCV pipeline with fast
equivalents of scipy's binary morphology (separable running min/max, hole filling by labelling the
background, a shifted-AND border) and an exact float32 blur. The reference here is the same pipeline
written with scipy's own operations in float64, as the library had it before. Both run on the same
slices in the same process, alternating, so the ratio is what to compare; every box must agree.

Writes ``benchmarks/results/brain_crop.json``. Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/brain_crop.py --data ../shared/data/figshare --every 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import check_minimums, machine_info, write_json
from PIL import Image
from scipy import ndimage

from brainvit_effnet.data import preprocess as pp

OUT = Path(__file__).parent / "results" / "brain_crop.json"
SQUARE, CROSS = np.ones((3, 3), bool), ndimage.generate_binary_structure(2, 1)


def reference_bbox(image: np.ndarray, threshold: float = 45, blur: int = 5, n: int = 2) -> tuple[int, ...]:
    """``brain_bbox`` as scipy's binary operations in float64 compute it (the former implementation)."""
    gray = pp._to_gray255(image)
    kernel = pp._gaussian_kernel(blur)
    blurred = ndimage.correlate1d(
        ndimage.correlate1d(gray, kernel, axis=0, mode="mirror"), kernel, axis=1, mode="mirror"
    )
    mask = np.floor(blurred + 0.5) > threshold
    mask = ndimage.binary_erosion(mask, structure=SQUARE, iterations=n, border_value=1)
    mask = ndimage.binary_dilation(mask, structure=SQUARE, iterations=n, border_value=0)
    if not mask.any():
        return (0, image.shape[0], 0, image.shape[1])
    filled = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(filled, structure=SQUARE)
    border = filled & ~ndimage.binary_erosion(filled, structure=CROSS, border_value=0)
    areas = np.bincount(labels.ravel(), minlength=count + 1).astype(np.float64)
    borders = np.bincount(labels[border], minlength=count + 1).astype(np.float64)
    rows, cols = ndimage.find_objects(labels)[int(np.argmax(areas[1:] - borders[1:] / 2))]
    return (rows.start, rows.stop, cols.start, cols.stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release folder (its images/ are read)")
    parser.add_argument("--every", type=int, default=10, help="one slice in this many")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    check_minimums(parser, args, {"every": 1})
    paths = sorted((Path(args.data) / "images").glob("*.jpg"))[:: args.every]
    if not paths:
        parser.error(f"--data: no images/*.jpg under {args.data}; pass the Figshare release folder.")
    library, reference, mismatches = [], [], []
    for path in paths:
        image = np.asarray(Image.open(path).convert("L"))
        start = time.perf_counter()
        box = pp.brain_bbox(image)
        library.append(time.perf_counter() - start)
        start = time.perf_counter()
        expected = reference_bbox(image)
        reference.append(time.perf_counter() - start)
        if tuple(box) != tuple(expected):
            mismatches.append({"file": path.name, "library": list(box), "reference": list(expected)})
    record = {
        "slices": len(paths),
        "every": args.every,
        "boxes_identical": not mismatches,
        "mismatches": mismatches,
        "ms_per_slice": {
            "library": round(1000 * statistics.median(library), 2),
            "reference": round(1000 * statistics.median(reference), 2),
        },
        "speedup_median": round(statistics.median(reference) / statistics.median(library), 2),
        "torch_threads": torch.get_num_threads(),
        "machine": machine_info(torch.device("cpu")),
    }
    write_json(args.out, record)
    print(
        f"{len(paths)} slices: boxes identical {record['boxes_identical']}; {record['ms_per_slice']} "
        f"(x{record['speedup_median']}) -> {args.out}"
    )
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
