"""Tutorial 1: patient-disjoint cross-validation on Figshare, and how to read its report.

Runs offline in about 15 s on 2 CPU cores: the tiny ``effnet_test_tf`` at 64 px, three epochs per
fold, on the 96 bundled Figshare slices. For the real experiment set
``data="figshare:/path/to/brain_tumor_dataset"``, ``model="effnet_b2_tf"``, ``pretrained=True``
and train for tens of epochs (or run ``brainvit-effnet train --cv``, which does the same).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

import brainvit_effnet as bve
from brainvit_effnet.data import Split, check_no_group_overlap, load_sample, official_folds_split
from brainvit_effnet.experiment import ExperimentConfig, cross_validate

# 1. The folds. Figshare ships five official folds (cvind.mat); no patient is in two of them.
sample = load_sample()
fold_ids = [record.fold for record in sample.records]
folds = sorted(set(fold_ids))
print("slices per official fold:", {f: fold_ids.count(f) for f in folds})
split = official_folds_split(fold_ids, test_fold=5, val_fold=4)  # one of the five rotations
check_no_group_overlap(split, sample.groups)  # raises if a patient spans two parts; this passes
print(f"official folds: train/val/test = {len(split.train)}/{len(split.val)}/{len(split.test)} slices")

# The mistake it guards against: a random split by image puts one patient's slices on both sides.
order = np.random.default_rng(0).permutation(len(sample))
by_image = Split(train=order[:78], test=order[78:])
try:
    check_no_group_overlap(by_image, sample.groups)
except ValueError as error:
    print("random image split rejected:", str(error).split(";")[0])

# 2. Cross-validation: each fold is the test set once, the next fold validates, the rest train.
with tempfile.TemporaryDirectory() as tmp:
    cfg = ExperimentConfig(
        model="effnet_test_tf",  # real data: "effnet_b2_tf" with pretrained=True
        data="sample",  # real data: "figshare:/path/to/brain_tumor_dataset"
        model_kwargs={"img_size": 64},
        bootstrap=0,  # per-fold confidence intervals are optional: the spread across folds is reported
        train=bve.TrainConfig(
            epochs=3,  # real data: 30-50
            batch_size=16,
            lr=3e-3,
            backbone_lr_scale=1.0,
            output_dir=str(Path(tmp) / "cv"),
            progress=False,
        ),
    )
    torch.manual_seed(0)  # reproducible initial weights
    result = cross_validate(cfg)

    # 3. Read the report: one row per held-out fold, then mean ± std over the folds.
    for i, report in enumerate(result["folds"]):
        print(
            f"test fold {folds[i]} (val fold {folds[(i + 1) % len(folds)]}): n={report['n']}  "
            f"accuracy {report['accuracy']:.3f}  macro-F1 {report['macro_f1']:.3f}  ECE {report['ece']:.3f}"
        )
    for metric, stats in result["summary"].items():
        print(f"{metric:>17}: {stats['mean']:.3f} ± {stats['std']:.3f}")

    run = Path(cfg.train.output_dir)
    print("run folder:", sorted(p.name for p in run.iterdir()))
    print("each fold:", sorted(p.name for p in (run / "fold_5").iterdir()))
    markdown = Path(result["report_files"]["markdown"]).read_text()
    print("## " + markdown.split("\n## ")[3].strip())  # the pooled confusion matrix
