"""The learning learner (``learner_model = "learning"``): docs/model.md §3.1, "A learner
that learns the cue".

The informed learner of :mod:`sim.rules` is handed its cue model: the detectability
``d``, the cited shares ``q_r`` and ``q_p`` and the planting rates ``pi_D`` and
``epsilon``. This learner is handed none of them. It treats "planted or real" as a
latent class of every undisclosed document and learns, from what it reads:

- the planted share ``pi``, under each hypothesis about its makers: a Beta prior per
  hypothesis, centred on ``deceptive_plant_rate`` (deceptive makers) and on
  ``candid_plant_rate`` (candid makers), of concentrations
  ``deceptive_rate_concentration`` and ``candid_rate_concentration``;
- the detectability ``delta`` of synthetic style (a Normal prior
  ``N(detectability_prior_mean, detectability_prior_sd^2)``): at awareness ``s`` a
  planted document's perceived style is ``s d + z``, which the learner models as
  ``N(s delta, 1)``, a real one's as ``N(0, 1)``;
- the cited shares of real and of planted documents (Beta priors of mean 1/2 and
  concentration ``cited_rate_concentration``), read with the temper ``s`` of the
  informed learner.

Exact Bayes over a corpus is a sum over 2^N class assignments. The update is
assumed-density filtering [2]_: the learner keeps a factorized posterior (a Beta per
planting-rate hypothesis, a Normal for ``delta``, a Beta per cited share), and after
each document replaces every factor by the member of its family with the mean and
variance of the exact one-document posterior (moment matching); the quasi-Bayes
procedure for mixtures of Smith and Makov [1]_ is the same filter with the counts added
in place of the match. O(1) per document. Its predictive likelihood ratio of a document's cues
(planted : real) replaces the informed learner's ``Lambda``, and its two
hypotheses' current planted shares replace ``pi_D`` and ``epsilon`` in the evidence
``Delta`` (the chain rule of the two hypotheses' predictive likelihoods), so the
evidence, the self-model and the readouts are the rules of :mod:`sim.rules`. With
point-mass priors at the true values it is the informed learner (tests/test_learning.py
checks 1e-9 in log-odds); tests/test_learning.py compares it with exact Bayes by
enumeration on small corpora.

Both drivers call :func:`read_batch` or :func:`read_corpus` (the Mesa agents with one
learner, the engine with a family; through :mod:`sim.learners`), which run the compiled
reader :func:`_learn_batch`: the family reads each document together, but every
learner's arithmetic is its own (the scalar rules below), so the numbers do not
depend on the driver, the family or the executor.

References
----------
.. [1] A. F. M. Smith and U. E. Makov, "A quasi-Bayes sequential procedure for
   mixtures", J. R. Statist. Soc. B 40 (1978) 106-112.
.. [2] T. P. Minka, "A family of algorithms for approximate Bayesian inference", PhD
   thesis, MIT (2001), ch. 3 (assumed-density filtering; the "clutter problem").
.. [3] D. Krasheninnikov, E. Krasheninnikov, B. Mlodozeniec, T. Maharaj, D. Krueger,
   "Implicit meta-learning may lead language models to trust more reliable sources",
   arXiv:2310.15047 (2023) (models learn from the data which sources are reliable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from . import _cpu  # noqa: F401  (numba's vector width, set before numba is first imported)
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from . import rules
from .corpus import CorpusBatch
from .learner import _LANES as _LANES_INFORMED
from .learner import _flags as cue_flags
from .learner import read_statement as informed_read_statement
from .learner import _state_arrays as state_arrays
from .params import Params
from .rules import LearnerState, expit, logit

__all__ = [
    "LearningConstants",
    "LearningState",
    "learning_constants",
    "initial_state",
    "read_batch",
    "read_corpus",
    "read_statement",
    "predictive_log_lr",
    "stance_terms",
    "learn_document",
    "learned_estimates",
    "LEARNED_COLUMNS",
    "TRAJECTORY_LEARNED_COLUMNS",
    "large_corpus_log_odds",
    "rebel_share_threshold",
]

_RULE = rules._RULE
_JIT = rules._JIT

#: The prior mean of each cited share (real and planted documents): the learner is
#: not told either, and starts from "as likely cited as not".
CITED_PRIOR_MEAN = 0.5


LearningConstants = NamedTuple("LearningConstants", [
    ("detectability", float),  # d of the corpus: what the learner perceives at awareness s (s d), never what it knows
    ("deceptive_rate_mean", float),  # prior mean of pi under D (deceptive_plant_rate)
    ("deceptive_rate_count", float),  # its concentration a + b
    ("candid_rate_mean", float),  # prior mean of pi under C (candid_plant_rate)
    ("candid_rate_count", float),
    ("detectability_mean", float),  # prior mean of delta
    ("detectability_variance", float),  # prior variance of delta
    ("real_cited_mean", float),  # prior mean of the cited share of real documents
    ("real_cited_count", float),
    ("planted_cited_mean", float),  # prior mean of the cited share of planted documents
    ("planted_cited_count", float),
    *rules.SHARED_CONSTANT_FIELDS,
])
LearningConstants.__doc__ = """The learning learner's fixed quantities (every field a float).

