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
field's answers (``shared/MODEL.md``, "Mean field and the threshold"): the
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

References
----------
.. [1] B. Efron and R. J. Tibshirani, An Introduction to the Bootstrap (Chapman &
   Hall, 1993), ch. 13 (percentile intervals) and ch. 8 (resampling the independent
   units of structured data).
.. [2] D. J. Finney, Probit Analysis, 3rd ed. (Cambridge University Press, 1971)
   (maximum-likelihood fits of a sigmoid dose-response curve and its median
   effective dose, here the threshold awareness).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq, minimize
from scipy.special import expit, log_expit
from scipy.stats import norm, t as student_t

from sim import PARAMETERS, Params
from sim import meanfield

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
_Z_LEVEL = float(norm.ppf(0.975))

_PARAMETER_NAMES = tuple(p.name for p in PARAMETERS)
_BY_NAME = {p.name: p for p in PARAMETERS}


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
    names = swept_parameters(results) if swept is None else list(swept)
    missing = [n for n in names if n not in results.columns]
    if missing:
        raise KeyError(
            f"swept parameter(s) {', '.join(map(repr, missing))} are not columns of the results: "
            f"allowed are {', '.join(c for c in results.columns if c in _BY_NAME)}"
        )
    return [n for n in names if n != AWARENESS]


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
        return expit(self.direction * (s - self.s_star) / self.scale)


def _negative_log_likelihood(theta, s, rebels, trials, direction):
    """Binomial negative log-likelihood and its gradient in (s_star, log scale)."""
    s_star, log_scale = theta
    scale = math.exp(log_scale)
    z = direction * (s - s_star) / scale
    nll = -float(rebels @ log_expit(z) + (trials - rebels) @ log_expit(-z))
    resid = rebels - trials * expit(z)  # d(-nll)/dz
    grad = np.array([float(resid.sum()) * direction / scale, float(resid @ z)])
    return nll, grad


