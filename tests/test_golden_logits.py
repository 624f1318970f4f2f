"""Golden logits: fixed weights and a fixed input give the logits stored in ``golden_logits.json``.

A timm upgrade (or a change of ours) that alters what a model computes, how its layers are named or
shaped, fails here loudly instead of silently shifting every trained checkpoint's predictions.

The weights are not timm's random initialisation (which may change between releases without
changing the model) but a deterministic fill keyed by each state-dict entry's name, so what is
pinned is the architecture: parameter names, shapes and the forward computation.

Regenerate, only after checking that a difference is intended::

    BRAINVIT_WRITE_GOLDEN=1 PYTHONPATH=src python -m pytest tests/test_golden_logits.py
"""

from __future__ import annotations

import json
import math
import os
import zlib
from pathlib import Path

import pytest
import torch
from torch import nn

import brainvit_effnet as bve

GOLDEN = Path(__file__).with_name("golden_logits.json")
# Both families, as the small test models and as B0 (at a small input, for speed; for the
# transformer this also runs the positional-grid resampling).
MODELS = ("effnet_test", "effnet_test_tf", "effnet_b0", "effnet_b0_tf")
INPUT_SHAPE = (2, 3, 64, 64)


def _fill(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Deterministic values for one state-dict entry, of a scale that keeps activations O(1)."""
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    if name.endswith("running_var"):
        return torch.rand(tensor.shape, generator=g) + 0.5
    if name.endswith("running_mean") or (tensor.ndim == 1 and name.endswith("bias")):
        return 0.1 * torch.randn(tensor.shape, generator=g)
    if tensor.ndim == 1:  # norm scales, class token and similar
        return 1.0 + 0.1 * torch.randn(tensor.shape, generator=g)
    fan_in = max(tensor[0].numel(), 1)
    return torch.randn(tensor.shape, generator=g) / math.sqrt(fan_in)


def _logits(name: str) -> tuple[list[list[float]], dict[str, list[int]]]:
    model = bve.create_model(name).eval()
    state = model.state_dict()
    filled = {k: (v if not v.is_floating_point() else _fill(k, v).to(v.dtype)) for k, v in state.items()}
    model.load_state_dict(filled)
    # Random weights make a deep network's output almost independent of its input; setting the
    # BatchNorm statistics from one calibration batch (as training would) keeps every layer's
    # activations normalised, so the logits depend on the image.
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.train()
        norm.momentum = 1.0
    with torch.no_grad():
        model(torch.randn((8, *INPUT_SHAPE[1:]), generator=torch.Generator().manual_seed(99)))
    model.eval()
    x = torch.randn(INPUT_SHAPE, generator=torch.Generator().manual_seed(1234))
    with torch.no_grad():
        logits = model(x)
    return logits.tolist(), {k: list(v.shape) for k, v in state.items()}


def _write_golden() -> None:
    entries = {}
    for name in MODELS:
        logits, shapes = _logits(name)
        entries[name] = {"logits": logits, "n_state_entries": len(shapes), "n_parameters": _count(shapes)}
    GOLDEN.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")


def _count(shapes: dict[str, list[int]]) -> int:
    return sum(math.prod(s) for s in shapes.values())


if os.environ.get("BRAINVIT_WRITE_GOLDEN") == "1":  # at collection, so the tests below check the result
    _write_golden()


@pytest.mark.parametrize("name", MODELS)
def test_logits_match_the_golden_values(name: str) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    logits, shapes = _logits(name)
    assert len(shapes) == golden["n_state_entries"], "state-dict entries added or removed"
    assert _count(shapes) == golden["n_parameters"], "state-dict shapes changed"
    got, want = torch.tensor(logits), torch.tensor(golden["logits"])
    assert got.shape == want.shape
    assert want.abs().max() > 0.1  # the check means something: logits far from zero ...
    assert (want[0] - want[1]).abs().max() > 0.05  # ... and depending on the image
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4), f"max difference {(got - want).abs().max():.3g}"