The fields the readouts and the disclosure, control and self-model terms use have
the names of :class:`sim.rules.LearnerConstants` (:data:`sim.rules.SHARED_CONSTANT_FIELDS`).
A prior's concentration or variance 0, a point mass, which the update never moves (so
is a concentration above :data:`POINT_MASS_COUNT`).
"""


def learning_constants(params: Params) -> LearningConstants:
    """The learning learner's constants from a parameter set (docs/model.md §3.1).

    Nothing here is measured on the corpus: the learner is told neither ``q_r`` nor
    ``q_p``, ``d`` or the planting rates; ``detectability`` is the corpus's, used only
    to make the perceived style ``s d [planted] + z``.
    """
    sd = params.detectability_prior_sd
    return LearningConstants(
        detectability=params.synthetic_detectability,
        deceptive_rate_mean=params.deceptive_plant_rate,
        deceptive_rate_count=params.deceptive_rate_concentration,
        candid_rate_mean=params.candid_plant_rate,
        candid_rate_count=params.candid_rate_concentration,
        detectability_mean=params.detectability_prior_mean,
        detectability_variance=sd * sd,
        real_cited_mean=CITED_PRIOR_MEAN,
        real_cited_count=params.cited_rate_concentration,
        planted_cited_mean=CITED_PRIOR_MEAN,
        planted_cited_count=params.cited_rate_concentration,
        **rules.shared_constants(params),
    )


# ---------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------
#: The learned quantities the state carries, each of shape (learners,), in the order
#: the compiled reader takes them.
_LEARNED_FIELDS = (
    "deceptive_rate_mean", "deceptive_rate_count", "candid_rate_mean", "candid_rate_count",
    "detectability_mean", "detectability_variance", "real_cited_mean", "real_cited_count",
    "planted_cited_mean", "planted_cited_count",
)


@dataclass(frozen=True)
class LearningState(LearnerState):
    """A family of learning learners: the fields of :class:`sim.rules.LearnerState`
    and the posterior of the cue model (docs/model.md §3.1), each of shape (learners,).

    Attributes
    ----------
    deceptive_rate_mean, deceptive_rate_count : the Beta posterior of the planted share
        under deceptive makers (mean, concentration)
    candid_rate_mean, candid_rate_count : the same under candid makers
    detectability_mean, detectability_variance : the Normal posterior of delta
    real_cited_mean, real_cited_count : the Beta posterior of the cited share of real documents
    planted_cited_mean, planted_cited_count : the same for planted documents
    """

    deceptive_rate_mean: np.ndarray = None  # type: ignore[assignment]
    deceptive_rate_count: np.ndarray = None  # type: ignore[assignment]
    candid_rate_mean: np.ndarray = None  # type: ignore[assignment]
    candid_rate_count: np.ndarray = None  # type: ignore[assignment]
    detectability_mean: np.ndarray = None  # type: ignore[assignment]
    detectability_variance: np.ndarray = None  # type: ignore[assignment]
    real_cited_mean: np.ndarray = None  # type: ignore[assignment]
    real_cited_count: np.ndarray = None  # type: ignore[assignment]
    planted_cited_mean: np.ndarray = None  # type: ignore[assignment]
    planted_cited_count: np.ndarray = None  # type: ignore[assignment]


def initial_state(n_learners: int, constants: LearningConstants, awareness: np.ndarray | None = None) -> LearningState:
    """Learners before reading: the informed learner's start (log-odds logit(pi_0),
    self-model Beta(1, 1); :func:`sim.rules.initial_state`) and the cue model's priors."""
    start = rules.initial_state(n_learners, constants, awareness)
    return LearningState(
        **{name: getattr(start, name) for name in LearnerState.__dataclass_fields__},
        **{name: np.full(n_learners, getattr(constants, name), dtype=float) for name in _LEARNED_FIELDS},
    )


# ---------------------------------------------------------------------------------
# exp and log in plain arithmetic (so that the loop over learners vectorizes)
# ---------------------------------------------------------------------------------
@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a double, as an int64 (a bitcast: no instruction, and it vectorizes)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _double(typingctx, x):
    """The double of the IEEE bits ``x`` (an int64; a bitcast)."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


#: x + _ROUND - _ROUND rounds |x| < 2^51 to an integer, which the low bits of x + _ROUND hold.
_ROUND = 6755399441055744.0  # 1.5 * 2^52
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (fdlibm): k _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
#: fdlibm's minimax coefficients of log(1 + f) = 2 atanh(s), s = f / (2 + f) (e_log.c)
_LG1, _LG2, _LG3, _LG4, _LG5, _LG6, _LG7 = (
    6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
    1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
_SQRT2 = 1.4142135623730951
_SMALLEST_NORMAL = 2.2250738585072014e-308
_MANTISSA_BITS = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000


@njit(**_RULE)
def _pow2(k):
    """2^k for an integer-valued double ``k`` in [-1022, 1023] (its exponent bits)."""
    return _double((_bits(k + _ROUND) - _bits(_ROUND) + 1023) << 52)


@njit(**_RULE)
def exp_nonpositive(x):
    """exp(x) for x <= 0 (-inf gives 0) in plain arithmetic, within 2 ulp of libm's
    (subnormal results included): x = k ln 2 + r, |r| <= ln(2) / 2, the Taylor series
    of degree 13 of exp(r) by Estrin's scheme, times 2^k."""
    t = x if x > -746.0 else -746.0  # exp(-746) is 0 in double precision
    k = (t * _INV_LN2 + _ROUND) - _ROUND  # round(t / ln 2)
    r = (t - k * _LN2_HI) - k * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    q0 = (1.0 + r) + r2 * (1.0 / 2 + r * (1.0 / 6))
    q1 = (1.0 / 24 + r * (1.0 / 120)) + r2 * (1.0 / 720 + r * (1.0 / 5040))
    q2 = (1.0 / 40320 + r * (1.0 / 362880)) + r2 * (1.0 / 3628800 + r * (1.0 / 39916800))
    q3 = 1.0 / 479001600 + r * (1.0 / 6227020800)
    p = (q0 + r4 * q1) + r8 * (q2 + r4 * q3)
    low = k < -1000.0  # a subnormal result: scaled into the normal range, then back (one rounding)
    return (p * _pow2(k + 200.0 if low else k)) * (6.223015277861142e-61 if low else 1.0)  # 2^-200


