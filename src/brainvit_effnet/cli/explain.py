"""``brainvit-effnet explain``: heatmap overlays and, with tumour masks, localisation scores.

``--reliance`` adds the occlusion test: accuracy per class with the tumour blacked out, against a
same-sized region elsewhere in the brain.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .._json import write_json
from ..data import ImageFiles, create_transforms
from ..data.splits import spread_across_classes
from ..errors import InvalidArgumentError
from ..hub import from_pretrained
from ._common import (
    DATA_HELP,
    MODEL_HELP,
    NO_CROP_HELP,
    add_figure_flags,
    add_folder_flags,
    at_least,
    class_names,
    crop,
    evaluation_data,
    print_files,
    short_source,
)

HELP = "heatmap overlays and, with tumour masks, localisation scores"
EXAMPLE = "brainvit-effnet explain runs/b0/model --data heldout --methods gradcam rollout"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", help=MODEL_HELP)
    p.add_argument("paths", nargs="*", help="image files/folders (default: a dataset, see --data)")
    p.add_argument("--data", default="sample", help=DATA_HELP)
    p.add_argument(
        "--folds", type=int, nargs="+", help="official folds (default: the model's held-out folds, else 5)"
    )
    p.add_argument("--methods", nargs="+", help="gradcam gradcampp token_gradcam rollout attention")
    p.add_argument("--out", default="explanations", help="output folder (default: %(default)s)")
    p.add_argument("--n", type=at_least(1), default=8, help="slices shown in the overlay grids")
    p.add_argument(
        "--limit", type=at_least(1), help="score this many slices, spread across the classes (default: all)"
    )
    p.add_argument("--steps", type=at_least(1), default=10, help="deletion/insertion steps")
    p.add_argument(
        "--reliance",
        action="store_true",
        help="is the model looking at the tumour? accuracy per class with the tumour blacked out, against a "
        "same-sized region elsewhere in the brain (needs tumour masks; alone, skips the heatmaps unless "
        "--methods names them)",
    )
    p.add_argument("--no-crop", action="store_true", help=NO_CROP_HELP)
    add_figure_flags(p, "the overlay grids")
    add_folder_flags(p)


def overlays(
    model: Any, data: Any, methods: Sequence[str], out: Path, n: int, fmt: str = "png"
) -> dict[str, Path]:
    """One grid per method for the first ``n`` samples (outlines drawn when masks exist), as
    ``overlays_<method>.<fmt>`` (png, pdf or svg)."""
    from ..explain import explain, save_grid

    batch = [data[i] for i in range(min(n, len(data)))]
    images = torch.stack([b[0] for b in batch])
    masks = torch.stack([b[2] for b in batch]) if len(batch[0]) == 3 else None
    known = [int(b[1]) for b in batch]
    with torch.no_grad():
        probs = model(images).softmax(-1)
    names = class_names(model)
    cfg = model.pretrained_cfg
    files = {}
    for method in methods:
        heat = explain(model, images, method)  # the predicted class
        files[f"overlay_{method}"] = save_grid(
            out / f"overlays_{method}.{fmt}",
            images,
            heat,
            true_labels=[names[k] for k in known] if min(known) >= 0 else None,  # unlabelled files: -1
            probs=probs,
            class_names=names,
            masks=masks,
            mean=cfg.get("mean"),
            std=cfg.get("std"),
            title=f"{method}",
            ids=[short_source(data.records[i].source) for i in range(len(batch))],
        )
    return files


#: What ``explain --reliance`` calls looking at the tumour: hiding it costs the class its
#: accuracy (down to at most this), while hiding a same-sized region elsewhere costs at most
#: ``_RELIANCE_CONTROL_COST`` (the targets of the issue that added the test).
_RELIANCE_HIDDEN_MAX, _RELIANCE_CONTROL_COST = 0.5, 0.02


def reliance_verdict(r: Any) -> str:
    """In words, what one class's occlusion scores say: is the model looking at the tumour?

    Hiding the tumour must bring the accuracy down to at most ``_RELIANCE_HIDDEN_MAX``; a control
    region that costs more than ``_RELIANCE_CONTROL_COST`` weakens the verdict, and only when the
    tumour costs less than three times what the control costs is the loss called unspecific.
    """
    if r["tumour_hidden"] > _RELIANCE_HIDDEN_MAX:
        return "recognised without the tumour"
    if r["random_drop"] <= _RELIANCE_CONTROL_COST:
        return "looks at the tumour"
    if r["clean"] - r["tumour_hidden"] >= 3 * r["random_drop"]:
        return f"mostly at the tumour (hiding elsewhere costs {r['random_drop']:.2f})"
    return "any occlusion hurts (not specific to the tumour)"


def print_reliance(report: Any) -> None:
    print(
        f"Is the model looking at the tumour? {report['n']} slices; accuracy as they are, with the tumour "
        f"blacked out, and with a same-sized region elsewhere in the brain blacked out instead:"
    )
    print(
        f"  {'class':<14}{'n':>5}{'clean':>8}{'tumour hidden':>15}{'control hidden':>16}"
        f"{'p(true) hidden':>16}  verdict"
    )
    for name, r in [*report["per_class"].items(), ("all", report["overall"])]:
        verdict = reliance_verdict(r)
        print(
            f"  {name:<14}{r['n']:>5}{r['clean']:>8.3f}{r['tumour_hidden']:>15.3f}"
            f"{r['random_hidden']:>16.3f}{r['p_true_tumour_hidden']:>16.3f}  {verdict}"
        )


def _has_masks(data: Any, per_class: int = 4) -> bool:
    """Whether ``data`` has tumour masks, from a few slices of every class (a class without tumour,
    such as Br35H's ``no_tumor``, has empty masks: the first slices alone can miss them)."""
    by_class: dict[int, list[int]] = {}
    for i, record in enumerate(data.records):
        if len(by_class.setdefault(record.label, [])) < per_class:
            by_class[record.label].append(i)
    return any(bool(data[i][2].any()) for picks in by_class.values() for i in picks)


def run(args: argparse.Namespace) -> int:
    from ..explain import available_methods, score_explanations, tumour_reliance, write_explanation_report

    model: Any = from_pretrained(args.model_dir).eval()
    # --reliance alone is the occlusion test only; heatmaps too when --methods names them.
    methods = args.methods or ([] if args.reliance else available_methods(model))
    out = Path(args.out)
    _, eval_transform = create_transforms(model)
    files: dict[str, Any] = {}
    if args.paths:
        if args.reliance:
            raise InvalidArgumentError(
                "--reliance needs tumour masks, which image files do not have: pass --data with outlines "
                "(figshare:PATH, sample or heldout) instead of image paths."
            )
        data: Any = ImageFiles(args.paths, transform=eval_transform, crop=crop(args, model))
        files.update(overlays(model, data, methods, out, args.n, args.format))
    else:
        data = evaluation_data(args, model, return_mask=True)
        if args.limit is not None and args.limit < len(data):  # a sample of every class, not the first N
            data = data.subset(spread_across_classes([r.label for r in data.records], args.limit))
        files.update(overlays(model, data, methods, out, args.n, args.format))
        has_masks = _has_masks(data)
        if args.reliance:
            if not has_masks:
                raise InvalidArgumentError(
                    f"--reliance needs tumour masks, and {args.data} has none: use data with outlines "
                    f"(figshare:PATH, sample or heldout)."
                )
            reliance = tumour_reliance(model, data, progress=args.progress)
            files["reliance"] = write_json(out / "reliance.json", reliance)
            print_reliance(reliance)
        if methods and has_masks:
            report = score_explanations(model, data, methods, steps=args.steps, progress=args.progress)
            files.update(
                write_explanation_report(
                    report, out, title=f"Explanations of {args.model_dir} on {args.data}"
                )
            )
            for method, result in report["methods"].items():
                overall = result["overall"]
                print(
                    f"{method:<14} pointing game {overall['pointing_game']:.3f}, energy inside "
                    f"{overall['energy_inside']:.3f} (chance {report['mask_fraction']:.3f}), "
                    f"deletion AUC {overall.get('deletion_auc', float('nan')):.3f}, "
                    f"insertion AUC {overall.get('insertion_auc', float('nan')):.3f}"
                )
    print_files("Files:", {k: str(v) for k, v in files.items()})
    return 0
