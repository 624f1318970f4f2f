"""Benchmark: data-loader throughput on the Figshare release against the model's training speed.

A benchmark, not a test: it measures and writes JSON; it asserts nothing. Numbers depend on the
machine and its load, so read the ratios taken in the same run.

What it measures, at the input size of ``--model`` (``effnet_b2_tf``: 260 px):

* loader img/s through a ``DataLoader`` (``--workers``, default 2; batch ``--batch-size``) over
  ``FigshareDataset(root, crop=True)``, for the train transform (resize + the study's on-the-fly
  augmentation) and the eval transform (resize + normalise), each without and with the in-memory
  cache of decoded, brain-cropped slices (the cache is warmed first, its fill time reported);
* the CPU training throughput of the model (forward + backward + AdamW step, batch 8, fp32) in the
  same run, as the baseline of the first target.

Targets (from the data issue): train loading >= 10x the model's CPU training img/s; eval loading
>= 500 img/s with the cache warm. Timing starts after the first batch, so worker start-up is
excluded; ``--limit`` caps the images used (default 1024) to keep the run to a few minutes.

Run from the repository root::

    python benchmarks/bench_loader.py --root ../shared/data/figshare
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from _common import machine_info, write_json
from torch.utils.data import DataLoader

import brainvit_effnet as bve
from brainvit_effnet.data import FigshareDataset, create_transforms


def loader_throughput(dataset: Any, batch_size: int, workers: int, batches: int) -> dict[str, float]:
    """img/s over ``batches`` batches, not counting the first (worker start-up, first-touch costs)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True)
    it = iter(loader)
    next(it)
    start, images = time.perf_counter(), 0
    for _ in range(batches):
        try:
            images += len(next(it)[1])
        except StopIteration:
            break
    seconds = time.perf_counter() - start
    return {"images": images, "seconds": round(seconds, 3), "img_per_s": round(images / seconds, 1)}


def training_throughput(model_name: str, steps: int, batch_size: int = 8) -> dict[str, float]:
    model = bve.create_model(model_name, num_classes=3).train()
    size = model.pretrained_cfg["input_size"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, y = torch.randn(batch_size, *size), torch.randint(0, 3, (batch_size,))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    return {"batch_size": batch_size, "steps": steps, "img_per_s": round(steps * batch_size / seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="../shared/data/figshare", help="Figshare folder (any layout)")
    parser.add_argument("--model", default="effnet_b2_tf")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per configuration")
    parser.add_argument("--limit", type=int, default=1024, help="images used (0: all)")
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "loader_cpu.json"))
    args = parser.parse_args(argv)

    if not Path(args.root).is_dir():
        print(f"{args.root} does not exist: pass --root with a Figshare folder.", file=sys.stderr)
        return 2
    model = bve.create_model(args.model, num_classes=3)
    train_tf, eval_tf = create_transforms(model)
    base = FigshareDataset(args.root, crop=True)
    indices = range(len(base)) if args.limit <= 0 else range(min(args.limit, len(base)))

    results: dict[str, Any] = {}
    for cached in (False, True):
        dataset = FigshareDataset(args.root, crop=True, cache=cached).subset(indices)
        key = "cached" if cached else "uncached"
        if cached:
            start = time.perf_counter()
            dataset.warm_cache()
            results["cache_fill"] = {
                "images": len(dataset),
                "seconds": round(time.perf_counter() - start, 2),
                "img_per_s": round(len(dataset) / (time.perf_counter() - start), 1),
            }
        for mode, transform in (("train", train_tf), ("eval", eval_tf)):
            dataset.transform = transform
            results[f"{mode}_{key}"] = loader_throughput(dataset, args.batch_size, args.workers, args.batches)
            print(f"{mode:>5} {key:>8}: {results[f'{mode}_{key}']['img_per_s']:8.1f} img/s", flush=True)

    training = training_throughput(args.model, args.train_steps)
    print(f"{args.model} CPU training: {training['img_per_s']:.2f} img/s")
    train_ratio = results["train_uncached"]["img_per_s"] / training["img_per_s"]
    payload = {
        "machine": machine_info(torch.device("cpu")),
        "settings": {**vars(args), "input_size": model.pretrained_cfg["input_size"], "images": len(indices)},
        "loader": results,
        "training": training,
        "targets": {
            "train_loading_vs_training_ratio": round(train_ratio, 1),
            "train_loading_target_met": train_ratio >= 10,
            "eval_cached_img_per_s": results["eval_cached"]["img_per_s"],
            "eval_cached_target_met": results["eval_cached"]["img_per_s"] >= 500,
        },
    }
    out = Path(args.out)
    write_json(out, payload)
    print(json.dumps(payload["targets"], indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
