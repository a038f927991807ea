"""persona-sim: does fabricated alignment data teach an aware model to distrust its makers?

An agent-based simulation of persona formation under alignment pretraining: a
Bayesian learner reads real, planted and disclosed documents and updates its belief
that its makers are deceptive. The reference model is written up in docs/model.md.

Public API
----------
Params
    The validated parameter set (the names of MODEL.md's defaults table).
simulate
    One training run (Mesa model) -> SimulationResult(final, trajectory, real_cited_rate).
sweep
    A parameter sweep (batched engine, reproducible seeds) -> tidy DataFrame.
meanfield
    Module: ``moments``, ``p_rebel``, ``thresholds``, ``emergence_estimate``.
"""

from . import _cpu  # noqa: F401  (before numba is imported: numba's vector width)
from . import meanfield
from .params import PARAMETERS, ParameterError, Params
from .simulation import SimulationResult, simulate
from .sweeps import sweep
from .version import __version__

__all__ = [
    "Params",
    "ParameterError",
    "PARAMETERS",
    "simulate",
    "SimulationResult",
    "sweep",
    "meanfield",
    "__version__",
]