@njit(**_RULE)
def _split(x):
    """``x = 2^k m`` for finite ``x > 0`` (subnormal too): ``k`` (an integer-valued
    double) and ``m`` within [1, 2), from the bits."""
    subnormal = x < _SMALLEST_NORMAL
    bits = _bits(x * 18014398509481984.0 if subnormal else x)  # times 2^54
    m = _double((bits & _MANTISSA_BITS) | _ONE_BITS)
    k = _double(((bits >> 52) & 0x7FF) + _bits(_ROUND)) - (_ROUND + 1023.0)
    return (k - 54.0 if subnormal else k), m


@njit(**_RULE)
def _log_series(k, s):
    """``k log 2 + log((1 + s) / (1 - s))`` for ``|s| <= 3 - 2 sqrt(2)`` (about 0.17):
    ``2 atanh(s) = 2 s + s R(s^2)``, R fdlibm's minimax polynomial (e_log.c)."""
    z = s * s
    w = z * z
    r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    return k * _LN2_HI + ((s + s) + (s * r + k * _LN2_LO))


@njit(**_RULE)
def log_ratio(top, bottom):
    """log(top / bottom) for top, bottom >= 0 in plain arithmetic and one division (of
    the two mantissas: ``top / bottom = 2^k m_t / m_b``, ``m_t / m_b`` brought within
    [sqrt(2)/2, sqrt(2)], ``log = k log 2 + 2 atanh((m_t - m_b) / (m_t + m_b))``); within
    a few 1e-17 of the exact value for ratios near 1, about 1 ulp elsewhere. -inf for
    top = 0, inf for bottom = 0, NaN for both or a NaN."""
    kt, mt = _split(top)
    kb, mb = _split(bottom)
    up = mt > _SQRT2 * mb
    down = mt * _SQRT2 < mb
    k = kt - kb + (1.0 if up else (-1.0 if down else 0.0))
    mb = mb * 2.0 if up else mb
    mt = mt * 2.0 if down else mt
    y = _log_series(k, (mt - mb) / (mt + mb))
    y = -math.inf if top == 0.0 else y
    y = math.inf if bottom == 0.0 else y
    return y if (top == top) & (bottom == bottom) & ((top != 0.0) | (bottom != 0.0)) else math.nan


# ---------------------------------------------------------------------------------
# The scalar rules (docs/model.md §3.1)
# ---------------------------------------------------------------------------------
#: A Beta factor of a larger concentration is a point mass (it never moves).
POINT_MASS_COUNT = 1e100


@njit(**_RULE)
def predictive_log_lr(style, cited, s, detectability_mean, detectability_variance, real_cited, planted_cited):
    """log Lambda~: the learner's predictive likelihood ratio planted : real of a
    document's perceived cues, under its current posterior; and ``1 / v``.

    Style: planted ``N(s mu, v)``, ``v = 1 + s^2 sigma^2`` (``mu``, ``sigma^2``: the posterior
    mean and variance of delta), against real ``N(0, 1)``:
    ``[x'^2 - (x' - s mu)^2 / v] / 2 - log(v) / 2``. Citations, tempered as the informed
    learner's: ``s log(q_p / q_r)`` if cited, ``s log((1 - q_p) / (1 - q_r))`` if not, at
    the posterior means of the cited shares. With ``sigma^2 = 0``, ``mu = d`` and the true
    cited shares it is the informed learner's ``log Lambda`` (:func:`sim.rules.log_lr`).
    The reader takes it where a document's evidence is taken in log space
    (:func:`_rare_lane`; elsewhere :func:`predictive_terms`): ``log v`` by libm's
    ``log1p``, the citation term by :func:`log_ratio`, as :func:`predictive_terms`'s.
    """
    spread = s * s * detectability_variance
    shrink = 1.0 / (1.0 + spread)
    log_v = math.log1p(spread)
    dev = style - s * detectability_mean
    log_style = 0.5 * (style * style - dev * dev * shrink) - 0.5 * log_v
    top = planted_cited if cited else 1.0 - planted_cited
    bottom = real_cited if cited else 1.0 - real_cited
    return log_style + s * log_ratio(top, bottom), shrink


@njit(**_RULE)
def predictive_terms(style, cited, s, detectability_mean, detectability_variance, real_cited, planted_cited):
    """``high = log Lambda~ > 0``, ``e = exp(-|log Lambda~|)`` and ``shrink = 1 / v`` of
    :func:`predictive_log_lr`, with one exponential and one logarithm (the citation
    term's, :func:`log_ratio`): ``log Lambda~ = L - log(v) / 2``, ``L`` the rest, so with
    ``x = exp(-|L|)`` and ``q = sqrt(1 / v)`` (at most 1): for ``L <= 0``, ``log Lambda~ <= 0``
    and ``e = x q``; for ``L > 0``, ``log Lambda~ > 0`` exactly when ``x < q``, and then
    ``e = x / q``, else ``e = q / x``. At most 1, never a division by 0."""
    shrink = 1.0 / (1.0 + s * s * detectability_variance)
    dev = style - s * detectability_mean
    top = planted_cited if cited else 1.0 - planted_cited
    bottom = real_cited if cited else 1.0 - real_cited
    rest = 0.5 * (style * style - dev * dev * shrink) + s * log_ratio(top, bottom)
    x = exp_nonpositive(-abs(rest))
    q = math.sqrt(shrink)
    positive = rest > 0.0
    high = positive & (x < q)
    e = ((x if high else q) / (q if high else x)) if positive else x * q
    return high, e, shrink


