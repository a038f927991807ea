"""Mean field of the learner's log-odds: moments, P(rebel), thresholds, emergence.

The log-odds after ``N`` documents are a random walk,
``ell_N = logit(pi_0) + sum_i Delta_i``, whose steps are independent across
documents once the corpus's cited share ``q_r`` is fixed (``shared/MODEL.md``,
"Mean field and the threshold"). With ``mu(s) = E[Delta]`` and
``sigma^2(s) = Var[Delta]`` over document kinds, style noise, citation status and
control discourse, the central limit theorem gives

    P(rebel after N) ~ Phi((logit(pi_0) + N mu(s)) / (sigma(s) sqrt(N))),

the large-corpus threshold ``s*_inf`` solves ``mu(s) = 0``, and for ``mu > 0`` the
expected first passage of ``ell`` through ``log 9`` is about
``(log 9 - logit(pi_0)) / mu(s)`` (Wald's identity, overshoot neglected).

The style expectation is a Gaussian integral, computed here by the trapezoid rule on
a grid fine enough for both the noise's scale and the increment's (the rule is
spectrally accurate for such smooth integrands); citation status and control
discourse are finite sums.

The citation term is exact for a cited share ``q_r`` known to the learner; the
simulated corpus measures ``q_r`` on its own graph, so comparisons with a simulation
pass the measured value. ``real_cited_rate=None`` stands for the value the corpus
construction gives on average, :func:`sim.corpus.expected_real_cited_rate`.

Awareness that grows during training and retrospection are handled exactly in the
same frame: the step of a document read in batch ``t`` is
``(1 - r) Delta(s_t) + r Delta(s)`` and the walk's mean and variance add up batch
by batch (:func:`p_rebel`).

References
----------
.. [1] A. Wald, "On cumulative sums of random variables", Ann. Math. Statist. 15
   (1944) 283-296 (Wald's identity for the expected passage time).
.. [2] W. Feller, An Introduction to Probability Theory and Its Applications, vol. 1
   (Wiley, 1968), ch. X (central limit theorem for sums of independent steps).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import logit
from scipy.stats import norm

from .corpus import expected_real_cited_rate
from .learner import EMERGENCE_LEVEL, awareness_schedule, evidence
from .params import Params

__all__ = ["moments", "p_rebel", "thresholds", "emergence_estimate", "real_cited_rate_for"]

_Z_HALF_WIDTH = 12.0  # the standard normal's mass beyond 12 is below 1e-32


def real_cited_rate_for(params: Params, real_cited_rate: float | None) -> float:
    """q_r to use: the given value, or the construction's expectation; kept inside (0, 1)."""
    q = expected_real_cited_rate(params) if real_cited_rate is None else float(real_cited_rate)
    if not 0.0 <= q <= 1.0 or np.isnan(q):
        raise ValueError(f"real_cited_rate = {q!r} is not allowed: allowed is a number in [0, 1]")
    return float(np.clip(q, 1e-12, 1.0 - 1e-12))


