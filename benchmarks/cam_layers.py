"""Benchmark: which layer Grad-CAM should explain, and what each layer's resolution allows.

For each candidate layer of a model's EfficientNet backbone, on every slice with a tumour mask of
an official Figshare fold: the Grad-CAM pointing game and energy inside the mask (true class), and
the layer's **resolution cap**, the pointing game of a perfect map at that layer's grid (the mask
averaged onto the grid, then upsampled as Grad-CAM's maps are). A 6x6 map cannot point at a small
pituitary adenoma however right the model is; the cap says how much of a low score is resolution.

Choose the default layer on a *validation* fold (fold 2 for the models tested on fold 1), then
report the chosen layer on the test fold.

    python benchmarks/cam_layers.py --data ../shared/data/figshare --fold 2 \\
        --model runs/recipe_benchmark/finetune_lite0_192/fold1/model --out results/cam_layers_fold2.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _common import machine_info, write_json
from shift_benchmark import load_model
from torch.utils.data import DataLoader

from brainvit_effnet.data import FigshareDataset, create_transforms
from brainvit_effnet.data.inference import preprocessing_of
from brainvit_effnet.explain import GradCAM, energy_inside, mask_fraction, pointing_game

LAYERS = ("backbone.blocks.2", "backbone.blocks.3", "backbone.blocks.4", "backbone.blocks.5", "backbone.bn2")


def _perfect_map(masks: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The best map a layer of that grid can draw: the mask's share per cell, upsampled bilinearly."""
    coarse = F.adaptive_avg_pool2d(masks[:, None].float(), grid)
    return F.interpolate(coarse, size=masks.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


def measure(model: torch.nn.Module, data: Any, layers: tuple[str, ...], batch_size: int) -> dict[str, Any]:
    scores: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in layers}
    grids: dict[str, tuple[int, int]] = {}
    fractions, labels_seen = [], []
    for images, labels, masks in DataLoader(data, batch_size=batch_size):
        keep = masks.flatten(1).any(1)
        images, labels, masks = images[keep], labels[keep], masks[keep].bool()
        if not len(labels):
            continue
        fractions.append(mask_fraction(masks))
        labels_seen.append(labels.numpy())
        for name in layers:
            layer = model.get_submodule(name)
            if name not in grids:

                def record(module: Any, inputs: Any, output: torch.Tensor, name: str = name) -> None:
                    grids[name] = (int(output.shape[-2]), int(output.shape[-1]))

                handle = layer.register_forward_hook(record)
                with torch.no_grad():
                    model(images[:1])
                handle.remove()
            with GradCAM(model, target_layers=[layer]) as cam:
                heat = cam(images, [int(t) for t in labels])
            perfect = _perfect_map(masks, grids[name])
            # A flat map (Grad-CAM found no positive evidence at this layer) points nowhere: the
            # scorers give it NaN, which here counts as a miss with no energy inside, and is counted.
            maps = np.asarray(heat, dtype=float).reshape(len(labels), -1)
            flat = maps.max(axis=1) == maps.min(axis=1)
            for key, values in (
                ("pointing_game", np.nan_to_num(pointing_game(heat, masks).astype(float), nan=0.0)),
                ("energy_inside", np.nan_to_num(energy_inside(heat, masks), nan=0.0)),
                ("resolution_cap", pointing_game(perfect, masks).astype(float)),
                ("flat_maps", flat.astype(float)),
            ):
                scores[name].setdefault(key, []).append(np.asarray(values, dtype=float))
        print(".", end="", flush=True)
    print()
    labels_all = np.concatenate(labels_seen)  # the scored slices' labels, without a second decoding pass
    classes = list(data.classes)
    out: dict[str, Any] = {
        "n": int(labels_all.size),
        "mask_fraction": float(np.concatenate(fractions).mean()),
    }
    out["layers"] = {}
    for name, metrics in scores.items():
        joined = {k: np.concatenate(v) for k, v in metrics.items()}
        flat = joined.pop("flat_maps")
        out["layers"][name] = {
            "grid": list(grids[name]),
            **{k: float(v.mean()) for k, v in joined.items()},
            "flat_maps": int(flat.sum()),
            "per_class": {
                classes[c]: {k: float(v[labels_all == c].mean()) for k, v in joined.items()}
                for c in sorted(set(labels_all.tolist()))
            },
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release folder")
    parser.add_argument("--model", required=True, help="a zoo name or save_pretrained folder")
    parser.add_argument("--fold", type=int, required=True, help="official fold to score on")
    parser.add_argument("--layers", nargs="+", default=list(LAYERS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    model = load_model(args.model)
    _, eval_tf = create_transforms(model)
    crop = preprocessing_of(model)["brain_crop"]
    data = FigshareDataset(args.data, folds=[args.fold], crop=crop, transform=eval_tf, return_mask=True)
    result = measure(model, data, tuple(args.layers), args.batch_size)
    for name, r in result["layers"].items():
        print(
            f"{name:<20} grid {r['grid']}: pointing game {r['pointing_game']:.3f} "
            f"(cap {r['resolution_cap']:.3f}), "
            f"energy inside {r['energy_inside']:.3f}"
        )
    write_json(
        args.out,
        {
            "model": args.model,
            "data": f"Figshare fold {args.fold}",
            **result,
            "machine": machine_info(torch.device("cpu")),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