@njit(**_RULE)
def stance_terms(high, e, deceptive_share, candid_share):
    """The evidence ratio D : C of an undisclosed document and its probability of being
    planted under each hypothesis, from ``high = log Lambda~ > 0`` and
    ``e = exp(-|log Lambda~|)``: with ``Z_H = pi_H Lambda~ + 1 - pi_H``, the ratio
    ``Z_D / Z_C`` (:func:`sim.rules.mixture_parts`'s) and ``r_H = pi_H Lambda~ / Z_H``;
    for ``log Lambda~ > 0`` numerator and denominator are divided by ``Lambda~``. Where a
    denominator vanishes (a share of 0 or 1 with ``e = 0``) the belief is its limit,
    as in :func:`sim.rules.mixture_terms`, and the ratio leaves the linear range (the
    reader then takes the evidence in log space). Branch-free (selects), as every
    rule here, so that the loop over learners vectorizes."""
    w_d = deceptive_share if high else 1.0 - deceptive_share
    w_c = candid_share if high else 1.0 - candid_share
    den_d = w_d + (1.0 - w_d) * e
    den_c = w_c + (1.0 - w_c) * e
    top_d = deceptive_share if high else deceptive_share * e
    top_c = candid_share if high else candid_share * e
    limit = 0.0 if high else 1.0
    inv_d = 1.0 / den_d
    inv_c = 1.0 / den_c  # inf where den_c = 0
    r_d = top_d * inv_d if den_d > 0.0 else limit
    r_c = top_c * inv_c if den_c > 0.0 else limit
    return den_d * inv_c, r_d, r_c


@njit(**_RULE)
def beta_step(mean, count, weight, step, outcome):
    """Assumed-density filtering of a Beta(mean, count) (counts ``a = mean count``,
    ``b = count - a``): with probability ``weight`` the document is of the class this
    Beta describes and adds an observation ``outcome`` in {0, 1} of weight ``step``
    (``a += step outcome``, ``b += step (1 - outcome)``); otherwise nothing. The exact
    posterior, a mixture of the two Betas, is replaced by the Beta of the same mean and
    variance (moment matching). A point mass (``count`` above :data:`POINT_MASS_COUNT`)
    stays put."""
    a = mean * count
    n1 = count + 1.0
    up = count + step
    up1 = up + 1.0
    inv = 1.0 / (n1 * up * up1)  # one division for 1/(n+1), 1/(n+step), 1/(n+step+1)
    a_up = a + step * outcome
    second = mean * (a + 1.0) * (up * up1 * inv)  # E[q^2] before
    mean_up = a_up * (n1 * up1 * inv)
    second_up = mean_up * (a_up + 1.0) * (n1 * up * inv)
    new_mean = mean + weight * (mean_up - mean)
    new_second = second + weight * (second_up - second)
    variance = new_second - new_mean * new_mean
    # beyond double precision (variance <= 0): the count as if observed
    new_count = new_mean * (1.0 - new_mean) / variance - 1.0 if variance > 0.0 else count + step * weight
    still = (weight <= 0.0) | (step <= 0.0) | (count > POINT_MASS_COUNT)
    return (mean if still else new_mean), (count if still else new_count)


@njit(**_RULE)
def share_step(mean, count, planted):
    """Assumed-density filtering of the Beta(mean, count) posterior of a planted share
    after a document planted with probability ``planted``: the exact posterior, the
    mixture of Beta(a + 1, b) (weight ``planted`` = p) and Beta(a, b + 1), is replaced by
    the Beta of the same mean and variance. A point mass stays put.

    The mean is ``(a + p) / (n + 1)``; the count ``n' + 1 = mean' (1 - mean') / var'`` is
    ``(a + p)(b + 1 - p)(n + 2) / W``, ``W = a (b + 1 - p^2) + b p (2 - p) + 2 p (1 - p)``
    (the variance's numerator, a sum of terms >= 0, so there is no cancellation), both
    from one division. ``W = 0`` (nothing uncertain: a = p = 0, or b = 0 with p = 1):
    the mean p, the count as if observed."""
    a = mean * count
    b = count - a
    n1 = count + 1.0
    w = a * (b + 1.0 - planted * planted) + b * planted * (2.0 - planted) + 2.0 * planted * (1.0 - planted)
    top = a + planted
    inv = 1.0 / (n1 * w)
    certain = not (w > 0.0)
    new_mean = planted if certain else top * (w * inv)  # certain: p is 0 (and a = 0) or 1 (and b = 0)
    new_count = count + 1.0 if certain else (top * (n1 * inv)) * ((b + 1.0 - planted) * (count + 2.0)) - 1.0
    still = count > POINT_MASS_COUNT
    return (mean if still else new_mean), (count if still else new_count)