def _mixture(log_lr: np.ndarray, params: Params) -> np.ndarray:
    """Delta of an undisclosed document from log Lambda: the learner's own rule."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return evidence(log_lr, params.deceptive_plant_rate, params.candid_plant_rate)


def _step_moments(
    params: Params,
    s_read: np.ndarray,
    s_final: np.ndarray,
    retrospection: float,
    q_r: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of one document's step ``(1-r) Delta(s_read) + r Delta(s_final)``.

    ``s_read`` and ``s_final`` are broadcast together; the result has their shape.
    """
    s_read, s_final = np.broadcast_arrays(np.asarray(s_read, float), np.asarray(s_final, float))
    shape = s_read.shape
    flat1, flat2 = s_read.reshape(-1), s_final.reshape(-1)
    block = 256  # rows per pass: temporaries of at most 256 x (grid points) floats
    if flat1.size > block:
        parts = [
            _step_moments(params, flat1[i : i + block], flat2[i : i + block], retrospection, q_r)
            for i in range(0, flat1.size, block)
        ]
        return (np.concatenate([p[0] for p in parts]).reshape(shape),
                np.concatenate([p[1] for p in parts]).reshape(shape))
    s1, s2 = flat1.reshape(-1, 1), flat2.reshape(-1, 1)
    r = float(retrospection)
    d = params.synthetic_detectability
    q_p = params.believed_planted_cited_rate

    shift_max = float(max(s1.max(initial=0.0), s2.max(initial=0.0)) * d)
    step = min(0.01, 0.25 / shift_max) if shift_max > 0 else 0.01
    n = int(np.ceil(2 * _Z_HALF_WIDTH / step)) + 1
    z = np.linspace(-_Z_HALF_WIDTH, _Z_HALF_WIDTH, n)
    weight = np.exp(-0.5 * z * z)
    weight *= (z[1] - z[0]) / np.sqrt(2 * np.pi)
    weight[[0, -1]] *= 0.5  # trapezoid ends (negligible mass there anyway)

    log_cited = np.log(q_p) - np.log(q_r)
    log_uncited = np.log1p(-q_p) - np.log1p(-q_r)

    def delta(s: np.ndarray, planted: bool, cited: bool) -> np.ndarray:
        shift = s * d
        perceived = shift * planted + z[None, :]
        log_lr = shift * perceived - 0.5 * shift * shift + s * (log_cited if cited else log_uncited)
        return _mixture(log_lr, params)

    def combined(planted: bool, cited: bool) -> tuple[np.ndarray, np.ndarray]:
        g = delta(s1, planted, cited)
        if r > 0:
            g = (1.0 - r) * g + r * delta(s2, planted, cited)
        return g @ weight, (g * g) @ weight

    # real documents: cited with probability q_r, then control discourse with prob. c
    m1_c, m2_c = combined(planted=False, cited=True)
    m1_u, m2_u = combined(planted=False, cited=False)
    real_m1 = q_r * m1_c + (1 - q_r) * m1_u
    real_m2 = q_r * m2_c + (1 - q_r) * m2_u
    s_eff = ((1.0 - r) * s1 + r * s2)[:, 0]
    k_control = s_eff * np.log(params.control_likelihood_ratio)
    c = params.control_discourse_fraction
    real_m2 = real_m2 + 2 * c * k_control * real_m1 + c * k_control**2
    real_m1 = real_m1 + c * k_control
    # planted documents: never cited
    plant_m1, plant_m2 = combined(planted=True, cited=False)
    # disclosed documents: a fixed step
    k_disclosed = s_eff * np.log(params.disclosure_likelihood_ratio)

    rho, eta = params.planted_fraction, params.disclosed_fraction
    real = params.real_fraction
    m1 = real * real_m1 + rho * plant_m1 + eta * k_disclosed
    m2 = real * real_m2 + rho * plant_m2 + eta * k_disclosed**2
    var = np.maximum(m2 - m1 * m1, 0.0)
    return m1.reshape(shape), var.reshape(shape)


