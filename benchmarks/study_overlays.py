"""The study's overlay figure: the same test slices explained by every configuration of a grid.

For each configuration that finished on ``--fold``, its model explains the same ``--n`` slices of
that fold (spread across the classes, each with its tumour outline): Grad-CAM at ``blocks.5`` (the
layer the study's outcomes score; ``--layer``) for every configuration, and attention rollout for the
transformer variants. One row per configuration and map, one column per slice, written with the library's
:func:`~brainvit_effnet.explain.overlay.save_grid` (captions: slice id, truth and prediction).

Run from the repository root, after the fold's runs finished::

    python benchmarks/study_overlays.py --data ../shared/data/figshare --setting finetune --fold 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from study_outcomes import CAM_LAYERS
from transformer_study import SETTINGS, build_study

import brainvit_effnet as bve
from brainvit_effnet.data import FigshareDataset, create_transforms
from brainvit_effnet.data.inference import preprocessing_of
from brainvit_effnet.data.splits import spread_across_classes
from brainvit_effnet.explain import GradCAM, attention_rollout, save_grid

DOCS_ASSETS = Path(__file__).resolve().parents[1] / "docs" / "assets"
#: How each configuration is named in the captions (the page's names).
NAMES = {(False, 0.0): "baseline", (False, 0.1): "+LS", (True, 0.0): "+tf", (True, 0.1): "+tf +LS"}


def explain_rows(model: torch.nn.Module, images: torch.Tensor, layer: str) -> dict[str, torch.Tensor]:
    """Grad-CAM at ``layer``, and rollout where the model has a transformer: name -> ``(B, h, w)``."""
    with GradCAM(model, target_layers=[model.get_submodule(layer)]) as cam:
        maps = {"Grad-CAM": cam(images).detach()}
    if hasattr(model, "record_attention"):
        with torch.no_grad():
            maps["rollout"] = attention_rollout(model, images)
    return maps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release folder")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="finetune", help="which grid")
    parser.add_argument("--fold", type=int, default=1, help="test fold whose slices are shown")
    parser.add_argument("--n", type=int, default=6, help="slices, spread across the classes")
    parser.add_argument("--layer", default=CAM_LAYERS[0], help="Grad-CAM layer (default: %(default)s)")
    parser.add_argument("--study", type=Path, help="the grid's folder (default: the setting's)")
    parser.add_argument(
        "--out", type=Path, help="the figure (default: docs/assets/study_<setting>_overlays.png)"
    )
    args = parser.parse_args(argv)
    study = build_study(args.data, args.study or SETTINGS[args.setting].study_dir, args.setting)
    runs = [r for r in study.runs() if r.fold == args.fold and r.state() == "finished"]
    if not runs:
        parser.error(f"no run of the {args.setting} grid has finished on fold {args.fold} yet")
    images, masks, labels, ids, heatmaps, probs = [], [], [], [], [], []
    chosen = None
    for run in sorted(
        runs, key=lambda r: (bool(r.cell.levels["transformer"]), r.cell.levels["label_smoothing"])
    ):
        model = bve.from_pretrained(run.output_dir / "model").eval()
        _, eval_transform = create_transforms(model)
        data = FigshareDataset(
            args.data,
            folds=[args.fold],
            transform=eval_transform,
            crop=preprocessing_of(model)["brain_crop"],
            return_mask=True,
        )
        if chosen is None:  # the same slices for every configuration
            chosen = spread_across_classes([r.label for r in data.records], args.n)
        batch = [data[i] for i in chosen]
        x = torch.stack([b[0] for b in batch])
        with torch.no_grad():
            p = model(x).softmax(-1)
        name = NAMES[(bool(run.cell.levels["transformer"]), float(run.cell.levels["label_smoothing"]))]
        for method, maps in explain_rows(model, x, args.layer).items():
            images.append(x)
            masks.append(torch.stack([b[2] for b in batch]))
            labels += [int(b[1]) for b in batch]
            probs.append(p)
            heatmaps += list(maps)  # rollout is on the token grid: sizes differ, the grid resizes
            ids += [f"{name} {method}: {Path(data.records[i].source).name}" for i in chosen]
        class_names = list(model.pretrained_cfg["label_names"])
        cfg = model.pretrained_cfg
    out = args.out or DOCS_ASSETS / f"study_{args.setting}_overlays.png"
    save_grid(
        out,
        torch.cat(images),
        heatmaps,
        true_labels=labels,
        probs=torch.cat(probs),
        class_names=class_names,
        masks=torch.cat(masks),
        mean=cfg.get("mean"),
        std=cfg.get("std"),
        ncols=len(chosen or []),
        tile=170,
        ids=ids,
        title=f"The same fold-{args.fold} slices, each configuration (Grad-CAM at {args.layer}; rollout)",
    )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
