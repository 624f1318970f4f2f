"""Benchmark: Trainer overhead against a bare PyTorch loop (same model, data, optimiser, one run).

A benchmark, not a test: it measures and writes JSON. Both loops train the same model on the same
in-memory tensors (so data loading is not what is measured) with AdamW, fp32, batch 16; they
alternate in rounds, in ABBA order (bare first in odd rounds, Trainer first in even ones), so
drift of the machine and warm caches favour neither.
The Trainer runs with its defaults that cost time: loss validation, NaN checks, per-step
scheduler, JSON log, and a checkpoint per epoch (written atomically); progress bars are off.

Target (training issue): the Trainer reaches at least 95% of the bare loop's img/s.

Run from the repository root::

    python benchmarks/bench_trainer.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _common import machine_info, write_json
from torch.utils.data import DataLoader, TensorDataset

import brainvit_effnet as bve


def make_data(n: int, size: int) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(n, 3, size, size, generator=g), torch.randint(0, 3, (n,), generator=g))
    data.targets = data.tensors[1].tolist()  # type: ignore[attr-defined]
    return data


def bare_loop(model_name: str, data: TensorDataset, batch_size: int, epochs: int) -> float:
    """img/s of the plainest correct loop: forward, cross-entropy, backward, AdamW step."""
    torch.manual_seed(0)
    model = bve.create_model(model_name, num_classes=3).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
    start, images = time.perf_counter(), 0
    for _ in range(epochs):
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            images += len(y)
    return images / (time.perf_counter() - start)


def trainer_loop(
    model_name: str, data: TensorDataset, batch_size: int, epochs: int, out: Path
) -> tuple[float, float]:
    """img/s of ``Trainer.fit`` (timed from the call to its return, so set-up, per-epoch log and
    checkpoint writes included) and the median img/s of its epochs' training loops (from its log)."""
    torch.manual_seed(0)
    model = bve.create_model(model_name, num_classes=3)
    cfg = bve.TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=1e-3,
        backbone_lr_scale=1.0,
        output_dir=str(out),
        progress=False,
    )
    trainer = bve.Trainer(model, cfg)
    start = time.perf_counter()
    result = trainer.fit(data)
    seconds = time.perf_counter() - start
    return epochs * len(data) / seconds, statistics.median(h["img_per_s"] for h in result["history"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="effnet_b0_tf")
    parser.add_argument("--size", type=int, default=128, help="image side in px")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "trainer_cpu.json"))
    args = parser.parse_args(argv)

    data = make_data(args.images, args.size)
    bare: list[float] = []
    ours: list[float] = []
    loops: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for which in ("bare", "trainer") if r % 2 == 0 else ("trainer", "bare"):  # ABBA order
                if which == "bare":
                    bare.append(bare_loop(args.model, data, args.batch_size, args.epochs))
                else:
                    fit, loop = trainer_loop(
                        args.model, data, args.batch_size, args.epochs, Path(tmp) / f"run{r}"
                    )
                    ours.append(fit)
                    loops.append(loop)
            print(
                f"round {r + 1}: bare {bare[-1]:.1f} img/s, Trainer.fit {ours[-1]:.1f} img/s "
                f"(its epoch loops {loops[-1]:.1f})",
                flush=True,
            )
    ratio = statistics.median(ours) / statistics.median(bare)
    loop_ratio = statistics.median(loops) / statistics.median(bare)
    payload: dict[str, Any] = {
        "machine": machine_info(torch.device("cpu")),
        "settings": vars(args),
        "bare_img_per_s": bare,
        "trainer_img_per_s": ours,
        "trainer_epoch_loop_img_per_s": loops,
        "median_ratio_trainer_vs_bare": round(ratio, 4),
        "median_ratio_trainer_epoch_loop_vs_bare": round(loop_ratio, 4),
        "target_met": ratio >= 0.95,
    }
    out = Path(args.out)
    write_json(out, payload)
    verdict = "met" if ratio >= 0.95 else "NOT met"
    print(f"Trainer.fit / bare loop (median img/s): {ratio:.3f} (target >= 0.95: {verdict})")
    print(f"Trainer epoch loops / bare loop: {loop_ratio:.3f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