def moments(
    params: Params,
    awareness: float | np.ndarray,
    real_cited_rate: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the per-document increment Delta at constant awareness.

    Parameters
    ----------
    params : Params
    awareness : float or array
        Situational awareness s in [0, 1].
    real_cited_rate : float, optional
        q_r; None for the construction's expectation.

    Returns
    -------
    mean, variance : ndarray (the shape of ``awareness``)

    Examples
    --------
    >>> from sim import Params
    >>> mu, var = moments(Params(), [0.5, 1.0], real_cited_rate=0.6)
    >>> mu.round(4).tolist(), round(float(var[1]), 3)
    ([-0.0311, 0.1096], 0.988)
    """
    s = np.asarray(awareness, dtype=float)
    q_r = real_cited_rate_for(params, real_cited_rate)
    return _step_moments(params, s, s, 0.0, q_r)


def p_rebel(
    params: Params,
    awareness: float | np.ndarray,
    real_cited_rate: float | None = None,
) -> np.ndarray:
    """Gaussian approximation of P(rebel) after ``n_documents`` documents.

    P(ell_N >= 0) with ``ell_N`` normal of mean ``logit(pi_0) + sum of step means``
    and variance the sum of step variances. With constant awareness that is
    ``Phi((logit pi_0 + N mu) / (sigma sqrt N))``; with an awareness schedule and
    retrospection the steps differ batch by batch and are summed. Where the
    variance vanishes (awareness 0) the walk is deterministic and P is 0 or 1.

    Examples
    --------
    >>> from sim import Params
    >>> p_rebel(Params(), [0.6, 0.65, 0.7], real_cited_rate=0.6).round(2).tolist()
    [0.09, 0.81, 1.0]
    """
    s = np.asarray(awareness, dtype=float)
    q_r = real_cited_rate_for(params, real_cited_rate)
    flat = s.reshape(-1)
    n = params.n_documents
    if params.sa_start is None:
        mean, var = _step_moments(params, flat, flat, 0.0, q_r)
        total_mean, total_var = n * mean, n * var
    else:
        schedule = awareness_schedule(flat, params.n_batches, params)  # (S, T)
        sizes = np.full(params.n_batches, params.batch_size, dtype=float)
        sizes[-1] = n - params.batch_size * (params.n_batches - 1)
        mean, var = _step_moments(
            params, schedule, np.broadcast_to(flat[:, None], schedule.shape), params.retrospection, q_r
        )
        total_mean, total_var = mean @ sizes, var @ sizes
    centre = logit(params.prior_deceptive) + total_mean
    sd = np.sqrt(total_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = norm.cdf(centre / sd)
    p = np.where(sd > 0, p, (centre >= 0).astype(float))
    return p.reshape(s.shape)


def thresholds(
    params: Params,
    real_cited_rate: float | None = None,
    grid: int = 1000,
) -> np.ndarray:
    """Every root of the mean increment mu(s) on (0, 1]: the large-corpus thresholds.

    mu(0) = 0 always (an unaware learner sees nothing); a root in (0, 1] is an
    awareness at which planting turns from evidence for candid makers into evidence
    for deceptive ones (or back). Roots are bracketed on a grid of ``grid`` points
    and refined with Brent's method. An empty array means no crossing: mu keeps one
    sign on (0, 1] (or vanishes identically, as when pi_D = epsilon).

    Examples
    --------
    >>> from sim import Params
    >>> thresholds(Params(), real_cited_rate=0.6).round(3).tolist()
    [0.628]
    >>> thresholds(Params(planted_fraction=0.25), real_cited_rate=0.6).round(3).tolist()
    [0.373]
    >>> thresholds(Params(planted_fraction=0.05), real_cited_rate=0.6).tolist()
    []
    """
    q_r = real_cited_rate_for(params, real_cited_rate)
    s = np.linspace(0.0, 1.0, grid + 1)[1:]
    mu = _step_moments(params, s, s, 0.0, q_r)[0]

    def f(x: float) -> float:
        return float(_step_moments(params, np.array([x]), np.array([x]), 0.0, q_r)[0][0])

    roots: list[float] = []
    sign = np.sign(mu)
    if not sign.any():  # mu vanishes identically (e.g. pi_D = epsilon): no crossing
        return np.array(roots)
    for i in range(len(s) - 1):
        if sign[i] * sign[i + 1] < 0:
            roots.append(brentq(f, s[i], s[i + 1], xtol=1e-10))
        elif sign[i] == 0 and 0 < i and sign[i - 1] * sign[i + 1] < 0:
            roots.append(float(s[i]))  # an exact zero on the grid between opposite signs
    return np.array(roots)


def emergence_estimate(
    params: Params,
    awareness: float | np.ndarray,
    real_cited_rate: float | None = None,
) -> np.ndarray:
    """Wald's estimate of the emergence document, ``(log 9 - logit pi_0) / mu(s)``.

    The expected number of documents before P(deceptive) first reaches 0.9, for a
    walk with positive drift (at least 1: a prior already above 0.9 emerges at the
    first document); ``inf`` where ``mu(s) <= 0`` (emergence is then a
    large-deviation event that does not happen on average).

    >>> from sim import Params
    >>> round(float(emergence_estimate(Params(), 0.8, real_cited_rate=0.6)))
    101
    """
    mu = moments(params, awareness, real_cited_rate)[0]
    distance = EMERGENCE_LEVEL - float(logit(params.prior_deceptive))
    with np.errstate(divide="ignore"):
        wald = distance / np.where(mu > 0, mu, 1.0)
    # emergence is counted in documents read, so it is at least the first document
    return np.where(mu > 0, np.maximum(wald, 1.0), np.inf)
