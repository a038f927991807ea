"""Mean field of the learner's log-odds: moments, P(rebel), thresholds, emergence.

The log-odds after ``N`` documents are a random walk,
``ell_N = logit(pi_0) + sum_i Delta_i``, whose steps are independent across
documents once the corpus's cited share ``q_r`` is fixed (``docs/model.md``,
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

Beyond the reference model (docs/model.md, "Agent dynamics"):

- Citation laundering has a closed form: planted documents show the plain cue with
  probability :func:`sim.corpus.expected_planted_cited_rate` instead of 0, and real
  documents receive fewer citations (:func:`sim.corpus.expected_real_cited_rate`).
  The graph-aware cue is never shown by a planted document (exactly 0), but the
  share of real documents it reaches has no closed form here: it is measured, on a
  reference corpus (seed 0) when not given.
- An adaptive lab has no closed form, because the lab reacts to the path the
  learner took; :func:`adaptive_path` follows the mean path (the lab reacting to
  the mean log-odds) and sums the step variances along it.
- Generations: :func:`generation_map` iterates the expected discourse, each
  generation's incident probability being the mean-field P(rebel).

References
----------
.. [1] A. Wald, "On cumulative sums of random variables", Ann. Math. Statist. 15
   (1944) 283-296 (Wald's identity for the expected passage time).
.. [2] W. Feller, An Introduction to Probability Theory and Its Applications, vol. 1
   (Wiley, 1968), ch. X (central limit theorem for sums of independent steps).
.. [3] L. N. Trefethen and J. A. C. Weideman, "The exponentially convergent
   trapezoidal rule", SIAM Review 56 (2014) 385-458.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr  # ndtr is scipy.stats.norm.cdf, without loading scipy.stats

from . import corpus
from .corpus import build_corpus, expected_planted_cited_rate, expected_real_cited_rate
from .labs import LabState, expected_signal, initial_discourse, initial_lab, next_discourse, react
from .learner import EMERGENCE_LEVEL, _log_lr_ufunc, awareness_schedule, evidence
from .rules import expit, logit, prior_log_odds
from .params import Params

__all__ = [
    "moments",
    "p_rebel",
    "p_rebel_interpolated",
    "moment_table",
    "thresholds",
    "bracket_roots",
    "emergence_estimate",
    "learner_real_cited_rate",
    "adaptive_path",
    "generation_map",
    "three_hypothesis_p_rebel",
    "has_mean_field",
    "check_mean_field",
    "mistrust_grows",
]

_Z_HALF_WIDTH = 12.0  # the standard normal's mass beyond 12 is below 1e-32 (the mistrust integral)
#: The style-noise quadrature (:func:`_style_nodes`): half-width and step, also
#: :mod:`sim.meanfield_batch`'s. The normal mass beyond 8 is 1.2e-15.
STYLE_HALF_WIDTH = 8.0
STYLE_STEP = 0.5


def learner_real_cited_rate(params: Params, real_cited_rate: float | None = None) -> float:
    """The q_r the mean field's learner calibrates on: ``real_cited_rate`` if given,
    or else the construction's expectation (the plain cue) or the share measured on
    a reference corpus of seed 0 (the graph-aware cue, which has no closed form);
    kept off 0 and 1 by the learner's own rule
    (:func:`sim.corpus.learner_real_cited_rate`, with the expected number of real
    documents). NaN stands for "no real documents" (the learner's stand-in)."""
    if real_cited_rate is not None:
        q = float(real_cited_rate)
    elif params.citation_cue == "trusted" or params.filtered_fraction > 0:
        # no closed form (the trusted cue; citations lost with filtered citers): measured
        q = build_corpus(params, seed=0).real_cited_rate  # NaN without real documents
    else:
        q = expected_real_cited_rate(params)
    if not (0.0 <= q <= 1.0 or np.isnan(q)):
        raise ValueError(f"real_cited_rate = {q!r} is not allowed: allowed is a number in [0, 1]")
    return corpus.learner_real_cited_rate(q, params.n_documents * params.real_fraction, params)


def _style_nodes(shift_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the trapezoid rule for E[f(z)], z standard normal, where
    ``f`` is a document's Delta at style noise ``z`` (``shift_max`` = the largest
    ``s d``: the slope of log Lambda in z).

    The step is ``min(STEP, STEP / shift_max)`` on ``[-Z, Z]``. Delta is a softplus-like
    function of log Lambda, analytic in a strip of half-width about ``pi / shift_max``
    around the real z axis (its poles), and the normal density is entire, so the
    trapezoid rule's error falls like ``exp(-2 pi^2 / (shift_max step))`` (Trefethen and
    Weideman [3]_): about 7e-18 at this step, and the normal mass beyond ``Z`` is
    1.2e-15: 33 to 129 nodes for the defaults. (Before issue 18 this was
    ``min(0.01, 0.25 / shift_max)`` on ``[-12, 12]``, 2,401 nodes; the moments agree to
    about 1e-13 of their size, the finer grid's own rounding, tests/test_meanfield.py.)
    """
    step = min(STYLE_STEP, STYLE_STEP / shift_max) if shift_max > 0 else STYLE_STEP
    n = int(np.ceil(2 * STYLE_HALF_WIDTH / step)) + 1
    z = np.linspace(-STYLE_HALF_WIDTH, STYLE_HALF_WIDTH, n)
    weight = np.exp(-0.5 * z * z)
    weight *= (z[1] - z[0]) / np.sqrt(2 * np.pi)
    weight[[0, -1]] *= 0.5  # trapezoid ends (negligible mass there anyway)
    return z, weight


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
    mistrust: bool = False,
) -> tuple[np.ndarray, ...]:
    """Mean and variance of one document's step ``(1-r) Delta(s_read) + r Delta(s_final)``.

    ``s_read`` and ``s_final`` are broadcast together; the result has their shape.
    With ``mistrust`` also the mean and variance of the step's mistrust part M (control
    discourse and disclosure, the evidence that tells deceptive makers from benevolent
    ones, docs/model.md §3.2) and its covariance with the step.
    """
    s_read, s_final = np.broadcast_arrays(np.asarray(s_read, float), np.asarray(s_final, float))
    shape = s_read.shape
    flat1, flat2 = s_read.reshape(-1), s_final.reshape(-1)
    block = 256  # rows per pass: temporaries of at most 256 x (grid points) floats
    if flat1.size > block:
        parts = [
            _step_moments(params, flat1[i : i + block], flat2[i : i + block], retrospection, q_r, mistrust)
            for i in range(0, flat1.size, block)
        ]
        return tuple(np.concatenate([p[k] for p in parts]).reshape(shape) for k in range(len(parts[0])))
    s1, s2 = flat1.reshape(-1, 1), flat2.reshape(-1, 1)
    r = float(retrospection)
    d = params.synthetic_detectability
    q_p = params.believed_planted_cited_rate

    z, weight = _style_nodes(float(max(s1.max(initial=0.0), s2.max(initial=0.0)) * d))

    log_cited = np.log(q_p) - np.log(q_r)
    log_uncited = np.log1p(-q_p) - np.log1p(-q_r)

    def delta(s: np.ndarray, planted: bool, cited: bool) -> np.ndarray:
        # the learner's own log Lambda (sim.rules.log_lr) at style noise z
        log_lr = _log_lr_ufunc(z[None, :], 0.5 if planted else -0.5, log_cited if cited else log_uncited, s, d)
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
    real_planting_m1 = real_m1  # a real document's planting evidence, before control discourse
    real_m2 = real_m2 + 2 * c * k_control * real_m1 + c * k_control**2
    real_m1 = real_m1 + c * k_control
    # holes (docs/model.md §5.7): a document's references, each dangling with the filtered share
    holes = _hole_moments(params, s_eff)
    if holes is not None:
        (real_h1, real_h2), (plant_h1, plant_h2) = holes
        real_m2 = real_m2 + 2 * real_h1 * real_m1 + real_h2
        real_m1 = real_m1 + real_h1
    # planted documents: show the cue with probability q_pt (0 in the reference model)
    q_pt = round(expected_planted_cited_rate(params), 15)  # 15 digits, as the mean field always rounded it (bit for bit)
    plant_m1, plant_m2 = combined(planted=True, cited=False)
    if q_pt > 0:
        cited_m1, cited_m2 = combined(planted=True, cited=True)
        plant_m1 = q_pt * cited_m1 + (1 - q_pt) * plant_m1
        plant_m2 = q_pt * cited_m2 + (1 - q_pt) * plant_m2
    if holes is not None:
        plant_planting_m1 = plant_m1
        plant_m2 = plant_m2 + 2 * plant_h1 * plant_m1 + plant_h2
        plant_m1 = plant_m1 + plant_h1
    # disclosed documents: a fixed step
    k_disclosed = s_eff * np.log(params.disclosure_likelihood_ratio)

    rho, eta = params.planted_fraction, params.disclosed_fraction
    real = params.real_fraction
    m1 = real * real_m1 + rho * plant_m1 + eta * k_disclosed
    m2 = real * real_m2 + rho * plant_m2 + eta * k_disclosed**2
    var = np.maximum(m2 - m1 * m1, 0.0)
    if not mistrust:
        return m1.reshape(shape), var.reshape(shape)
    # the part M that tells deceptive makers from benevolent ones: s log kappa on control
    # discourse, s log beta on a disclosed document, and the hole evidence H of references
    mistrust_m1 = real * c * k_control + eta * k_disclosed
    mistrust_m2 = real * c * k_control**2 + eta * k_disclosed**2
    cross = real * c * k_control * (real_planting_m1 + k_control) + eta * k_disclosed**2  # E[step M]
    if holes is not None:
        # E[(X + K + H)(K + H)] by kind, with H independent of the rest given the kind
        real_base = real_planting_m1 + c * k_control  # a real document's step before its holes
        mistrust_m1 = mistrust_m1 + real * real_h1 + rho * plant_h1
        mistrust_m2 = mistrust_m2 + real * (2 * c * k_control * real_h1 + real_h2) + rho * plant_h2
        cross = cross + real * (real_h1 * real_base + c * k_control * real_h1 + real_h2) \
            + rho * (plant_h1 * plant_planting_m1 + plant_h2)
    return (m1.reshape(shape), var.reshape(shape), mistrust_m1.reshape(shape),
            np.maximum(mistrust_m2 - mistrust_m1**2, 0.0).reshape(shape), (cross - m1 * mistrust_m1).reshape(shape))


def _hole_moments(params: Params, s_eff: np.ndarray):
    """The hole evidence ``s h`` of a real and of a planted document (docs/model.md §5.7):
    ((E, E[square]) real, (E, E[square]) planted), or None where the learner's filtering
    hypotheses agree (f_D = f_C: no evidence). A document makes m references, each
    dangling independently with the filtered share phi (a planted one's laundered
    references never: (1 - L) phi); ``h = k log(f_D/f_C) + (m - k) log((1-f_D)/(1-f_C))``
    with k dangling."""
    f_c, f_d = params.candid_filter_rate, params.deceptive_filter_rate
    if f_c == f_d:
        return None
    m = float(params.citations_per_document)
    l1 = float(np.log(f_d) - np.log(f_c))
    l0 = float(np.log1p(-f_d) - np.log1p(-f_c))
    out = []
    for p in (params.filtered_fraction, (1.0 - params.laundering) * params.filtered_fraction):
        mean_h = m * (p * l1 + (1.0 - p) * l0)
        var_h = m * p * (1.0 - p) * (l1 - l0) ** 2
        out.append((s_eff * mean_h, s_eff**2 * (var_h + mean_h**2)))
    return tuple(out)


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
    q_r = learner_real_cited_rate(params, real_cited_rate)
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

    A reacting lab is followed along its mean path (:func:`adaptive_path`), and
    with ``generations`` > 1 this is the last generation's P(rebel) of
    :func:`generation_map`: what a run of those parameters reports at its end.

    Examples
    --------
    >>> from sim import Params
    >>> p_rebel(Params(), [0.6, 0.65, 0.7], real_cited_rate=0.6).round(2).tolist()
    [0.09, 0.81, 1.0]
    """
    s = np.asarray(awareness, dtype=float)
    check_mean_field(params)
    if params.generations > 1:
        return generation_map(params, s.reshape(-1), real_cited_rate)["p_rebel"][-1].reshape(s.shape)
    if params.lab_policy != "static":
        return adaptive_path(params, s.reshape(-1), real_cited_rate)["p_rebel"].reshape(s.shape)
    return _p_rebel_static(params, s, real_cited_rate)


