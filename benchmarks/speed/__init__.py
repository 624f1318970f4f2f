"""The throughput benchmark as a package, one job per module (``benchmarks/throughput.py`` runs it).

* :mod:`speed.config`: sizes, default and ``--quick`` settings, targets, paths;
* :mod:`speed.cli`: the options, in groups, and the defaults they resolve to; the recorded settings;
* :mod:`speed.modes`: execution modes (``bf16+channels_last+compile`` ...);
* :mod:`speed.models`: the models of a size group and their input size;
* :mod:`speed.timing`: the clock, round-robin order, percentiles, rounding;
* :mod:`speed.runner`: the timed phases of one mode (inference, latency, training, CUDA memory);
* :mod:`speed.memory`: CPU peak memory, measured in a fresh subprocess;
* :mod:`speed.sizes`: one size group through every mode;
* :mod:`speed.exports`: ONNX/TorchScript export, parity, ONNX Runtime against eager torch;
* :mod:`speed.summary`: ratios, best modes, targets, noisy timings;
* :mod:`speed.page`: the JSON as Markdown, for the file beside it and the docs page (standard library only);
* :mod:`speed.run`: the run itself, the JSON and the Markdown.

The method is described in ``benchmarks/throughput.py``'s docstring. Modules import their sibling
``_common`` from ``benchmarks/``, which is on ``sys.path`` when a script there runs.
"""
