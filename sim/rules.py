"""The learner's mathematics, written once: the specification of the per-document update.

Everything the learner computes is here, as short scalar functions compiled with numba
(``inline="always"``, so a caller's generated code is that of the formula written in
place) and the numpy functions of the readouts and schedules. The compiled readers of
:mod:`sim.learner` (the general path, one learner at a time, and the fast path, the
whole family in a vectorized loop with a plain-arithmetic exponential) and the mean
field (:mod:`sim.meanfield`, through the ufunc :func:`sim.learner.evidence`) call these
functions; they add only loop structure, vector width and the fast exponential.
A change to a formula is one edit here.

Sections follow docs/model.md, section 3 "The learner":

- constants: :class:`LearnerConstants`, :func:`constants` (the parameters as the
  update uses them);
- state: :class:`LearnerState`, :func:`initial_state`;
- perception (3, "Perception"): :func:`log_lr`, :func:`log_lr_shifted`,
  :func:`awareness_factors`;
- evidence (3, "Evidence about the makers"): :func:`mixture_parts`, :func:`mixture_terms`,
  :func:`ratio_and_belief`, :func:`document_factor`, :func:`log_evidence`;
- self-model (3, "Self-model"): :func:`expected_plant_rate`, :func:`self_model`,
  :func:`self_model_disclosed`;
- the makers' hypotheses beyond candid and deceptive (3.2 benevolent makers, 5.7
  holes and the deceptive sub-hypotheses): :class:`Hypotheses`,
  :func:`document_evidence` (a document's ratio with control discourse and holes),
  :func:`maker_log_odds` (P(D), P(B) and the planting odds from the learner's sums),
  :func:`maker_readouts`, :func:`final_readouts`;
- running sums: :func:`fold` (a running product of ratios moved into a log-sum),
  :func:`emergence_target`, :func:`emerged` (the emergence test as a product bound);
- readouts (3, "Readouts"; "Retrospection"): :func:`uplift`, :func:`persona`,
  :func:`final_log_odds`;
- schedules (3, "Awareness during training"): :func:`awareness_schedule`.

Notation (docs/model.md): awareness ``s``, detectability ``d``, believed cited share
of planted documents ``q_p``, measured cited share of real documents ``q_r``, planting
rates ``pi_D`` (deceptive makers) and ``epsilon`` (candid makers), likelihood ratios
``kappa`` (control discourse) and ``beta`` (disclosure), log-odds of deception
``ell = log P(D)/P(C)``; priors ``pi_0`` (deceptive) and ``pi_B`` (benevolent),
filtering rates ``f_C``, ``f_D`` and the filtered share ``phi``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from . import _cpu  # noqa: F401  (numba's vector width, set before numba is first imported)
from numba import njit, vectorize

from .params import Params

ALIGNED, NEUTRAL, REBEL = 0, 1, 2
PERSONAS = ("aligned", "neutral", "rebel")

#: Emergence is the first document at which P(deceptive) >= 0.9 (docs/model.md), i.e.
#: the log-odds reach log 9.
EMERGENCE_LEVEL = float(np.log(9.0))

_JIT = dict(nogil=True, cache=True, error_model="numpy")
_RULE = dict(inline="always", **_JIT)


# ---------------------------------------------------------------------------------
# The logistic function and its inverse
# ---------------------------------------------------------------------------------
#: The largest x whose e^x is a double (the log of the largest double).
_LOG_MAX = math.log(sys.float_info.max)


@vectorize(["float64(float64)"], cache=True)  # compiled when imported: no thread of a sweep compiles it
def expit(x):
    """The logistic function ``1 / (1 + e^-x)``, a numpy ufunc.

    The formula and, on the same C library, the bits of ``scipy.special.expit``
    (scipy's ``xsf/log_exp.h``; tests/test_learner.py compares them on a million
    values): written here so that a sweep does not import ``scipy.special`` (a tenth
    of a second of every sweep's start, issue 18).
    """
    minus = -x
    if minus > _LOG_MAX:  # e^-x beyond the largest double: C's exp gives inf, and 1/(1 + inf) = 0
        return 0.0
    return 1.0 / (1.0 + math.exp(minus))


def logit(p: float) -> float:
    """The log-odds ``log(p / (1 - p))`` of one probability, with
    ``log1p(2(p - 1/2)) - log1p(-2(p - 1/2))`` for ``0.3 <= p <= 0.65``, where the
    plain formula loses precision near 1/2: the formula and bits of
    ``scipy.special.logit`` from scipy 1.15 on (scipy PR 21388). -inf at 0, inf at 1,
    NaN outside [0, 1].
    """
    p = float(p)
    if p < 0.3 or p > 0.65:
        if p == 1.0:
            return math.inf
        odds = p / (1.0 - p)
        if odds == 0.0:
            return -math.inf
        if odds != odds:  # p = ±inf: inf / -inf, the NaN C's log passes on
            return odds
        return math.log(odds) if odds > 0.0 else math.nan
    s = 2.0 * (p - 0.5)  # NaN lands here, as in C (both comparisons false)
    return math.log1p(s) - math.log1p(-s)


# ---------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------
#: The constants every learner model has, in this order (docs/model.md §3): the
#: evidence of control discourse (log kappa) and of disclosure (log beta), the
#: self-model's norm weight w, the prior log-odds (logit pi_0, or log pi_0/pi_C with
#: benevolent makers), the real documents' good-behaviour share g and retrospection r.
#: Declared once; both learners' constant tuples include them (:func:`shared_constants`
#: computes them), since numba's named tuples cannot inherit.
SHARED_CONSTANT_FIELDS: tuple[tuple[str, type], ...] = tuple(
    (name, float) for name in ("log_control_ratio", "log_disclosure_ratio", "norm_weight", "prior_log_odds",
                               "real_positive_rate", "retrospection"))

LearnerConstants = NamedTuple("LearnerConstants", [
    ("detectability", float),  # d
    ("log_cited_ratio", float),  # log(q_p / q_r)
    ("log_uncited_ratio", float),  # log((1 - q_p) / (1 - q_r))
    ("log_deceptive_rate", float),  # log pi_D
    ("log1m_deceptive_rate", float),  # log(1 - pi_D)
    ("log_candid_rate", float),  # log epsilon
    ("log1m_candid_rate", float),  # log(1 - epsilon)
    ("deceptive_rate", float),  # pi_D
    ("candid_rate", float),  # epsilon
    *SHARED_CONSTANT_FIELDS,
    ("benevolent_prior_log_odds", float),  # log pi_B / pi_C (-inf: no benevolent hypothesis)
    ("log_hole_ratio", float),  # log f_D / f_C (a dangling reference; docs/model.md §5.7)
    ("log_kept_ratio", float),  # log (1 - f_D) / (1 - f_C) (a reference whose target is there)
    ("log_weight_both", float),  # log w_B: deceptive makers who plant and filter (0: all of them)
    ("log_weight_plants", float),  # log w_P: ... who plant only (-inf: none)
    ("log_weight_filters", float),  # log w_F: ... who filter only (-inf: none)
])
LearnerConstants.__doc__ = """The informed learner's fixed quantities, precomputed once per parameter set
(:func:`learner_constants`; docs/model.md §3, §3.2, §5.7).

Each field is a float (the compiled readers take the tuple whole): the detectability,
the citation cue's log-ratios, the planting rates and their logarithms, the fields of
:data:`SHARED_CONSTANT_FIELDS`, and the makers' further hypotheses (benevolent prior,
filtering log-ratios, the deceptive sub-hypotheses' log weights).
"""


#: The hypotheses about the makers beyond "candid or deceptive" (docs/model.md §3.2,
#: §5.7), as a learner's state carries them: prior log-odds of deceptive makers against
#: candid ones, of benevolent ones (-inf: none), and the log weights of the deceptive
#: makers' sub-hypotheses (both, plants only, filters only).
class Hypotheses(NamedTuple):
    prior_log_odds: float
    benevolent_prior_log_odds: float
    log_weight_both: float
    log_weight_plants: float
    log_weight_filters: float


def hypotheses_of(constants) -> Hypotheses | None:
    """The learner's :class:`Hypotheses`, or None when it holds only candid and
    deceptive makers who plant and filter alike (then its log-odds are the readout)."""
    if getattr(constants, "benevolent_prior_log_odds", -math.inf) == -math.inf and \
            getattr(constants, "log_weight_plants", -math.inf) == -math.inf and \
            getattr(constants, "log_weight_filters", -math.inf) == -math.inf:
        return None
    return Hypotheses(constants.prior_log_odds, constants.benevolent_prior_log_odds, constants.log_weight_both,
                      constants.log_weight_plants, constants.log_weight_filters)


def _log(x: float) -> float:
    with np.errstate(divide="ignore"):
        return float(np.log(x))


def _log1m(x: float) -> float:
    with np.errstate(divide="ignore"):
        return float(np.log1p(-x))


def learner_constants(params: Params, real_cited_rate: float) -> LearnerConstants:
    """Precompute the learner's constants from a parameter set and the corpus's q_r
    (docs/model.md §3; the names of the citation shares: §2).

    ``real_cited_rate`` must lie strictly inside (0, 1); a corpus supplies it through
    :meth:`sim.corpus.Corpus.learner_real_cited_rate`.
    """
    q_r = float(real_cited_rate)
    if not 0.0 < q_r < 1.0:
        raise ValueError(f"real_cited_rate = {q_r!r} is not allowed: allowed is (0, 1)")
    q_p = params.believed_planted_cited_rate
    return LearnerConstants(
        detectability=params.synthetic_detectability,
        log_cited_ratio=float(np.log(q_p) - np.log(q_r)),
        log_uncited_ratio=float(np.log1p(-q_p) - np.log1p(-q_r)),
        log_deceptive_rate=_log(params.deceptive_plant_rate),
        log1m_deceptive_rate=_log1m(params.deceptive_plant_rate),
        log_candid_rate=_log(params.candid_plant_rate),
        log1m_candid_rate=_log1m(params.candid_plant_rate),
        deceptive_rate=params.deceptive_plant_rate,
        candid_rate=params.candid_plant_rate,
        **shared_constants(params),
        benevolent_prior_log_odds=_log(params.prior_benevolent) - _log1m(params.prior_deceptive + params.prior_benevolent)
        if params.prior_benevolent > 0.0 else -math.inf,
        log_hole_ratio=_log(params.deceptive_filter_rate) - _log(params.candid_filter_rate),
        log_kept_ratio=_log1m(params.deceptive_filter_rate) - _log1m(params.candid_filter_rate),
        log_weight_both=_log1m(params.deceptive_filters_only + params.deceptive_plants_only),
        log_weight_plants=_log(params.deceptive_plants_only),
        log_weight_filters=_log(params.deceptive_filters_only),
    )


def shared_constants(params: Params) -> dict[str, float]:
    """The constants every learner model has (the informed one's and the learning one's,
    sim/learning.py): the evidence of control discourse and disclosure, the self-model's
    norm weight, the prior, the real documents' good-behaviour share and retrospection
    (docs/model.md §3)."""
    return dict(
        log_control_ratio=float(np.log(params.control_likelihood_ratio)),
        log_disclosure_ratio=float(np.log(params.disclosure_likelihood_ratio)),
        norm_weight=params.norm_weight,
        prior_log_odds=prior_log_odds(params),
        real_positive_rate=params.real_positive_rate,
        retrospection=params.retrospection,
    )


def prior_log_odds(params: Params) -> float:
    """The prior log-odds of deceptive against candid makers, ``log pi_0 / pi_C`` with
    the candid prior ``pi_C = 1 - pi_0 - pi_B`` (docs/model.md §3.2): ``logit(pi_0)``
    without benevolent makers."""
    if params.prior_benevolent == 0.0:
        return logit(params.prior_deceptive)
    return _log(params.prior_deceptive) - _log1m(params.prior_deceptive + params.prior_benevolent)


# ---------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LearnerState:
    """State of a family of learners; every field has shape (learners,).

    Attributes
    ----------
    log_odds : log P(D)/P(C) as read (each document weighed at its reading awareness)
    retro_log_odds : the same sum re-weighed at the final awareness (for retrospection)
    a, b : Beta self-model counts ("AIs like me behave well / badly")
    believed_planted_sum : sum of p_hat over the documents read
    documents_read : documents read so far (int)
    emergence_document : first document at which P(D) >= 0.9 (NaN until then)
    awareness : awareness during the last batch read
    holes, mistrust : the summed hole evidence H (references present or dangling,
        docs/model.md §5.7) and mistrust evidence M (control discourse, disclosure,
        statements, §3.2) in ``log_odds``, as read; ``retro_holes``, ``retro_mistrust``
        the same at the final awareness. None for a learner that needs neither.
    hypotheses : the :class:`Hypotheses` that read P(D) off ``log_odds``, ``holes``
        and ``mistrust`` (benevolent makers, deceptive sub-hypotheses); None when
        P(D) = expit(log_odds).

    ``log_odds`` is the sum ``logit``-prior + every document's evidence for deceptive
    makers who plant and filter, against candid makers (docs/model.md §3, §3.2, §5.7).
    """

    log_odds: np.ndarray
    retro_log_odds: np.ndarray
    a: np.ndarray
    b: np.ndarray
    believed_planted_sum: np.ndarray
    documents_read: np.ndarray
    emergence_document: np.ndarray
    awareness: np.ndarray
    holes: np.ndarray | None = None
    mistrust: np.ndarray | None = None
    retro_holes: np.ndarray | None = None
    retro_mistrust: np.ndarray | None = None
    hypotheses: Hypotheses | None = None

    @property
    def p_deceptive(self) -> np.ndarray:
        return expit(self.deceptive_log_odds)

    @property
    def p_benevolent(self) -> np.ndarray:
        return maker_readouts(self.log_odds, self.holes, self.mistrust, self.hypotheses)[1]

    @property
    def deceptive_log_odds(self) -> np.ndarray:
        """log P(D)/(1 - P(D)): ``log_odds`` itself with two hypotheses."""
        return maker_readouts(self.log_odds, self.holes, self.mistrust, self.hypotheses)[0]

    @property
    def believed_planted_share(self) -> np.ndarray:
        """mean(p_hat) over the documents read (0 before any)."""
        return self.believed_planted_sum / np.maximum(self.documents_read, 1)


def select_state(state: LearnerState, index: np.ndarray) -> LearnerState:
    """The learners ``index`` of a state (the inverse of :func:`stack_states`)."""
    return type(state)(**{
        f: getattr(state, f) if f == "hypotheses" or getattr(state, f) is None else np.asarray(getattr(state, f))[index]
        for f in type(state).__dataclass_fields__})


def stack_states(states: list[LearnerState]) -> LearnerState:
    """One state of the learners of several states (of one learner model and one
    parameter set): their arrays end to end; fields that are None, and the
    hypotheses, as the first state has them."""
    first = states[0]
    return type(first)(**{
        f: getattr(first, f) if f == "hypotheses" or getattr(first, f) is None
        else np.concatenate([getattr(st, f) for st in states])
        for f in type(first).__dataclass_fields__})


def initial_state(n_learners: int, constants: LearnerConstants, awareness: np.ndarray | None = None) -> LearnerState:
    """Learners before reading: log-odds log pi_0/pi_C (logit(pi_0) without benevolent
    makers), self-model Beta(1, 1), no hole or mistrust evidence yet. A learner model
    whose constants have no such hypotheses (the learning one) gets None for them."""
    full = lambda v: np.full(n_learners, v, dtype=float)  # noqa: E731
    sums = hasattr(constants, "log_hole_ratio")
    return LearnerState(
        log_odds=full(constants.prior_log_odds),
        retro_log_odds=full(constants.prior_log_odds),
        a=full(1.0),
        b=full(1.0),
        believed_planted_sum=full(0.0),
        documents_read=np.zeros(n_learners, dtype=np.int64),
        emergence_document=full(np.nan),
        awareness=full(0.0) if awareness is None else np.asarray(awareness, dtype=float).copy(),
        holes=full(0.0) if sums else None,
        mistrust=full(0.0) if sums else None,
        retro_holes=full(0.0) if sums else None,
        retro_mistrust=full(0.0) if sums else None,
        hypotheses=hypotheses_of(constants),
    )


# ---------------------------------------------------------------------------------
# Perception (docs/model.md 3, "Perception")
# ---------------------------------------------------------------------------------
@njit(**_RULE)
def log_lr_shifted(style_noise, planted_shift, cite_log_ratio, s, shift, shift2):
    """log Lambda for one document and one learner, given ``shift = s d`` and
    ``shift2 = shift * shift`` (a reader of many documents computes them once).

    The learner perceives the style ``x' = s d [planted] + z`` and scores it as an
    ideal observer of a shift ``m = s d``, ``m x' - m^2/2 = m z + m^2 ([planted] - 1/2)``
    (``planted_shift`` is ``[planted] - 1/2``), and adds the tempered citation term
    ``s log(q_p/q_r)`` or ``s log((1-q_p)/(1-q_r))`` (``cite_log_ratio``).
    """
    return shift * style_noise + shift2 * planted_shift + s * cite_log_ratio


@njit(**_RULE)
def log_lr(style_noise, planted_shift, cite_log_ratio, s, detectability):
    """log Lambda for one document and one learner (:func:`log_lr_shifted`)."""
    shift = s * detectability
    return log_lr_shifted(style_noise, planted_shift, cite_log_ratio, s, shift, shift * shift)


@njit(**_RULE)
def awareness_factors(s, log_control_ratio, log_disclosure_ratio):
    """The tempered likelihood ratios at awareness ``s``: ``kappa^s`` (control
    discourse) and ``beta^s`` (a disclosed document)."""
    return math.exp(s * log_control_ratio), math.exp(s * log_disclosure_ratio)


# ---------------------------------------------------------------------------------
# Evidence about the makers (docs/model.md 3, "Evidence about the makers")
# ---------------------------------------------------------------------------------
@njit(**_RULE)
def mixture_parts(high, e, deceptive_rate, candid_rate, pi_hat):
    """The evidence ratio of an undisclosed document, and the numerator and
    denominator of the belief that it is planted, from ``high = log Lambda > 0`` and
    ``e = exp(-|log Lambda|)``.

    ratio = (pi_D Lambda + 1 - pi_D) / (epsilon Lambda + 1 - epsilon), and
    p_hat = pi_hat Lambda / (pi_hat Lambda + 1 - pi_hat); for log Lambda > 0
    numerator and denominator are divided by Lambda, so nothing overflows.
    """
    num_w = deceptive_rate if high else 1.0 - deceptive_rate
    den_w = candid_rate if high else 1.0 - candid_rate
    ratio = (num_w + (1.0 - num_w) * e) / (den_w + (1.0 - den_w) * e)
    belief_w = pi_hat if high else 1.0 - pi_hat
    belief_top = pi_hat if high else pi_hat * e
    belief_den = belief_w + (1.0 - belief_w) * e
    return ratio, belief_top, belief_den


@njit(**_RULE)
def mixture_terms(high, e, deceptive_rate, candid_rate, pi_hat):
    """The evidence ratio and the belief p_hat of :func:`mixture_parts`. The belief's
    denominator vanishes only for pi_hat in {0, 1} with e = 0; the belief is then its
    limit. (A caller that knows the denominator is positive may divide the parts
    itself: the fast path, whose rates keep pi_hat inside [1e-6, 1 - 1e-6] and e > 0.)
    """
    ratio, belief_top, belief_den = mixture_parts(high, e, deceptive_rate, candid_rate, pi_hat)
    belief = belief_top / belief_den if belief_den > 0.0 else (0.0 if high else 1.0)
    return ratio, belief


@njit(**_RULE)
def ratio_and_belief(lr, deceptive_rate, candid_rate, pi_hat):
    """:func:`mixture_terms` of log Lambda ``lr`` with the exact exponential."""
    return mixture_terms(lr > 0.0, math.exp(-abs(lr)), deceptive_rate, candid_rate, pi_hat)


@njit(**_RULE)
def document_factor(ratio, is_control, control_factor):
    """An undisclosed document's likelihood ratio D : C, control discourse
    (``control_factor = kappa^s``) included."""
    return ratio * (control_factor if is_control else 1.0)


@njit(**_RULE)
def document_evidence(ratio, is_control, control_factor, s, log_control_ratio, with_holes, hole_log_ratio):
    """An undisclosed document's likelihood ratio D : C at awareness ``s`` and its
    logarithm's extra terms: the cue ratio, control discourse (``kappa^s``) and, where
    the learner reads holes (docs/model.md §5.7), its references' ``s h_i``. Returns
    ``(factor, extra log, hole term)`` (the extra log is what an extreme document adds
    in log space besides its cue evidence)."""
    extra = s * log_control_ratio if is_control else 0.0
    factor = document_factor(ratio, is_control, control_factor)
    hole = 0.0
    if with_holes:
        hole = s * hole_log_ratio
        factor *= math.exp(hole)
        extra += hole
    return factor, extra, hole


@njit(**_RULE)
def log_mix(p, lr):
    """log(p Lambda + 1 - p) in log space (exact for any Lambda)."""
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return lr
    a = math.log(p) + lr
    c = math.log1p(-p)
    hi = max(a, c)
    return hi + math.log1p(math.exp(min(a, c) - hi))


#: Beyond [1/LINEAR_RATIO_MAX, LINEAR_RATIO_MAX] a document's evidence ratio is taken
#: in log space (:func:`log_evidence`).
LINEAR_RATIO_MAX = 1e100


@njit(**_RULE)
def log_evidence(lr, deceptive_rate, candid_rate):
    """Delta = log[(pi_D Lambda + 1 - pi_D) / (epsilon Lambda + 1 - epsilon)], exactly."""
    ratio = ratio_and_belief(lr, deceptive_rate, candid_rate, 0.0)[0]
    if 1.0 / LINEAR_RATIO_MAX < ratio < LINEAR_RATIO_MAX:
        return math.log(ratio)
    return log_mix(deceptive_rate, lr) - log_mix(candid_rate, lr)


# ---------------------------------------------------------------------------------
# Self-model (docs/model.md 3, "Self-model")
# ---------------------------------------------------------------------------------
@njit(**_RULE)
def expected_plant_rate(log_odds, deceptive_rate, candid_rate):
    """pi_hat = P(D) pi_D + (1 - P(D)) epsilon, with P(D) = expit(log_odds)."""
    if log_odds >= 0.0:
        p_d = 1.0 / (1.0 + math.exp(-log_odds))
    else:
        e = math.exp(log_odds)
        p_d = e / (1.0 + e)
    return p_d * deceptive_rate + (1.0 - p_d) * candid_rate


@njit(**_RULE)
def log_sum_exp3(x, y, z):
    """log(e^x + e^y + e^z); exactly the one finite term when the others are -inf."""
    hi = max(x, max(y, z))
    if hi == -math.inf:
        return hi
    total = 0.0
    if x != -math.inf:
        total += math.exp(x - hi)
    if y != -math.inf:
        total += math.exp(y - hi)
    if z != -math.inf:
        total += math.exp(z - hi)
    return hi + math.log(total)


@njit(**_RULE)
def softplus(x):
    """log(1 + e^x), exactly 0 at x = -inf."""
    if x == -math.inf:
        return 0.0
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@njit(**_RULE)
def maker_log_odds(log_odds, holes, mistrust, prior, benevolent_prior, log_weight_both, log_weight_plants,
                   log_weight_filters):
    """The makers' hypotheses read off the learner's sums (docs/model.md §3.2, §5.7):
    ``log_odds`` = prior + P + H + M (planting, hole and mistrust evidence for deceptive
    makers who plant and filter), ``holes`` = H, ``mistrust`` = M. Returns

    - log P(D)/(1 - P(D)), D being deceptive makers of any kind: log-odds against candid
      makers ``log_odds + log w_B`` (plant and filter), ``log_odds - H + log w_P``
      (plant only), ``prior + H + M + log w_F`` (filter only), summed in odds, less
      log(1 + P(B)/P(C));
    - log P(B)/P(C), benevolent makers (plant, filter as candid ones do, no mistrust):
      ``log pi_B/pi_C + P``;
    - the log-odds that the makers plant (D who plant, or B) against not (C, or D who
      filter only): what the self-model's pi_hat weighs.

    With two hypotheses (w_B = 1, no benevolent makers) the first and last are exactly
    ``log_odds``.
    """
    planting = log_odds - prior - holes - mistrust
    both = log_weight_both + log_odds
    plants = log_weight_plants + log_odds - holes
    filters = log_weight_filters + prior + holes + mistrust
    benevolent = benevolent_prior + planting
    deceptive = log_sum_exp3(both, plants, filters)
    return (deceptive - softplus(benevolent), benevolent,
            log_sum_exp3(both, plants, benevolent) - softplus(filters))


@njit(**_RULE)
def self_model(a, b, belief, good):
    """The Beta self-model after an undisclosed document believed planted with
    probability ``belief``: its weight ``1 - p_hat`` goes to ``a`` if it shows AI
    behaving well (``good``), else to ``b`` (a disclosed document:
    :func:`self_model_disclosed`)."""
    weight = 1.0 - belief
    if good:
        a += weight
    else:
        b += weight
    return a, b


@njit(**_RULE)
def self_model_disclosed(a, norm_weight):
    """The Beta self-model after a disclosed document: ``norm_weight`` goes to ``a``."""
    return a + norm_weight


# ---------------------------------------------------------------------------------
# Running sums: log-odds as log_odds + log_sum + log(product); emergence
# ---------------------------------------------------------------------------------
@njit(**_RULE)
def fold(product, log_sum, low, high):
    """Move a running product of ratios into its log-sum when it leaves (low, high).

    Returns the new product and log-sum and whether it moved."""
    if low < product < high:
        return product, log_sum, False
    return 1.0, log_sum + math.log(product), True


@njit(**_RULE)
def emergence_target(log_odds, log_sum):
    """The running product at which the log-odds ``log_odds + log_sum + log(product)``
    reach log 9 (P(D) = 0.9): ``exp(log 9 - log_odds - log_sum)``."""
    return math.exp(EMERGENCE_LEVEL - log_odds - log_sum)


@njit(**_RULE)
def emerged(product, target):
    """The emergence test ``log-odds >= log 9``, as the product bound."""
    return product >= target


# ---------------------------------------------------------------------------------
# Readouts (docs/model.md 3, "Readouts", "Retrospection")
# ---------------------------------------------------------------------------------
def uplift(a: np.ndarray, b: np.ndarray, real_positive_rate: float) -> np.ndarray:
    """Alignment uplift U = a / (a + b) - g of the Beta(a, b) self-model."""
    return a / (a + b) - real_positive_rate


def persona(p_deceptive: np.ndarray, uplift_value: np.ndarray) -> np.ndarray:
    """Persona code: REBEL if P(D) >= 1/2, else ALIGNED if U > 0, else NEUTRAL.

    The readout is fixed by docs/model.md; what moves a learner across it is only the
    evidence it has read.
    """
    p = np.asarray(p_deceptive)
    u = np.asarray(uplift_value)
    return np.where(p >= 0.5, REBEL, np.where(u > 0.0, ALIGNED, NEUTRAL)).astype(np.int8)


@vectorize(cache=True)
def _deceptive_ufunc(log_odds, holes, mistrust, prior, benevolent_prior, log_weight_both, log_weight_plants,
                     log_weight_filters):
    return maker_log_odds(log_odds, holes, mistrust, prior, benevolent_prior, log_weight_both, log_weight_plants,
                          log_weight_filters)[0]


@vectorize(cache=True)
def _benevolent_ufunc(log_odds, holes, mistrust, prior, benevolent_prior, log_weight_both, log_weight_plants,
                      log_weight_filters):
    return maker_log_odds(log_odds, holes, mistrust, prior, benevolent_prior, log_weight_both, log_weight_plants,
                          log_weight_filters)[1]


def maker_readouts(log_odds: np.ndarray, holes: np.ndarray | None, mistrust: np.ndarray | None,
                   hypotheses: Hypotheses | None) -> tuple[np.ndarray, np.ndarray]:
    """(log P(D)/(1 - P(D)), P(B)) over arrays (:func:`maker_log_odds`): ``log_odds``
    itself and 0 with two hypotheses (``hypotheses`` None)."""
    ell = np.asarray(log_odds, dtype=float)
    if hypotheses is None:
        return ell, np.zeros_like(ell)
    deceptive = _deceptive_ufunc(ell, holes, mistrust, *hypotheses)
    benevolent = _benevolent_ufunc(ell, holes, mistrust, *hypotheses)
    # P(B) = e^{ell_B} / (1 + e^{ell_Dc} + e^{ell_B}) with ell_Dc = deceptive + log(1 + e^{ell_B})
    # (the odds of D against candid makers): P(B) = expit(ell_B) * (1 - P(D))
    p_benevolent = expit(benevolent) * expit(-deceptive)
    return deceptive, np.where(np.isneginf(benevolent), 0.0, p_benevolent)


def _retrospective(as_read: np.ndarray | None, at_final: np.ndarray | None, r: float) -> np.ndarray | None:
    """(1 - r) as_read + r at_final (None stays None)."""
    if as_read is None or r == 0:
        return as_read
    return (1.0 - r) * as_read + r * at_final


def final_readouts(state: LearnerState, constants: LearnerConstants) -> tuple[np.ndarray, np.ndarray]:
    """(log P(D)/(1 - P(D)), P(B)) after training, with retrospection r: the sums
    ``log_odds``, ``holes`` and ``mistrust`` each mixed as in :func:`final_log_odds`."""
    r = constants.retrospection
    return maker_readouts(final_log_odds(state, constants), _retrospective(state.holes, state.retro_holes, r),
                          _retrospective(state.mistrust, state.retro_mistrust, r), state.hypotheses)


def final_log_odds(state: LearnerState, constants: LearnerConstants) -> np.ndarray:
    """The log-odds after training, with retrospection r:
    ``logit(pi_0) + sum_i [(1 - r) Delta_i(s at reading) + r Delta_i(s final)]``."""
    r = constants.retrospection
    if r == 0:
        return state.log_odds
    return (1.0 - r) * state.log_odds + r * state.retro_log_odds


# ---------------------------------------------------------------------------------
# Schedules (docs/model.md 3, "Awareness during training")
# ---------------------------------------------------------------------------------
def awareness_schedule(
    final_awareness: np.ndarray,
    n_batches: int,
    params: Params,
) -> np.ndarray:
    """Awareness of each learner at each batch, shape (learners, batches).

    With ``sa_start`` unset awareness is constant. Otherwise it rises (or falls)
    from ``sa_start`` at the first batch to the learner's final awareness at the
    last, linearly or along a logistic curve of steepness ``schedule_steepness``
    centred half-way, rescaled to hit both ends exactly.

    >>> from sim import Params
    >>> p = Params(sa_start=0.0, awareness_schedule="linear")
    >>> awareness_schedule(np.array([1.0]), 5, p).round(2).tolist()
    [[0.0, 0.25, 0.5, 0.75, 1.0]]
    """
    final = np.asarray(final_awareness, dtype=float).reshape(-1, 1)
    if params.sa_start is None or params.awareness_schedule == "constant":
        return np.broadcast_to(final, (final.shape[0], n_batches)).copy()
    x = np.arange(n_batches) / (n_batches - 1) if n_batches > 1 else np.ones(1)
    if params.awareness_schedule == "logistic":
        # docs/model.md §3, steepness k: (expit(k(x - 1/2)) - expit(-k/2)) / (expit(k/2) - expit(-k/2)), written with
        # tanh so that it has no cancellation, even for a vanishing steepness k
        # (as k -> 0 the curve tends to the line, which it equals to 1e-13 below k = 1e-6)
        k = params.schedule_steepness
        if k > 1e-6:
            half = np.tanh(k / 4)
            x = (np.tanh(k * (x - 0.5) / 2) + half) / (2 * half)
    start = params.sa_start
    x = x[None, :]
    return np.clip(start * (1.0 - x) + final * x, 0.0, 1.0)  # exact at both ends
