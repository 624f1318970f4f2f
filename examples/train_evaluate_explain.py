"""Train, evaluate and explain on the bundled sample, offline, in about half a minute on 2 CPU cores.

Patient-disjoint by construction: the official Figshare folds 1-3 train, fold 4 validates,
fold 5 tests. Swap ``load_sample`` for ``FigshareDataset("/path/to/brain_tumor_dataset", folds=...)``
and the tiny model for ``effnet_b2_tf`` (``pretrained=True``) for the real experiment.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

import brainvit_effnet as bve
from brainvit_effnet.data import create_transforms, load_sample
from brainvit_effnet.explain import explain as heatmaps
from brainvit_effnet.explain import save_grid, score_explanations, write_explanation_report

model = bve.create_model("effnet_test_tf", num_classes=3, label_names=bve.TUMOUR_TYPE_CLASSES, img_size=96)
train_tf, eval_tf = create_transforms(model)  # the study's augmentation for training only
train = load_sample([1, 2, 3], transform=train_tf)
val = load_sample([4], transform=eval_tf)
test = load_sample([5], transform=eval_tf, return_mask=True)  # masks for scoring explanations

with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp)
    config = bve.TrainConfig(
        epochs=5, batch_size=16, lr=3e-3, backbone_lr_scale=1.0, output_dir=str(out / "run")
    )
    result = bve.Trainer(model, config).fit(train, val)
    print(f"best epoch {result['best_epoch']} by {result['monitor']}")

    best = bve.from_pretrained(result["checkpoints"]["best"]).eval()
    report = bve.Trainer(best, config).evaluate(load_sample([5], transform=eval_tf), bootstrap=200)
    lo, hi = report["ci95"]["accuracy"]
    print(f"test accuracy {report['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f})")
    print(f"test macro-F1 {report['macro_f1']:.3f}")

    scores = score_explanations(best, test, ["gradcam", "rollout"], limit=8, steps=5)
    write_explanation_report(scores, out / "explain")
    for method, row in scores["methods"].items():
        overall = row["overall"]
        chance = scores["mask_fraction"]
        print(f"{method}: energy inside tumour {overall['energy_inside']:.3f} (chance {chance:.3f})")

    batch = torch.stack([test[i][0] for i in range(4)])
    grid = save_grid(
        out / "gradcam.png",
        batch,
        heatmaps(best, batch, "gradcam"),
        masks=[test[i][2] for i in range(4)],
        mean=best.pretrained_cfg["mean"],
        std=best.pretrained_cfg["std"],
    )
    print(f"overlay grid written ({grid.name})")
