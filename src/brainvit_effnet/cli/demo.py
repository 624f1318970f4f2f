"""``brainvit-effnet demo``: the bundled trained model on held-out patients of the bundled sample.

Offline: the model and the slices ship in the package. It prints the model's provenance, its
held-out accuracy with intervals, where its heatmaps point against the tumour outlines (beside
chance and a centred blob), and whether hiding the tumour costs it the class.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import SAMPLE_ATTRIBUTION, create_transforms, load_heldout_sample
from ..models import create_model
from ..reports import write_evaluation_report
from ..train import TrainConfig, Trainer
from ._common import DISCLAIMER, add_progress_flag, at_least, headline, print_files
from .explain import overlays, print_reliance

HELP = "evaluate and explain the bundled trained model on held-out patients of the bundled sample (offline)"
EXAMPLE = "brainvit-effnet demo                       # the bundled model on its held-out slices"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-dir", help="default: runs/demo/<timestamp>")
    p.add_argument("--overwrite", action="store_true", help="allow writing into a non-empty --output-dir")
    p.add_argument(
        "--explain-limit",
        type=at_least(1),
        default=None,
        help="score the explanations of at most this many slices against the tumour masks (default: all)",
    )
    add_progress_flag(p)


class _CollectWarnings(logging.Filter):
    """Holds back one logger's per-file warnings and keeps the files they name (``sources``).

    A context manager: the filter is removed on the way out, an error included.
    """

    def __init__(self, logger: str) -> None:
        super().__init__()
        self.sources: set[str] = set()
        self._logger = logging.getLogger(logger)

    def __enter__(self) -> _CollectWarnings:
        self._logger.addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.args:
            self.sources.add(str(record.args[0] if isinstance(record.args, tuple) else record.args))
            return False
        return True


def _centred_blob_scores(data: Any, limit: int | None) -> tuple[float, float]:
    """Pointing game and energy inside of a map that ignores the image: a Gaussian blob in the centre
    (sigma a quarter of the side), on the same slices and outlines the heatmaps are scored on."""
    from ..explain import energy_inside, pointing_game

    masks = [data[i][2] for i in range(len(data))]
    masks = [m for m in masks if bool(m.any())][:limit]
    if not masks:
        return float("nan"), float("nan")
    stacked = torch.stack(masks).bool()
    h, w = stacked.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    blob = torch.exp(-(ys**2 + xs**2) / (2 * (min(h, w) / 4) ** 2)).expand(len(masks), h, w)
    return float(np.nanmean(pointing_game(blob, stacked))), float(np.nanmean(energy_inside(blob, stacked)))


def run(args: argparse.Namespace) -> int:
    from ..explain import available_methods, score_explanations, tumour_reliance, write_explanation_report
    from ..models.zoo import BUNDLED_MODEL

    print(f"brainvit-effnet demo. {DISCLAIMER}\n")
    start = time.perf_counter()
    output_dir = Path(args.output_dir or f"runs/demo/{time.strftime('%Y%m%d-%H%M%S')}")
    if output_dir.exists() and any(output_dir.iterdir()) and not args.overwrite:
        print(
            f"error: {output_dir} already holds files; pass --overwrite or another --output-dir.",
            file=sys.stderr,
        )
        return 2
    model: Any = create_model(BUNDLED_MODEL, pretrained=True).eval()  # shipped in the package: offline
    prov = model.pretrained_cfg.get("provenance") or {}
    held_out = list(prov.get("held_out_folds", []))
    side = model.pretrained_cfg["input_size"][-1]

    def folds(values: Any) -> str:
        return ", ".join(str(v) for v in values or [])

    print(
        f"Model: {BUNDLED_MODEL}, shipped inside the package; starting point: "
        f"{prov.get('trained_from', 'not recorded')}. Trained on the "
        f"Figshare release, official folds {folds(prov.get('train_folds'))} (fold "
        f"{folds(prov.get('val_folds'))} chose the epoch); fold {folds(held_out)} was never used for "
        f"training or any choice. Input {side} px, brain crop "
        f"{'on' if prov.get('preprocessing', {}).get('brain_crop') else 'off'}."
    )
    if "held_out_metrics" in prov:
        m = prov["held_out_metrics"]
        print(
            f"On all {m['n']} slices of fold {folds(held_out)} (full release; model card): accuracy "
            f"{m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}."
        )
    _, eval_transform = create_transforms(model)
    data = load_heldout_sample(transform=eval_transform, return_mask=True, cache=True)
    labelled = data.subset(range(len(data)), return_mask=False)  # read once: same files, same cache
    # The crop's fallback warnings would be the demo's first screen: said once, in words, at the end.
    with _CollectWarnings("brainvit_effnet.data.base") as crop_notes:
        slice_folds = {r.fold for r in labelled.records}
        if slice_folds != set(held_out):  # never score the model on folds it trained on
            raise RuntimeError(
                f"the bundled held-out slices are of folds {slice_folds} but {BUNDLED_MODEL} holds out "
                f"{held_out}: the package is inconsistent; reinstall it."
            )
        trainer = Trainer(
            model, TrainConfig(batch_size=32, output_dir=str(output_dir), progress=args.progress)
        )
        report = trainer.evaluate(labelled, bootstrap=1000)
        print(
            f"\nBundled held-out slices ({report['n']} slices of fold {folds(held_out)}): {headline(report)}"
        )
        report_files = write_evaluation_report(
            report,
            output_dir / "report",
            title=f"{BUNDLED_MODEL} on the bundled held-out slices (fold {folds(held_out)})",
            extra={
                "model": BUNDLED_MODEL,
                "data": f"bundled held-out slices, fold {folds(held_out)}",
                "provenance": prov,
            },
        )
        methods = [m for m in ("gradcam", "gradcampp", "rollout") if m in available_methods(model)]
        spread = data.subset([round(i * (len(data) - 1) / 7) for i in range(8)], transform=eval_transform)
        overlay_files = overlays(model, spread, methods, output_dir / "explain", n=8)  # every class shown
        # Localisation against the masks only: the deletion/insertion curves cost a forward pass per
        # step and slice, minutes on a CPU (brainvit-effnet explain computes them).
        scores = score_explanations(
            model, data, methods, limit=args.explain_limit, faithfulness=False, progress=args.progress
        )
        explain_files = write_explanation_report(
            scores, output_dir / "explain", title=f"Explanations of {BUNDLED_MODEL} against tumour masks"
        )
        blob_pointing, blob_energy = _centred_blob_scores(data, args.explain_limit)
        print(
            f"Where the heatmaps point, on {scores['n']} slices with tumour outlines: the pointing game is "
            f"the share of slices whose hottest pixel lies in the tumour; energy inside, the share of "
            f"the map's mass there. Chance: the tumour covers {scores['mask_fraction']:.2f} of a slice; a "
            f"map that ignores the image (a blob in the centre) scores "
            f"{blob_pointing:.2f} and {blob_energy:.2f}."
        )
        for method in methods:
            overall = scores["methods"][method]["overall"]
            better = overall["pointing_game"] > blob_pointing and overall["energy_inside"] > blob_energy
            print(
                f"  {method:<10} pointing game {overall['pointing_game']:.2f}, energy inside "
                f"{overall['energy_inside']:.2f}: "
                + (
                    "above the centred blob on both"
                    if better
                    else "no better than a centred blob on at least one"
                )
            )
        if "rollout" not in methods:
            print("  (attention rollout applies to the transformer variants, effnet_*_tf.)")
        reliance = tumour_reliance(model, data, progress=args.progress)
        print_reliance(reliance)
    if crop_notes.sources:
        names = ", ".join(sorted(Path(s).name for s in crop_notes.sources))
        print(
            f"\nNote: on {len(crop_notes.sources)} of the {len(labelled)} slices ({names}) the brain crop "
            f"found only a fragment of the head, so the model saw the whole slice there instead."
        )
    print(f"\nDone in {time.perf_counter() - start:.0f} s.")
    print_files(
        "Files:",
        {
            **{f"report {k}": v for k, v in report_files.items()},
            **overlay_files,
            **{f"explanations {k}": v for k, v in explain_files.items()},
        },
    )
    print(f"\nData: {SAMPLE_ATTRIBUTION}")
    return 0
