"""The sampled parameters of a sensitivity analysis: the factors, their units and the
default box (docs/model.md §11).

A factor is a parameter sampled uniformly between two bounds in its own unit:
``NAME=LO:HI`` (the parameter), ``NAME=log:LO:HI`` (its logarithm: rates that span
decades) or ``NAME=auc:LO:HI`` / ``NAME=sad:LO:HI`` (a measured quantity, resolved by
:func:`sim.params.resolve_measured`). This module is light (numpy and the
parameters only), so the command line's help can show the default box without
loading what runs the analysis (:mod:`sim.sensitivity`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import calibration
from .params import PARAMETERS_BY_NAME, ParameterError, resolve_measured, split_assignment

__all__ = ["Factor", "parse_factor", "DEFAULT_BOX", "OUTPUTS", "SIMULATED_OUTPUTS", "METHODS", "SCALES"]

_BY_NAME = PARAMETERS_BY_NAME
#: The outputs, each computed per sample point (sim.meanfield_batch).
OUTPUTS = ("s_star_inf", "threshold_exists", "p_rebel_at")
#: The outputs from simulation (``--simulate``).
SIMULATED_OUTPUTS = ("s_star_sim", "threshold_exists_sim", "p_rebel_at_sim")
METHODS = ("sobol", "morris")
SCALES = ("linear", "log", "auc", "sad")


@dataclass(frozen=True)
class Factor:
    """One sampled parameter: uniform between ``low`` and ``high`` in ``scale``.

    ``scale`` is ``linear`` (the parameter itself), ``log`` (its natural logarithm
    is uniform), or a measured unit of :mod:`sim.calibration` (``auc``, ``sad``).
    """

    name: str
    low: float
    high: float
    scale: str = "linear"

    @property
    def unit_column(self) -> str | None:
        """The samples' column of the measured quantity (``NAME_auc``), if any."""
        return f"{self.name}_{self.scale}" if self.scale in calibration.PREFIXES else None

    def sampler_bounds(self) -> list[float]:
        if self.scale == "log":
            return [math.log(self.low), math.log(self.high)]
        return [self.low, self.high]

    def values(self, sampled: np.ndarray) -> np.ndarray:
        """The parameter's values for sampler-space values."""
        if self.scale == "log":
            out = np.exp(sampled)
        elif self.scale in calibration.PREFIXES:
            self.values_at_ends()  # the ends resolve (checked once), so every value between them does
            out = np.asarray(calibration.PREFIXES[self.scale][3](np.asarray(sampled, dtype=float)), dtype=float)
        else:
            out = np.asarray(sampled, dtype=float)
        if _BY_NAME[self.name].kind is int:
            return np.rint(out).astype(np.int64)
        # keep inside the bounds the sampler was given (exp(log x) can miss x by an ulp)
        lo, hi = self.values_at_ends()
        return np.clip(out, lo, hi)

    def values_at_ends(self) -> tuple[float, float]:
        if self.scale in calibration.PREFIXES:
            return (resolve_measured(self.name, self.scale, self.low), resolve_measured(self.name, self.scale, self.high))
        return self.low, self.high

    def text(self) -> str:
        prefix = "" if self.scale == "linear" else f"{self.scale}:"
        return f"{self.name}={prefix}{self.low:g}:{self.high:g}"


def parse_factor(text: str) -> Factor:
    """Parse ``NAME=LO:HI``, ``NAME=log:LO:HI`` or ``NAME=auc:LO:HI`` (``--bounds``).

    >>> parse_factor("candid_plant_rate=log:0.001:0.05")
    Factor(name='candid_plant_rate', low=0.001, high=0.05, scale='log')
    >>> parse_factor("synthetic_detectability=auc:0.6:0.95").values_at_ends()[1].__round__(4)
    2.3262
    """
    allowed = "allowed is NAME=LO:HI, NAME=log:LO:HI (LO > 0) or NAME=auc:LO:HI / NAME=sad:LO:HI with LO < HI"
    name, spec = split_assignment("--bounds", text, allowed)
    spec_param = _BY_NAME[name]
    if spec_param.kind is str:
        raise ParameterError(f"--bounds {name}: {name} is not a number and cannot be sampled: allowed is a "
                             "numeric parameter")
    parts = [p.strip() for p in spec.split(":")]
    scale = "linear"
    if len(parts) == 3:
        scale = parts[0].lower()
        parts = parts[1:]
        if scale not in ("log", *calibration.PREFIXES):
            raise ParameterError(f"--bounds {text!r}: unknown scale {scale!r}: {allowed}")
    try:
        if len(parts) != 2:
            raise ValueError
        lo, hi = float(parts[0]), float(parts[1])
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError
    except ValueError:
        raise ParameterError(f"--bounds {text!r} is not allowed: {allowed}") from None
    if scale == "log" and lo <= 0:
        raise ParameterError(f"--bounds {text!r} is not allowed: a log scale needs LO > 0")
    factor = Factor(name, lo, hi, scale)
    ends = factor.values_at_ends()  # a measured unit is resolved (and checked) here
    for end in ends:
        try:
            spec_param.validate(end if spec_param.kind is float else int(round(end)))
        except ParameterError as err:
            raise ParameterError(f"--bounds {text!r}: {err}") from None
    return factor


#: The default box: the learner's assumption constants and the corpus parameters,
#: each range argued in docs/model.md §11.
DEFAULT_BOX: tuple[Factor, ...] = (
    Factor("deceptive_plant_rate", 0.15, 0.5),
    Factor("candid_plant_rate", 0.001, 0.05, "log"),
    Factor("synthetic_detectability", 0.75, 0.995, "auc"),
    Factor("believed_planted_cited_rate", 0.005, 0.1, "log"),
    Factor("planted_fraction", round(calibration.PLANTED_SHARE_RANGE[0], 3),
           round(calibration.PLANTED_SHARE_RANGE[1], 3)),
    Factor("prior_deceptive", 0.01, 0.3, "log"),
    Factor("citations_per_document", 1, 6),
    Factor("control_likelihood_ratio", 1.0, 2.0, "log"),
)
