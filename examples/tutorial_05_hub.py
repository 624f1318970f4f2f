"""Tutorial 5: save a trained model, load it back, and publish it to the Hugging Face Hub.

Runs offline in about 10 s on 2 CPU cores. It trains the tiny ``effnet_test_tf`` for two epochs on
the bundled Figshare slices, saves it with a model card, reloads it (with brainvit-effnet and
with plain timm), and loads it once more the way a Hub download would: from a Hugging Face cache
laid out in a temporary folder, with ``HF_HUB_OFFLINE=1``. Nothing is uploaded; the upload is
one call, ``bve.push_to_hub(model, "your-org/your-model")``, shown in the tutorial.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: this example never downloads

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import timm
import torch

import brainvit_effnet as bve
from brainvit_effnet.data import create_transforms, load_sample

torch.manual_seed(0)  # reproducible initial weights
model = bve.create_model("effnet_test_tf", num_classes=3, label_names=bve.TUMOUR_TYPE_CLASSES)
train_tf, eval_tf = create_transforms(model)
test = load_sample([5], transform=eval_tf, cache=True)
batch = torch.stack([test[i][0] for i in range(8)])

with tempfile.TemporaryDirectory() as tmp:
    tmp_path = Path(tmp)
    config = bve.TrainConfig(
        epochs=2,
        batch_size=16,
        lr=3e-3,
        backbone_lr_scale=1.0,
        output_dir=str(tmp_path / "run"),
        progress=False,
    )
    trainer = bve.Trainer(model, config)
    trainer.fit(load_sample([1, 2, 3], transform=train_tf, cache=True), load_sample([4], transform=eval_tf))
    report = trainer.evaluate(test)

    # 1. Save: weights (safetensors), config.json (timm's schema) and README.md (the model card).
    folder = bve.save_pretrained(
        model,
        tmp_path / "brain-model",
        model_card={
            "training_data": "Bundled Figshare sample (Cheng et al., CC BY 4.0): 60 slices, folds 1-3.",
            "split_protocol": "Official patient-disjoint folds: 1-3 train, 4 validates, 5 tests (18 slices).",
            "metrics": {"accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro_f1"], 4)},
            "notes": "Tutorial model: two epochs from scratch. Useless for anything but this tutorial.",
        },
    )
    print("saved:", sorted(p.name for p in folder.iterdir()))
    saved_config = json.loads((folder / "config.json").read_text())
    print("config.json:", {k: saved_config[k] for k in ("architecture", "num_classes", "label_names")})
    card = (folder / "README.md").read_text()
    print("model card sections:", [line[3:] for line in card.splitlines() if line.startswith("## ")])

    # 2. Load it back: same architecture, same weights, same labels, so the same logits.
    # The Trainer trained it channels-last (faster on CPU); a loaded model is in the default layout,
    # and the two layouts run different convolution kernels. Same layout, same arithmetic.
    model.eval().to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        expected = model(batch)
        reloaded = bve.from_pretrained(folder).eval()
        print("from_pretrained: identical logits:", torch.equal(reloaded(batch), expected))
        print("labels:", reloaded.pretrained_cfg["label_names"])
        with_timm = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()  # timm reads it too
        print("timm local-dir: identical logits:", torch.equal(with_timm(batch), expected))

    # 3. What a download from the Hub gives: the same three files in the Hugging Face cache layout
    #    (blobs named by content hash, a snapshot per commit, refs/main pointing at it).
    cache = tmp_path / "hf-cache"
    repo = cache / "models--your-org--brain-model"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "blobs").mkdir()
    for name in ("model.safetensors", "config.json", "README.md"):
        blob = repo / "blobs" / hashlib.sha256((folder / name).read_bytes()).hexdigest()
        shutil.copyfile(folder / name, blob)
        (repo / "snapshots" / commit / name).symlink_to(os.path.relpath(blob, repo / "snapshots" / commit))
    from_hub = bve.from_pretrained("your-org/brain-model", cache_dir=cache).eval()
    with torch.no_grad():
        print(
            "from_pretrained('your-org/brain-model'): identical logits:",
            torch.equal(from_hub(batch), expected),
        )

    # 4. Reuse the trained weights for another label set: the head is re-initialised (with a
    #    warning), every other tensor is loaded and must fit.
    four_class = bve.from_pretrained(folder, num_classes=4, label_names=bve.BRAIN_TUMOUR_CLASSES)
    print("4-class model from the 3-class one:", four_class.pretrained_cfg["label_names"])