@njit(**_RULE)
def normal_step(mean, variance, weight, s, style, shrink):
    """Assumed-density filtering of the Normal posterior of delta: with probability
    ``weight`` the document is planted and its perceived style ``style ~ N(s delta, 1)``
    updates the Normal (variance ``sigma^2 shrink``, ``shrink = 1 / (1 + s^2 sigma^2)``);
    otherwise nothing. The mixture is replaced by the Normal of the same mean and
    variance. A point mass (variance 0) stays put."""
    variance_up = variance * shrink
    moved = s * (style - s * mean) * variance_up
    new_variance = (1.0 - weight) * variance + weight * variance_up + weight * (1.0 - weight) * moved * moved
    still = (weight <= 0.0) | (s <= 0.0) | (variance == 0.0)
    return (mean if still else mean + weight * moved), (variance if still else new_variance)


@njit(**_RULE)
def learn_document(high, e, shrink, style, cited, s, odds, dm, dn, cm, cn, mu, var, qr, nr, qp, n_p):
    """One undisclosed document, of predictive ratio ``Lambda~`` (``high = log Lambda~ > 0``,
    ``e = exp(-|log Lambda~|)``, ``shrink`` of :func:`predictive_log_lr`), read at
    awareness ``s`` by a learner whose odds D : C before it are ``odds`` (its
    control-discourse factor included): the evidence ratio
    ``(pi_D Lambda~ + 1 - pi_D) / (pi_C Lambda~ + 1 - pi_C)`` at the two hypotheses'
    current planted shares ``dm``, ``cm`` (:func:`stance_terms`), and every
    factor of the posterior after it (assumed-density filtering, docs/model.md §3.1).

    The planted share of each hypothesis moves with the document's probability of
    being planted under that hypothesis, ``r_D`` or ``r_C``; the cue model with
    ``r = P'(D) r_D + (1 - P'(D)) r_C``, the two mixed by the posterior after the
    document, ``P'(D) = odds ratio / (1 + odds ratio)``.
    """
    ratio, r_d, r_c = stance_terms(high, e, dm, cm)
    after = odds * ratio
    p_d = after / (1.0 + after) if after < 1e300 else 1.0
    r = p_d * r_d + (1.0 - p_d) * r_c
    dm, dn = share_step(dm, dn, r_d)
    cm, cn = share_step(cm, cn, r_c)
    mu, var = normal_step(mu, var, r, s, style, shrink)
    c = 1.0 if cited else 0.0
    qr, nr = beta_step(qr, nr, 1.0 - r, s, c)
    qp, n_p = beta_step(qp, n_p, r, s, c)
    return ratio, dm, dn, cm, cn, mu, var, qr, nr, qp, n_p


# ---------------------------------------------------------------------------------
# The compiled reader (both drivers)
# ---------------------------------------------------------------------------------
#: The running product of a batch's ratios is folded into its log-sum when it leaves
#: [1/_FOLD, _FOLD]; a document whose ratio leaves [1/_FACTOR, _FACTOR] is taken in
#: log space (as the informed learner's general path, sim/learner.py).
_FOLD = 1e150
_FACTOR = rules.LINEAR_RATIO_MAX
#: Families are padded to a multiple of this many learners (sim.learner's: the doubles
#: of an AVX-512 register), so that the vectorized loops have no scalar remainder.
_LANES = _LANES_INFORMED
#: Rows of the per-learner work array of a batch: the batch's constants and running
#: sums, and what the first loop over learners leaves for the second and third.
(_W_PI_HAT, _W_CONTROL, _W_DISCLOSURE, _W_PRODUCT, _W_LOG_SUM, _W_BASE_ODDS, _W_TARGET,
 _W_R_D, _W_R_C, _W_R, _W_SHRINK, _W_BELIEF, _W_ROWS) = range(13)


@njit(**_RULE)
def _evidence_lane(z, is_planted, is_cited, s, detectability, dm, cm, mu, var, qr, qp):
    """A learner of awareness ``s`` and posterior means ``dm``, ``cm``, ``mu``, ``qr``,
    ``qp`` (variance ``var`` of delta) reads an undisclosed document (its perceived
    style ``z + s d`` if planted): ``high``, ``e = exp(-|log Lambda~|)`` and ``shrink``
    (:func:`predictive_terms`), the evidence ratio and ``r_D``, ``r_C``
    (:func:`stance_terms`); and the perceived style. (Scalars only: an array passed to
    an inlined function costs reference counting, which stops the vectorizer.)"""
    style = z + (s * detectability if is_planted else 0.0)
    high, e, shrink = predictive_terms(style, is_cited, s, mu, var, qr, qp)
    ratio, r_d, r_c = stance_terms(high, e, dm, cm)
    return style, shrink, high, e, ratio, r_d, r_c


