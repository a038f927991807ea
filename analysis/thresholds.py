"""Where does the rebel persona appear? Thresholds fitted to a sweep's results.

A sweep (``persona-sim sweep``) writes one row per (parameter point, replicate,
awareness level). For every combination of the other swept parameters (a *group*)
this module fits the share of rebel learners against situational awareness with a
logistic curve

    P(rebel | s) = expit((s - s_star) / scale)

by maximum binomial likelihood, and reports the threshold ``s_star`` (where P = 1/2),
the 10%-90% width of the transition, ``2 ln(9) scale``, and a bootstrap interval for
``s_star`` that resamples whole replicates (all awareness levels of a replicate read
one corpus, so its rows are not independent). Next to the fit it puts the mean
field's answers (``docs/model.md``, "Mean field and the threshold"): the
awareness at which the Gaussian approximation of P(rebel) at the group's corpus size
is 1/2, ``s_star_meanfield_n``, and the large-corpus threshold where the mean
increment vanishes, ``s_star_meanfield_inf``.

The fit is only made where it means something. Before fitting, every awareness
level is tested against P = 1/2 with its binomial standard error; a group whose
levels are never significantly on both sides of 1/2 has *no crossing*, and one whose
significant levels change side more than once has *more than one crossing*. Both
give NaN thresholds and say so in the ``note`` column.

:func:`finite_size_scaling` then checks the mean field's prediction that the
transition sharpens like ``1/sqrt(N)`` and that the threshold tends to ``s*_inf``.

A large sweep's table does not fit in memory comfortably (101 awareness levels x 26
planted shares x 400 replicates is a million rows of some fifty columns), and the
analysis needs little of it: per group, counts and sums per (replicate, awareness
level). :func:`read_sweep` streams the table (a DataFrame, or ``results.parquet``
read in record batches of the needed columns) into that compact form,
:class:`SweepData`; :func:`fit_thresholds` and :func:`analysis.make_figures` work on
it alone, whatever they were given, so a table and its file give the same numbers.

References
----------
.. [1] B. Efron and R. J. Tibshirani, An Introduction to the Bootstrap (Chapman &
   Hall, 1993), ch. 13 (percentile intervals) and ch. 8 (resampling the independent
   units of structured data).
.. [2] D. J. Finney, Probit Analysis, 3rd ed. (Cambridge University Press, 1971)
   (maximum-likelihood fits of a sigmoid dose-response curve and its median
   effective dose, here the threshold awareness).
.. [3] E. L. Lehmann and G. Casella, Theory of Point Estimation, 2nd ed. (Springer,
   1998), sec. 1.6 (sufficient statistics: binomial likelihoods depend on the data
   only through the counts).
.. [4] Apache Parquet, "File Format", https://parquet.apache.org/docs/file-format/
   (a file is a sequence of row groups, each a column chunk per column: a reader
   asked for some columns reads only their chunks).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import sys
from statistics import NormalDist

import numpy as np

from sim.params import PARAMETERS, PARAMETERS_BY_NAME, Params

if TYPE_CHECKING:
    import pandas as pd

# pandas, scipy and the mean field (numba) are imported where they are needed, so that
# refitting a sweep's table (``persona-sim threshold``) loads numpy and pyarrow only.

__all__ = [
    "AWARENESS",
    "RESULT_COLUMNS",
    "LogisticFit",
    "fit_logistic",
    "fit_thresholds",
    "finite_size_scaling",
    "swept_parameters",
    "group_columns",
    "params_from_row",
    "meanfield_crossings",
    "read_sweep",
    "SweepData",
    "SweepGroup",
    "MEAN_COLUMNS",
    "BATCH_ROWS",
]

#: The column of a learner's (final) situational awareness.
AWARENESS = "situational_awareness"

#: The columns :func:`fit_thresholds` adds after the group's parameter columns, in order.
RESULT_COLUMNS = (
    "s_star",
    "s_star_low",
    "s_star_high",
    "width",
    "s_star_meanfield_n",
    "s_star_meanfield_inf",
    "n_replicates",
    "n_awareness",
    "note",
)

#: Diagnostic columns after :data:`RESULT_COLUMNS`.
DIAGNOSTIC_COLUMNS = (
    "scale",
    "width_low",
    "width_high",
    "direction",
    "real_cited_rate",
    "awareness_min",
    "awareness_max",
)

#: 10%-90% width of a logistic curve in units of its scale: logit(0.9) - logit(0.1).
WIDTH_PER_SCALE = 2.0 * math.log(9.0)

#: Two-sided level of the per-level test against P(rebel) = 1/2.
_Z_LEVEL = NormalDist().inv_cdf(0.975)


def _expit(z: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + e^-z)`` (scipy.special.expit), with numpy alone."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _log_expit(z: np.ndarray) -> np.ndarray:
    """``log expit(z) = -log(1 + e^-z)`` without overflow or cancellation (numpy's logaddexp)."""
    return -np.logaddexp(0.0, -np.asarray(z, dtype=float))


def _is_frame(value: Any) -> bool:
    """Whether ``value`` is a pandas DataFrame (without importing pandas: if it is not
    imported, nothing is a DataFrame)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.DataFrame)

_PARAMETER_NAMES = tuple(p.name for p in PARAMETERS)
_BY_NAME = PARAMETERS_BY_NAME


# ---------------------------------------------------------------------------------
# Which columns are parameters, which vary, and the Params of a group
# ---------------------------------------------------------------------------------
def swept_parameters(results: pd.DataFrame) -> list[str]:
    """Parameter columns of ``results`` that take more than one value (in declaration order).

    NaN counts as a value (an unset ``sa_start`` next to a set one is a sweep).

    >>> import pandas as pd
    >>> swept_parameters(pd.DataFrame({"n_documents": [10, 10], "planted_fraction": [0.1, 0.2],
    ...                                "situational_awareness": [0.5, 0.6]}))
    ['planted_fraction', 'situational_awareness']
    """
    return [
        name
        for name in _PARAMETER_NAMES
        if name in results.columns and results[name].nunique(dropna=False) > 1
    ]


def group_columns(results: pd.DataFrame, swept: Sequence[str] | None = None) -> list[str]:
    """The columns that define a group: the swept parameters other than awareness.

    ``swept=None`` infers them (:func:`swept_parameters`). A name that is not a
    column of ``results`` is an error naming it.
    """
    def varies(names: Sequence[str]) -> dict[str, bool]:
        inferred = set(swept_parameters(results))
        return {n: n in inferred for n in names}

    return _group_names(list(results.columns), swept, varies)


def params_from_row(row: Mapping[str, Any], **overrides: Any) -> Params:
    """The :class:`sim.Params` of a results row: its parameter columns, defaults elsewhere.

    NaN stands for an unset optional parameter (``sa_start``); numpy scalars and
    whole floats (as parquet may store integers) are accepted.

    >>> params_from_row({"planted_fraction": 0.25, "sa_start": float("nan"), "point": 3}).planted_fraction
    0.25
    """
    values: dict[str, Any] = {}
    for name in _PARAMETER_NAMES:
        if name not in row:
            continue
        value = row[name]
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            value = None
        if value is None and not _BY_NAME[name].optional:
            continue  # a missing value: the default stands
        values[name] = value
    values.update(overrides)
    return Params(**values)


# ---------------------------------------------------------------------------------
# The logistic fit
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogisticFit:
    """A maximum-likelihood logistic curve ``expit(direction (s - s_star) / scale)``.

    Attributes
    ----------
    s_star : float
        Awareness at which the fitted P(rebel) is 1/2.
    scale : float
        Scale of the logistic (> 0).
    direction : int
        +1 if P(rebel) rises with awareness, -1 if it falls.
    converged : bool
        Whether the optimizer reported success.
    at_bound : bool
        Whether the fit ended on a bound (the threshold at an end of the awareness
        range, or a scale at its floor: a transition sharper than the grid resolves).
    """

    s_star: float
    scale: float
    direction: int = 1
    converged: bool = True
    at_bound: bool = False

    @property
    def width(self) -> float:
        """The 10%-90% width of the transition, ``2 ln(9) scale``."""
        return WIDTH_PER_SCALE * self.scale

    def __call__(self, awareness: float | np.ndarray) -> np.ndarray:
        """P(rebel) of the fitted curve at ``awareness``."""
        s = np.asarray(awareness, dtype=float)
        return _expit(self.direction * (s - self.s_star) / self.scale)


def _negative_log_likelihood(theta, s, rebels, trials, direction):
    """Binomial negative log-likelihood and its gradient in (s_star, log scale)."""
    s_star, log_scale = theta
    scale = math.exp(log_scale)
    z = direction * (s - s_star) / scale
    nll = -float(rebels @ _log_expit(z) + (trials - rebels) @ _log_expit(-z))
    resid = rebels - trials * _expit(z)  # d(-nll)/dz
    grad = np.array([float(resid.sum()) * direction / scale, float(resid @ z)])
    return nll, grad


def _bounds(s: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    span = float(s.max() - s.min())
    return (float(s.min()), float(s.max())), (math.log(1e-3 * span), math.log(10.0 * span))


def _minimize(s, rebels, trials, direction, start, bounds) -> tuple[np.ndarray, bool]:
    """The bounded optimizer (scipy's truncated Newton, TNC), for the rare fit whose
    maximum is on a bound other than the scale's floor (:func:`_fit_many`)."""
    from scipy.optimize import minimize

    res = minimize(
        _negative_log_likelihood,
        start,
        args=(s, rebels, trials, direction),
        jac=True,
        method="TNC",
        bounds=bounds,
        options={"ftol": 0.0, "xtol": 1e-10, "gtol": 1e-10, "maxfun": 1000},
    )
    return res.x, bool(res.success)


def _start(s: np.ndarray, rebels: np.ndarray, trials: np.ndarray, direction: int) -> np.ndarray:
    """A starting point: where the empirical curve crosses 1/2, a tenth of the range wide."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = rebels / trials
    above = direction * (p - 0.5) > 0
    i = int(np.argmax(above)) if above.any() else len(s) - 1
    s0 = float(s[i] if i == 0 else 0.5 * (s[i - 1] + s[i]))
    span = float(s.max() - s.min())
    return np.array([s0, math.log(max(span / 10.0, 2e-3 * span))])


def fit_logistic(
    awareness: np.ndarray,
    rebels: np.ndarray,
    trials: np.ndarray,
    direction: int = 1,
) -> LogisticFit:
    """Fit ``P(rebel) = expit(direction (s - s_star) / scale)`` by maximum likelihood.

    The binomial likelihood of ``rebels`` out of ``trials`` at each awareness level
    is maximized over ``(s_star, log scale)`` by Newton's method (:func:`_fit_many`: scipy's bounded
    truncated Newton only for a maximum on a bound), with ``s_star`` kept in
    the range of ``awareness`` and ``scale`` between 1/1000 and 10 times that range.
    No check of whether a logistic makes sense is made here (that is
    :func:`fit_thresholds`'s job).

    Parameters
    ----------
    awareness : array of float
        The awareness levels (at least two distinct).
    rebels, trials : array of int or float
        Rebel learners and learners at each level.
    direction : {1, -1}
        Whether P(rebel) rises (+1) or falls (-1) with awareness.

    Returns
    -------
    LogisticFit

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import expit
    >>> s = np.linspace(0, 1, 11)
    >>> fit = fit_logistic(s, 1000 * expit((s - 0.42) / 0.05), np.full(11, 1000))
    >>> round(fit.s_star, 3), round(fit.scale, 3)
    (0.42, 0.05)
    """
    s = np.asarray(awareness, dtype=float)
    k = np.asarray(rebels, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.unique(s).size < 2:
        raise ValueError("fit_logistic needs at least two distinct awareness levels")
    bounds = _bounds(s)
    x, ok = _fit_many(s, k[None, :], n[None, :], direction, _start(s, k, n, direction), bounds)
    return _as_fit(x[0], bool(ok[0]), direction, bounds)


def _as_fit(x: np.ndarray, ok: bool, direction: int, bounds) -> LogisticFit:
    (lo, hi), (log_min, _) = bounds
    tol = 1e-6 * (hi - lo)
    at_bound = bool(x[0] <= lo + tol or x[0] >= hi - tol or x[1] <= log_min + 1e-6)
    return LogisticFit(float(x[0]), float(math.exp(x[1])), int(direction), ok, at_bound)


# ---------------------------------------------------------------------------------
# Crossings of 1/2, judged with binomial standard errors
# ---------------------------------------------------------------------------------
def _sides(rebels: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """+1 where P(rebel) is significantly above 1/2, -1 significantly below, 0 otherwise.

    The test statistic uses the binomial standard error under P = 1/2,
    ``1 / (2 sqrt(n))``, which is never zero (a level with all or no rebels is
    judged by how many learners it has).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (rebels / trials - 0.5) * 2.0 * np.sqrt(trials)
    return np.where(z > _Z_LEVEL, 1, np.where(z < -_Z_LEVEL, -1, 0))


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _crossing_check(s: np.ndarray, rebels: np.ndarray, trials: np.ndarray) -> tuple[int, str]:
    """Direction of the single crossing (+1 rising, -1 falling), or 0 and a note."""
    sides = _sides(rebels, trials)
    p = rebels / trials
    where = f"for awareness in [{_fmt(s.min())}, {_fmt(s.max())}]"
    significant = np.flatnonzero(sides != 0)
    if significant.size == 0:
        note = f"no crossing detected: P(rebel) is nowhere significantly different from 1/2 {where}"
        most = int(trials.max())
        if 2.0 * 0.5 * math.sqrt(most) <= _Z_LEVEL:
            note += f" (with at most {most} learners per level none can be: at least 4 are needed)"
        return 0, note
    seq = sides[significant]
    if np.all(seq == -1) or np.all(seq == 1):
        below = seq[0] == -1
        extreme = int(np.argmax(p)) if below else int(np.argmin(p))
        if (p[extreme] - 0.5) * seq[0] > 0:  # every estimate on one side
            return 0, f"no crossing: P(rebel) stays {'below' if below else 'above'} 1/2 {where}"
        other = "above" if below else "below"
        return 0, (
            f"no crossing: P(rebel) is never significantly {other} 1/2 {where} "
            f"({'highest' if below else 'lowest'} {_fmt(p[extreme])} at s = {_fmt(s[extreme])}; "
            "a crossing may lie at the end of the range)"
        )
    changes = np.flatnonzero(np.diff(seq) != 0)
    if changes.size > 1:
        at = [0.5 * (s[significant[c]] + s[significant[c + 1]]) for c in changes]
        return 0, "more than one crossing at about " + ", ".join(_fmt(a) for a in at)
    return int(seq[-1]), ""


def _separated(s: np.ndarray, rebels: np.ndarray, trials: np.ndarray, direction: int):
    """(a, b) if P(rebel) jumps from 0 to 1 (or 1 to 0) between adjacent levels a < b."""
    p = rebels / trials
    if not np.all((p == 0) | (p == 1)):
        return None
    hit = (p == 1) if direction == 1 else (p == 0)
    i = int(np.argmax(hit))
    if hit[i:].all() and not hit[:i].any() and 0 < i:
        return float(s[i - 1]), float(s[i])
    return None


# ---------------------------------------------------------------------------------
# The mean field's thresholds
# ---------------------------------------------------------------------------------
def _p_rebel(params: Params, s: np.ndarray, real_cited_rate: float | None) -> np.ndarray:
    """sim.meanfield.p_rebel in chunks (an awareness schedule would otherwise need gigabytes)."""
    from sim import meanfield

    s = np.asarray(s, dtype=float).reshape(-1)
    # chunks keep the (levels x batches x quadrature nodes) arrays small and in cache
    chunk = 50 if params.sa_start is None else max(1, 500_000 // (params.n_batches * 2_500))
    return np.concatenate(
        [meanfield.p_rebel(params, s[i : i + chunk], real_cited_rate=real_cited_rate) for i in range(0, s.size, chunk)]
    )


def meanfield_crossings(
    params: Params,
    real_cited_rate: float | None = None,
    level: float = 0.5,
    grid: int | None = None,
) -> np.ndarray:
    """Every awareness in [0, 1] where the mean field's P(rebel) at ``n_documents`` is ``level``.

    Sign changes of ``sim.meanfield.p_rebel - level`` are bracketed on a grid and
    refined with Brent's method (:func:`sim.meanfield.bracket_roots`). The grid has 201 points at constant awareness and
    26 with an awareness schedule (whose mean field sums over batches and costs
    about a hundred times more).

    >>> from sim import Params
    >>> meanfield_crossings(Params(), real_cited_rate=0.6).round(3).tolist()
    [0.63]
    """
    if grid is None:
        grid = 201 if params.sa_start is None else 26
    s = np.linspace(0.0, 1.0, grid)
    f = _p_rebel(params, s, real_cited_rate) - level

    def g(x: float) -> float:
        return float(_p_rebel(params, np.array([x]), real_cited_rate)[0]) - level

    from sim import meanfield

    # exactly `level` everywhere (no evidence either way): no crossing
    return meanfield.bracket_roots(g, s, f, xtol=1e-7)


def _meanfield_columns(params: Params, real_cited_rate: float | None) -> tuple[float, float, list[str]]:
    from sim import meanfield

    notes = []
    if params.learner_model == "learning":
        return math.nan, math.nan, [
            "the learning learner has no closed-form mean field (docs/model.md §3.1): s_star_meanfield_n and "
            "s_star_meanfield_inf are NaN"]
    if not meanfield.has_mean_field(params):
        return math.nan, math.nan, [
            "the deceptive makers' sub-hypotheses (filters only, plants only) have no mean field "
            "(docs/model.md §5.7): s_star_meanfield_n and s_star_meanfield_inf are NaN"]
    roots_n = meanfield_crossings(params, real_cited_rate)
    if roots_n.size == 0:
        s_n = math.nan
        notes.append(f"mean field at N = {params.n_documents}: P(rebel) does not cross 1/2 for awareness in [0, 1]")
    else:
        s_n = float(roots_n[0])
        if roots_n.size > 1:
            notes.append(
                f"mean field at N = {params.n_documents} crosses 1/2 {roots_n.size} times "
                f"(at {', '.join(_fmt(r) for r in roots_n)}); s_star_meanfield_n is the first"
            )
    roots_inf = meanfield.thresholds(params, real_cited_rate=real_cited_rate, grid=100)
    s_inf = float(roots_inf[0]) if roots_inf.size else math.nan
    if params.lab_policy != "static" or params.generations > 1:
        notes.append(
            "a reacting lab or several generations: s_star_meanfield_n follows the mean path "
            "(sim.meanfield.adaptive_path / generation_map, an approximation) and s_star_meanfield_inf is "
            "the first run's initial shares' (no closed form for the feedback loop)"
        )
    if roots_inf.size > 1:
        notes.append(
            f"mean increment vanishes {roots_inf.size} times (at {', '.join(_fmt(r) for r in roots_inf)}); "
            "s_star_meanfield_inf is the first"
        )
    return s_n, s_inf, notes


# ---------------------------------------------------------------------------------
# A sweep in compact form: what the fit and the figures use, read in one pass
# ---------------------------------------------------------------------------------
#: Rows per batch when a results table is read (a few MiB of the projected columns).
BATCH_ROWS = 65_536

#: Columns every results table must have.
_REQUIRED = (AWARENESS, "replicate", "persona")
#: Columns read when present: where a row comes from, and its corpus's measured q_r.
_RUN_COLUMNS = ("point", "real_cited_rate")
#: Result columns averaged per (replicate, awareness level) for the figures.
MEAN_COLUMNS = ("uplift", "emergence_document")
#: Columns whose values are read as floats (the others as they are stored).
_FLOAT_COLUMNS = (AWARENESS, "real_cited_rate") + MEAN_COLUMNS

class _Missing:
    """The group key of a missing value (NaN, None): one group, as pandas' ``dropna=False``
    makes it (NaN is not equal to itself, so it cannot be a dictionary key)."""

    def __repr__(self) -> str:
        return "NA"


_NA = _Missing()


def _key_value(value: Any) -> Any:
    """A group key's value as a plain Python value, or :data:`_NA` when missing."""
    if isinstance(value, np.generic):
        value = value.item()
    pd = sys.modules.get("pandas")
    if value is None or (pd is not None and value is pd.NA) or (isinstance(value, float) and math.isnan(value)):
        return _NA
    return value


def _key_order(keys: tuple) -> tuple:
    """Sort key of a group: by each column in turn, missing values last (pandas' order)."""
    return tuple((1, 0) if v is _NA else (0, v) for v in keys)


@dataclass(frozen=True, eq=False)
class SweepGroup:
    """One group of a sweep, reduced to what :func:`fit_thresholds` and the figures use.

    A sweep's table holds one row per (point, replicate, awareness level) and about
    fifty columns; the analysis needs, per group, only counts and sums per
    (replicate, level): the binomial likelihood of the fit depends on the data
    through the rebel and learner counts per level (they are sufficient statistics
    [3]_), the bootstrap resamples whole replicates and so needs those counts per
    replicate [1]_, and the figures draw means per replicate and level. The arrays
    hold about 20 bytes per (replicate, level) cell, whatever the number of columns:
    counts in the smallest unsigned integer type that holds them (one byte while no
    cell has more than 255 rows), sums in float64.

    Attributes
    ----------
    keys : tuple
        The group's values of the group columns (NaN for a missing value).
    first_row : dict
        The parameter columns of the group's first row, as :func:`params_from_row`
        reads them (the columns that are not group columns are the same in every
        row of a sweep's group).
    levels : numpy.ndarray of float
        The distinct awareness levels, sorted.
    units : numpy.ndarray
        The distinct replicate numbers, sorted: the units the bootstraps resample.
    rebels, trials : numpy.ndarray of unsigned int, shape (units, levels)
        Rebel learners and learners (rows) per replicate and level.
    sums : dict of numpy.ndarray of float64, shape (units, levels)
        Per column of :data:`MEAN_COLUMNS` in the results: the sum of its finite
        values per replicate and level, added in row order (as one pass over the
        whole table adds them).
    missing : dict of (numpy.ndarray of unsigned int, shape (units, levels), or None)
        Per column of ``sums``: the number of its non-finite values (NaN: an
        emergence that never happened) per replicate and level; None when there is
        none anywhere.
    cited_rates : numpy.ndarray of float or None
        The measured q_r of each run (distinct ``(point, replicate)``), in order of
        first appearance; None when the results have no ``real_cited_rate``.
    """

    keys: tuple
    first_row: Mapping[str, Any]
    levels: np.ndarray
    units: np.ndarray
    rebels: np.ndarray
    trials: np.ndarray
    sums: Mapping[str, np.ndarray]
    missing: Mapping[str, np.ndarray | None]
    cited_rates: np.ndarray | None

    @property
    def real_cited_rate(self) -> float | None:
        """The mean q_r over the group's runs (finite values only); None if there is none."""
        if self.cited_rates is None:
            return None
        q = self.cited_rates[np.isfinite(self.cited_rates)]
        return float(q.mean()) if q.size else None

    def params(self, **overrides: Any) -> Params:
        """The group's :class:`sim.Params`: :func:`params_from_row` of its first row."""
        return params_from_row(self.first_row, **overrides)

    def per_level(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Levels and a (units x levels) matrix of the mean of ``column`` per replicate and level.

        ``column`` is ``"rebel"`` (the share of rebel learners) or one of
        :data:`MEAN_COLUMNS`; NaN where a replicate has no finite value at a level.
        """
        if column == "rebel":
            total, count = self.rebels.astype(float), self.trials.astype(float)
        elif column in self.sums:
            total, count = self.sums[column], self.trials.astype(float)
            if self.missing[column] is not None:
                count -= self.missing[column]
        else:
            raise KeyError(f"results has no column {column!r}: a sweep's results table is needed")
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.levels, total / count

    @property
    def nbytes(self) -> int:
        """Bytes held by the group's arrays."""
        arrays = [self.levels, self.units, self.rebels, self.trials, *self.sums.values(),
                  *(m for m in self.missing.values() if m is not None)]
        if self.cited_rates is not None:
            arrays.append(self.cited_rates)
        return int(sum(a.nbytes for a in arrays))


@dataclass(frozen=True, eq=False)
class SweepData:
    """A sweep's results in compact form: its groups, sorted as :func:`fit_thresholds` reports them.

    Made by :func:`read_sweep`; :func:`fit_thresholds` and
    :func:`analysis.make_figures` accept it in place of the results table (and
    make it themselves from a DataFrame or a path), so the table is read once.

    Attributes
    ----------
    group_columns : tuple of str
        The swept parameters other than awareness.
    groups : tuple of SweepGroup
        One per combination of the group columns, sorted by them (missing values last).
    n_rows : int
        Rows of the results.
    columns_read : tuple of str
        The columns streamed from every row (the projection); the parameter columns
        are read only from each group's first row.
    """

    group_columns: tuple[str, ...]
    groups: tuple[SweepGroup, ...]
    n_rows: int
    columns_read: tuple[str, ...]

    @property
    def nbytes(self) -> int:
        """Bytes held by the groups' arrays."""
        return int(sum(g.nbytes for g in self.groups))


#: Types of the count matrices, smallest first; a group's counts move up when a cell could overflow.
_COUNT_TYPES = (np.uint8, np.uint16, np.uint32, np.uint64)


class _Builder:
    """The arrays of one group, grown as its rows arrive (in row order)."""

    def __init__(self, keys: tuple, first: int, means: Sequence[str], rates: bool, point: bool) -> None:
        self.keys, self.first, self.point = keys, first, point
        self.level_index: dict[Any, int] = {}
        self.unit_index: dict[Any, int] = {}
        self.rebels = np.zeros((0, 0), _COUNT_TYPES[0])
        self.trials = np.zeros((0, 0), _COUNT_TYPES[0])
        self.most = 0  # the largest count of a cell so far
        self.sums = {name: np.zeros((0, 0)) for name in means}
        self.missing: dict[str, np.ndarray | None] = dict.fromkeys(means)
        self.rate_parts: list[tuple] | None = [] if rates else None

    @staticmethod
    def _index(mapping: dict, values: np.ndarray) -> np.ndarray:
        distinct, inverse = np.unique(values, return_inverse=True)
        lookup = np.fromiter((mapping.setdefault(v, len(mapping)) for v in distinct.tolist()),
                             dtype=np.int64, count=distinct.size)
        return lookup[inverse.reshape(-1)]

    def _counts(self) -> list[tuple[str, np.ndarray]]:
        return [("rebels", self.rebels), ("trials", self.trials)] + [
            (name, m) for name, m in self.missing.items() if m is not None]

    def _set_count(self, name: str, array: np.ndarray) -> None:
        if name in ("rebels", "trials"):
            setattr(self, name, array)
        else:
            self.missing[name] = array

    def _reserve(self) -> None:
        """Room for every replicate and level seen (the arrays grow by half when full)."""
        need_u, need_l = len(self.unit_index), len(self.level_index)
        cap_u, cap_l = self.trials.shape
        if need_u <= cap_u and need_l <= cap_l:
            return
        shape = (max(need_u, cap_u + cap_u // 2) if need_u > cap_u else cap_u,
                 max(need_l, cap_l + cap_l // 2) if need_l > cap_l else cap_l)

        def grown(a: np.ndarray) -> np.ndarray:
            out = np.zeros(shape, a.dtype)
            out[:cap_u, :cap_l] = a
            return out

        for name, array in self._counts():
            self._set_count(name, grown(array))
        self.sums = {k: grown(v) for k, v in self.sums.items()}

    def _make_room(self, flat: np.ndarray) -> None:
        """Move the counts to a wider type if a cell would overflow in this batch."""
        cells, rows = np.unique(flat, return_counts=True)
        self.most = max(self.most, int(self.trials.reshape(-1)[cells].max()) + int(rows.max()))
        if self.most > np.iinfo(self.trials.dtype).max:
            wider = next(t for t in _COUNT_TYPES if np.iinfo(t).max >= self.most)
            for name, array in self._counts():
                self._set_count(name, array.astype(wider))

    def add(self, batch: Mapping[str, np.ndarray], rows: np.ndarray | None) -> None:
        def take(name: str) -> np.ndarray:
            return batch[name] if rows is None else batch[name][rows]

        replicate = take("replicate")
        li = self._index(self.level_index, take(AWARENESS))
        ui = self._index(self.unit_index, replicate)
        self._reserve()
        flat = ui * self.trials.shape[1] + li
        self._make_room(flat)
        # np.add.at adds in row order, one value at a time: the sums are those of the whole table
        np.add.at(self.rebels.reshape(-1), flat, take("persona"))
        np.add.at(self.trials.reshape(-1), flat, 1)
        for name in self.sums:
            values = take(name)
            ok = np.isfinite(values)
            np.add.at(self.sums[name].reshape(-1), flat[ok], values[ok])
            if not ok.all():
                if self.missing[name] is None:
                    self.missing[name] = np.zeros(self.trials.shape, self.trials.dtype)
                np.add.at(self.missing[name].reshape(-1), flat[~ok], 1)
        if self.rate_parts is not None:
            keys = [take("point"), replicate] if self.point else [replicate]
            start = np.ones(replicate.size, bool)  # a run's first row in this batch
            start[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in keys])
            self.rate_parts.append(tuple(k[start] for k in keys) + (take("real_cited_rate")[start],))

    def finish(self, first_row: Mapping[str, Any]) -> SweepGroup:
        n_u, n_l = len(self.unit_index), len(self.level_index)
        units = np.array(list(self.unit_index))
        levels = np.array(list(self.level_index), dtype=float)
        by_unit, by_level = np.argsort(units, kind="stable"), np.argsort(levels, kind="stable")
        in_order = bool(np.all(by_unit[1:] > by_unit[:-1]) and np.all(by_level[1:] > by_level[:-1]))

        def ordered(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            return a[:n_u, :n_l].copy() if in_order else a[np.ix_(by_unit, by_level)]

        rates = None
        if self.rate_parts is not None:
            parts = list(zip(*self.rate_parts))
            codes = _combined_codes([np.concatenate(p) for p in parts[:-1]])
            first = np.zeros(codes.size, dtype=bool)
            first[np.unique(codes, return_index=True)[1]] = True  # a run's first row (pandas' duplicated)
            rates = np.concatenate(parts[-1]).astype(float)[first]
        return SweepGroup(
            keys=tuple(math.nan if v is _NA else v for v in self.keys),
            first_row=dict(first_row),
            levels=levels[by_level],
            units=units[by_unit],
            rebels=ordered(self.rebels),
            trials=ordered(self.trials),
            sums={k: ordered(v) for k, v in self.sums.items()},
            missing={k: ordered(v) for k, v in self.missing.items()},
            cited_rates=rates,
        )


def _factorize(values: np.ndarray) -> np.ndarray:
    """Codes 0, 1, ... of ``values`` in order of first appearance, a missing value (NaN,
    None) one value of its own (pandas' ``factorize(use_na_sentinel=False)``)."""
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        _, first, inverse = np.unique(values, return_index=True, return_inverse=True)  # NaNs are one value
        rank = np.empty(first.size, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(first.size)
        return rank[inverse.reshape(-1)]
    seen: dict[Any, int] = {}
    return np.fromiter((seen.setdefault(_key_value(v), len(seen)) for v in values), dtype=np.int64,
                       count=values.size)


def _combined_codes(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """One code per distinct combination of the arrays' values, in order of first appearance."""
    codes = None
    for a in arrays:
        k = _factorize(a)
        codes = k if codes is None else _factorize(codes * (int(k.max()) + 1) + k)
    return codes


def _split(batch: Mapping[str, np.ndarray], columns: Sequence[str]):
    """(group key, its rows in the batch in order or None for all, its first row) per group."""
    if not columns:
        yield (), None, 0
        return
    codes = _combined_codes([batch[c] for c in columns])
    n_groups = int(codes.max()) + 1
    if n_groups == 1:
        yield tuple(_key_value(batch[c][0]) for c in columns), None, 0
        return
    order = np.argsort(codes, kind="stable")
    for rows in np.split(order, np.cumsum(np.bincount(codes, minlength=n_groups))[:-1]):
        first = int(rows[0])
        yield tuple(_key_value(batch[c][first]) for c in columns), rows, first


class _FrameSource:
    """A results DataFrame, read in slices."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.columns = list(frame.columns)

    def varies(self, names: Sequence[str]) -> dict[str, bool]:
        return {n: self.frame[n].nunique(dropna=False) > 1 for n in names}

    def batches(self, columns: Sequence[str], batch_rows: int):
        arrays = {c: (self.frame[c].to_numpy(dtype=float) if c in _FLOAT_COLUMNS else self.frame[c].to_numpy())
                  for c in columns if c != "persona"}
        for start in range(0, len(self.frame), batch_rows):
            stop = start + batch_rows
            batch = {c: a[start:stop] for c, a in arrays.items()}
            if "persona" in columns:
                batch["persona"] = self.frame["persona"].iloc[start:stop].to_numpy() == "rebel"
            yield batch

    def rows(self, indices: Sequence[int], columns: Sequence[str]) -> dict[int, dict[str, Any]]:
        return {i: {c: self.frame[c].iloc[i] for c in columns} for i in indices}

    def close(self) -> None:
        pass


def _arrow_values(column, name: str) -> np.ndarray:
    """A column of a record batch as numpy: ``persona`` as "is rebel", floats with NaN for nulls."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if name == "persona":
        return _equals(column, "rebel")
    values = _to_numpy(column)
    return values.astype(float, copy=False) if name in _FLOAT_COLUMNS else values


def _equals(column, text: str) -> np.ndarray:
    """Whether each string of an Arrow string array is ``text`` (False where null), read
    from the array's buffers (pyarrow.compute would import pandas)."""
    import pyarrow as pa

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return np.array([v == text for v in column.to_pylist()], dtype=bool)
    n = len(column)
    validity, offsets, data = column.buffers()[:3]
    offsets = np.frombuffer(offsets, dtype=np.int64 if pa.types.is_large_string(column.type) else np.int32)
    offsets = offsets[column.offset : column.offset + n + 1]
    target = np.frombuffer(text.encode(), dtype=np.uint8)
    starts = offsets[:-1]
    same = (offsets[1:] - starts) == target.size
    if target.size and same.any():
        chars = np.frombuffer(data, dtype=np.uint8)
        at = np.flatnonzero(same)
        same[at] = (chars[starts[at, None] + np.arange(target.size)] == target).all(axis=1)
    if column.null_count:
        same &= _bits(validity, column.offset, n)
    return same


def _bits(buffer, offset: int, length: int) -> np.ndarray:
    """Arrow's bit-packed (least significant bit first) booleans as a numpy bool array."""
    packed = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(packed, bitorder="little")[offset : offset + length].astype(bool)


def _to_numpy(column) -> np.ndarray:
    """An Arrow array as numpy (what ``column.to_numpy(zero_copy_only=False)`` gives),
    read from its buffers: pyarrow's own conversion imports pandas, which is most of
    the time ``persona-sim threshold`` would take. Numbers and booleans with nulls
    become floats with NaN; other types go through Python objects."""
    import pyarrow as pa

    kind = column.type
    n = len(column)
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    if numeric or (pa.types.is_boolean(kind) and not column.null_count):
        validity, data = column.buffers()[:2]
        if pa.types.is_boolean(kind):
            values = _bits(data, column.offset, n)
        else:
            dtype = np.dtype({"halffloat": "float16", "float": "float32", "double": "float64"}.get(str(kind), str(kind)))
            values = np.frombuffer(data, dtype=dtype)[column.offset : column.offset + n]
        if column.null_count:
            values = values.astype(float)
            values[~_bits(validity, column.offset, n)] = np.nan
        return values
    return np.array(column.to_pylist(), dtype=object)


class _ParquetSource:
    """Parquet files read in record batches, only the columns asked for.

    The files are opened one at a time: a file's footer (its metadata, some 50 kB in
    memory per row group of a sweep's table) is held only while it is read.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        with self._open(0) as f:
            self.columns = list(f.schema_arrow.names)
        #: rows per row group of each file, noted as the files are streamed
        self.row_groups: dict[int, list[int]] = {}

    def _open(self, index: int):
        import pyarrow.parquet as pq

        f = pq.ParquetFile(self.paths[index])
        if index and list(f.schema_arrow.names) != self.columns:
            f.close()
            raise ValueError(f"{str(self.paths[index])!r} has other columns than {str(self.paths[0])!r}: "
                             "the parts of one sweep are needed")
        return f

    def _stream(self, columns: Sequence[str], batch_rows: int):
        for index in range(len(self.paths)):
            with self._open(index) as f:
                meta = f.metadata
                self.row_groups[index] = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
                del meta
                yield from f.iter_batches(batch_size=batch_rows, columns=list(columns))

    def varies(self, names: Sequence[str]) -> dict[str, bool]:
        """Whether each column takes more than one value (NaN counts as one), reading it until it does."""
        seen: dict[str, set] = {n: set() for n in names}
        if names:
            stream = self._stream(names, BATCH_ROWS)
            for batch in stream:
                for n in names:
                    if len(seen[n]) < 2:
                        values = _arrow_values(batch.column(n), n)
                        seen[n].update(_key_value(values[i]) for i in np.unique(_factorize(values), return_index=True)[1])
                if all(len(s) > 1 for s in seen.values()):
                    stream.close()
                    break
        return {n: len(seen[n]) > 1 for n in names}

    def batches(self, columns: Sequence[str], batch_rows: int):
        for batch in self._stream(columns, batch_rows):
            yield {c: _arrow_values(batch.column(c), c) for c in columns}

    def rows(self, indices: Sequence[int], columns: Sequence[str]) -> dict[int, dict[str, Any]]:
        """The given rows (global indices, of files streamed already), reading only the
        row groups that hold them."""
        out: dict[int, dict[str, Any]] = {i: {} for i in indices}
        if not columns or not indices:
            return out
        wanted: dict[int, dict[int, list[tuple[int, int]]]] = {}
        file_start = 0
        for index in range(len(self.paths)):
            starts = np.cumsum([0] + self.row_groups[index])
            for i in indices:
                if file_start <= i < file_start + starts[-1]:
                    g = int(np.searchsorted(starts, i - file_start, side="right")) - 1
                    wanted.setdefault(index, {}).setdefault(g, []).append((i - file_start - int(starts[g]), i))
            file_start += int(starts[-1])
        for index, groups in wanted.items():
            with self._open(index) as f:
                for g, offsets in groups.items():
                    offsets.sort()
                    position = 0
                    for batch in f.iter_batches(batch_size=BATCH_ROWS, row_groups=[g], columns=list(columns)):
                        for offset, i in offsets:
                            if position <= offset < position + batch.num_rows:
                                out[i] = batch.slice(offset - position, 1).to_pylist()[0]
                        position += batch.num_rows
                        if position > offsets[-1][0]:
                            break
        return out

    def close(self) -> None:
        pass


def _parquet_paths(source: Any) -> list[Path]:
    """The Parquet files of a path (a file; a folder: its results.parquet, else its parts),
    a list of paths, or a pyarrow dataset."""
    ds = sys.modules.get("pyarrow.dataset")  # not imported: source is no dataset (importing it loads pandas)
    if ds is not None and isinstance(source, ds.FileSystemDataset):
        return [Path(f) for f in source.files]
    if isinstance(source, (str, os.PathLike)):
        items = [source]
    elif isinstance(source, (list, tuple)):
        items = list(source)
    else:
        raise TypeError(
            f"results of type {type(source).__name__} cannot be read: allowed are a DataFrame, a path to "
            "results.parquet or a sweep folder, a list of Parquet files, a pyarrow dataset or a SweepData"
        )
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            if (path / "results.parquet").is_file():
                paths.append(path / "results.parquet")
                continue
            folder = path / "parts" if (path / "parts").is_dir() else path
            parts = sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("."))
            if not parts:
                raise FileNotFoundError(f"{str(path)!r} holds no results.parquet and no Parquet parts")
            paths.extend(parts)
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"no such results file or folder: {str(path)!r}")
    if not paths:
        raise FileNotFoundError("no Parquet files given")
    return paths


def _group_names(columns: Sequence[str], swept: Sequence[str] | None, varies) -> list[str]:
    """The group columns among ``columns`` (``varies(names)`` says which parameters vary)."""
    if swept is None:
        candidates = [n for n in _PARAMETER_NAMES if n in columns]
        flags = varies(candidates)
        names = [n for n in candidates if flags[n]]
    else:
        names = list(swept)
    missing = [n for n in names if n not in columns]
    if missing:
        raise KeyError(
            f"swept parameter(s) {', '.join(map(repr, missing))} are not columns of the results: "
            f"allowed are {', '.join(c for c in columns if c in _BY_NAME)}"
        )
    return [n for n in names if n != AWARENESS]


def read_sweep(
    results: pd.DataFrame | str | os.PathLike | Sequence[str | os.PathLike] | SweepData,
    swept: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> SweepData:
    """Read a sweep's results into the compact form the fit and the figures use.

    The table is read once, in record batches of ``batch_rows`` rows, and only its
    columns the analysis needs: the group columns, ``situational_awareness``,
    ``replicate``, ``persona`` and, when present, ``point``, ``real_cited_rate``,
    ``uplift`` and ``emergence_document``. Parquet stores every column of a row group
    apart (a *column chunk*), so a projection reads only those chunks [4]_; the
    other parameter columns are read from one row per group (its first: the
    parameters of :func:`params_from_row`). Each batch's rows are added to their
    group's counts and sums per (replicate, level) in row order, so memory grows
    with the number of (replicate, level) cells, not with the number of columns,
    and the numbers are those of the whole table read at once, bit for bit.

    Parameters
    ----------
    results : DataFrame, path, list of paths, pyarrow dataset or SweepData
        The results table in memory; ``results.parquet``; a sweep folder (its
        ``results.parquet``, or before assembly its ``parts/``); a folder of Parquet
        parts (read in name order, one file open at a time); a list of Parquet
        files (in that order); a ``pyarrow.dataset`` of Parquet files (its
        ``files``). A SweepData is returned as it is.
    swept : list of str, optional
        The swept parameters (the manifest's ``"swept"``); None infers them
        (:func:`swept_parameters`; from files, by reading the parameter columns
        until each shows a second value).
    batch_rows : int
        Rows per batch.

    Returns
    -------
    SweepData

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"situational_awareness": [0.2, 0.8, 0.2, 0.8], "replicate": [0, 0, 1, 1],
    ...                       "persona": ["aligned", "rebel", "aligned", "aligned"]})
    >>> group = read_sweep(table).groups[0]
    >>> group.levels.tolist(), group.rebels.tolist(), group.trials.tolist()
    ([0.2, 0.8], [[0, 1], [0, 0]], [[1, 1], [1, 1]])
    """
    if isinstance(results, SweepData):
        if swept is not None and [n for n in swept if n != AWARENESS] != list(results.group_columns):
            raise ValueError(
                f"swept {list(swept)!r} does not match the SweepData's group columns "
                f"{list(results.group_columns)!r}: read the results again with this swept"
            )
        return results
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, (int, np.integer)) or batch_rows < 1:
        raise ValueError(f"batch_rows = {batch_rows!r} is not allowed: allowed is a whole number >= 1")
    source = _FrameSource(results) if _is_frame(results) else _ParquetSource(_parquet_paths(results))
    try:
        names = source.columns
        for column in _REQUIRED:
            if column not in names:
                raise KeyError(f"results has no column {column!r}: a sweep's results table is needed")
        columns = _group_names(names, swept, source.varies)
        means = [c for c in MEAN_COLUMNS if c in names]
        read = tuple(dict.fromkeys([*columns, *_REQUIRED, *(c for c in _RUN_COLUMNS if c in names), *means]))
        builders: dict[tuple, _Builder] = {}
        n_rows = 0
        for batch in source.batches(read, int(batch_rows)):
            n = len(batch[AWARENESS])
            for key, rows, first in _split(batch, columns):
                builder = builders.get(key)
                if builder is None:
                    builder = builders[key] = _Builder(key, n_rows + first, means,
                                                       "real_cited_rate" in names, "point" in names)
                builder.add(batch, rows)
            n_rows += n
        parameters = [n for n in _PARAMETER_NAMES if n in names]
        first_rows = source.rows(sorted(b.first for b in builders.values()), parameters)
    finally:
        source.close()
    groups = []
    for key in sorted(builders, key=_key_order):
        builder = builders.pop(key)  # each group's growing arrays go once it is finished
        groups.append(builder.finish(first_rows[builder.first]))
    return SweepData(tuple(columns), tuple(groups), n_rows, read)


# ---------------------------------------------------------------------------------
# One group, and all of them
# ---------------------------------------------------------------------------------
def _fit_group(group: SweepGroup, n_boot: int, rng: np.random.Generator,
               meanfield_columns: MeanFieldColumns | None = None) -> dict[str, Any]:
    levels, rebels_u, trials_u = group.levels, group.rebels.astype(float), group.trials.astype(float)
    rebels, trials = rebels_u.sum(0), trials_u.sum(0)
    out: dict[str, Any] = dict.fromkeys(RESULT_COLUMNS + DIAGNOSTIC_COLUMNS, math.nan)
    out.update(
        n_replicates=int(rebels_u.shape[0]),
        n_awareness=int(levels.size),
        awareness_min=float(levels.min()),
        awareness_max=float(levels.max()),
        direction=0,
    )
    notes: list[str] = []
    real_cited_rate = group.real_cited_rate
    out["real_cited_rate"] = math.nan if real_cited_rate is None else real_cited_rate

    params = group.params(**{AWARENESS: float(levels.max())})
    known = None if meanfield_columns is None else meanfield_columns.get(params, real_cited_rate)
    if known is None:
        known = _meanfield_columns(params, real_cited_rate)
        if meanfield_columns is not None:
            meanfield_columns.put(params, real_cited_rate, known)
    out["s_star_meanfield_n"], out["s_star_meanfield_inf"], mf_notes = known[0], known[1], list(known[2])

    direction, note = (0, "too few awareness levels to fit") if levels.size < 3 else _crossing_check(
        levels, rebels, trials
    )
    if note:
        notes.append(note)
    if direction:
        out["direction"] = direction
        gap = _separated(levels, rebels, trials, direction)
        if gap is not None:
            a, b = gap
            out.update(s_star=0.5 * (a + b), s_star_low=a, s_star_high=b)
            notes.append(
                f"transition sharper than the awareness grid: P(rebel) jumps between "
                f"{_fmt(a)} and {_fmt(b)} (width < {_fmt(b - a)})"
            )
        else:
            bounds = _bounds(levels)
            fits, ok = _fit_many(levels, rebels[None, :], trials[None, :], direction,
                                 _start(levels, rebels, trials, direction), bounds)
            x = fits[0]
            fit = _as_fit(x, bool(ok[0]), direction, bounds)
            out.update(s_star=fit.s_star, scale=fit.scale, width=fit.width)
            if fit.at_bound:
                notes.append("fit ended on a bound (threshold at an end of the awareness range, or width below the grid)")
            else:
                i = int(np.clip(np.searchsorted(levels, fit.s_star), 1, levels.size - 1))
                spacing = float(levels[i] - levels[i - 1])
                if fit.width < spacing:
                    notes.append(
                        f"transition narrower than the awareness spacing ({_fmt(spacing)}) near s_star: "
                        "s_star and its interval are resolved only to about that spacing"
                    )
            if n_boot > 0:
                boot = _bootstrap(levels, rebels_u, trials_u, direction, x, bounds, n_boot, rng)
                out["s_star_low"], out["s_star_high"] = np.percentile(boot[:, 0], [2.5, 97.5])
                out["width_low"], out["width_high"] = WIDTH_PER_SCALE * np.percentile(np.exp(boot[:, 1]), [2.5, 97.5])
    out["note"] = "; ".join(notes + mf_notes)
    return out


def _newton(s, rebels, trials, direction, start, bounds, max_iter: int = 60):
    """Maximum-likelihood fits of many binomial data sets at once (Newton's method).

    ``rebels`` and ``trials`` have one row per data set. The likelihood is concave
    in the natural parameters ``(a, b)`` of ``z = a + b x`` (``x`` the awareness
    centred and scaled to the range), so Newton's method with step halving
    converges from ``start`` (s_star, log scale) for every data set whose maximum
    lies inside the bounds. Returns rows of (s_star, log scale) and a mask of the
    data sets that converged inside the bounds; the others are left to the bounded
    optimizer.
    """
    (lo, hi), (log_min, log_max) = bounds
    centre, span = 0.5 * (lo + hi), hi - lo
    x = (s - centre) / span
    m = rebels.shape[0]
    b = np.full(m, direction * span / math.exp(start[1]))
    a = -b * (start[0] - centre) / span

    def loglik(a, b):
        z = a[:, None] + b[:, None] * x
        # log expit(-z) = log expit(z) - z: one logarithm per cell
        return (trials * _log_expit(z) - (trials - rebels) * z).sum(1)

    ll = loglik(a, b)
    done = np.zeros(m, dtype=bool)
    tol = 1e-9 * np.maximum(1.0, trials.sum(1))
    for _ in range(max_iter):
        z = a[:, None] + b[:, None] * x
        p = _expit(z)
        r = rebels - trials * p
        w = trials * p * (1.0 - p)
        ga, gb = r.sum(1), r @ x
        haa, hab, hbb = w.sum(1), w @ x, w @ (x * x)
        det = haa * hbb - hab * hab
        with np.errstate(divide="ignore", invalid="ignore"):
            da = np.where(det > 0, (hbb * ga - hab * gb) / det, 0.0)
            db = np.where(det > 0, (haa * gb - hab * ga) / det, 0.0)
        # converged: a stationary point where the curvature has full rank (under
        # separation the gradient vanishes too, as the curve steepens without end,
        # and at most one level keeps any weight: the curvature's rank drops to one)
        with np.errstate(divide="ignore", invalid="ignore"):
            full_rank = det > 1e-6 * haa * hbb
        done = full_rank & (np.abs(ga) < tol) & (np.abs(gb) < tol)
        if done.all():
            break
        step = np.where(done, 0.0, 1.0)
        for _ in range(40):  # halve the steps that lower the likelihood
            trial = loglik(a + step * da, b + step * db)
            worse = trial < ll
            if not worse.any():
                break
            step = np.where(worse, 0.5 * step, step)
        step = np.where(worse, 0.0, step)  # no ascent found: stay (and fail the test below)
        a, b = a + step * da, b + step * db
        ll = np.where(worse, ll, trial)  # the likelihood at the new (a, b), computed above
    with np.errstate(divide="ignore", invalid="ignore"):
        s_star = centre - span * a / b
        log_scale = np.log(span / np.abs(b))
    inside = (
        done
        & (np.sign(b) == direction)
        & (s_star > lo) & (s_star < hi)
        & (log_scale > log_min) & (log_scale < log_max)
    )
    return np.column_stack([s_star, log_scale]), inside


def _on_scale_floor(s, rebels, trials, direction, bounds):
    """Bounded fits with the scale at its floor, and whether that is the optimum.

    When one level or none lies inside the transition (separation), the likelihood
    keeps growing as the scale shrinks, and the bounded maximum has the scale at
    its floor. With the scale fixed the negative log-likelihood is convex in
    ``s_star`` and its derivative increases, so bisection finds the best ``s_star``
    in the range. The point is the bounded maximum if the likelihood does not grow
    with the scale there (the Karush-Kuhn-Tucker condition; sufficient, because the
    likelihood is concave in the natural parameters and the bounds are a convex
    polygon in them).
    """
    (lo, hi), (log_min, _) = bounds
    scale = math.exp(log_min)
    m = rebels.shape[0]

    def residual(s_star):
        z = direction * (s[None, :] - s_star[:, None]) / scale
        return z, rebels - trials * _expit(z)

    left, right = np.full(m, lo), np.full(m, hi)
    for _ in range(60):  # bisection on the derivative, (d / scale) sum(k - n p)
        mid = 0.5 * (left + right)
        rising = direction * residual(mid)[1].sum(1) > 0
        right = np.where(rising, mid, right)
        left = np.where(rising, left, mid)
    s_star = 0.5 * (left + right)
    z, r = residual(s_star)
    slope_in_log_scale = (r * z).sum(1)  # d(-log-likelihood)/d(log scale)
    optimal = slope_in_log_scale >= -1e-8 * np.maximum(1.0, trials.sum(1))
    return np.column_stack([s_star, np.full(m, log_min)]), optimal


def _bootstrap(levels, rebels_u, trials_u, direction, start, bounds, n_boot, rng) -> np.ndarray:
    """Refit on ``n_boot`` resamples of whole replicates; rows are (s_star, log scale).

    All resamples are fitted at once: by :func:`_newton` where the maximum is
    inside the bounds, by :func:`_on_scale_floor` where the transition is sharper
    than the grid resolves; the rare rest (a threshold at an end of the range) by
    the bounded optimizer.
    """
    n_units = rebels_u.shape[0]
    weights = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot).astype(float)
    rebels_b, trials_b = weights @ rebels_u, weights @ trials_u
    return _fit_many(levels, rebels_b, trials_b, direction, start, bounds)[0]


def _fit_many(levels, rebels, trials, direction, start, bounds) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood fits of many data sets (rows of ``rebels``, ``trials``) at once:
    by :func:`_newton` where the maximum is inside the bounds, by :func:`_on_scale_floor`
    where the transition is sharper than the grid resolves, and the rare rest (a
    threshold at an end of the range) by the bounded optimizer. Rows of (s_star, log
    scale), and whether each fit converged."""
    out, ok = _newton(levels, rebels, trials, direction, start, bounds)
    ok = ok.copy()
    rest = np.flatnonzero(~ok)
    if rest.size:
        floor, on_floor = _on_scale_floor(levels, rebels[rest], trials[rest], direction, bounds)
        out[rest[on_floor]] = floor[on_floor]
        ok[rest[on_floor]] = True
        rest = rest[~on_floor]
    for b in rest:
        keep = trials[b] > 0
        out[b], ok[b] = _minimize(levels[keep], rebels[b, keep], trials[b, keep], direction, start, bounds)
    return out, ok


def fit_thresholds(
    results: pd.DataFrame | str | os.PathLike | SweepData,
    swept: list[str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Fit the rebel threshold in awareness for every group of a sweep's results.

    Parameters
    ----------
    results : pandas.DataFrame, path or SweepData
        One row per (point, replicate, awareness level), as ``persona-sim sweep``
        writes it: the table in memory, or ``results.parquet`` (or anything else
        :func:`read_sweep` reads), streamed in batches of the needed columns. Needed:
        ``situational_awareness``, ``replicate`` and ``persona``; used when present:
        the parameter columns (for the mean field; defaults otherwise), ``point`` and
        ``real_cited_rate`` (q_r, averaged over the group's replicates for the mean
        field). Every input is first reduced to :class:`SweepData` and fitted from
        there, so a table and its Parquet file give the same numbers, bit for bit.
    swept : list of str, optional
        The swept parameters (the manifest's ``"swept"``). The groups are the
        combinations of those other than ``situational_awareness``. None infers them:
        parameter columns with more than one distinct value. With a SweepData, None
        or the swept it was read with.
    n_boot : int
        Bootstrap resamples of whole replicates for the interval on ``s_star``
        (0: no interval).
    seed : int
        Seed of the bootstrap; group ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``.

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by the group columns. Columns: the group's
        parameter columns, then

        - ``s_star``: the fitted threshold, where P(rebel) = 1/2;
        - ``s_star_low``, ``s_star_high``: 95% bootstrap percentile interval;
        - ``width``: the 10%-90% width of the transition, ``2 ln(9) scale``;
        - ``s_star_meanfield_n``: where the mean field's P(rebel) at the group's
          ``n_documents`` is 1/2 (:func:`meanfield_crossings`; the first if several);
        - ``s_star_meanfield_inf``: the large-corpus threshold, the first root of the
          mean increment (:func:`sim.meanfield.thresholds`; NaN if it has none:
          outside the window of planted shares where planting backfires only above
          some awareness). Both use the group's mean measured q_r and treat awareness
          as constant when computing ``mu(s)`` for ``s_star_meanfield_inf``;
        - ``n_replicates``, ``n_awareness``: replicates and awareness levels;
        - ``note``: empty where the fit is fine, else why a number is missing or
          should be read with care (no crossing, more than one crossing, too few
          levels, a transition sharper than the grid, several mean-field roots);

        then diagnostics: ``scale``, ``width_low``, ``width_high`` (bootstrap interval
        of the width), ``direction`` (+1: P(rebel) rises with awareness, -1: falls,
        0: no fit), ``real_cited_rate`` (the mean q_r used), ``awareness_min``,
        ``awareness_max``.

    Notes
    -----
    Each awareness level is tested against P = 1/2 (two-sided 5%, binomial standard
    error ``1/(2 sqrt(n))``). No level significantly above (or none below) means no
    crossing; significant levels that change side more than once mean more than
    one crossing; in both cases ``s_star``, its interval and ``width`` are NaN. When
    every level has either no rebel or only rebels, the maximum-likelihood width is
    zero: ``s_star`` is then the midpoint of the jump, the interval its two levels,
    and ``width`` NaN. A fitted width below the spacing of the awareness levels is
    noted too: the threshold is then resolved only to about that spacing, and the
    percentile interval may understate its uncertainty.

    The point estimate and the bootstrap's resamples are fitted alike
    (:func:`_fit_many`): a vectorized Newton iteration on the likelihood, all
    resamples at once; a fit whose maximum lies on the scale's floor (a transition too
    sharp for the grid) is solved on that bound exactly, and the rare maximum on
    another bound by scipy's bounded optimizer. With a uniform awareness grid the
    fitted ``s_star`` tends to fall on a lattice of step ``spacing / n_replicates``:
    the score equation ``sum(rebels) = sum(n P(s))`` nearly fixes it, since a
    logistic summed over a uniform grid is almost exactly linear in its midpoint.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scipy.special import expit
    >>> rng = np.random.default_rng(1)
    >>> s = np.repeat(np.linspace(0, 1, 21)[None, :], 30, axis=0)
    >>> rebel = rng.random(s.shape) < expit((s - 0.6) / 0.05)
    >>> table = pd.DataFrame({"situational_awareness": s.ravel(),
    ...                       "replicate": np.repeat(np.arange(30), 21),
    ...                       "persona": np.where(rebel.ravel(), "rebel", "aligned")})
    >>> row = fit_thresholds(table, n_boot=50).iloc[0]
    >>> bool(abs(row.s_star - 0.6) < 0.02), row.note
    (True, '')
    """
    return fit_threshold_rows(read_sweep(results, swept), n_boot=n_boot, seed=seed).to_frame()


def fit_threshold_rows(data: SweepData, n_boot: int = 200, seed: int = 0,
                       meanfield_columns: MeanFieldColumns | None = None) -> ThresholdRows:
    """:func:`fit_thresholds` on a :class:`SweepData`, as plain rows (no pandas).

    ``meanfield_columns`` (a :class:`MeanFieldColumns`) supplies the mean field's two
    columns of the groups it knows (those a sweep recorded when it finished) and
    records those it computes; None computes every group's.
    """
    columns = list(data.group_columns)
    root = np.random.SeedSequence(seed)
    rows = []
    for i, group in enumerate(data.groups):
        rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(i,)))
        row = dict(zip(columns, group.keys))
        row.update(_fit_group(group, n_boot, rng, meanfield_columns))
        rows.append(row)
    return ThresholdRows(columns + list(RESULT_COLUMNS) + list(DIAGNOSTIC_COLUMNS), rows, columns)


class ThresholdRows:
    """The threshold table as rows of dicts (what :func:`fit_thresholds` returns as a
    DataFrame): ``columns``, ``rows`` and ``group_columns``."""

    def __init__(self, columns: list[str], rows: list[dict[str, Any]], group_columns: list[str]) -> None:
        self.columns, self.rows, self.group_columns = columns, rows, group_columns

    def to_frame(self) -> pd.DataFrame:
        """The table as :func:`fit_thresholds` returns it."""
        import pandas as pd

        table = pd.DataFrame(self.rows, columns=self.columns)
        table["note"] = table["note"].astype(str)
        for c in ("n_replicates", "n_awareness", "direction"):
            table[c] = table[c].astype(int)
        table.attrs["group_columns"] = list(self.group_columns)
        return table

    def to_csv(self) -> str:
        """The table as CSV, the same text as ``to_frame().to_csv(index=False)``
        (tests/test_thresholds.py checks it)."""
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([_csv_value(row[c]) for c in self.columns] for row in self.rows)
        return out.getvalue()


def _csv_value(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is _NA:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


class MeanFieldColumns:
    """The mean field's columns of a sweep's groups (``s_star_meanfield_n``,
    ``s_star_meanfield_inf`` and their notes), keyed by the group's parameters and its
    measured q_r, kept in the sweep's manifest.

    They depend on nothing ``persona-sim threshold`` can change (its bootstrap and
    seed), so the sweep computes them once when it finishes and ``threshold`` reads
    them back instead of loading the mean field: the code that computed them is named
    by a digest of the ``sim`` package's source (:func:`code_digest`), and values from
    other code are not used.
    """

    def __init__(self, record: Mapping[str, Any] | None = None) -> None:
        self.code = code_digest()
        self.known: dict[str, tuple[float, float, list[str]]] = {}
        if isinstance(record, Mapping) and record.get("code") == self.code:
            try:
                for key, s_n, s_inf, notes in record.get("groups", []):
                    self.known[str(key)] = (float.fromhex(s_n), float.fromhex(s_inf), [str(n) for n in notes])
            except (TypeError, ValueError):  # an edited manifest: compute the columns again
                self.known.clear()

    @staticmethod
    def key(params: Params, real_cited_rate: float | None) -> str:
        """A group's key: its parameters (awareness at the group's largest level, as
        the mean field is asked) and its measured q_r, exactly (as hex)."""
        q_r = None if real_cited_rate is None else float(real_cited_rate).hex()
        return json.dumps([q_r, dict(params)], default=str, sort_keys=True)

    def get(self, params: Params, real_cited_rate: float | None) -> tuple[float, float, list[str]] | None:
        return self.known.get(self.key(params, real_cited_rate))

    def put(self, params: Params, real_cited_rate: float | None, columns: tuple[float, float, list[str]]) -> None:
        self.known[self.key(params, real_cited_rate)] = (float(columns[0]), float(columns[1]), list(columns[2]))

    def record(self) -> dict[str, Any]:
        """What the manifest keeps (JSON)."""
        return {"code": self.code, "groups": [[k, v[0].hex(), v[1].hex(), v[2]] for k, v in self.known.items()]}


def code_digest() -> str:
    """SHA-256 (first 16 hex digits) of the ``sim`` package's Python source: names the
    code that computed a sweep's mean-field columns."""
    import hashlib
    import importlib.util

    folder = Path(importlib.util.find_spec("sim").origin).parent
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------
# Finite-size scaling
# ---------------------------------------------------------------------------------
def _least_squares(x: np.ndarray, y: np.ndarray, subgroup: np.ndarray, se: np.ndarray | None):
    """Common slope with one intercept per subgroup; (slope, its standard error, dof).

    With standard errors of ``y`` the fit is weighted and the slope's error is
    scaled up by the Birge ratio when the scatter exceeds them; without, it is
    ordinary least squares.
    """
    labels, index = np.unique(subgroup, return_inverse=True)
    design = np.column_stack([x] + [(index == j).astype(float) for j in range(labels.size)])
    w = np.ones_like(y) if se is None else 1.0 / se**2
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    dof = y.size - design.shape[1]
    resid = (y - design @ coef) * sw
    cov = np.linalg.pinv((design * w[:, None]).T @ design)
    if se is None:
        sigma2 = float(resid @ resid / dof) if dof > 0 else math.nan
    else:
        sigma2 = max(1.0, float(resid @ resid / dof)) if dof > 0 else 1.0
    return float(coef[0]), float(math.sqrt(cov[0, 0] * sigma2)), dof


def finite_size_scaling(thresholds_df: pd.DataFrame, level: float = 0.95) -> dict[str, Any]:
    """How the transition sharpens and the threshold converges as the corpus grows.

    The mean field predicts a width ``~ 1/sqrt(N)`` (slope -1/2 of log width against
    log N) and a threshold ``s*_N`` that tends to ``s*_inf`` (``docs/model.md``, what the
    reference configuration must show, 5). This fits ``log(width) = slope log(N) +
    c`` on the groups of :func:`fit_thresholds`'s table with a finite width (one
    intercept per combination of the other group columns, a common slope), weighted
    by the bootstrap interval of each width when it is there.

    Parameters
    ----------
    thresholds_df : pandas.DataFrame
        Output of :func:`fit_thresholds` with ``n_documents`` among its group columns.
    level : float
        Confidence level of the slope's interval.

    Returns
    -------
    dict
        ``slope``, ``slope_low``, ``slope_high``, ``slope_se``, ``n_points`` and
        ``method`` ("weighted" or "ordinary" least squares) of the width's scaling;
        ``distance_slope`` (``distance_slope_low``, ``distance_slope_high``): the same
        fit for ``|s_star - s_star_meanfield_inf|`` (the mean field's finite-size
        shift falls like 1/N, but simulated distances are dominated by noise once the
        shift is small); ``distance_shrinks``: whether the distance at the largest N
        is below that at the smallest N in every subgroup; ``table``: per group
        ``n_documents``, ``s_star`` with its interval, the two mean-field
        thresholds, ``distance`` (simulated), ``distance_meanfield`` (``|s*_N -
        s*_inf|`` of the mean field) and ``width`` with its interval; ``note``.
    """
    import pandas as pd
    from scipy.stats import norm, t as student_t

    if "n_documents" not in thresholds_df.columns:
        raise KeyError("finite_size_scaling needs n_documents among the group columns (sweep the corpus size)")
    groups = thresholds_df.attrs.get("group_columns")
    if groups is None:
        groups = list(thresholds_df.columns[: list(thresholds_df.columns).index("s_star")])
    others = [c for c in groups if c != "n_documents"]
    t = thresholds_df.copy()
    keep_cols = others + ["n_documents", "s_star", "s_star_low", "s_star_high", "s_star_meanfield_n",
                          "s_star_meanfield_inf", "width"]
    keep_cols += [c for c in ("width_low", "width_high") if c in t.columns]
    table = t[keep_cols].copy()
    table["distance"] = (table["s_star"] - table["s_star_meanfield_inf"]).abs()
    table["distance_meanfield"] = (table["s_star_meanfield_n"] - table["s_star_meanfield_inf"]).abs()
    table = table.sort_values(others + ["n_documents"], kind="stable").reset_index(drop=True)
    subgroup = (table[others].astype(str).agg("|".join, axis=1) if others else pd.Series("", index=table.index))
    subgroup = subgroup.to_numpy()

    out: dict[str, Any] = {"table": table, "note": ""}
    z = float(norm.ppf(0.5 + level / 2))

    def fit(y_col: str, prefix: str, weighted: bool) -> None:
        y = table[y_col].to_numpy(dtype=float)
        n = table["n_documents"].to_numpy(dtype=float)
        ok = np.isfinite(y) & (y > 0) & np.isfinite(n)
        se = None
        if weighted and {"width_low", "width_high"} <= set(table.columns):
            lo, hi = table["width_low"].to_numpy(float), table["width_high"].to_numpy(float)
            se_all = (np.log(hi) - np.log(lo)) / (2 * z)
            if np.all(np.isfinite(se_all[ok]) & (se_all[ok] > 0)):
                se = se_all[ok]
        x_ok, y_ok, sub = np.log(n[ok]), np.log(y[ok]), subgroup[ok]
        distinct = min((np.unique(x_ok[sub == g]).size for g in np.unique(sub)), default=0)
        out[f"{prefix}n_points"] = int(ok.sum())
        if ok.sum() == 0 or distinct < 2 or y_ok.size - np.unique(sub).size < 1:
            out.update({f"{prefix}slope": math.nan, f"{prefix}slope_low": math.nan,
                        f"{prefix}slope_high": math.nan, f"{prefix}slope_se": math.nan})
            out["note"] = (out["note"] + "; " if out["note"] else "") + \
                f"{y_col}: fewer than two corpus sizes with a finite value"
            return
        slope, se_slope, dof = _least_squares(x_ok, y_ok, sub, se)
        q = z if se is not None else (float(student_t.ppf(0.5 + level / 2, dof)) if dof > 0 else math.nan)
        out.update({f"{prefix}slope": slope, f"{prefix}slope_se": se_slope,
                    f"{prefix}slope_low": slope - q * se_slope, f"{prefix}slope_high": slope + q * se_slope})
        if prefix == "":
            out["method"] = "weighted" if se is not None else "ordinary"

    fit("width", "", weighted=True)
    fit("distance", "distance_", weighted=False)
    shrinks = []
    for g in np.unique(subgroup):
        part = table[(subgroup == g) & np.isfinite(table["distance"].to_numpy(float))]
        if len(part) >= 2:
            shrinks.append(float(part["distance"].iloc[-1]) < float(part["distance"].iloc[0]))
    out["distance_shrinks"] = bool(shrinks) and all(shrinks)
    return out