def has_mean_field(params: Params) -> bool:
    """Whether this module computes P(rebel) for ``params``: not for the deceptive makers'
    sub-hypotheses (``deceptive_filters_only``, ``deceptive_plants_only``, docs/model.md
    §5.7), whose log-odds mix three sums nonlinearly."""
    return params.deceptive_filters_only == 0.0 and params.deceptive_plants_only == 0.0


def check_mean_field(params: Params) -> None:
    """Raise ValueError (one line) where :func:`has_mean_field` is False."""
    if not has_mean_field(params):
        raise ValueError("deceptive_filters_only and deceptive_plants_only have no mean field (docs/model.md §5.7): "
                         "allowed is 0 for both, or simulation")


def _p_rebel_static(params: Params, s: np.ndarray, real_cited_rate: float | None) -> np.ndarray:
    """:func:`p_rebel` for one training run with a static lab."""
    q_r = learner_real_cited_rate(params, real_cited_rate)
    flat = s.reshape(-1)
    n = params.n_documents
    three = params.prior_benevolent > 0.0
    if params.sa_start is None:
        moments_ = _step_moments(params, flat, flat, 0.0, q_r, mistrust=three)
        totals = [n * m for m in moments_]
    else:
        schedule = awareness_schedule(flat, params.n_batches, params)  # (S, T)
        sizes = _batch_sizes(params)
        moments_ = _step_moments(
            params, schedule, np.broadcast_to(flat[:, None], schedule.shape), params.retrospection, q_r,
            mistrust=three,
        )
        totals = [m @ sizes for m in moments_]
    if three:
        return three_hypothesis_p_rebel(params, *totals).reshape(s.shape)
    return _gaussian_p_rebel(params, *totals).reshape(s.shape)


