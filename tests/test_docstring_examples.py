"""Every ``>>>`` example in the package's docstrings runs and prints what it shows.

The examples are the API reference's first code a reader copies, so a stale one (an old output
shape, an exception type since renamed) fails here. Each module runs in a fresh temporary folder:
examples that save a figure or a model write there, not into the checkout. Many examples, like
numpy's, use names a reader has at hand (``model``, ``x``, ``report``...): :func:`_namespace` gives
them stand-ins of the kind the docstrings describe. Examples that need what a docstring cannot
make (a downloaded dataset, minutes of training) carry ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import brainvit_effnet

PACKAGE = Path(brainvit_effnet.__file__).parent
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _namespace() -> dict[str, object]:
    """The names the examples take as given: a small transformer model, a batch, labels,
    probabilities, a report of them, two fold reports and a training history."""
    import numpy as np
    import torch

    import brainvit_effnet as bve
    from brainvit_effnet.metrics import classification_report

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    classes = ["glioma", "meningioma", "pituitary"]
    y_true = np.array([0, 1, 2] * 10)
    probs = rng.dirichlet(np.ones(3), size=y_true.size)
    probs[np.arange(y_true.size), y_true] += 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    report = classification_report(y_true, probs, class_names=classes)
    return {
        "np": np,
        "torch": torch,
        "bve": bve,
        "model": bve.create_model("effnet_test_tf", num_classes=3).eval(),
        "x": torch.randn(2, 3, 64, 64),
        "y_true": y_true,
        "probs": probs,
        "report": report,
        "reports": [report, classification_report(y_true[::-1].copy(), probs, class_names=classes)],
        "history": [
            {"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.6},
            {"epoch": 2, "train_loss": 0.7, "val_loss": 0.8, "val_accuracy": 0.7},
        ],
    }


@pytest.mark.filterwarnings("ignore:brainvit_effnet.explain.evaluate is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module, name, extraglobs=_namespace()) if t.examples]
    if not tests:
        return
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} examples failed in {name}:\n" + "".join(report)