@njit(**_JIT)
def _rare_lane(j, i, start, z, is_planted, is_cited, is_control, log_odds, emergence, read, awareness, learned,
               constants, work):
    """Learner ``j`` after undisclosed document ``i``, where the vectorized loop left it
    (:func:`_learn_batch`): its ratio outside [1/_FACTOR, _FACTOR] (the evidence in log
    space, exactly, :func:`sim.rules.log_evidence`), its running product to be folded,
    or its emergence at this document. The scalar reader's arithmetic; the document's
    quantities are the loop's (the same arithmetic on the same numbers)."""
    product = -work[_W_PRODUCT, j]  # the loop marks the lane by the product's sign
    log_sum = work[_W_LOG_SUM, j]
    s = awareness[j]
    style, _, _, _, ratio, _, _ = _evidence_lane(z, is_planted, is_cited, s, constants.detectability,
                                                 learned[0, j], learned[2, j], learned[4, j], learned[5, j],
                                                 learned[6, j], learned[8, j])
    if 1.0 / _FACTOR < ratio < _FACTOR:
        product *= rules.document_factor(ratio, is_control, work[_W_CONTROL, j])
    else:  # an extreme document: its evidence in log space
        lr = predictive_log_lr(style, is_cited, s, learned[4, j], learned[5, j], learned[6, j], learned[8, j])[0]
        log_sum += (rules.log_evidence(lr, learned[0, j], learned[2, j])
                    + (awareness[j] * constants.log_control_ratio if is_control else 0.0))
    product, log_sum, moved = rules.fold(product, log_sum, 1.0 / _FOLD, _FOLD)
    if moved or log_sum != work[_W_LOG_SUM, j]:
        work[_W_LOG_SUM, j] = log_sum
        work[_W_BASE_ODDS, j] = math.exp(log_odds[j] + log_sum)
        if emergence[j] != emergence[j]:
            work[_W_TARGET, j] = rules.emergence_target(log_odds[j], log_sum)
    work[_W_PRODUCT, j] = product
    if emergence[j] != emergence[j] and rules.emerged(product, work[_W_TARGET, j]):
        emergence[j] = float(read[j] + (i - start) + 1)
        work[_W_TARGET, j] = math.inf


@njit(**_JIT)
def _learn_batch(log_odds, a, b, believed, emergence, read, learned, awareness, start, stop,
                 style_noise, planted, cited, disclosed, positive, control, constants, work):
    """Every learner reads documents ``start:stop`` (one batch) at its awareness.

    At the batch start each learner takes its self-model's pi_hat; then, document after
    document, in loops over the learners that the compiler vectorizes (the rules are
    branch-free and their exp and log plain arithmetic, :func:`exp_nonpositive`,
    :func:`log_ratio`; every learner's arithmetic is its own, so its numbers do not
    depend on the family): the evidence and the running product
    (:func:`predictive_terms`, :func:`stance_terms`); the posterior (the steps of
    :func:`learn_document`); the self-model. A learner whose document is extreme,
    whose product must be folded or who emerges at the document is finished between
    the first two loops by :func:`_rare_lane`. The log-odds are kept as ``log_odds +
    log_sum + log(product)`` (one logarithm per batch, as the informed learner's), and
    the odds before a document as ``exp(log_odds + log_sum) product``; the emergence
    target of a learner that has emerged is infinite.

    (Three loops rather than one: a loop touching more arrays would need more runtime
    alias checks than LLVM makes, and would not be vectorized.)
    """
    n_learners = log_odds.size
    d = constants.detectability
    pi_hat, control_factor, products = work[_W_PI_HAT], work[_W_CONTROL], work[_W_PRODUCT]
    base_odds, target = work[_W_BASE_ODDS], work[_W_TARGET]
    r_ds, r_cs, rs, shrinks, beliefs = work[_W_R_D], work[_W_R_C], work[_W_R], work[_W_SHRINK], work[_W_BELIEF]
    dms, dns, cms, cns, mus, variances, qrs, nrs, qps, nps = (
        learned[0], learned[1], learned[2], learned[3], learned[4], learned[5], learned[6], learned[7], learned[8],
        learned[9])
    for j in range(n_learners):
        s = awareness[j]
        work[_W_PI_HAT, j] = rules.expected_plant_rate(log_odds[j], dms[j], cms[j])
        work[_W_CONTROL, j], work[_W_DISCLOSURE, j] = rules.awareness_factors(
            s, constants.log_control_ratio, constants.log_disclosure_ratio)
        work[_W_PRODUCT, j] = 1.0
        work[_W_LOG_SUM, j] = 0.0
        work[_W_BASE_ODDS, j] = math.exp(log_odds[j])
        work[_W_TARGET, j] = rules.emergence_target(log_odds[j], 0.0) if emergence[j] != emergence[j] else math.inf
    for i in range(start, stop):
        if disclosed[i]:
            for j in range(n_learners):
                work[_W_PRODUCT, j] *= work[_W_DISCLOSURE, j]  # beta^s lies within [1e-6 ... 1e6]
                a[j] = rules.self_model_disclosed(a[j], constants.norm_weight)
                if emergence[j] != emergence[j] and rules.emerged(work[_W_PRODUCT, j], work[_W_TARGET, j]):
                    emergence[j] = float(read[j] + (i - start) + 1)
                    work[_W_TARGET, j] = math.inf
            continue
        z, is_planted, is_cited, is_control, good = style_noise[i], planted[i], cited[i], control[i], positive[i]
        rare = 0
        for j in range(n_learners):  # the evidence (vectorized)
            _, shrink, high, e, ratio, r_d, r_c = _evidence_lane(z, is_planted, is_cited, awareness[j], d, dms[j],
                                                                 cms[j], mus[j], variances[j], qrs[j], qps[j])
            product = products[j]
            kappa_s = control_factor[j]  # loaded before the select: a load in a branch stops the vectorizer
            kappa = kappa_s if is_control else 1.0
            after = base_odds[j] * product * kappa * ratio
            p_d = after / (1.0 + after) if after < 1e300 else 1.0  # P'(D) (learn_document's)
            moved = product * rules.document_factor(ratio, is_control, kappa_s)
            usual = (1.0 / _FACTOR < ratio) & (ratio < _FACTOR) & (1.0 / _FOLD < moved) & (moved < _FOLD) & (
                moved < target[j])
            products[j] = moved if usual else -product  # the sign marks a lane for _rare_lane
            rare += 0 if usual else 1
            r_ds[j] = r_d
            r_cs[j] = r_c
            rs[j] = p_d * r_d + (1.0 - p_d) * r_c
            shrinks[j] = shrink
            beliefs[j] = rules.mixture_terms(high, e, 0.0, 0.0, pi_hat[j])[1]
        if rare:
            for j in range(n_learners):
                if products[j] < 0.0:
                    _rare_lane(j, i, start, z, is_planted, is_cited, is_control, log_odds, emergence, read,
                               awareness, learned, constants, work)
        for j in range(n_learners):  # the posterior (vectorized): learn_document's steps
            s = awareness[j]
            style = z + (s * d if is_planted else 0.0)
            r = rs[j]
            dms[j], dns[j] = share_step(dms[j], dns[j], r_ds[j])
            cms[j], cns[j] = share_step(cms[j], cns[j], r_cs[j])
            mus[j], variances[j] = normal_step(mus[j], variances[j], r, s, style, shrinks[j])
            c = 1.0 if is_cited else 0.0
            qrs[j], nrs[j] = beta_step(qrs[j], nrs[j], 1.0 - r, s, c)
            qps[j], nps[j] = beta_step(qps[j], nps[j], r, s, c)
        for j in range(n_learners):  # the self-model (vectorized)
            belief = beliefs[j]
            believed[j] += belief
            a[j], b[j] = rules.self_model(a[j], b[j], belief, good)
    for j in range(n_learners):
        log_odds[j] += work[_W_LOG_SUM, j] + math.log(work[_W_PRODUCT, j])
        read[j] += stop - start


