"""Evaluation: the test sets, fitted baselines, noise statistics, comparison tables and weight releases of the
benchmarks (``benchmarks/*.py`` are thin command lines over this package).

* :mod:`~noiseaug.eval.testsets`: real sRGB test sets, Kodak24 + AWGN, the simulated camera's held-out draws;
* :mod:`~noiseaug.eval.baselines`: per-image and per-(camera, ISO) maximum-likelihood fits;
* :mod:`~noiseaug.eval.stats`: noise correlation, std, KLD / AKLD, means over result rows;
* :mod:`~noiseaug.eval.compare`: every model's synthetic image for a real pair, and their likelihoods;
* :mod:`~noiseaug.eval.tables`: markdown tables and atomic writes of a benchmark's outputs;
* :mod:`~noiseaug.eval.timing`: synchronised timing and the hardware description of the speed benchmarks;
* :mod:`~noiseaug.eval.release`: model cards and released folders.

matplotlib (the ``bench`` extra) is imported only by the functions that draw (:func:`~noiseaug.eval.tables.pyplot`).
"""

from .baselines import (
    AWGN_FIT,
    NLF_FIT,
    PG_FIT,
    SimulatorLikelihood,
    combo_index,
    fit_per_combo,
    fit_per_image,
    fitted_parameters,
    nlf_per_group,
    per_combo_model,
)
from .stats import (
    CORRELATION_RADIUS,
    divergences,
    gaussian_nll_excess,
    lag1_correlation,
    mean_or_none,
    noise_correlation,
    spread,
    std_ratio,
    summarise_rows,
)
from .tables import cell, markdown_table, pyplot, save_figure, write_outputs, write_report
from .testsets import (
    HELD_OUT,
    SIDD_DEV,
    Pairs,
    SimcamDraws,
    clean_raw_crops,
    crop_pair,
    held_out_pairs,
    kodak_awgn_sets,
    limit_sets,
    read_pairs,
    real_srgb_test_sets,
    seeded_generator,
    sidd_dev_pairs,
    simcam_draws,
)

__all__ = [
    "AWGN_FIT",
    "CORRELATION_RADIUS",
    "HELD_OUT",
    "NLF_FIT",
    "PG_FIT",
    "SIDD_DEV",
    "Pairs",
    "SimcamDraws",
    "SimulatorLikelihood",
    "cell",
    "clean_raw_crops",
    "combo_index",
    "crop_pair",
    "divergences",
    "fit_per_combo",
    "fit_per_image",
    "fitted_parameters",
    "gaussian_nll_excess",
    "held_out_pairs",
    "kodak_awgn_sets",
    "lag1_correlation",
    "limit_sets",
    "markdown_table",
    "mean_or_none",
    "nlf_per_group",
    "noise_correlation",
    "per_combo_model",
    "pyplot",
    "read_pairs",
    "real_srgb_test_sets",
    "save_figure",
    "seeded_generator",
    "sidd_dev_pairs",
    "simcam_draws",
    "spread",
    "std_ratio",
    "summarise_rows",
    "write_outputs",
    "write_report",
]
