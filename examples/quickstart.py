"""Quickstart: build a model, classify the bundled slices, look at attention, save and reload.

Runs offline in a few seconds: ``python examples/quickstart.py``. The tiny ``effnet_test_tf``
stands in for ``effnet_b2_tf``; swap the name (and use ``pretrained=True`` with network access or
a populated Hugging Face cache) for the real thing.
"""

from __future__ import annotations

import tempfile

import torch
from timm.data import create_transform, resolve_model_data_config

import brainvit_effnet as bve
from brainvit_effnet.sample import demo_slices

print(bve.list_models("effnet_b*_tf"))

model = bve.create_model("effnet_test_tf", num_classes=3, label_names=bve.TUMOUR_TYPE_CLASSES).eval()

# The model's own preprocessing: native size, ImageNet mean/std, no centre crop.
transform = create_transform(**resolve_model_data_config(model))
slices = demo_slices()
batch = torch.stack([transform(s.image.convert("RGB")) for s in slices])

with torch.inference_mode(), model.record_attention() as maps:
    probs = model(batch).softmax(-1)
print("attention maps:", [tuple(m.shape) for m in maps])  # one (B, heads, T, T) per layer
labels = model.pretrained_cfg["label_names"]
for s, p in zip(slices, probs, strict=True):
    print(f"{s.name}: true={s.label} predicted={labels[int(p.argmax())]} (untrained model)")

with tempfile.TemporaryDirectory() as folder:
    bve.save_pretrained(model, folder, model_card={"training_data": "none (example)"})
    reloaded = bve.from_pretrained(folder).eval()
    with torch.inference_mode():
        assert torch.equal(reloaded(batch), model(batch))
print("save/load round trip: identical logits")
