"""Tutorial 3: label smoothing, calibration and temperature scaling.

Runs offline in about 20 s on 2 CPU cores. Part 1 shows temperature scaling on synthetic logits
whose miscalibration is known. Part 2 trains the tiny ``effnet_test`` twice on the bundled Figshare
slices (folds 1-3), with cross-entropy and with label smoothing, measures how well each model's
confidence matches its accuracy on the held-out fold 5, fits a temperature on fold 4 and measures
again. For real data use ``FigshareDataset(path, folds=...)`` and ``effnet_b2_tf``
(``pretrained=True``) trained for tens of epochs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

import brainvit_effnet as bve
from brainvit_effnet.data import create_transforms, load_sample
from brainvit_effnet.metrics import (
    accuracy,
    apply_temperature,
    brier_score,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_diagram,
)
from brainvit_effnet.reports import plot_reliability


def calibration(y: np.ndarray, probs: np.ndarray) -> str:
    """Accuracy next to mean confidence, and the three calibration scores."""
    return (
        f"accuracy {accuracy(y, probs):.3f}  confidence {probs.max(1).mean():.3f}  "
        f"ECE {expected_calibration_error(y, probs, n_bins=10):.3f}  "
        f"NLL {negative_log_likelihood(y, probs):.3f}  Brier {brier_score(y, probs):.3f}"
    )


# Part 1: a model whose logits are 3x too large. Labels are drawn from the calibrated probabilities.
rng = np.random.default_rng(0)
true_logits = rng.normal(size=(4000, 3)) * 1.5
labels = np.array([rng.choice(3, p=p) for p in apply_temperature(true_logits, 1.0)])
overconfident = 3.0 * true_logits
val, test = slice(0, 2000), slice(2000, 4000)
temperature = fit_temperature(overconfident[val], labels[val])  # fitted on the validation half
for t in (1.0, temperature):
    print(f"synthetic, T={t:.2f}: {calibration(labels[test], apply_temperature(overconfident[test], t))}")

# Part 2: two small CNNs trained from scratch on 60 slices, with and without label smoothing.
with tempfile.TemporaryDirectory() as tmp:
    for loss, loss_kwargs in (("cross_entropy", {}), ("label_smoothing", {"smoothing": 0.1})):
        torch.manual_seed(0)  # the same initial weights for both losses
        model = bve.create_model("effnet_test", num_classes=3, label_names=bve.TUMOUR_TYPE_CLASSES)
        train_tf, eval_tf = create_transforms(model)
        train = load_sample([1, 2, 3], transform=train_tf, cache=True)
        val_data = load_sample([4], transform=eval_tf, cache=True)  # picks the epoch and fits T
        test_data = load_sample([5], transform=eval_tf, cache=True)  # only ever measured
        config = bve.TrainConfig(
            epochs=20,
            batch_size=16,
            lr=1e-2,
            backbone_lr_scale=1.0,
            loss=loss,
            loss_kwargs=loss_kwargs,
            output_dir=str(Path(tmp) / loss),
            progress=False,
        )
        result = bve.Trainer(model, config).fit(train, val_data)
        best = bve.Trainer(bve.from_pretrained(result["checkpoints"]["best"]), config)

        # Logits, not probabilities: temperature scaling divides the logits.
        train_logits, _ = best.predict(load_sample([1, 2, 3], transform=eval_tf), return_logits=True)
        val_logits, val_y = best.predict(val_data, return_logits=True)
        test_logits, test_y = best.predict(test_data, return_logits=True)
        temperature = fit_temperature(val_logits, val_y)  # on validation data, never on the test set
        confidence = apply_temperature(train_logits, 1.0).max(1).mean()
        print(
            f"{loss} (best epoch {result['best_epoch']}, confidence on its training slices {confidence:.3f}):"
        )
        for t in (1.0, temperature):  # the argmax, hence accuracy, does not change
            print(f"  test, T={t:.2f}: {calibration(test_y, apply_temperature(test_logits, t))}")

        bins = reliability_diagram(test_y, apply_temperature(test_logits, 1.0), n_bins=5)
        rows = zip(bins["confidence"], bins["accuracy"], bins["count"], strict=True)
        print(
            "  reliability, T=1 (confidence -> accuracy, slices):",
            ", ".join(f"{c:.2f} -> {a:.2f} ({n})" for c, a, n in rows if n),
        )
        plot_reliability(bins, Path(tmp) / f"reliability_{loss}.png")  # the figure of these bins