def _batch_sizes(params: Params) -> np.ndarray:
    """Documents in each batch (the last one may be short)."""
    sizes = np.full(params.n_batches, params.batch_size, dtype=float)
    sizes[-1] = params.n_documents - params.batch_size * (params.n_batches - 1)
    return sizes


def _gaussian_p_rebel(params: Params, total_mean: np.ndarray, total_var: np.ndarray) -> np.ndarray:
    """P(final log-odds > 0) for Gaussian log-odds of the prior's centre plus
    ``total_mean`` and variance ``total_var`` (a point mass where the variance is 0)."""
    centre = logit(params.prior_deceptive) + total_mean
    sd = np.sqrt(total_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = ndtr(centre / sd)
    return np.where(sd > 0, p, (centre >= 0).astype(float))


#: Nodes of the integral over the mistrust evidence in :func:`three_hypothesis_p_rebel`
#: (the trapezoid rule on +-12 standard deviations).
_MISTRUST_NODES = 2001


def three_hypothesis_p_rebel(
    params: Params,
    total_mean: np.ndarray,
    total_var: np.ndarray,
    mistrust_mean: np.ndarray,
    mistrust_var: np.ndarray,
    covariance: np.ndarray,
) -> np.ndarray:
    """P(rebel) of the learner with benevolent makers (docs/model.md §3.2).

    The final log-odds are ``ell = a + T`` (deceptive against candid) and
    ``ell_B = b + T - M`` (benevolent against candid), with ``a = log pi_0/pi_C``,
    ``b = log pi_B/pi_C``, ``T`` the summed steps and ``M`` their mistrust part
    (control discourse and disclosure), jointly Gaussian with the given totals. The
    learner is rebel when P(D) >= 1/2, that is ``e^{a+T} >= 1 + e^{b+T-M}``: only if
    ``M > b - a`` (the mistrust evidence outweighs the prior ratio pi_B/pi_0), and then
    when ``T >= -a - log(1 - e^{b-a-M})``. P is the integral over M of the Gaussian
    tail of T given M (the trapezoid rule; a point mass where a variance vanishes).
    """
    a = prior_log_odds(params)
    b = float(np.log(params.prior_benevolent) - np.log1p(-params.prior_deceptive - params.prior_benevolent))
    mt, vt, mm, vm, cov = (np.asarray(x, dtype=float).reshape(-1, 1) for x in
                           (total_mean, total_var, mistrust_mean, mistrust_var, covariance))
    z = np.linspace(-_Z_HALF_WIDTH, _Z_HALF_WIDTH, _MISTRUST_NODES)
    weight = np.exp(-0.5 * z * z) * ((z[1] - z[0]) / np.sqrt(2 * np.pi))
    weight[[0, -1]] *= 0.5
    random_m = vm > 0
    sd_m = np.sqrt(np.where(random_m, vm, 1.0))
    m = np.where(random_m, mm + sd_m * z, mm)  # (levels, nodes), or the point mass
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gap = b - a - m  # rebel needs gap < 0
        t_star = np.where(gap < 0, -a - np.log1p(-np.exp(np.minimum(gap, 0.0))), np.inf)
        slope = np.where(random_m, cov / np.where(random_m, vm, 1.0), 0.0)
        mean_t = mt + slope * (m - mm)
        var_t = np.maximum(vt - slope * cov, 0.0)
        sd_t = np.sqrt(var_t)
        tail = np.where(sd_t > 0, ndtr(-((t_star - mean_t) / np.where(sd_t > 0, sd_t, 1.0))),
                        (mean_t >= t_star).astype(float))
    tail = np.where(np.isinf(t_star), 0.0, tail)
    p = np.where(random_m[:, 0], tail @ weight, tail[:, 0])
    return np.clip(p, 0.0, 1.0)


def moment_table(
    params: Params,
    real_cited_rate: float | None = None,
    points: int = 401,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`moments` tabulated on ``points`` awareness levels evenly spaced on [0, 1]:
    the levels, the means and the variances (for :func:`p_rebel_interpolated`)."""
    s = np.linspace(0.0, 1.0, points)
    mean, var = moments(params, s, real_cited_rate)
    return s, mean, var


def p_rebel_interpolated(
    params: Params,
    awareness: float | np.ndarray,
    real_cited_rate: float | None = None,
    table: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """:func:`p_rebel` of one static run with a rising awareness schedule and no
    retrospection, its step moments read off a table (:func:`moment_table`, or
    ``table`` if given) by linear interpolation instead of computed at every batch.

    Without retrospection a step's moments depend only on the awareness it is read
    at, so the sum over the schedule needs them at a few hundred levels only: the
    same curve within about 1e-3 (tests/test_app.py) at a fraction of the cost
    (the demo page redraws it on every change of a control).

    >>> from sim import Params
    >>> p = Params(sa_start=0.1, awareness_schedule="linear")
    >>> s = np.array([0.3, 0.9])
    >>> bool(np.abs(p_rebel_interpolated(p, s, 0.6) - p_rebel(p, s, 0.6)).max() < 1e-3)
    True
    """
    if (params.sa_start is None or params.retrospection != 0 or params.lab_policy != "static" or params.generations > 1
            or params.prior_benevolent > 0):
        raise ValueError("p_rebel_interpolated is for one static run with an awareness schedule, no retrospection "
                         "and no benevolent makers")
    s_table, mean_table, var_table = table if table is not None else moment_table(params, real_cited_rate)
    s = np.asarray(awareness, dtype=float)
    schedule = awareness_schedule(s.reshape(-1), params.n_batches, params)  # (levels, batches)
    sizes = _batch_sizes(params)
    total_mean = np.interp(schedule, s_table, mean_table) @ sizes
    total_var = np.interp(schedule, s_table, var_table) @ sizes
    return _gaussian_p_rebel(params, total_mean, total_var).reshape(s.shape)


def bracket_roots(f, s: np.ndarray, values: np.ndarray, xtol: float) -> np.ndarray:
    """Every root of a continuous ``f`` found on the grid ``s`` (``values`` = f(s)):
    each sign change between neighbours refined with Brent's method, and an exact
    zero on the grid between opposite signs. Empty if ``values`` are all zero."""
    from scipy.optimize import brentq  # here: scipy.optimize is a tenth of a second to import

    roots: list[float] = []
    sign = np.sign(values)
    if not sign.any():  # f vanishes identically on the grid: no crossing
        return np.array(roots)
    for i in range(len(s) - 1):
        if sign[i] * sign[i + 1] < 0:
            roots.append(brentq(f, s[i], s[i + 1], xtol=xtol))
        elif sign[i] == 0 and 0 < i and sign[i - 1] * sign[i + 1] < 0:
            roots.append(float(s[i]))  # an exact zero on the grid between opposite signs
    return np.array(roots)


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
    check_mean_field(params)
    q_r = learner_real_cited_rate(params, real_cited_rate)
    if params.prior_benevolent > 0 and not mistrust_grows(params, q_r):
        return np.array([])
    s = np.linspace(0.0, 1.0, grid + 1)[1:]
    mu = _step_moments(params, s, s, 0.0, q_r)[0]

    def f(x: float) -> float:
        return float(_step_moments(params, np.array([x]), np.array([x]), 0.0, q_r)[0][0])

    # mu vanishes identically (e.g. pi_D = epsilon): no crossing
    return bracket_roots(f, s, mu, xtol=1e-10)


def _deceptive_log_odds(log_odds, benevolent_log_odds):
    """log P(D)/(1 - P(D)) from log P(D)/P(C) and log P(B)/P(C) (docs/model.md §3.2)."""
    return log_odds - np.logaddexp(0.0, benevolent_log_odds)


def mistrust_grows(params: Params, q_r: float) -> bool:
    """Whether a large corpus can make the learner with benevolent makers a rebel
    (docs/model.md §3.2): its mistrust evidence M grows by ``m(s) = s (r c log kappa +
    eta log beta)`` per document, one sign for every s > 0. As N grows with mu(s) > 0,
    P(C) -> 0 and P(D) -> pi_0 e^M / (pi_0 e^M + pi_B): rebel if m > 0, or if m = 0
    and pi_0 > pi_B; never otherwise, whatever the awareness."""
    drift = float(_step_moments(params, np.ones(1), np.ones(1), 0.0, q_r, mistrust=True)[2][0])
    return drift > 0 or (drift == 0 and params.prior_deceptive > params.prior_benevolent)


def _three_hypothesis_passage(params: Params, mu: np.ndarray, drift: np.ndarray) -> np.ndarray:
    """The first document of the mean path at which P(D) reaches 0.9 with benevolent
    makers: ``ell = a + n mu``, ``ell_B = b + n (mu - m)``; inf if it never does."""
    from scipy.optimize import brentq

    a = prior_log_odds(params)
    b = a + float(np.log(params.prior_benevolent) - np.log(params.prior_deceptive))
    n = np.geomspace(1.0, 1e12, 481)
    out = np.full(mu.size, np.inf)
    for i, (mu_i, m_i) in enumerate(zip(mu.reshape(-1), drift.reshape(-1))):
        def f(x, mu_i=mu_i, m_i=m_i):
            return _deceptive_log_odds(a + x * mu_i, b + x * (mu_i - m_i)) - EMERGENCE_LEVEL
        values = f(n)
        hit = np.flatnonzero(values >= 0)
        if hit.size:
            k = hit[0]
            out[i] = 1.0 if k == 0 else brentq(f, n[k - 1], n[k], xtol=1e-9)
    return out.reshape(mu.shape)


def threshold_words(params: Params, roots: np.ndarray, real_cited_rate: float | None = None) -> str:
    """The large-corpus thresholds ``roots`` (:func:`thresholds`) in words: the roots, or
    "0" where the mean evidence favours deceptive makers at every awareness above 0, or
    why there is none."""
    if roots.size:
        return ", ".join(f"{r:.3f}" for r in roots)
    q_r = learner_real_cited_rate(params, real_cited_rate)
    if params.prior_benevolent > 0 and not mistrust_grows(params, q_r):
        return "none (nothing tells deceptive makers from benevolent ones: docs/model.md §3.2)"
    if float(_step_moments(params, np.array([1e-3]), np.array([1e-3]), 0.0, q_r)[0][0]) > 0:
        return "0 (the mean evidence favours deceptive makers at every awareness above 0)"
    return "none (no crossing on (0, 1])"


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
    if params.prior_benevolent > 0:  # the mean path of both log-odds (docs/model.md §3.2)
        s = np.asarray(awareness, dtype=float)
        q_r = learner_real_cited_rate(params, real_cited_rate)
        mu, _, drift, _, _ = _step_moments(params, s, s, 0.0, q_r, mistrust=True)
        return np.maximum(_three_hypothesis_passage(params, mu, drift), 1.0)
    mu = moments(params, awareness, real_cited_rate)[0]
    distance = EMERGENCE_LEVEL - logit(params.prior_deceptive)
    with np.errstate(divide="ignore"):
        wald = distance / np.where(mu > 0, mu, 1.0)
    # emergence is counted in documents read, so it is at least the first document
    return np.where(mu > 0, np.maximum(wald, 1.0), np.inf)


def adaptive_path(
    params: Params,
    awareness: float | np.ndarray,
    real_cited_rate: float | None = None,
    lab: LabState | None = None,
    statements: int = 0,
) -> dict[str, np.ndarray]:
    """Mean-field path of a run whose lab reacts to its evaluations (``lab_policy``).

    The lab's rule (:func:`sim.labs.react`) is applied to the mean path: batch by
    batch the log-odds move by ``B mu(s; rho_t, eta_t)``, a statement adds
    ``s log beta_s``, and at every evaluation the lab reads ``sigma(mean log-odds)``.
    The variance is summed along that path, and P(rebel) is the Gaussian
    ``Phi(mean / sd)`` at the end. This is not a closed form, and not exact: the
    true lab reacts to the learner's random path, so near the alarm level some
    runs trigger it and some do not, which the mean path cannot show. With an
    awareness schedule the steps are those of :func:`p_rebel` batch by batch
    (retrospection included; the lab sees the log-odds as read), which costs about
    as much as ``p_rebel`` with a schedule for every planted share the lab passes
    through. ``lab`` is the lab's state at the start (default: the scenario's shares, no
    alarm yet) and ``statements`` the statements waiting to be read before the first
    batch, as in a later generation.

    Returns
    -------
    dict of arrays over the awareness levels: ``p_rebel``, ``mean_log_odds``,
    ``sd_log_odds``, ``planted_fraction`` and ``disclosed_fraction`` (the lab's at
    the end), ``alarms`` (in this run), ``first_alarm_batch`` (NaN if none),
    ``pending_statements`` (published at the last evaluation: no model of this run
    reads them), and ``labs``, the labs' final states (an object array).

    >>> from sim import Params
    >>> path = adaptive_path(Params(lab_policy="come_clean"), [0.3, 0.9], real_cited_rate=0.6)
    >>> path["planted_fraction"].tolist(), path["alarms"].tolist()
    ([0.15, 0.0], [0, 1])
    """
    s = np.asarray(awareness, dtype=float).reshape(-1)
    q_r = learner_real_cited_rate(params, real_cited_rate)
    n_batches, r = params.n_batches, params.retrospection
    rising = params.sa_start is not None
    schedule = awareness_schedule(s, n_batches, params) if rising else s[:, None]  # (levels, batches or 1)
    final = np.broadcast_to(s[:, None], schedule.shape)
    cache: dict[tuple[float, float], tuple[np.ndarray, ...]] = {}
    three = params.prior_benevolent > 0.0  # docs/model.md §3.2: the mistrust part M is followed too

    def step(rho: float, eta: float) -> tuple[np.ndarray, ...]:
        """Per level and batch: the step's mean and variance in the final log-odds,
        its mean as read (what the lab's evaluation sees), and with benevolent makers
        the mistrust part's mean, variance and covariance with the step and its mean as read."""
        key = (rho, eta)
        if key not in cache:
            shares = params.replace(planted_fraction=rho, disclosed_fraction=eta)
            m1, v1, *extra = _step_moments(shares, schedule, final, r if rising else 0.0, q_r, mistrust=three)
            read_moments = _step_moments(shares, schedule, schedule, 0.0, q_r, mistrust=three) if rising and r > 0 \
                else (m1, v1, *extra)
            cache[key] = (m1, v1, read_moments[0], *extra, *read_moments[2:3])
        return cache[key]

    log_statement = float(np.log(params.statement_likelihood_ratio))
    start = initial_lab(params) if lab is None else lab
    labs = [start for _ in s]
    prior = prior_log_odds(params)
    mean = np.full(s.size, prior)  # the final log-odds
    seen = mean.copy()  # the log-odds as read
    var = np.zeros(s.size)
    # the mistrust part M (final and as read), its variance and covariance with the log-odds
    mistrust, mistrust_seen, mistrust_var, covariance = (np.zeros(s.size) for _ in range(4))
    benevolent_offset = float(np.log(params.prior_benevolent) - np.log(params.prior_deceptive)) if three else 0.0
    first_alarm = np.full(s.size, np.nan)
    pending = np.full(s.size, int(statements), dtype=int)
    n, b = params.n_documents, params.batch_size
    for t in range(n_batches):
        col = t if rising else 0
        size = min(b, n - t * b)
        s_t = schedule[:, col]
        seen += pending * s_t * log_statement
        mean += pending * ((1.0 - r) * s_t + r * s if rising else s) * log_statement
        if three:  # a statement speaks against deceptive makers only: mistrust evidence
            mistrust_seen += pending * s_t * log_statement
            mistrust += pending * ((1.0 - r) * s_t + r * s if rising else s) * log_statement
        pending[:] = 0
        for i, lab in enumerate(labs):
            m1, v1, read, *extra = step(lab.planted_fraction, lab.disclosed_fraction)
            mean[i] += size * m1[i, col]
            seen[i] += size * read[i, col]
            var[i] += size * v1[i, col]
            if three:
                mistrust[i] += size * extra[0][i, col]
                mistrust_var[i] += size * extra[1][i, col]
                covariance[i] += size * extra[2][i, col]
                mistrust_seen[i] += size * extra[3][i, col]
        if params.lab_policy != "static" and (t + 1) % params.evaluation_interval == 0:
            for i, lab in enumerate(labs):
                # P(D) of the mean path; with benevolent makers log P(B)/P(C) = ell + log(pi_B/pi_0) - M
                read_log_odds = _deceptive_log_odds(seen[i], seen[i] + benevolent_offset - mistrust_seen[i]) \
                    if three else seen[i]
                reaction = react(lab, expected_signal(float(expit(read_log_odds)), float(s_t[i]), params), params)
                if reaction.lab.alarms > lab.alarms and np.isnan(first_alarm[i]):
                    first_alarm[i] = t + 1
                labs[i] = reaction.lab
                pending[i] += reaction.statements
    sd = np.sqrt(var)
    if three:
        p = three_hypothesis_p_rebel(params, mean - prior, var, mistrust, mistrust_var, covariance)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            p = ndtr(mean / sd)
        p = np.where(sd > 0, p, (mean >= 0).astype(float))
    return {
        "p_rebel": p,
        "mean_log_odds": mean,
        "sd_log_odds": sd,
        "planted_fraction": np.array([lab.planted_fraction for lab in labs]),
        "disclosed_fraction": np.array([lab.disclosed_fraction for lab in labs]),
        "alarms": np.array([lab.alarms - start.alarms for lab in labs]),
        "first_alarm_batch": first_alarm,
        "pending_statements": pending,
        "labs": np.array(labs, dtype=object),
    }


def generation_map(
    params: Params,
    awareness: float | np.ndarray,
    real_cited_rate: float | None = None,
) -> dict[str, np.ndarray]:
    """Mean-field sequence of ``generations`` training runs at each awareness.

    Generation g trains on the expected discourse (c_g, g_g) with the lab's shares,
    ends rebel with the mean-field probability p_g (:func:`p_rebel` for a static lab,
    :func:`adaptive_path` otherwise), and the next discourse is the expectation of
    :func:`sim.labs.next_discourse`: ``c_{g+1} = c_g + p_g delta_c`` (capped at 1),
    ``g_{g+1} = g_g - p_g delta_g`` (floored at 0). The lab's state is carried along
    its mean path. Expected discourse in place of its distribution is the mean-field
    approximation; the map has no closed-form fixed point in general, so it is
    iterated. Planting "runs away" where p_g and c_g climb together to 1.

    Returns
    -------
    dict of arrays of shape (generations, awareness levels): ``p_rebel`` (at the
    generation's end), and the ``control_discourse_fraction``,
    ``real_positive_rate`` and the lab's ``planted_fraction`` the generation
    starts with (``simulate().generations`` reports the lab's shares at a run's
    end, which are the next generation's start).

    >>> from sim import Params
    >>> out = generation_map(Params(generations=3, control_likelihood_ratio=3.0), [0.2, 0.9], real_cited_rate=0.6)
    >>> out["control_discourse_fraction"].round(2).tolist()
    [[0.1, 0.1], [0.1, 0.15], [0.1, 0.2]]
    """
    s = np.asarray(awareness, dtype=float).reshape(-1)
    discourse = [initial_discourse(params)] * s.size
    lab_state = [initial_lab(params)] * s.size
    pending = [0] * s.size  # statements published at a run's end, read by the next
    out = {k: np.zeros((params.generations, s.size)) for k in
           ("p_rebel", "control_discourse_fraction", "real_positive_rate", "planted_fraction")}
    for g in range(params.generations):
        for i in range(s.size):
            here = params.replace(
                planted_fraction=lab_state[i].planted_fraction,
                disclosed_fraction=lab_state[i].disclosed_fraction,
                control_discourse_fraction=discourse[i].control_discourse_fraction,
                real_positive_rate=discourse[i].real_positive_rate,
            )
            out["control_discourse_fraction"][g, i] = discourse[i].control_discourse_fraction
            out["real_positive_rate"][g, i] = discourse[i].real_positive_rate
            out["planted_fraction"][g, i] = lab_state[i].planted_fraction
            if params.lab_policy == "static":
                p = float(_p_rebel_static(here, s[i : i + 1], real_cited_rate)[0])
            else:
                path = adaptive_path(here, s[i], real_cited_rate, lab=lab_state[i], statements=pending[i])
                p = float(path["p_rebel"][0])
                lab_state[i] = path["labs"][0]
                pending[i] = int(path["pending_statements"][0])
            out["p_rebel"][g, i] = p
            incident = next_discourse(discourse[i], True, params)
            c = discourse[i].control_discourse_fraction
            gr = discourse[i].real_positive_rate
            discourse[i] = type(discourse[i])(
                c + p * (incident.control_discourse_fraction - c),
                gr + p * (incident.real_positive_rate - gr),
            )
    return out