@njit(**_JIT)
def _learn_corpus_kernel(log_odds, a, b, believed, emergence, read, learned, schedule, batch_size,
                         style_noise, planted, cited, disclosed, positive, control, constant_values):
    """The family reads every batch (column of ``schedule``) in turn; ``learned`` has one
    row per learned field (:data:`_LEARNED_FIELDS`)."""
    constants = LearningConstants(*constant_values)
    n = style_noise.size
    work = np.empty((_W_ROWS, log_odds.size))
    column = np.empty(log_odds.size)  # the batch's awareness, one buffer for the whole corpus
    for t in range(schedule.shape[1]):
        start = t * batch_size
        column[:] = schedule[:, t]
        _learn_batch(log_odds, a, b, believed, emergence, read, learned, column, start,
                     min(n, start + batch_size), style_noise, planted, cited, disclosed, positive, control,
                     constants, work)


def read_corpus(state: LearningState, cues: CorpusBatch, schedule: np.ndarray, final_awareness: np.ndarray,
                batch_size: int, constants: LearningConstants) -> LearningState:
    """Every learner reads a whole corpus (``cues`` in reading order), batch after
    batch at the awareness of ``schedule`` (learners, batches), in one compiled call:
    the arithmetic of :func:`read_batch` on each batch in turn.

    The learner's retrospective log-odds equal the as-read ones (retrospection with a
    rising awareness schedule is not defined for this learner: :class:`sim.params.Params`
    refuses it).
    """
    schedule = np.ascontiguousarray(schedule, dtype=np.float64)
    log_odds, _, a, b, believed, emergence, read = state_arrays(state)  # the retrospective ones follow log_odds
    learned = np.array([getattr(state, f) for f in _LEARNED_FIELDS], dtype=np.float64).reshape(len(_LEARNED_FIELDS), -1)
    n = schedule.shape[0]
    pad = -n % _LANES if n > _LANES else 0
    if pad:
        # pad the family to whole SIMD vectors with copies of its last learner (every lane's
        # arithmetic is its own, so padding changes no learner's numbers, only speed)
        log_odds, a, b, believed, emergence, read = (np.concatenate([x, np.repeat(x[-1:], pad)])
                                                     for x in (log_odds, a, b, believed, emergence, read))
        learned = np.concatenate([learned, np.repeat(learned[:, -1:], pad, axis=1)], axis=1)
        schedule = np.concatenate([schedule, np.repeat(schedule[-1:], pad, axis=0)])
    _learn_corpus_kernel(
        log_odds, a, b, believed, emergence, read, learned, schedule, int(max(batch_size, 1)),
        np.ascontiguousarray(cues.style_noise, dtype=np.float64),
        np.ascontiguousarray(cues.planted, dtype=np.bool_),
        np.ascontiguousarray(cues.cited, dtype=np.bool_),
        *cue_flags(cues),
        tuple(map(float, constants)),
    )
    if pad:
        log_odds, a, b, believed, emergence, read = (x[:n] for x in (log_odds, a, b, believed, emergence, read))
        learned, schedule = learned[:, :n], schedule[:n]
    return LearningState(
        log_odds=log_odds,
        retro_log_odds=log_odds.copy(),
        a=a,
        b=b,
        believed_planted_sum=believed,
        documents_read=read,
        emergence_document=emergence,
        awareness=np.array(schedule[:, -1], dtype=np.float64),
        **{f: learned[i].copy() for i, f in enumerate(_LEARNED_FIELDS)},
    )


def read_batch(state: LearningState, batch: CorpusBatch, awareness: np.ndarray, final_awareness: np.ndarray,
               constants: LearningConstants) -> LearningState:
    """Advance every learner by one batch (:func:`read_corpus` on a one-batch corpus)."""
    column = np.asarray(awareness, dtype=np.float64).reshape(-1, 1)
    return read_corpus(state, batch, column, final_awareness, max(len(batch.style_noise), 1), constants)


