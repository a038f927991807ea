"""The mean field at many parameter points at once: thresholds and P(rebel) for a
sensitivity analysis.

:mod:`sim.meanfield` answers for one parameter set, with a fine quadrature grid and
a 1,000-point root bracket; a global sensitivity analysis asks the same questions at
tens of thousands of points. This module computes, per point, with one compiled
kernel run in parallel over points (``numba.prange``):

- ``s_star_inf``: the lowest awareness in [0, 1] at which the large-corpus P(rebel)
  crosses 1/2 upwards, that is the lowest upward root of the mean increment mu(s)
  (docs/model.md §4, "P(rebel), threshold and emergence": as N -> infinity, P(rebel)
  -> 1 where mu > 0 and -> 0 where mu < 0). 0 when mu > 0 from the smallest awareness
  on (the small-awareness slope mu'(0) is positive: planting backfires at any
  awareness); 1.0 when mu never turns positive on (0, 1] (no rebel at any awareness
  on the scale), with ``threshold_exists`` 0;
- ``p_rebel_at``: the Gaussian P(rebel) after ``n_documents`` at one awareness
  (docs/model.md §4), ``Phi((logit pi_0 + N mu) / (sigma sqrt N))``.

The per-document moments are those of :func:`sim.meanfield.moments`, term by term,
and every document's Delta is the learner's own rule (:func:`sim.rules.log_lr`,
:func:`sim.rules.log_evidence`). Two choices make it fast, and both are checked
against :mod:`sim.meanfield` in tests/test_sensitivity.py:

- the Gaussian expectation is the trapezoid rule on z in [-8, 8] with step
  ``min(0.5, 0.5 / (s d))``, as in :mod:`sim.meanfield` (its ``STYLE_*`` constants).
  The integrand ``Delta(s d z + ...) phi(z)`` is analytic in a strip of half-width
  about ``pi / (s d)`` (the poles of the softplus), so the trapezoid error falls like
  ``exp(-2 pi^2 / (s d step))`` (below 1e-16 at this step), and the normal mass
  beyond 8 is 1.2e-15: 33 to 129 nodes;
- the root is bracketed on ``grid`` evenly spaced awareness levels (default 100,
  :mod:`sim.meanfield` uses 1,000) and refined by the Illinois variant of false
  position to 1e-10. An excursion of mu above 0 narrower than 1/grid can be missed.

Points whose run is not one static training run at constant awareness (an awareness
schedule, a reacting lab, several generations) have no closed-form P(rebel); their
``p_rebel_at`` is :func:`sim.meanfield.p_rebel` at that point (slow, exact to the
mean field). Their ``s_star_inf`` is the large-corpus threshold of their initial
shares, as ``persona-sim run`` reports it.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from . import _cpu  # noqa: F401  (numba's vector width, set before numba is first imported)
from numba import njit, prange  # noqa: E402

from . import meanfield, rules
from .corpus import expected_planted_cited_rate
from .meanfield import learner_real_cited_rate
from .params import PARAMETERS, ParameterError, Params

__all__ = ["point_constants", "thresholds_and_p_rebel", "general_s_star", "CONSTANT_COLUMNS", "KNOWN_PARAMETERS"]

#: The per-point quantities the kernel reads, in its column order.
CONSTANT_COLUMNS = (
    "real_fraction", "planted_fraction", "disclosed_fraction", "control_discourse_fraction",
    "log_control_ratio", "synthetic_detectability", "real_cited_rate", "believed_planted_cited_rate",
    "deceptive_plant_rate", "candid_plant_rate", "log_disclosure_ratio", "planted_cited_rate",
    "prior_log_odds", "n_documents",
)

_Z_HALF_WIDTH = meanfield.STYLE_HALF_WIDTH
_STEP = meanfield.STYLE_STEP


def point_constants(params: Params, real_cited_rate: float | None = None) -> np.ndarray:
    """The row of :data:`CONSTANT_COLUMNS` for one parameter set (q_r as
    :func:`sim.meanfield.learner_real_cited_rate` gives it: the construction's expectation,
    or for the trusted cue the share measured on the reference corpus of seed 0)."""
    q_r = learner_real_cited_rate(params, real_cited_rate)
    return np.array([
        params.real_fraction, params.planted_fraction, params.disclosed_fraction,
        params.control_discourse_fraction, math.log(params.control_likelihood_ratio),
        params.synthetic_detectability, q_r, params.believed_planted_cited_rate,
        params.deceptive_plant_rate, params.candid_plant_rate, math.log(params.disclosure_likelihood_ratio),
        round(expected_planted_cited_rate(params), 15), math.log(params.prior_deceptive) - math.log1p(-params.prior_deceptive),
        float(params.n_documents),
    ])


@njit(cache=True)
def _moments(k, s):
    """Mean and variance of one document's Delta at constant awareness ``s`` for the
    constants ``k`` (one row): :func:`sim.meanfield.moments`, term by term."""
    real, rho, eta, c = k[0], k[1], k[2], k[3]
    log_kappa, d, q_r, q_p = k[4], k[5], k[6], k[7]
    pi_d, eps, log_beta, q_pt = k[8], k[9], k[10], k[11]
    h = s * d
    step = _STEP if h <= 1.0 else _STEP / h
    n = int(math.ceil(2.0 * _Z_HALF_WIDTH / step)) + 1
    dz = 2.0 * _Z_HALF_WIDTH / (n - 1)
    log_cited = math.log(q_p) - math.log(q_r)
    log_uncited = math.log1p(-q_p) - math.log1p(-q_r)
    norm_w = dz / math.sqrt(2.0 * math.pi)
    rc1 = rc2 = ru1 = ru2 = p1 = p2 = pc1 = pc2 = 0.0
    for j in range(n):
        z = -_Z_HALF_WIDTH + j * dz
        w = math.exp(-0.5 * z * z) * norm_w
        if j == 0 or j == n - 1:
            w *= 0.5
        a = rules.log_evidence(rules.log_lr(z, -0.5, log_cited, s, d), pi_d, eps)
        b = rules.log_evidence(rules.log_lr(z, -0.5, log_uncited, s, d), pi_d, eps)
        p = rules.log_evidence(rules.log_lr(z, 0.5, log_uncited, s, d), pi_d, eps)
        rc1 += w * a
        rc2 += w * a * a
        ru1 += w * b
        ru2 += w * b * b
        p1 += w * p
        p2 += w * p * p
        if q_pt > 0.0:
            pc = rules.log_evidence(rules.log_lr(z, 0.5, log_cited, s, d), pi_d, eps)
            pc1 += w * pc
            pc2 += w * pc * pc
    real_m1 = q_r * rc1 + (1.0 - q_r) * ru1
    real_m2 = q_r * rc2 + (1.0 - q_r) * ru2
    k_control = s * log_kappa
    real_m2 = real_m2 + 2.0 * c * k_control * real_m1 + c * k_control * k_control
    real_m1 = real_m1 + c * k_control
    if q_pt > 0.0:
        p1 = q_pt * pc1 + (1.0 - q_pt) * p1
        p2 = q_pt * pc2 + (1.0 - q_pt) * p2
    k_disclosed = s * log_beta
    m1 = real * real_m1 + rho * p1 + eta * k_disclosed
    m2 = real * real_m2 + rho * p2 + eta * k_disclosed * k_disclosed
    return m1, max(m2 - m1 * m1, 0.0)


@njit(cache=True)
def _mean(k, s):
    return _moments(k, s)[0]


@njit(cache=True)
def _refine(k, lo, hi, f_lo, f_hi):
    """The root of mu in [lo, hi] (f_lo <= 0 < f_hi): Illinois false position to 1e-10."""
    side = 0
    for _ in range(200):
        if hi - lo <= 1e-10:
            break
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not (lo < x < hi):
            x = 0.5 * (lo + hi)
        f = _mean(k, x)
        if f > 0.0:
            hi, f_hi = x, f
            if side == 1:
                f_lo *= 0.5
            side = 1
        else:
            lo, f_lo = x, f
            if side == -1:
                f_hi *= 0.5
            side = -1
        if f == 0.0:
            return x
    return 0.5 * (lo + hi) if hi - lo > 1e-10 else (lo if abs(f_lo) < abs(f_hi) else hi)


@njit(cache=True)
def _lowest_upward_root(k, grid):
    """(s*, exists): the lowest s in [0, 1] where mu turns positive, or (1, 0)."""
    s1 = 1.0 / grid
    f1 = _mean(k, s1)
    if f1 > 0.0:
        tiny = s1 * 1e-6
        f_tiny = _mean(k, tiny)
        if f_tiny > 0.0:
            return 0.0, 1.0  # mu'(0) > 0: positive from the smallest awareness on
        return _refine(k, tiny, s1, f_tiny, f1), 1.0
    prev_s, prev_f = s1, f1
    for i in range(2, grid + 1):
        s = i / grid
        f = _mean(k, s)
        if f > 0.0 and prev_f <= 0.0:
            return _refine(k, prev_s, s, prev_f, f), 1.0
        prev_s, prev_f = s, f
    return 1.0, 0.0


@njit(parallel=True, cache=True)
def _kernel(constants, at_awareness, grid):
    n = constants.shape[0]
    out = np.empty((n, 3))
    for i in prange(n):
        k = constants[i]
        s_star, exists = _lowest_upward_root(k, grid)
        mean, var = _moments(k, at_awareness)
        centre = k[12] + k[13] * mean
        sd = math.sqrt(k[13] * var)
        if sd > 0.0:
            p = 0.5 * math.erfc(-(centre / sd) / math.sqrt(2.0))
        else:
            p = 1.0 if centre >= 0.0 else 0.0
        out[i, 0] = s_star
        out[i, 1] = exists
        out[i, 2] = p
    return out


#: The parameters this module knows: those the kernel reads, those that do not enter
#: a static run's mean field at constant awareness, and those for which ``p_rebel_at``
#: is taken from :func:`sim.meanfield.p_rebel` (schedules, reacting labs, generations).
#: A point that sets any other parameter away from its default (one declared after
#: this module was written, such as another learner) is computed entirely by
#: :mod:`sim.meanfield`, which knows it: slower, never silently wrong.
KNOWN_PARAMETERS = frozenset({
    "n_documents", "batch_size", "planted_fraction", "disclosed_fraction", "real_positive_rate",
    "control_discourse_fraction", "control_likelihood_ratio", "synthetic_detectability",
    "citations_per_document", "believed_planted_cited_rate", "prior_deceptive", "candid_plant_rate",
    "deceptive_plant_rate", "disclosure_likelihood_ratio", "norm_weight", "situational_awareness",
    "citation_cue", "anchor_share", "laundering",
    "sa_start", "awareness_schedule", "schedule_steepness", "retrospection", "lab_policy", "evaluation_interval",
    "alarm_level", "planting_step", "statement_likelihood_ratio", "concealment", "generations",
    "incident_control_step", "incident_negative_step",
    # the learning learner's priors (docs/model.md §3.1): they do not enter the informed learner's mean field
    "learner_model", "deceptive_rate_concentration", "candid_rate_concentration", "cited_rate_concentration",
    "detectability_prior_mean", "detectability_prior_sd",
})
#: The learner whose mean field this module (and sim.meanfield) computes.
MEAN_FIELD_LEARNER = "informed"


def check_mean_field_learner(params: Params) -> None:
    """Refuse a point whose learner has no mean field here (the learning learner,
    docs/model.md §3.1): one line naming it and what is allowed."""
    if params.learner_model != MEAN_FIELD_LEARNER:
        raise ParameterError(
            f"learner_model = {params.learner_model} has no mean field (sim.meanfield is the informed learner's, "
            "docs/model.md §3.1): allowed is --simulate (the sweep engine runs either learner), or "
            f"learner_model = {MEAN_FIELD_LEARNER}")
_DEFAULTS = {p.name: p.default for p in PARAMETERS}


def _needs_general(params: Params) -> bool:
    return params.sa_start is not None or params.lab_policy != "static" or params.generations > 1


def _unknown_to_kernel(params: Params) -> bool:
    return any(params[name] != _DEFAULTS[name] for name in _DEFAULTS if name not in KNOWN_PARAMETERS)


def general_s_star(params: Params) -> tuple[float, float]:
    """(s_star_inf, threshold_exists) from :func:`sim.meanfield.thresholds` (a
    1,000-level bracket on the full quadrature): the lowest root where mu turns
    positive, 0 where mu > 0 from the smallest awareness on, 1 where it never turns
    positive; with benevolent makers, none where the mistrust evidence cannot grow
    (:func:`sim.meanfield.mistrust_grows`)."""
    if params.prior_benevolent > 0 and not meanfield.mistrust_grows(params, meanfield.learner_real_cited_rate(params)):
        return 1.0, 0.0
    for root in np.sort(meanfield.thresholds(params)):
        above = min(float(root) + 1e-7, 1.0)
        if above > root and float(meanfield.moments(params, [above])[0][0]) > 0.0:
            return float(root), 1.0
    if float(meanfield.moments(params, [1e-3])[0][0]) > 0.0:
        return 0.0, 1.0
    return 1.0, 0.0


def thresholds_and_p_rebel(
    points: Sequence[Params] | np.ndarray,
    at_awareness: float = 0.4,
    grid: int = 100,
) -> dict[str, np.ndarray]:
    """``s_star_inf``, ``threshold_exists`` and ``p_rebel_at`` at every point.

    Parameters
    ----------
    points : sequence of Params, or an array of rows of :data:`CONSTANT_COLUMNS`
        (:func:`point_constants`; rows stand for static runs at constant awareness).
    at_awareness : float
        The awareness of ``p_rebel_at``.
    grid : int
        Awareness levels on which the root is bracketed.

    >>> out = thresholds_and_p_rebel([Params(), Params(planted_fraction=0.05)], at_awareness=0.65)
    >>> out["s_star_inf"].round(4).tolist(), out["threshold_exists"].tolist(), out["p_rebel_at"].round(3).tolist()
    ([0.6306, 1.0], [1.0, 0.0], [0.793, 0.0])
    """
    if isinstance(points, np.ndarray):
        constants = np.ascontiguousarray(points, dtype=float)
        general: list[tuple[int, Params]] = []
        unknown: list[int] = []
    else:
        for p in points:
            check_mean_field_learner(p)
        unknown = {i for i, p in enumerate(points) if _unknown_to_kernel(p)}
        constants = np.array([point_constants(p) for p in points]).reshape(-1, len(CONSTANT_COLUMNS))
        general = [(i, p) for i, p in enumerate(points) if _needs_general(p) or i in unknown]
    raw = _kernel(constants, float(at_awareness), int(grid))
    out = {"s_star_inf": raw[:, 0].copy(), "threshold_exists": raw[:, 1].copy(), "p_rebel_at": raw[:, 2].copy()}
    for i, params in general:
        out["p_rebel_at"][i] = float(meanfield.p_rebel(params, [float(at_awareness)])[0])
    for i in unknown:
        out["s_star_inf"][i], out["threshold_exists"][i] = general_s_star(points[i])
    return out
