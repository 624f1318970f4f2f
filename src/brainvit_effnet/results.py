"""The shapes of what the library returns: evaluation reports, training and experiment results.

Every result is a plain ``dict`` (JSON-serialisable, indexed with ``result["key"]`` as before);
these ``TypedDict`` classes only say which keys it has and what they hold, so a type checker and a
reader both know. The metric names are defined here once: :mod:`~brainvit_effnet.metrics` produces
them, :mod:`~brainvit_effnet.reports` reads them, and the Trainer, experiments and ablations pick
the ones they show from the tuples below.

This module imports nothing of the library (any layer may use it) and nothing heavier than
``typing``.

Examples:
    >>> from brainvit_effnet.results import KEY_METRICS, ClassificationReport
    >>> KEY_METRICS
    ('accuracy', 'balanced_accuracy', 'macro_f1', 'ece')
    >>> "macro_f1" in ClassificationReport.__annotations__
    True
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "CALIBRATION_METRICS",
    "CI_METRICS",
    "HEADLINE_METRICS",
    "KEY_METRICS",
    "LOWER_IS_BETTER",
    "METRIC_LABELS",
    "PER_CLASS_KEYS",
    "RELIABILITY_KEYS",
    "REPORT_KEYS",
    "SCALAR_METRICS",
    "AblationResult",
    "AblationSummary",
    "CVResult",
    "ClassificationReport",
    "ExperimentResult",
    "ExplanationReport",
    "FitResult",
    "MeanStd",
    "MethodScores",
    "PerClassMetrics",
    "Reliability",
    "RelianceReport",
    "RelianceScores",
]

#: Label metrics of a report, in the order reports show them.
HEADLINE_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "roc_auc_macro",
)
#: Calibration metrics of a report (lower is better).
CALIBRATION_METRICS: tuple[str, ...] = ("ece", "nll", "brier")
#: Every scalar metric of a report.
SCALAR_METRICS: tuple[str, ...] = HEADLINE_METRICS + CALIBRATION_METRICS
#: The metrics with bootstrap intervals (``ci95``), also what cross-validation summarises by default.
CI_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc_macro", "ece")
#: The few metrics a run is summed up by: the epoch log (as ``val_*``), the model card, ablations.
KEY_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "macro_f1", "ece")
#: Lower is better for these (calibration errors and losses); higher for every other metric.
LOWER_IS_BETTER: frozenset[str] = frozenset({*CALIBRATION_METRICS, "loss"})
#: How reports title each scalar of a report.
METRIC_LABELS: dict[str, str] = {
    "n": "Samples",
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "macro_precision": "Macro precision",
    "macro_recall": "Macro recall",
    "macro_f1": "Macro F1",
    "roc_auc_macro": "ROC AUC (macro, one-vs-rest)",
    "ece": "ECE (expected calibration error)",
    "nll": "NLL (mean negative log-likelihood)",
    "brier": "Brier score",
}
#: The keys of each class's entry in ``per_class``.
PER_CLASS_KEYS: tuple[str, ...] = ("precision", "recall", "f1", "support", "roc_auc")
#: The keys of ``reliability``.
RELIABILITY_KEYS: tuple[str, ...] = ("bin_edges", "confidence", "accuracy", "count")
#: The keys every classification report has (``ci95``/``ci_unit`` only with a bootstrap).
REPORT_KEYS: tuple[str, ...] = (
    "n",
    "num_classes",
    "class_names",
    *HEADLINE_METRICS[:5],
    "per_class",
    "confusion_matrix",
    "roc_auc_macro",
    *CALIBRATION_METRICS,
    "reliability",
)


class PerClassMetrics(TypedDict):
    """One class's entry in :attr:`ClassificationReport.per_class` (``roc_auc`` NaN if absent)."""

    precision: float
    recall: float
    f1: float
    support: int
    roc_auc: float


class Reliability(TypedDict):
    """A reliability diagram as lists (NaN for empty bins); ``bin_edges`` has one more entry."""

    bin_edges: list[float]
    confidence: list[float]
    accuracy: list[float]
    count: list[int]


class _ReportCore(TypedDict):
    n: int
    num_classes: int
    class_names: list[str]
    accuracy: float
    balanced_accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_class: dict[str, PerClassMetrics]
    confusion_matrix: list[list[int]]
    roc_auc_macro: float
    ece: float
    nll: float
    brier: float
    reliability: Reliability


class ClassificationReport(_ReportCore, total=False):
    """What :func:`~brainvit_effnet.metrics.classification_report` returns (see there for each key).

    The keys of :data:`REPORT_KEYS` are always present. Optional ones: ``ci95``
    (``{metric: [low, high]}`` for :data:`CI_METRICS`) and ``ci_unit`` (``"image"``, ``"group"``
    or ``"patient"``) with a bootstrap; ``loss`` (= ``nll``) from
    :meth:`~brainvit_effnet.Trainer.evaluate`; ``test_fold`` in a cross-validation's fold reports.
    """

    ci95: dict[str, list[float]]
    ci_unit: str
    loss: float
    test_fold: int


class MeanStd(TypedDict):
    """One metric across folds: mean and sample standard deviation (NaN for a single fold)."""

    mean: float
    std: float


