"""Tutorial 8: the study's ablation, transformer x label smoothing x CBAM, over folds and seeds.

Offline, on the bundled sample, in about a minute on 2 CPU cores: a tiny model at 64 px, one
epoch per run, 2 test folds x 1 seed, so 8 cells x 2 repeats = 16 runs. The numbers only show
the mechanics; the real study (tutorial page) uses ``effnet_b2``, the Figshare release, 5 folds
and 3 seeds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from brainvit_effnet.ablation import AblationStudy, ablation_tables, run_ablation

with tempfile.TemporaryDirectory() as tmp:
    study = AblationStudy.from_dict(
        {
            "base": {
                "model": "effnet_test",  # the size; the transformer factor picks effnet_test(_tf)
                "data": "sample",
                "model_kwargs": {"img_size": 64},
                "augment": {"augment": False},
                "bootstrap": 0,
                "train": {"epochs": 1, "batch_size": 16, "lr": 3e-3, "backbone_lr_scale": 1.0},
            },
            "factors": {"transformer": [False, True], "label_smoothing": [0.0, 0.1], "cbam": [False, True]},
            "folds": [1, 2],  # test folds; the next fold validates, the other three train
            "seeds": [0],
            "metrics": ["accuracy", "macro_f1", "ece"],
            "output_dir": str(Path(tmp) / "ablation"),
        }
    )
    result = run_ablation(
        study, on_run=lambda r: print(f"[{r['index']:2d}/{r['total']}] {r['output_dir']}: {r['status']}")
    )
    print()
    print(ablation_tables(result["summary"]))

    # Rerunning the same study trains nothing: every finished run is reused.
    again = run_ablation(study)
    print(f"rerun: {again['counts']}")
    files = result["report_files"]
    print(f"report: {Path(files['markdown']).name} and {Path(files['json']).name} in the study folder")