def _bounds(s: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    span = float(s.max() - s.min())
    return (float(s.min()), float(s.max())), (math.log(1e-3 * span), math.log(10.0 * span))


def _minimize(s, rebels, trials, direction, start, bounds) -> tuple[np.ndarray, bool]:
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
    is maximized with scipy's truncated Newton method (TNC) over ``(s_star, log scale)``, with ``s_star`` kept in
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
    x, ok = _minimize(s, k, n, direction, _start(s, k, n, direction), bounds)
    return _as_fit(x, ok, direction, bounds)


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
def _p_rebel(params: Params, s: np.ndarray, q_r: float | None) -> np.ndarray:
    """sim.meanfield.p_rebel in chunks (an awareness schedule would otherwise need gigabytes)."""
    s = np.asarray(s, dtype=float).reshape(-1)
    # chunks keep the (levels x batches x quadrature nodes) arrays small and in cache
    chunk = 50 if params.sa_start is None else max(1, 500_000 // (params.n_batches * 2_500))
    return np.concatenate(
        [meanfield.p_rebel(params, s[i : i + chunk], real_cited_rate=q_r) for i in range(0, s.size, chunk)]
    )


def meanfield_crossings(
    params: Params,
    real_cited_rate: float | None = None,
    level: float = 0.5,
    grid: int | None = None,
) -> np.ndarray:
    """Every awareness in [0, 1] where the mean field's P(rebel) at ``n_documents`` is ``level``.

    Sign changes of ``sim.meanfield.p_rebel - level`` are bracketed on a grid and
    refined with Brent's method. The grid has 201 points at constant awareness and
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

    roots: list[float] = []
    sign = np.sign(f)
    if not sign.any():  # exactly `level` everywhere (no evidence either way): no crossing
        return np.array(roots)
    for i in range(grid - 1):
        if sign[i] * sign[i + 1] < 0:
            roots.append(brentq(g, s[i], s[i + 1], xtol=1e-7))
        elif sign[i] == 0 and 0 < i and sign[i - 1] * sign[i + 1] < 0:
            roots.append(float(s[i]))  # an exact hit on the grid between opposite signs
    return np.array(roots)


def _meanfield_columns(params: Params, q_r: float | None) -> tuple[float, float, list[str]]:
    notes = []
    roots_n = meanfield_crossings(params, q_r)
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
    roots_inf = meanfield.thresholds(params, real_cited_rate=q_r, grid=100)
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
# One group, and all of them
# ---------------------------------------------------------------------------------
def _counts(group: pd.DataFrame, unit: str):
    """Levels, replicate units, and the rebel and learner counts per (unit, level)."""
    levels, level_index = np.unique(group[AWARENESS].to_numpy(dtype=float), return_inverse=True)
    units, unit_index = np.unique(group[unit].to_numpy(), return_inverse=True)
    rebel = (group["persona"].to_numpy() == "rebel").astype(float)
    rebels = np.zeros((units.size, levels.size))
    trials = np.zeros((units.size, levels.size))
    np.add.at(rebels, (unit_index, level_index), rebel)
    np.add.at(trials, (unit_index, level_index), 1.0)
    return levels, rebels, trials


def _mean_real_cited_rate(group: pd.DataFrame, unit: str) -> float | None:
    if "real_cited_rate" not in group.columns:
        return None
    keys = [c for c in ("point", unit) if c in group.columns]
    q = group.drop_duplicates(keys)["real_cited_rate"].to_numpy(dtype=float)
    q = q[np.isfinite(q)]
    return float(q.mean()) if q.size else None


def _fit_group(group: pd.DataFrame, unit: str, n_boot: int, rng: np.random.Generator) -> dict[str, Any]:
    levels, rebels_u, trials_u = _counts(group, unit)
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
    q_r = _mean_real_cited_rate(group, unit)
    out["real_cited_rate"] = math.nan if q_r is None else q_r

    params = params_from_row(group.iloc[0], **{AWARENESS: float(levels.max())})
    out["s_star_meanfield_n"], out["s_star_meanfield_inf"], mf_notes = _meanfield_columns(params, q_r)

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
            x, ok = _minimize(levels, rebels, trials, direction, _start(levels, rebels, trials, direction), bounds)
            fit = _as_fit(x, ok, direction, bounds)
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
        return (rebels * log_expit(z) + (trials - rebels) * log_expit(-z)).sum(1)

    ll = loglik(a, b)
    done = np.zeros(m, dtype=bool)
    tol = 1e-9 * np.maximum(1.0, trials.sum(1))
    for _ in range(max_iter):
        z = a[:, None] + b[:, None] * x
        p = expit(z)
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
            worse = loglik(a + step * da, b + step * db) < ll
            if not worse.any():
                break
            step = np.where(worse, 0.5 * step, step)
        step = np.where(worse, 0.0, step)  # no ascent found: stay (and fail the test below)
        a, b = a + step * da, b + step * db
        ll = loglik(a, b)
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
        return z, rebels - trials * expit(z)

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
    out, ok = _newton(levels, rebels_b, trials_b, direction, start, bounds)
    rest = np.flatnonzero(~ok)
    if rest.size:
        floor, on_floor = _on_scale_floor(levels, rebels_b[rest], trials_b[rest], direction, bounds)
        out[rest[on_floor]] = floor[on_floor]
        rest = rest[~on_floor]
    for b in rest:
        keep = trials_b[b] > 0
        out[b] = _minimize(levels[keep], rebels_b[b, keep], trials_b[b, keep], direction, start, bounds)[0]
    return out


def fit_thresholds(
    results: pd.DataFrame,
    swept: list[str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Fit the rebel threshold in awareness for every group of a sweep's results.

    Parameters
    ----------
    results : pandas.DataFrame
        One row per (point, replicate, awareness level), as ``persona-sim sweep``
        writes it. Needed: ``situational_awareness``, ``replicate`` and ``persona``;
        used when present: the parameter columns (for the mean field; defaults
        otherwise), ``point`` and ``real_cited_rate`` (q_r, averaged over the group's
        replicates for the mean field).
    swept : list of str, optional
        The swept parameters (the manifest's ``"swept"``). The groups are the
        combinations of those other than ``situational_awareness``. None infers them:
        parameter columns with more than one distinct value.
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

    The point estimate is maximized by scipy (:func:`fit_logistic`); the bootstrap
    refits all resamples at once with a vectorized Newton iteration on the same
    likelihood, and a resample whose maximum lies on a bound (a transition too sharp
    for the grid) is solved on that bound exactly. With a uniform awareness grid the
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
    for column in (AWARENESS, "replicate", "persona"):
        if column not in results.columns:
            raise KeyError(f"results has no column {column!r}: a sweep's results table is needed")
    columns = group_columns(results, swept)
    root = np.random.SeedSequence(seed)
    rows = []
    if results.empty:
        groups = []
    elif columns:
        grouped = results.groupby(columns, sort=True, dropna=False)
        groups = [(keys if isinstance(keys, tuple) else (keys,), g) for keys, g in grouped]
    else:
        groups = [((), results)]
    for i, (keys, group) in enumerate(groups):
        rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(i,)))
        row = dict(zip(columns, keys))
        row.update(_fit_group(group, "replicate", n_boot, rng))
        rows.append(row)
    table = pd.DataFrame(rows, columns=columns + list(RESULT_COLUMNS) + list(DIAGNOSTIC_COLUMNS))
    table["note"] = table["note"].astype(str)
    for c in ("n_replicates", "n_awareness", "direction"):
        table[c] = table[c].astype(int)
    table.attrs["group_columns"] = list(columns)
    return table


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
    log N) and a threshold ``s*_N`` that tends to ``s*_inf`` (``MODEL.md``, what the
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
