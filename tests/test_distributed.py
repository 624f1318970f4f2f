"""torchrun, 2 CPU processes (gloo): ranks stay in sync and match one process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = r"""
import json, os, sys
import torch
from torch import nn
from torch.utils.data import Dataset
import brainvit_effnet as bve
from brainvit_effnet.train import distributed as dist


class Blobs(Dataset):
    classes = ("a", "b", "c")

    def __init__(self, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.targets = [i % 3 for i in range(n)]
        self.images = torch.rand(n, 3, 16, 16, generator=g)
        for i, t in enumerate(self.targets):
            self.images[i, :, :, t * 5 : (t + 1) * 5] += 1.0

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.images[i], self.targets[i]


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.num_classes = 3
        self.fc = nn.Linear(3 * 16 * 16, 3)

    def forward(self, x):
        return self.fc(x.flatten(1))


out, batch = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
cfg = bve.TrainConfig(epochs=2, batch_size=batch, lr=0.05, optimizer="sgd", scheduler="none", output_dir=out)
trainer = bve.Trainer(Linear(), cfg)
result = trainer.fit(Blobs(32), Blobs(13, seed=1))
weights = trainer.model.fc.weight.detach()
with open(os.path.join(out, f"rank{dist.rank()}.json"), "w") as fh:
    json.dump({"sum": float(weights.sum()), "abs": float(weights.abs().sum()), "world": dist.world_size(),
               "val_n": trainer.evaluate(Blobs(13, seed=1))["n"], "history": result["history"]}, fh)
dist.shutdown()
"""


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "single"), "8"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            str(tmp_path / "ddp"),
            "4",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    ranks = [json.loads((tmp_path / "ddp" / f"rank{r}.json").read_text()) for r in (0, 1)]
    one = json.loads((tmp_path / "single" / "rank0.json").read_text())
    assert ranks[0]["world"] == 2 and one["world"] == 1
    assert ranks[0]["sum"] == ranks[1]["sum"] and ranks[0]["abs"] == ranks[1]["abs"]  # ranks in sync
    assert ranks[0]["sum"] == pytest.approx(one["sum"], rel=1e-4, abs=1e-4)
    assert ranks[0]["abs"] == pytest.approx(one["abs"], rel=1e-4)
    assert ranks[0]["val_n"] == ranks[1]["val_n"] == 13  # sharded evaluation counts every sample once
    for a, b in zip(ranks[0]["history"], one["history"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_accuracy"] == pytest.approx(b["val_accuracy"])
    # only rank 0 writes the run files
    log = (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()
    assert len(log) == 2
    saved = load_file(str(tmp_path / "ddp" / "checkpoints" / "last" / "model.safetensors"))
    assert float(saved["fc.weight"].sum()) == pytest.approx(ranks[0]["sum"], rel=1e-6)
