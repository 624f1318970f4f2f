"""Data: adapters for the public brain-tumour MRI releases, preprocessing, splits, leakage checks.

Every dataset is a torch ``Dataset`` yielding ``(image_tensor, label)`` through an optional
transform, with ``.classes``, ``.targets``, ``.groups`` and per-sample ``.records``.

Examples:
    >>> import brainvit_effnet as bve
    >>> from brainvit_effnet.data import create_transforms, load_sample
    >>> model = bve.create_model("effnet_test_tf", num_classes=3)
    >>> train_tf, eval_tf = create_transforms(model)
    >>> train = load_sample(folds=[1, 2, 3], transform=train_tf)
    >>> test = load_sample(folds=[5], transform=eval_tf)
"""

from .base import Decoded, MRIDataset, SampleRecord
from .br35h import Br35HDataset, read_yolo_boxes
from .duplicates import (
    DuplicatePair,
    DuplicateReport,
    ImageRef,
    compute_fingerprints,
    drop_duplicates_of,
    find_duplicates,
    leakage_report,
)
from .figshare import FIGSHARE_ZIP_PARTS, FigshareDataset
from .folders import (
    CLASS_ALIASES,
    BhuvajiDataset,
    FolderDataset,
    ImageFiles,
    NickparvarDataset,
    canonical_class,
)
from .inference import Preprocess, preprocess_for, preprocessing_of
from .preprocess import brain_bbox, crop_to_brain, to_unit_float
from .sample import SAMPLE_ATTRIBUTION, heldout_root, load_heldout_sample, load_sample, sample_root
from .splits import (
    Split,
    check_no_group_overlap,
    grouped_holdout,
    kfold_splits,
    official_folds_split,
    stratified_group_kfold,
)
from .transforms import MRITransform, create_transforms

__all__ = [
    "CLASS_ALIASES",
    "FIGSHARE_ZIP_PARTS",
    "SAMPLE_ATTRIBUTION",
    "BhuvajiDataset",
    "Br35HDataset",
    "Decoded",
    "DuplicatePair",
    "DuplicateReport",
    "FigshareDataset",
    "FolderDataset",
    "ImageFiles",
    "ImageRef",
    "MRIDataset",
    "MRITransform",
    "NickparvarDataset",
    "Preprocess",
    "SampleRecord",
    "Split",
    "brain_bbox",
    "canonical_class",
    "check_no_group_overlap",
    "compute_fingerprints",
    "create_transforms",
    "crop_to_brain",
    "drop_duplicates_of",
    "find_duplicates",
    "grouped_holdout",
    "heldout_root",
    "kfold_splits",
    "leakage_report",
    "load_heldout_sample",
    "load_sample",
    "official_folds_split",
    "preprocess_for",
    "preprocessing_of",
    "read_yolo_boxes",
    "sample_root",
    "stratified_group_kfold",
    "to_unit_float",
]