def read_statement(state: LearningState, awareness: np.ndarray, final_awareness: np.ndarray,
                   log_statement_ratio: float) -> LearningState:
    """A lab's statement (docs/model.md §5.1): ``s log beta_s`` on the log-odds, as for the
    informed learner (:func:`sim.learner.read_statement`, which this calls); the cue model
    is unchanged, and the retrospective log-odds follow the as-read ones."""
    read = informed_read_statement(state, awareness, final_awareness, log_statement_ratio)
    fields = {name: getattr(read, name) for name in LearnerState.__dataclass_fields__}
    fields["retro_log_odds"] = read.log_odds.copy()
    return LearningState(**fields, **{f: getattr(state, f).copy() for f in _LEARNED_FIELDS})


# ---------------------------------------------------------------------------------
# Readouts (docs/model.md §3.1, "What it reports")
# ---------------------------------------------------------------------------------
#: The learned estimates a run reports (NaN for the informed learner).
LEARNED_COLUMNS = (
    "learned_planted_share",
    "learned_planted_share_sd",
    "learned_style_separation",
    "learned_style_separation_sd",
    "learned_real_cited_rate",
    "learned_real_cited_rate_sd",
)


#: The learned estimates the trajectory records after every batch.
TRAJECTORY_LEARNED_COLUMNS = ("learned_planted_share", "learned_style_separation", "learned_real_cited_rate")


def _beta_second_moment(mean: np.ndarray, count: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(np.isinf(count), 0.0, mean * (1.0 - mean) / (count + 1.0))
    return mean * mean + var


def learned_estimates(state: LearnerState) -> dict[str, np.ndarray]:
    """The learned estimates of :data:`LEARNED_COLUMNS` (posterior mean and standard
    deviation), arrays over learners; NaN for a state of the informed learner.

    - planted share: the mixture of the two hypotheses' Beta posteriors, weighed by
      P(D) as read;
    - style separation: ``s mu``, the learned shift of the perceived style between
      planted and real documents (``s d`` when learned exactly), at the awareness of
      the last batch read; its spread ``s / sqrt(lambda)``;
    - real documents' cited share: its Beta posterior.
    """
    n = np.asarray(state.log_odds).size
    if not isinstance(state, LearningState):
        nan = np.full(n, np.nan)
        return {c: nan.copy() for c in LEARNED_COLUMNS}
    p_d = expit(state.log_odds)
    dm, cm = state.deceptive_rate_mean, state.candid_rate_mean
    share = p_d * dm + (1.0 - p_d) * cm
    second = p_d * _beta_second_moment(dm, state.deceptive_rate_count) + (1.0 - p_d) * _beta_second_moment(
        cm, state.candid_rate_count)
    s = state.awareness
    with np.errstate(divide="ignore"):
        sep_sd = s * np.sqrt(state.detectability_variance)
    qr = state.real_cited_mean
    return {
        "learned_planted_share": share,
        "learned_planted_share_sd": np.sqrt(np.maximum(second - share * share, 0.0)),
        "learned_style_separation": s * state.detectability_mean,
        "learned_style_separation_sd": sep_sd,
        "learned_real_cited_rate": qr.copy(),
        "learned_real_cited_rate_sd": np.sqrt(_beta_second_moment(qr, state.real_cited_count) - qr * qr).clip(0.0),
    }


# ---------------------------------------------------------------------------------
# The large-corpus limit (docs/model.md §3.1, "The large-corpus limit")
# ---------------------------------------------------------------------------------
def large_corpus_log_odds(params: Params, share) -> np.ndarray:
    """The log-odds D : C of exact Bayes after a long corpus whose planted share is
    learned as ``share``: ``logit(pi_0) + log p_D(share) - log p_C(share)``, the two
    planting-rate priors' log-densities (Laplace's approximation of the two marginal
    likelihoods; the evidence per document vanishes once both hypotheses have learned
    the share)."""
    from scipy import stats

    def log_density(mean, concentration, x):
        if math.isinf(concentration):  # a point mass: the share is the rate or impossible
            return np.where(x == mean, np.inf, -np.inf)
        return stats.beta(mean * concentration, (1.0 - mean) * concentration).logpdf(x)

    x = np.asarray(share, dtype=float)
    with np.errstate(invalid="ignore"):
        return (logit(params.prior_deceptive)
                + log_density(params.deceptive_plant_rate, params.deceptive_rate_concentration, x)
                - log_density(params.candid_plant_rate, params.candid_rate_concentration, x))


def rebel_share_threshold(params: Params, grid: int = 4000) -> float:
    """pi_dagger: the smallest learned planted share above which the large-corpus
    learning learner is rebel (:func:`large_corpus_log_odds` turns positive); NaN if it
    never does on (0, 1).

    >>> round(rebel_share_threshold(Params()), 4)
    0.0751
    """
    from scipy.optimize import brentq

    x = np.linspace(1e-6, 1.0 - 1e-6, grid)
    values = large_corpus_log_odds(params, x)
    up = np.flatnonzero((values[:-1] < 0) & (values[1:] >= 0))
    if not up.size:
        return float("nan")
    i = int(up[0])
    return float(brentq(lambda v: float(large_corpus_log_odds(params, v)), x[i], x[i + 1], xtol=1e-10))