class FitResult(TypedDict):
    """What :meth:`~brainvit_effnet.Trainer.fit` returns.

    Attributes:
        history: One dict per epoch (the lines of ``log.jsonl``).
        best_epoch: The epoch (from 1) with the best ``monitor`` value; the last one without
            validation data; ``None`` if no epoch finished.
        best: That best ``monitor`` value (``None`` without validation data).
        monitor: The monitored log key (``TrainConfig.monitor``).
        checkpoints: ``{"best": folder, "last": folder}``.
        stopped_early: Early stopping ended the run.
        interrupted: A signal (SIGINT/SIGTERM) stopped the run; ``checkpoints["last"]`` resumes it.
        signal: That signal's name (e.g. ``"SIGTERM"``), or ``None``.
    """

    history: list[dict[str, Any]]
    best_epoch: int | None
    best: float | None
    monitor: str
    checkpoints: dict[str, str]
    stopped_early: bool
    interrupted: bool
    signal: str | None


class ExperimentResult(TypedDict):
    """What :func:`~brainvit_effnet.experiment.run_experiment` returns.

    Attributes:
        output_dir: The run folder.
        model_dir: The saved best model (``save_pretrained`` layout).
        report_files: Name -> path of each report file (empty on ranks other than 0).
        test: The held-out test report.
        fit: The training result.
        sizes: Slice counts ``{"train", "val", "test"}``.
        preprocess_seconds: Time taken to decode and crop every slice into the cache (``cache``),
            or to check the files otherwise.
    """

    output_dir: str
    model_dir: str
    report_files: dict[str, str]
    test: ClassificationReport
    fit: FitResult
    sizes: dict[str, int]
    preprocess_seconds: float


class CVResult(TypedDict):
    """What :func:`~brainvit_effnet.experiment.cross_validate` returns.

    Attributes:
        summary: ``{metric: {"mean", "std"}}`` over the folds.
        folds: Each fold's test report, with its ``test_fold``.
        report_files: Name -> path of ``cv_report.json``/``.md`` (empty on ranks other than 0).
    """

    summary: dict[str, MeanStd]
    folds: list[ClassificationReport]
    report_files: dict[str, str]


class _AblationSummaryCore(TypedDict):
    factors: dict[str, list[Any]]
    metrics: list[str]
    lower_is_better: list[str]
    confidence: float
    n_runs: int
    repeats: list[list[int]]
    cells: list[dict[str, Any]]
    effects: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    method: str


class AblationSummary(_AblationSummaryCore, total=False):
    """What :func:`~brainvit_effnet.ablation.summarize_ablation` returns (see there for each key).

    ``cells`` hold each cell's per-metric mean, standard deviation, interval and values;
    ``effects`` each factor level's paired main effect. :func:`~brainvit_effnet.ablation.run_ablation`
    adds ``settings`` (what the study held fixed), which the report prints.
    """

    settings: dict[str, Any]


class AblationResult(TypedDict):
    """What :func:`~brainvit_effnet.ablation.run_ablation` returns.

    Attributes:
        summary: The study's statistics (:class:`AblationSummary`).
        report_files: ``{"json", "markdown"}`` paths (empty while other lanes' runs are pending).
        runs: Each run's record (cell, levels, fold, seed, metrics, timing).
        counts: ``{"trained", "redone", "reused", "pending"}`` run counts.
    """

    summary: AblationSummary
    report_files: dict[str, str]
    runs: list[dict[str, Any]]
    counts: dict[str, int]


class MethodScores(TypedDict):
    """One explanation method's scores: the means over all slices, and per class (with ``n``)."""

    overall: dict[str, float]
    per_class: dict[str, dict[str, float]]


class ExplanationReport(TypedDict):
    """What :func:`~brainvit_effnet.explain.score_explanations` returns.

    Attributes:
        n: Slices scored.
        mask_fraction: Mean share of a slice the tumour mask covers (the chance level of the
            pointing game and of the energy inside the mask).
        methods: Method name -> its :class:`MethodScores`.
    """

    n: int
    mask_fraction: float
    methods: dict[str, MethodScores]


class RelianceScores(TypedDict):
    """Accuracy of one group of slices (all, or one class) with and without parts hidden.

    Attributes:
        n: Slices.
        clean: Accuracy on the slices as they are.
        tumour_hidden: Accuracy with the tumour blacked out.
        tumour_drop: ``clean - tumour_hidden``.
        n_control: Slices where a same-shaped region could be placed inside the brain, off the tumour.
        clean_control: Accuracy of those slices as they are.
        random_hidden: Accuracy of those slices with that region blacked out instead.
        random_drop: ``clean_control - random_hidden``.
        p_true_clean, p_true_tumour_hidden, p_true_random_hidden: Mean probability given to the true
            class in each version (accuracy counts a near-uniform prediction whose largest value
            happens to be right; this does not).
    """

    n: int
    clean: float
    tumour_hidden: float
    tumour_drop: float
    n_control: int
    clean_control: float
    random_hidden: float
    random_drop: float
    p_true_clean: float
    p_true_tumour_hidden: float
    p_true_random_hidden: float


class RelianceReport(TypedDict):
    """What :func:`~brainvit_effnet.explain.tumour_reliance` returns.

    Attributes:
        n: Slices with a tumour mask.
        seed: Seed of the control regions' placement.
        dilation: Pixels the tumour mask was grown by before it was hidden.
        overall: :class:`RelianceScores` of all slices.
        per_class: Class name -> :class:`RelianceScores`.
    """

    n: int
    seed: int
    dilation: int
    overall: RelianceScores
    per_class: dict[str, RelianceScores]
