"""The subpackages that ``import brainvit_effnet as bve`` offers as attributes, on purpose."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import brainvit_effnet as bve

SUBPACKAGES = ("data", "explain", "losses", "metrics", "models")


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackages_are_attributes_and_listed(name: str) -> None:
    assert getattr(bve, name) is importlib.import_module(f"brainvit_effnet.{name}")
    assert name in dir(bve)


def test_unknown_attributes_still_raise() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = bve.nope  # type: ignore[attr-defined]


def test_explain_is_imported_on_first_use_only() -> None:
    code = (
        "import sys, brainvit_effnet as bve; "
        "assert 'brainvit_effnet.explain' not in sys.modules; "
        "assert bve.explain.GradCAM; "
        "assert 'brainvit_effnet.explain' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_experiment_config_is_imported_on_first_use_only() -> None:
    # What `import brainvit_effnet` does not pay for: the experiment layer with the report figures
    # (matplotlib), and scipy.stats/scipy.optimize (0.7 s; imported by the metrics that use them).
    code = (
        "import sys, brainvit_effnet as bve; "
        "assert 'brainvit_effnet.experiment' not in sys.modules and 'matplotlib' not in sys.modules; "
        "assert 'scipy.stats' not in sys.modules and 'scipy.optimize' not in sys.modules; "
        "from brainvit_effnet import ExperimentConfig; "
        "from brainvit_effnet.experiment import ExperimentConfig as original; "
        "assert bve.ExperimentConfig is ExperimentConfig is original"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
