"""Quickstart: build a model, classify bundled slices, look at attention, save and reload.

Runs offline in a few seconds: ``python examples/quickstart.py``. The tiny ``effnet_test_tf``
stands in for ``effnet_b2_tf``; swap the name (and use ``pretrained=True`` with network access or
a populated Hugging Face cache) for the real thing.
"""

from __future__ import annotations

import tempfile

import torch

import brainvit_effnet as bve
from brainvit_effnet.data import create_transforms, load_sample

print(bve.list_models("effnet_b*_tf"))

model = bve.create_model("effnet_test_tf", num_classes=3, label_names=bve.TUMOUR_TYPE_CLASSES).eval()

# The model's own preprocessing (native size, ImageNet mean/std) after the study's brain crop.
_, eval_transform = create_transforms(model)
test = load_sample(folds=[5], transform=eval_transform)  # held-out patients of the bundled sample
batch = torch.stack([test[i][0] for i in range(4)])

with torch.inference_mode(), model.record_attention() as maps:
    probs = model(batch).softmax(-1)
print("attention maps:", [tuple(m.shape) for m in maps])  # one (B, heads, T, T) per layer
labels = model.pretrained_cfg["label_names"]
for record, p in zip(test.records[:4], probs, strict=True):
    print(
        f"{record.source.rsplit('/', 1)[-1]}: true={record.class_name} "
        f"predicted={labels[int(p.argmax())]} (untrained)"
    )

with tempfile.TemporaryDirectory() as folder:
    bve.save_pretrained(model, folder, model_card={"training_data": "none (example)"})
    reloaded = bve.from_pretrained(folder).eval()
    with torch.inference_mode():
        assert torch.equal(reloaded(batch), model(batch))
print("save/load round trip: identical logits")
