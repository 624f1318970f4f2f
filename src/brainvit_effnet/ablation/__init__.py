"""Ablation studies: a factorial grid of experiment variants, repeated over folds and seeds, summarised.

An :class:`AblationStudy` names a base :class:`~brainvit_effnet.experiment.ExperimentConfig` and
*factors*, each with its *levels*. Every combination of levels is a *cell*; every cell is trained
and tested once per *repeat*, a (test fold, seed) pair on the official patient-disjoint folds
(each fold is the test set once and the next one validates, as in
:func:`~brainvit_effnet.experiment.cross_validate`). :func:`run_ablation` runs what is missing and
writes ``ablation.json`` and ``ablation.md``.

Factors:

* ``"transformer"`` (``False``/``True``): the base model's size as the baseline ``effnet_bX`` or
  the transformer-enhanced ``effnet_bX_tf`` (a pretrained tag such as ``.in1k`` is kept);
* ``"label_smoothing"`` (numbers in ``[0, 1)``): cross-entropy for 0, label-smoothed cross-entropy
  otherwise (for a focal base loss, its ``smoothing``);
* ``"cbam"`` (``False``/``True``): a CBAM block after the backbone (``model_kwargs["cbam"]``);
* any dotted key of the experiment config, e.g. ``"train.lr"``, ``"model_kwargs.depth"``,
  ``"augment.rotation"``.

Cells whose model cannot be built (a model option one family lacks) are skipped and the reason is
recorded; the other cells still run.

Layout of ``output_dir``::

    study.json                           the study as last run
    runs/<cell>/fold_<k>_seed_<s>/       one experiment: run_config.json, log.jsonl, model/,
                                         report/, and result.json once it has finished
    incomplete/                          unfinished runs set aside before they were redone
    ablation.json, ablation.md           the summary

Rerunning a study is safe: a run with a ``result.json`` is reused, never retrained or
overwritten (and one whose recorded configuration differs from the study's is an error), an
unfinished run is moved to ``incomplete/`` and redone, and nothing else is deleted.

Statistics (see :func:`summarize_ablation`): per cell, mean, sample standard deviation and a
Student-t 95% interval over the repeats; per factor, the paired difference of each level against
the first level, averaged over the other factors' levels within each repeat, with a t interval
and an exact (or Monte-Carlo) sign-flip permutation p-value over the repeats.

Examples:
    >>> from brainvit_effnet.ablation import AblationStudy, run_ablation
    >>> study = AblationStudy.from_dict({
    ...     "base": {"model": "effnet_test", "train": {"epochs": 1}},
    ...     "factors": {"transformer": [False, True], "label_smoothing": [0.0, 0.1]},
    ...     "folds": [1, 2], "seeds": [0],
    ... })
    >>> [cell.name for cell in study.cells()]  # doctest: +NORMALIZE_WHITESPACE
    ['transformer-off__label_smoothing-0', 'transformer-off__label_smoothing-0.1',
     'transformer-on__label_smoothing-0', 'transformer-on__label_smoothing-0.1']
    >>> result = run_ablation(study)  # doctest: +SKIP
"""

from .grid import DEFAULT_FACTORS, DEFAULT_METRICS, AblationCell, AblationRun, AblationStudy
from .report import ablation_tables, write_ablation_report
from .runner import Runner as Runner
from .runner import run_ablation
from .stats import LOWER_IS_BETTER as LOWER_IS_BETTER
from .stats import summarize_ablation

__all__ = [
    "DEFAULT_FACTORS",
    "DEFAULT_METRICS",
    "AblationCell",
    "AblationRun",
    "AblationStudy",
    "ablation_tables",
    "run_ablation",
    "summarize_ablation",
    "write_ablation_report",
]
