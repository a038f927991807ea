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

Importing :mod:`analysis` loads nothing heavy: each name is imported from its module
(:mod:`analysis.thresholds`, :mod:`analysis.figures`) when it is first used, so that
refitting a sweep (``persona-sim threshold``) does not load matplotlib or numba.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["fit_thresholds", "finite_size_scaling", "fit_logistic", "make_figures", "read_sweep", "SweepData",
           "SweepGroup"]

#: Where each public name lives.
_HOMES = {"make_figures": "figures", **{name: "thresholds" for name in __all__ if name != "make_figures"}}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
