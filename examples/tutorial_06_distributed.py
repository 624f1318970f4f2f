"""Tutorial 6: distributed data-parallel training with torchrun.

Runs offline in about 20 s on 2 CPU cores. Started normally, this script launches itself under
``torchrun`` with two CPU processes (the gloo backend). Each process trains the tiny
``effnet_test_tf`` for two epochs on half of every batch of the bundled Figshare slices, and
reports what it saw; the launcher prints the reports and the files, which only rank 0 writes.
On a machine with GPUs the same training code runs with one process per GPU (NCCL):
``torchrun --standalone --nproc_per_node=4 train.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import brainvit_effnet as bve
from brainvit_effnet.data import create_transforms, load_sample
from brainvit_effnet.train import distributed as dist


def train_on_this_rank(out: Path) -> None:
    """What every process runs: ordinary single-process training code, unchanged."""
    torch.manual_seed(0)  # every rank starts from the same weights (DDP also broadcasts rank 0's)
    model = bve.create_model("effnet_test_tf", num_classes=3, label_names=bve.TUMOUR_TYPE_CLASSES)
    train_tf, eval_tf = create_transforms(model)
    config = bve.TrainConfig(
        epochs=2,
        batch_size=8,  # per process: the global batch is 8 x the number of processes
        lr=3e-3,
        backbone_lr_scale=1.0,
        output_dir=str(out / "run"),
        progress=False,
    )
    trainer = bve.Trainer(model, config)  # fit() starts the process group, wraps the model in DDP
    result = trainer.fit(
        load_sample([1, 2, 3], transform=train_tf, cache=True),
        load_sample([4], transform=eval_tf, cache=True),
    )
    test = trainer.evaluate(load_sample([5], transform=eval_tf))  # sharded, gathered on every rank
    report = {
        "rank": dist.rank(),
        "world_size": dist.world_size(),
        "steps": trainer.progress.step,
        "val_accuracy": [round(epoch["val_accuracy"], 3) for epoch in result["history"]],
        "test_n": test["n"],
        "test_accuracy": round(test["accuracy"], 3),
        "weights": float(sum(p.detach().double().sum() for p in trainer.model.parameters())),
    }
    (out / f"rank{dist.rank()}.json").write_text(json.dumps(report))
    dist.shutdown()  # wait for every rank, then end the process group


def launch(out: Path, nproc: int = 2, timeout: float = 180) -> None:
    """Run this file under torchrun; stop torchrun and its workers if they take too long."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",  # the module behind the `torchrun` command
        "--standalone",  # a single machine: rendezvous on localhost, no master address needed
        f"--nproc_per_node={nproc}",
        __file__,
        str(out),
    ]
    print("$ torchrun --standalone", f"--nproc_per_node={nproc}", Path(__file__).name, "<out>")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}  # one CPU thread per process
    log = out / "torchrun.log"
    with log.open("w") as output, subprocess.Popen(command, env=env, stdout=output, stderr=output) as process:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()  # on SIGTERM torchrun stops its workers, then exits
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
    if process.returncode != 0:
        raise RuntimeError(f"torchrun failed with exit code {process.returncode}:\n{log.read_text()[-3000:]}")


if __name__ == "__main__":
    if "LOCAL_RANK" in os.environ:  # started by torchrun: this process is one of the workers
        train_on_this_rank(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            start = time.perf_counter()
            launch(out)
            print(f"torchrun finished in {time.perf_counter() - start:.0f} s")
            reports = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
            for r in reports:
                print(
                    f"rank {r['rank']} of {r['world_size']}: {r['steps']} optimiser steps, "
                    f"val accuracy per epoch {r['val_accuracy']}, "
                    f"test accuracy {r['test_accuracy']} on {r['test_n']} slices"
                )
            print("identical weights on both ranks:", reports[0]["weights"] == reports[1]["weights"])
            run = out / "run"
            print("written (by rank 0 only):", sorted(p.name for p in run.iterdir()))
            print("log.jsonl lines (one per epoch):", len((run / "log.jsonl").read_text().splitlines()))
