"""Tutorial 2: a Kaggle folder dataset, checked for duplicates and train/test leakage before training.

Runs offline in about 10 s on 2 CPU cores. It writes bundled Figshare slices as JPEGs into a small
tree with the layout of Bhuvaji's "Brain Tumor Classification (MRI)" release
(``Training|Testing/<class>_tumor/``), plants three leaks in its test folder (a byte-identical
copy, a resized and re-encoded copy, and a copy filed under the wrong class), finds them, drops
the leaked images from training, and trains the tiny ``effnet_test_tf`` for two epochs. For the
real release, point ``BhuvajiDataset`` at the downloaded folder and skip step 1.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch
from PIL import Image, ImageEnhance

import brainvit_effnet as bve
from brainvit_effnet.data import (
    BhuvajiDataset,
    create_transforms,
    drop_duplicates_of,
    leakage_report,
    load_sample,
)

with tempfile.TemporaryDirectory() as tmp:
    root = Path(tmp) / "brain-tumor-classification-mri"

    # 1. A miniature Bhuvaji tree from bundled slices: folds 1-3 -> Training, fold 5 -> Testing.
    prefix = {"glioma": "gg", "meningioma": "m", "pituitary": "p"}
    for split, folds in (("Training", [1, 2, 3]), ("Testing", [5])):
        for n, record in enumerate(load_sample(folds).records, start=1):
            folder = root / split / f"{record.class_name}_tumor"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{prefix[record.class_name]} ({n}).jpg" if split == "Training" else f"image({n}).jpg"
            Image.open(record.source).convert("L").save(folder / name, quality=95)

    # The leaks found in real Kaggle releases, planted in Testing:
    train_dir, test_dir = root / "Training", root / "Testing"
    shutil.copyfile(train_dir / "glioma_tumor" / "gg (1).jpg", test_dir / "glioma_tumor" / "image(101).jpg")
    with Image.open(train_dir / "pituitary_tumor" / "p (50).jpg") as im:  # resized, brighter, JPEG q75
        copy = ImageEnhance.Brightness(im.resize((128, 128), Image.BICUBIC)).enhance(1.1)
        copy.save(test_dir / "pituitary_tumor" / "image(102).jpg", quality=75)
    shutil.copyfile(  # the same picture under another class
        train_dir / "glioma_tumor" / "gg (2).jpg", test_dir / "meningioma_tumor" / "image(103).jpg"
    )

    # 2. Read the tree. Folder names map to canonical classes; Training/Testing become record.split.
    train = BhuvajiDataset(root, split="train")
    test = BhuvajiDataset(root, split="test")
    print("train:", train)
    print("test: ", test)

    # 3. The leakage check: every test image against every training image.
    report = leakage_report(train.image_refs(), test.image_refs())
    print(report.summary())
    for pair in report.pairs:
        print(
            f"  {pair.kind:5s} {Path(pair.query.path).relative_to(root)} ~ "
            f"{Path(pair.reference.path).relative_to(root)}  pHash distance {pair.distance}, "
            f"similarity {pair.similarity:.4f}, labels agree: {pair.labels_agree}"
        )
    (Path(tmp) / "leakage.md").write_text(report.to_markdown())  # the same, as a Markdown report

    # 4. Drop every training image that has a copy in the test set, then train on what is left.
    kept = {ref.name for ref in drop_duplicates_of(test.image_refs(), train.image_refs(), report=report)}
    clean_idx = [i for i, record in enumerate(train.records) if record.source in kept]
    print(f"training images: {len(train)} -> {len(clean_idx)} after dropping the leaked ones")

    torch.manual_seed(0)  # reproducible initial weights
    model = bve.create_model("effnet_test_tf", num_classes=len(train.classes), label_names=train.classes)
    train_tf, eval_tf = create_transforms(model)
    config = bve.TrainConfig(
        epochs=2,
        batch_size=16,
        lr=3e-3,
        backbone_lr_scale=1.0,
        output_dir=str(Path(tmp) / "run"),
        progress=False,
    )
    trainer = bve.Trainer(model, config)
    trainer.fit(train.subset(clean_idx, transform=train_tf))
    result = trainer.evaluate(BhuvajiDataset(root, split="test", transform=eval_tf))
    print(f"test accuracy {result['accuracy']:.3f} on {result['n']} images (tiny model, 2 epochs)")
