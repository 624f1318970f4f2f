"""The study's outcomes beyond accuracy, per finished run: localisation, tumour reliance, shifts.

For every finished run of a ``benchmarks/transformer_study.py`` grid that has no
``outcomes.json`` yet, on its own test fold (every slice with a tumour outline):

* **Grad-CAM localisation** at two layers fixed before any grid run was scored: ``blocks.5``
  (the layer :mod:`model_evidence` chose on validation fold 2 for the Lite0 fine-tuning recipe)
  and ``bn2`` (the last feature map): pointing game and energy inside the corrected tumour
  masks, with the layer's resolution cap (:mod:`cam_layers`; a flat map counts as a miss);
* **attention rollout** for the ``_tf`` variants: the same two scores of the rollout map
  (:func:`brainvit_effnet.explain.score_explanations`);
* **tumour reliance**: accuracy with the tumour blacked out and with a same-shaped region
  elsewhere in the brain blacked out (:func:`brainvit_effnet.explain.tumour_reliance`);
* **the shift benchmark** on one slice in three of the test fold (:mod:`shift_benchmark`).

It writes ``outcomes.json`` beside the run's ``result.json`` (atomically; a run already scored is
skipped, so the script resumes). ``transformer_study.py --collect`` merges them into the
committed records and into the paired effects. Measured cost: about 10 minutes per run on one
core of the development machine.

Run from the repository root (lanes as for the grid; rerun to resume)::

    OMP_NUM_THREADS=1 python benchmarks/study_outcomes.py --data ../shared/data/figshare \\
        --setting finetune --lane 1/2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch
from _common import machine_info, write_json
from cam_layers import measure as measure_layers
from shift_benchmark import measure_fold

import brainvit_effnet as bve
from brainvit_effnet.data import FigshareDataset, create_transforms
from brainvit_effnet.data.inference import preprocessing_of
from brainvit_effnet.explain import available_methods, score_explanations, tumour_reliance

OUTCOMES = "outcomes.json"
CAM_LAYERS = ("backbone.blocks.5", "backbone.bn2")
SHIFT_EVERY = 3

#: Scalar outcomes that enter the paired effects, each higher-is-better: Grad-CAM at
#: ``blocks.5``, the accuracy lost when the tumour is hidden (the model needs the tumour), the
#: accuracy kept when a control region is hidden, and the mean accuracy under the shifts.
#: The rollout's pointing game exists for ``_tf`` runs only: reported per cell, not paired.
EFFECT_METRICS = (
    "pointing_game",
    "energy_inside",
    "tumour_reliance_drop",
    "control_hidden_accuracy",
    "shift_mean_accuracy",
)


def outcomes(
    model: torch.nn.Module,
    data_root: str,
    fold: int,
    *,
    layers: tuple[str, ...] = CAM_LAYERS,
    shift_every: int = SHIFT_EVERY,
) -> dict[str, Any]:
    """Every outcome of one trained model on its test fold (see the module docstring).

    ``layers``: the Grad-CAM layers; the first one's scores enter the paired effects.
    """
    started = time.perf_counter()
    _, eval_tf = create_transforms(model)
    crop = preprocessing_of(model)["brain_crop"]
    masked = FigshareDataset(data_root, folds=[fold], crop=crop, transform=eval_tf, return_mask=True)
    cams = measure_layers(model, masked, layers, 32)
    record: dict[str, Any] = {"test_fold": fold, "gradcam_layer": layers[0], "gradcam": cams}
    if "rollout" in available_methods(model):
        rollout = score_explanations(
            model, masked, ("rollout",), batch_size=32, faithfulness=False, progress=False
        )
        record["rollout"] = rollout["methods"]["rollout"]
    record["tumour_reliance"] = tumour_reliance(model, masked, progress=False)
    record["shift_benchmark"] = measure_fold(model, data_root, fold, every=shift_every)
    record["scalars"] = scalars(record)
    record["minutes"] = round((time.perf_counter() - started) / 60, 2)
    record["machine"] = machine_info(torch.device("cpu"))
    return record


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The outcomes that enter the paired effects, from a full outcomes record."""
    layer = record["gradcam"]["layers"][record["gradcam_layer"]]
    reliance = record["tumour_reliance"]["overall"]
    out = {
        "pointing_game": layer["pointing_game"],
        "energy_inside": layer["energy_inside"],
        "tumour_reliance_drop": reliance["clean"] - reliance["tumour_hidden"],
        "control_hidden_accuracy": reliance["random_hidden"],
        "shift_mean_accuracy": record["shift_benchmark"]["shift_mean_accuracy"],
    }
    if "rollout" in record:
        out["rollout_pointing_game"] = record["rollout"]["overall"]["pointing_game"]
    return {k: float(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    from transformer_study import SETTINGS, build_study  # here: transformer_study imports this module

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the Figshare release folder")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="finetune")
    parser.add_argument("--lane", default="1/1", help="I/N: score runs I, I+N, ... of the finished ones")
    args = parser.parse_args(argv)
    study = build_study(args.data, SETTINGS[args.setting].study_dir, args.setting)
    index, lanes = (int(x) for x in args.lane.split("/"))
    for position, run in enumerate(study.runs()):  # lanes by position in the plan: stable as runs finish
        target = run.output_dir / OUTCOMES
        if position % lanes != index - 1 or run.state() != "finished" or target.is_file():
            continue
        model = bve.from_pretrained(run.output_dir / "model").eval()
        print(f"{run.name}: scoring on fold {run.fold}", flush=True)
        record = outcomes(model, args.data, run.fold)
        write_json(target, record)
        print(f"{run.name}: {json.dumps(record['scalars'])} ({record['minutes']} min)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
