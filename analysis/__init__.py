"""Analysis of persona-sim sweeps: rebel thresholds in awareness, and the sweep's figures.

Public API
----------
fit_thresholds
    One row per group of a sweep: the fitted threshold awareness ``s_star`` (where
    P(rebel) = 1/2) with a bootstrap interval, the transition's width, and the mean
    field's thresholds at the group's corpus size and for a large corpus.
finite_size_scaling
    How the width and the distance to the large-corpus threshold shrink with N.
make_figures
    The sweep's PNG figures (P(rebel), phase diagram, uplift, emergence, finite size).
read_sweep
    A sweep's results (a DataFrame, or results.parquet streamed in batches of the
    needed columns) in the compact form both of the above work on (SweepData).
"""

from .figures import make_figures
from .thresholds import SweepData, SweepGroup, fit_logistic, fit_thresholds, finite_size_scaling, read_sweep

__all__ = ["fit_thresholds", "finite_size_scaling", "fit_logistic", "make_figures", "read_sweep", "SweepData",
           "SweepGroup"]
