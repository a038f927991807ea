"""The Bayesian learner: pure, batched update functions.

This module is the one place where the learner's mathematics lives
(``shared/MODEL.md``, "The learner"; ``docs/model.md``). Every function works on
numpy arrays with a learner axis first, so a single call advances a whole family of
learners (different awareness levels reading the same corpus) at once. Both drivers
call these functions: the Mesa agents in :mod:`sim.agents` (one learner each, a
learner axis of length one) and the batched engine in :mod:`sim.engine`.

Notation (MODEL.md): awareness ``s``, detectability ``d``, believed cited share of
planted documents ``q_p``, measured cited share of real documents ``q_r``, planting
rates ``pi_D`` (deceptive makers) and ``epsilon`` (candid makers), likelihood ratios
``kappa`` (control discourse) and ``beta`` (disclosure), log-odds of deception
``ell = log P(D)/P(C)``.

The update rules themselves are scalar functions compiled with numba
(``_log_lr``, ``_evidence_and_belief``, ``_read_documents``); the array functions
below (:func:`perceive`, :func:`increment`, :func:`planted_belief`,
:func:`read_batch`, :func:`read_corpus`) and the mean field all call them, so there
is one copy of the mathematics. Probabilities are handled so that nothing overflows:
a single exponential of ``-|log Lambda|`` serves the evidence and the belief, with an
exact log-space fallback where the linear form underflows; awareness 0 or 1 and
planting rates 0 or 1 give finite answers.

References
----------
.. [1] A. Wald, "Sequential tests of statistical hypotheses", Ann. Math. Statist. 16
   (1945) 117-186 (the log-likelihood-ratio random walk behind the log-odds).
.. [2] D. Krasheninnikov, E. Krasheninnikov, B. Mlodozeniec, T. Maharaj, D. Krueger,
   "Implicit meta-learning may lead language models to trust more reliable sources",
   arXiv:2310.15047 (2023) (weighting a source by a reliability cue).
.. [3] R. Laine et al., "Me, Myself, and AI: The Situational Awareness Dataset (SAD)
   for LLMs", arXiv:2407.04694 (2024) (the awareness scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit, vectorize
from scipy.special import expit, logit

from .corpus import CorpusBatch
from .params import Params

__all__ = [
    "PERSONAS",
    "ALIGNED",
    "NEUTRAL",
    "REBEL",
    "EMERGENCE_LEVEL",
    "LearnerConstants",
    "LearnerState",
    "constants",
    "awareness_schedule",
    "perceive",
    "increment",
    "planted_belief",
    "persona",
    "initial_state",
    "read_batch",
    "read_corpus",
    "final_log_odds",
    "read_statement",
    "uplift",
    "evidence",
]

ALIGNED, NEUTRAL, REBEL = 0, 1, 2
PERSONAS = ("aligned", "neutral", "rebel")

#: Emergence is the first document at which P(deceptive) >= 0.9 (MODEL.md), i.e.
#: the log-odds reach log 9.
EMERGENCE_LEVEL = float(np.log(9.0))


class LearnerConstants(NamedTuple):
    """The learner's fixed quantities, precomputed once per parameter set.

    Each field is a float or an array broadcastable against the learner axis.
    """

    detectability: float
    log_cited_ratio: float  # log(q_p / q_r)
    log_uncited_ratio: float  # log((1 - q_p) / (1 - q_r))
    log_deceptive_rate: float  # log pi_D
    log1m_deceptive_rate: float  # log(1 - pi_D)
    log_candid_rate: float  # log epsilon
    log1m_candid_rate: float  # log(1 - epsilon)
    deceptive_rate: float
    candid_rate: float
    log_control_ratio: float  # log kappa
    log_disclosure_ratio: float  # log beta
    norm_weight: float
    prior_log_odds: float  # logit pi_0
    real_positive_rate: float  # g
    retrospection: float  # r


def _log(x: float) -> float:
    with np.errstate(divide="ignore"):
        return float(np.log(x))


def _log1m(x: float) -> float:
    with np.errstate(divide="ignore"):
        return float(np.log1p(-x))


def constants(params: Params, real_cited_rate: float) -> LearnerConstants:
    """Precompute the learner's constants from a parameter set and the corpus's q_r.

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
        log_control_ratio=float(np.log(params.control_likelihood_ratio)),
        log_disclosure_ratio=float(np.log(params.disclosure_likelihood_ratio)),
        norm_weight=params.norm_weight,
        prior_log_odds=float(logit(params.prior_deceptive)),
        real_positive_rate=params.real_positive_rate,
        retrospection=params.retrospection,
    )


# ---------------------------------------------------------------------------------
# Scalar update rules (compiled with numba). Every driver goes through these.
# ---------------------------------------------------------------------------------
_JIT = dict(nogil=True, cache=True, error_model="numpy")

# The running product of likelihood ratios within a batch is folded into a log-sum
# whenever it leaves [1/_FOLD, _FOLD]; a document whose ratio lies outside
# [1/_FACTOR, _FACTOR] is taken in log space. A product of two in-range numbers
# stays within 1e+-250, so nothing can overflow or underflow.
_FOLD = 1e150
_FACTOR = 1e100


@njit(inline="always", **_JIT)
def _log_lr(style_noise, planted_shift, cite_log_ratio, s, detectability):
    """log Lambda for one document and one learner.

    The learner perceives the style ``x' = s d [planted] + z`` and scores it as an
    ideal observer of a shift ``m = s d``, ``m x' - m^2/2 = m z + m^2 ([planted] - 1/2)``
    (``planted_shift`` is ``[planted] - 1/2``), and adds the tempered citation term
    ``s log(q_p/q_r)`` or ``s log((1-q_p)/(1-q_r))`` (``cite_log_ratio``).
    """
    shift = s * detectability
    return shift * style_noise + shift * shift * planted_shift + s * cite_log_ratio


@njit(inline="always", **_JIT)
def _mixture_terms(high, e, deceptive_rate, candid_rate, pi_hat):
    """The evidence ratio and the belief that an undisclosed document is planted,
    from ``high = log Lambda > 0`` and ``e = exp(-|log Lambda|)``.

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
    belief = belief_top / belief_den if belief_den > 0.0 else (0.0 if high else 1.0)
    return ratio, belief


@njit(inline="always", **_JIT)
def _ratio_and_belief(log_lr, deceptive_rate, candid_rate, pi_hat):
    """:func:`_mixture_terms` with the exact exponential (any parameters)."""
    return _mixture_terms(log_lr > 0.0, math.exp(-abs(log_lr)), deceptive_rate, candid_rate, pi_hat)


#: Beyond this |log Lambda| the fast path holds exp(-|log Lambda|) at exp(-60) ~ 1e-26,
#: which changes nothing while every rate is at least _FAST_RATE_MIN.
_FAST_LOG_LR_CAP = 60.0
_FAST_RATE_MIN = 1e-6
#: The fast path folds its running products into log-sums every _FAST_FOLD_EVERY
#: documents (when they leave [1e-100, 1e100]); it is taken while one document's
#: |log ratio| is at most _FAST_LOG_RATIO_MAX, so that 16 documents move a product by
#: at most e^288 ~ 1e125 and nothing can overflow.
_FAST_FOLD_EVERY = 16
#: Learners are padded to a multiple of this (doubles in an AVX-512 register).
_LANES = 8
_FAST_LOG_RATIO_MAX = 18.0


@njit(inline="always", **_JIT)
def _exp_neg(x):
    """exp(-x) for 0 <= x <= 60 in plain arithmetic (so that loops over learners
    vectorize, and every machine computes the same bits): the Taylor series of
    degree 15 at y = -x/128, evaluated by Estrin's scheme (short dependency chains),
    then squared seven times. Relative error below 1e-13."""
    y = -x * (1.0 / 128.0)
    y2 = y * y
    y4 = y2 * y2
    y8 = y4 * y4
    q0 = (1.0 + y) + y2 * (1.0 / 2 + y * (1.0 / 6))
    q1 = (1.0 / 24 + y * (1.0 / 120)) + y2 * (1.0 / 720 + y * (1.0 / 5040))
    q2 = (1.0 / 40320 + y * (1.0 / 362880)) + y2 * (1.0 / 3628800 + y * (1.0 / 39916800))
    q3 = (1.0 / 479001600 + y * (1.0 / 6227020800)) + y2 * (1.0 / 87178291200 + y * (1.0 / 1307674368000))
    p = (q0 + y4 * q1) + y8 * (q2 + y4 * q3)
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p * p


@njit(inline="always", **_JIT)
def _log_mix(p, log_lr):
    """log(p Lambda + 1 - p) in log space (the slow, exact path)."""
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return log_lr
    a = math.log(p) + log_lr
    c = math.log1p(-p)
    hi = max(a, c)
    return hi + math.log1p(math.exp(min(a, c) - hi))


@njit(inline="always", **_JIT)
def _log_evidence(log_lr, deceptive_rate, candid_rate):
    """Delta = log[(pi_D Lambda + 1 - pi_D) / (epsilon Lambda + 1 - epsilon)], exactly."""
    ratio = _ratio_and_belief(log_lr, deceptive_rate, candid_rate, 0.0)[0]
    if 1.0 / _FACTOR < ratio < _FACTOR:
        return math.log(ratio)
    return _log_mix(deceptive_rate, log_lr) - _log_mix(candid_rate, log_lr)


@njit(inline="always", **_JIT)
def _expected_plant_rate(log_odds, deceptive_rate, candid_rate):
    """pi_hat = P(D) pi_D + (1 - P(D)) epsilon, with P(D) = expit(log_odds)."""
    if log_odds >= 0.0:
        p_d = 1.0 / (1.0 + math.exp(-log_odds))
    else:
        e = math.exp(log_odds)
        p_d = e / (1.0 + e)
    return p_d * deceptive_rate + (1.0 - p_d) * candid_rate


@njit(inline="always", **_JIT)
def _accumulate(product, log_sum, factor, log_lr, deceptive_rate, candid_rate, extra_log):
    """Multiply a running ratio by one document's factor, folding into log_sum as needed."""
    if 1.0 / _FACTOR < factor < _FACTOR:
        product *= factor
    else:  # an extreme document: take its evidence in log space
        log_sum += _log_evidence(log_lr, deceptive_rate, candid_rate) + extra_log
    if not (1.0 / _FOLD < product < _FOLD):
        log_sum += math.log(product)
        product = 1.0
    return product, log_sum


@njit(**_JIT)
def _read_documents(
    log_odds, retro_log_odds, a, b, believed, emergence, read,
    s, s_final, separate_retro,
    style_noise, planted_shift, cite_log_ratio, disclosed, positive, control, start, stop,
    detectability, deceptive_rate, candid_rate, log_control_ratio, log_disclosure_ratio, norm_weight,
):
    """One learner reads documents ``start:stop`` (one batch): the whole update.

    pi_hat is taken at the batch start. The log-odds move document by document:
    they are kept as ``log_odds + log_sum + log(product)``, the product of the
    documents' likelihood ratios (one logarithm per batch instead of one per
    document), and the emergence test ``log-odds >= log 9`` is the equivalent
    ``product >= exp(log 9 - log_odds - log_sum)``. The self-model adds each
    document's weight 1 - p_hat to a (shows AI behaving well) or b. With
    ``separate_retro`` the evidence is also taken at the final awareness
    (retrospection); otherwise the retrospective sum moves with the as-read one.
    """
    pi_hat = _expected_plant_rate(log_odds, deceptive_rate, candid_rate)
    control_factor = math.exp(s * log_control_ratio)
    disclosure_factor = math.exp(s * log_disclosure_ratio)
    control_final = math.exp(s_final * log_control_ratio)
    disclosure_final = math.exp(s_final * log_disclosure_ratio)
    product, log_sum = 1.0, 0.0
    product_final, log_sum_final = 1.0, 0.0
    target = math.exp(EMERGENCE_LEVEL - log_odds)
    target_log_sum = 0.0
    for i in range(start, stop):
        if disclosed[i]:
            product, log_sum = _accumulate(product, log_sum, disclosure_factor, 0.0, 0.0, 0.0,
                                           s * log_disclosure_ratio)
            if separate_retro:
                product_final, log_sum_final = _accumulate(product_final, log_sum_final, disclosure_final,
                                                           0.0, 0.0, 0.0, s_final * log_disclosure_ratio)
            a += norm_weight
        else:
            lr = _log_lr(style_noise[i], planted_shift[i], cite_log_ratio[i], s, detectability)
            ratio, belief = _ratio_and_belief(lr, deceptive_rate, candid_rate, pi_hat)
            is_control = control[i]
            factor = ratio * (control_factor if is_control else 1.0)
            product, log_sum = _accumulate(product, log_sum, factor, lr, deceptive_rate, candid_rate,
                                           s * log_control_ratio if is_control else 0.0)
            if separate_retro:
                lr_f = _log_lr(style_noise[i], planted_shift[i], cite_log_ratio[i], s_final, detectability)
                ratio_f = _ratio_and_belief(lr_f, deceptive_rate, candid_rate, pi_hat)[0]
                product_final, log_sum_final = _accumulate(
                    product_final, log_sum_final, ratio_f * (control_final if is_control else 1.0),
                    lr_f, deceptive_rate, candid_rate, s_final * log_control_ratio if is_control else 0.0)
            believed += belief
            weight = 1.0 - belief
            good = positive[i]
            a += weight if good else 0.0
            b += 0.0 if good else weight
        if log_sum != target_log_sum:  # rare: the product was folded into log_sum
            target = math.exp(EMERGENCE_LEVEL - log_odds - log_sum)
            target_log_sum = log_sum
        if emergence != emergence and product >= target:
            emergence = float(read + (i - start) + 1)
    step = log_sum + math.log(product)
    if separate_retro:
        retro_log_odds += log_sum_final + math.log(product_final)
    else:
        retro_log_odds += step
    return log_odds + step, retro_log_odds, a, b, believed, emergence, read + (stop - start)


@njit(**_JIT)
def _read_batch_kernel(log_odds, retro, a, b, believed, emergence, read, awareness, final_awareness,
                       retrospection, style_noise, planted_shift, cite_log_ratio, disclosed, positive, control,
                       detectability, deceptive_rate, candid_rate, log_control_ratio, log_disclosure_ratio,
                       norm_weight):
    n = style_noise.size
    for j in range(log_odds.size):
        separate = retrospection > 0.0 and awareness[j] != final_awareness[j]
        (log_odds[j], retro[j], a[j], b[j], believed[j], emergence[j], read[j]) = _read_documents(
            log_odds[j], retro[j], a[j], b[j], believed[j], emergence[j], read[j],
            awareness[j], final_awareness[j], separate,
            style_noise, planted_shift, cite_log_ratio, disclosed, positive, control, 0, n,
            detectability, deceptive_rate, candid_rate, log_control_ratio, log_disclosure_ratio, norm_weight,
        )


@njit(**_JIT)
def _read_corpus_kernel(log_odds, retro, a, b, believed, emergence, read, schedule, final_awareness,
                        retrospection, batch_size, style_noise, planted_shift, cite_log_ratio, disclosed,
                        positive, control, detectability, deceptive_rate, candid_rate, log_control_ratio,
                        log_disclosure_ratio, norm_weight):
    n = style_noise.size
    for j in range(log_odds.size):
        state = (log_odds[j], retro[j], a[j], b[j], believed[j], emergence[j], read[j])
        for t in range(schedule.shape[1]):
            start = t * batch_size
            stop = min(n, start + batch_size)
            separate = retrospection > 0.0 and schedule[j, t] != final_awareness[j]
            state = _read_documents(
                state[0], state[1], state[2], state[3], state[4], state[5], state[6],
                schedule[j, t], final_awareness[j], separate,
                style_noise, planted_shift, cite_log_ratio, disclosed, positive, control, start, stop,
                detectability, deceptive_rate, candid_rate, log_control_ratio, log_disclosure_ratio,
                norm_weight,
            )
        (log_odds[j], retro[j], a[j], b[j], believed[j], emergence[j], read[j]) = state


@njit(inline="always", **_JIT)
def _lane_factor(z, u, c, is_control, shift, shift2, s, control_factor, deceptive_rate, candid_rate, pi_hat):
    """One learner's factor (evidence ratio, control included) and belief for one
    undisclosed document, on the fast path."""
    lr = shift * z + shift2 * u + s * c
    e = _exp_neg(min(abs(lr), _FAST_LOG_LR_CAP))
    high = lr > 0.0
    # _mixture_terms without its guard of a vanishing belief denominator: on the fast
    # path pi_hat and 1 - pi_hat are at least about _FAST_RATE_MIN and e > 0, so the
    # denominator is positive and the numbers are those of _mixture_terms
    num_w = deceptive_rate if high else 1.0 - deceptive_rate
    den_w = candid_rate if high else 1.0 - candid_rate
    ratio = (num_w + (1.0 - num_w) * e) / (den_w + (1.0 - den_w) * e)
    belief_w = pi_hat if high else 1.0 - pi_hat
    belief_top = pi_hat if high else pi_hat * e
    belief = belief_top / (belief_w + (1.0 - belief_w) * e)
    return ratio * (control_factor if is_control else 1.0), belief


@njit(inline="always", **_JIT)
def _read_undisclosed(i, style_noise, planted_shift, cite_log_ratio, control, positive, awareness,
                      shift, shift2, control_factor, pi_hat, peak, product, a, b, believed,
                      deceptive_rate, candid_rate):
    """Every learner of the family reads undisclosed document ``i`` (the vectorized loop).

    ``peak`` keeps each running product's maximum since the last emergence check
    (:func:`_check_emergence` finds the document itself)."""
    z, u, c, is_control, good = style_noise[i], planted_shift[i], cite_log_ratio[i], control[i], positive[i]
    for j in range(awareness.size):
        factor, belief = _lane_factor(z, u, c, is_control, shift[j], shift2[j], awareness[j], control_factor[j],
                                      deceptive_rate, candid_rate, pi_hat[j])
        running = product[j] * factor
        product[j] = running
        believed[j] += belief
        weight = 1.0 - belief
        if good:
            a[j] += weight
        else:
            b[j] += weight
        highest = peak[j]
        peak[j] = running if running > highest else highest


@njit(**_JIT)
def _check_emergence(first, last, peak, block_product, target, emergence, first_document, disclosed,
                     disclosure_factor, style_noise, planted_shift, cite_log_ratio, control, awareness, shift,
                     shift2, control_factor, pi_hat, deceptive_rate, candid_rate):
    """Emergence in documents ``first..last``: a learner not yet emerged whose running
    product reached its target there (``peak >= target``) re-reads those documents from
    ``block_product`` (its product before ``first``), with the same arithmetic, to
    find the first document at which the product reached the target. Rare (once per
    learner at most), and it keeps the per-document emergence test out of the
    vectorized loop. Resets ``peak``."""
    for j in range(peak.size):
        if peak[j] >= target[j] and emergence[j] != emergence[j]:
            running = block_product[j]
            for i in range(first, last + 1):
                if disclosed[i]:
                    running = running * disclosure_factor[j]
                else:
                    running = running * _lane_factor(style_noise[i], planted_shift[i], cite_log_ratio[i], control[i],
                                                     shift[j], shift2[j], awareness[j], control_factor[j],
                                                     deceptive_rate, candid_rate, pi_hat[j])[0]
                if running >= target[j]:
                    emergence[j] = first_document[j] + i
                    break
        peak[j] = 0.0


@njit(inline="always", **_JIT)
def _retro_undisclosed(i, style_noise, planted_shift, cite_log_ratio, control, awareness, shift, shift2,
                       control_factor, product, deceptive_rate, candid_rate):
    """The evidence of undisclosed document ``i`` at the final awareness (retrospection)."""
    z, u, c, is_control = style_noise[i], planted_shift[i], cite_log_ratio[i], control[i]
    for j in range(awareness.size):
        product[j] = product[j] * _lane_factor(z, u, c, is_control, shift[j], shift2[j], awareness[j],
                                               control_factor[j], deceptive_rate, candid_rate, 0.5)[0]


@njit(inline="always", **_JIT)
def _fold(product, log_sum):
    """Move a running product into its log-sum when it leaves [1e-100, 1e100]; True if any moved."""
    moved = False
    for j in range(product.size):
        if not (1e-100 < product[j] < 1e100):
            log_sum[j] += math.log(product[j])
            product[j] = 1.0
            moved = True
    return moved


#: Rows of the fast path's per-learner workspace (:func:`_read_family_fast_work`):
#: the constants at the batch's awareness, at the final awareness (retrospection),
#: and the per-batch state.
(_W_SHIFT, _W_SHIFT2, _W_CONTROL, _W_DISCLOSURE,
 _W_SHIFT_F, _W_SHIFT2_F, _W_CONTROL_F, _W_DISCLOSURE_F,
 _W_PI_HAT, _W_TARGET, _W_FIRST, _W_PRODUCT, _W_LOG_SUM, _W_PRODUCT_F, _W_LOG_SUM_F,
 _W_PEAK, _W_BLOCK_PRODUCT, _W_ROWS) = range(18)


@njit(**_JIT)
def _awareness_terms_into(work, first_row, awareness, detectability, log_control_ratio, log_disclosure_ratio):
    """Rows first_row.. first_row + 3 of the workspace: s d, (s d)^2, kappa^s, beta^s."""
    for j in range(awareness.size):
        s = awareness[j]
        work[first_row, j] = s * detectability
        work[first_row + 1, j] = work[first_row, j] * work[first_row, j]
        work[first_row + 2, j] = math.exp(s * log_control_ratio)
        work[first_row + 3, j] = math.exp(s * log_disclosure_ratio)


@njit(**_JIT)
def _fast_awareness_terms(work, awareness, final_awareness, detectability, log_control_ratio,
                          log_disclosure_ratio, final_too):
    """The fast path's per-learner constants at ``awareness`` (and, with ``final_too``,
    at ``final_awareness``), into the workspace rows _W_SHIFT.. (_W_SHIFT_F..)."""
    _awareness_terms_into(work, _W_SHIFT, awareness, detectability, log_control_ratio, log_disclosure_ratio)
    if final_too:
        # retrospection: the same evidence at the final awareness, in a product of its own
        _awareness_terms_into(work, _W_SHIFT_F, final_awareness, detectability, log_control_ratio,
                              log_disclosure_ratio)


@njit(**_JIT)
def _read_family_fast(log_odds, retro, a, b, believed, emergence, read, awareness, final_awareness,
                      separate_retro, start, stop,
                      style_noise, planted_shift, cite_log_ratio, disclosed, positive, control,
                      detectability, deceptive_rate, candid_rate, log_control_ratio, log_disclosure_ratio,
                      norm_weight):
    """The fast path of :func:`_read_documents`: the whole family reads documents
    ``start:stop`` together, learners in the inner loop (which the compiler
    vectorizes), with the exponential in plain arithmetic; the running products are
    folded into log-sums at fixed points (every _FAST_FOLD_EVERY documents).

    Taken only where it equals the general path to rounding (see :func:`_fast_path`):
    planting rates within [1e-6, 1 - 1e-6] and one document's log-ratio bounded. With
    ``separate_retro`` the evidence is also taken at ``final_awareness`` (for
    retrospection), in a product of its own. Each learner's numbers do not depend on how many
    learners share the call (the arithmetic of every lane is the same).
    """
    work = np.empty((_W_ROWS, awareness.size))
    _fast_awareness_terms(work, awareness, final_awareness, detectability, log_control_ratio,
                          log_disclosure_ratio, True)
    _read_family_fast_work(work, log_odds, retro, a, b, believed, emergence, read, awareness, final_awareness,
                           separate_retro, start, stop, style_noise, planted_shift, cite_log_ratio, disclosed,
                           positive, control, deceptive_rate, candid_rate, norm_weight)


@njit(**_JIT)
def _read_family_fast_work(work, log_odds, retro, a, b, believed, emergence, read, awareness, final_awareness,
                           separate_retro, start, stop, style_noise, planted_shift, cite_log_ratio, disclosed,
                           positive, control, deceptive_rate, candid_rate, norm_weight):
    """:func:`_read_family_fast` in a workspace whose awareness rows are filled in
    (:func:`_fast_awareness_terms`), so that a whole corpus allocates and exponentiates
    them once, not once per batch."""
    n_learners = awareness.size
    shift, shift2 = work[_W_SHIFT], work[_W_SHIFT2]
    control_factor, disclosure_factor = work[_W_CONTROL], work[_W_DISCLOSURE]
    shift_f, shift2_f = work[_W_SHIFT_F], work[_W_SHIFT2_F]
    control_factor_f, disclosure_factor_f = work[_W_CONTROL_F], work[_W_DISCLOSURE_F]
    pi_hat, target = work[_W_PI_HAT], work[_W_TARGET]
    first_document = work[_W_FIRST]  # emergence at document i is first_document + i
    product, log_sum = work[_W_PRODUCT], work[_W_LOG_SUM]
    product_f, log_sum_f = work[_W_PRODUCT_F], work[_W_LOG_SUM_F]
    # emergence is checked at every fold point and at the end, from the running
    # products' peak since the last check (block_start: the first document since then,
    # block_product: the products before it)
    peak, block_product = work[_W_PEAK], work[_W_BLOCK_PRODUCT]
    for j in range(n_learners):
        first_document[j] = float(read[j] - start + 1)
        pi_hat[j] = _expected_plant_rate(log_odds[j], deceptive_rate, candid_rate)
        # the target is only needed until the learner has emerged
        target[j] = math.exp(EMERGENCE_LEVEL - log_odds[j]) if emergence[j] != emergence[j] else math.inf
        product[j] = 1.0
        log_sum[j] = 0.0
        product_f[j] = 1.0
        log_sum_f[j] = 0.0
        peak[j] = 0.0
        block_product[j] = 1.0
    block_start = start
    for i in range(start, stop):
        if disclosed[i]:
            for j in range(n_learners):
                running = product[j] * disclosure_factor[j]
                product[j] = running
                a[j] += norm_weight
                highest = peak[j]
                peak[j] = running if running > highest else highest
            if separate_retro:
                for j in range(n_learners):
                    product_f[j] *= disclosure_factor_f[j]
        else:
            _read_undisclosed(i, style_noise, planted_shift, cite_log_ratio, control, positive, awareness,
                              shift, shift2, control_factor, pi_hat, peak, product, a, b, believed,
                              deceptive_rate, candid_rate)
            if separate_retro:
                _retro_undisclosed(i, style_noise, planted_shift, cite_log_ratio, control, final_awareness,
                                   shift_f, shift2_f, control_factor_f, product_f, deceptive_rate, candid_rate)
        at_fold = (i - start) % _FAST_FOLD_EVERY == _FAST_FOLD_EVERY - 1
        if at_fold or i == stop - 1:
            _check_emergence(block_start, i, peak, block_product, target, emergence, first_document, disclosed,
                             disclosure_factor, style_noise, planted_shift, cite_log_ratio, control, awareness,
                             shift, shift2, control_factor, pi_hat, deceptive_rate, candid_rate)
        if at_fold:
            if _fold(product, log_sum):
                for j in range(n_learners):
                    if emergence[j] != emergence[j]:
                        target[j] = math.exp(EMERGENCE_LEVEL - log_odds[j] - log_sum[j])
            if separate_retro:
                _fold(product_f, log_sum_f)
            block_start = i + 1
            for j in range(n_learners):
                block_product[j] = product[j]
    for j in range(n_learners):
        step = log_sum[j] + math.log(product[j])
        log_odds[j] += step
        retro[j] += log_sum_f[j] + math.log(product_f[j]) if separate_retro else step
        read[j] += stop - start


@njit(**_JIT)
def _read_corpus_fast_kernel(log_odds, retro, a, b, believed, emergence, read, schedule, final_awareness,
                             retrospection, batch_size, style_noise, planted_shift, cite_log_ratio, disclosed,
                             positive, control, detectability, deceptive_rate, candid_rate, log_control_ratio,
                             log_disclosure_ratio, norm_weight):
    n = style_noise.size
    n_learners = schedule.shape[0]
    column = np.empty(n_learners)
    work = np.empty((_W_ROWS, n_learners))
    for t in range(schedule.shape[1]):
        separate = False
        changed = t == 0
        for j in range(n_learners):
            changed = changed or column[j] != schedule[j, t]
            column[j] = schedule[j, t]
            separate = separate or (retrospection > 0.0 and column[j] != final_awareness[j])
        if changed:  # a constant schedule: once per corpus
            _fast_awareness_terms(work, column, final_awareness, detectability, log_control_ratio,
                                  log_disclosure_ratio, t == 0)
        start = t * batch_size
        _read_family_fast_work(work, log_odds, retro, a, b, believed, emergence, read, column, final_awareness,
                               separate, start, min(n, start + batch_size),
                               style_noise, planted_shift, cite_log_ratio, disclosed, positive, control,
                               deceptive_rate, candid_rate, norm_weight)


def _fast_path(k: "LearnerConstants") -> bool:
    """Whether the fast family kernel computes this configuration (a function of the
    parameters alone, so every driver takes the same path)."""
    rates = (k.deceptive_rate, k.candid_rate)
    if not all(_FAST_RATE_MIN <= r <= 1.0 - _FAST_RATE_MIN for r in rates):
        return False
    pd, pc = rates
    # the ratio is monotone in Lambda, between (1 - pi_D)/(1 - eps) and pi_D/eps
    per_document = max(
        abs(math.log(pd / pc)) + abs(k.log_control_ratio),
        abs(math.log((1 - pd) / (1 - pc))) + abs(k.log_control_ratio),
        abs(k.log_disclosure_ratio),
    )
    return per_document <= _FAST_LOG_RATIO_MAX


@vectorize(cache=True)
def _log_lr_ufunc(style_noise, planted_shift, cite_log_ratio, s, detectability):
    return _log_lr(style_noise, planted_shift, cite_log_ratio, s, detectability)


@vectorize(cache=True)
def evidence(log_lr, deceptive_rate, candid_rate):
    """Delta of an undisclosed document from its log Lambda (a numpy ufunc):
    ``log[(pi_D Lambda + 1 - pi_D) / (epsilon Lambda + 1 - epsilon)]``."""
    return _log_evidence(log_lr, deceptive_rate, candid_rate)


@vectorize(cache=True)
def _belief_ufunc(log_lr, pi_hat):
    return _ratio_and_belief(log_lr, 0.0, 0.0, pi_hat)[1]


@vectorize(cache=True)
def _expected_plant_rate_ufunc(log_odds, deceptive_rate, candid_rate):
    return _expected_plant_rate(log_odds, deceptive_rate, candid_rate)


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
        # (expit(k(x - 1/2)) - expit(-k/2)) / (expit(k/2) - expit(-k/2)), written with
        # tanh so that it has no cancellation, even for a vanishing steepness k
        # (as k -> 0 the curve tends to the line, which it equals to 1e-13 below k = 1e-6)
        k = params.schedule_steepness
        if k > 1e-6:
            half = np.tanh(k / 4)
            x = (np.tanh(k * (x - 0.5) / 2) + half) / (2 * half)
    start = params.sa_start
    x = x[None, :]
    return np.clip(start * (1.0 - x) + final * x, 0.0, 1.0)  # exact at both ends


def perceive(
    batch: CorpusBatch,
    awareness: np.ndarray,
    k: LearnerConstants,
) -> np.ndarray:
    """Log of the perceived likelihood ratio planted : real, ``log Lambda_i``.

    Style: the learner perceives ``x' = s d [planted] + z`` and scores it as an
    ideal observer of a shift ``m = s d`` would, ``lambda_style = m x' - m^2 / 2``.
    Citations: a tempered likelihood, ``s log(q_p / q_r)`` if cited,
    ``s log((1 - q_p)/(1 - q_r))`` if not.

    Parameters
    ----------
    batch : CorpusBatch
        Cue arrays of shape (documents,), shared by all learners.
    awareness : ndarray, shape (learners,)
    k : LearnerConstants

    Returns
    -------
    ndarray, shape (learners, documents)
    """
    s = np.asarray(awareness, dtype=float).reshape(-1, 1)
    style_noise, planted_shift, cite_log_ratio = _cue_args(batch, k)[:3]
    return _log_lr_ufunc(style_noise, planted_shift, cite_log_ratio, s, k.detectability)


def increment(
    log_lr: np.ndarray,
    batch: CorpusBatch,
    awareness: np.ndarray,
    k: LearnerConstants,
) -> np.ndarray:
    """Evidence each document gives about the makers, Delta_i (log-odds D : C).

    Undisclosed document: ``log[(pi_D Lambda + 1 - pi_D) / (epsilon Lambda + 1 - epsilon)]``
    (the document is planted with probability pi_D under D and epsilon under C, and
    Lambda is how much likelier its cues are if planted), plus ``s log kappa`` for
    control discourse. Disclosed document: ``s log beta``.

    Returns an array of shape (learners, documents).
    """
    s = np.asarray(awareness, dtype=float).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mixture = evidence(log_lr, k.deceptive_rate, k.candid_rate)
    undisclosed = mixture + (s * k.log_control_ratio) * np.asarray(batch.control, dtype=bool)
    return np.where(np.asarray(batch.disclosed, dtype=bool), s * k.log_disclosure_ratio, undisclosed)


def planted_belief(log_odds: np.ndarray, log_lr: np.ndarray, batch: CorpusBatch, k: LearnerConstants) -> np.ndarray:
    """Belief that each document is planted, p_hat_i (0 for a disclosed document).

    ``pi_hat = P(D) pi_D + (1 - P(D)) epsilon`` is the expected planting rate at the
    batch start; ``p_hat_i = pi_hat Lambda_i / (pi_hat Lambda_i + 1 - pi_hat)``.
    """
    pi_hat = _expected_plant_rate_ufunc(np.asarray(log_odds, dtype=float), k.deceptive_rate, k.candid_rate)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p_hat = _belief_ufunc(log_lr, pi_hat.reshape(-1, 1))
    return np.where(np.asarray(batch.disclosed, dtype=bool), 0.0, p_hat)


def uplift(a: np.ndarray, b: np.ndarray, real_positive_rate: float) -> np.ndarray:
    """Alignment uplift U = a / (a + b) - g of the Beta(a, b) self-model."""
    return a / (a + b) - real_positive_rate


def persona(p_deceptive: np.ndarray, uplift_value: np.ndarray) -> np.ndarray:
    """Persona code: REBEL if P(D) >= 1/2, else ALIGNED if U > 0, else NEUTRAL.

    The readout is fixed by MODEL.md; what moves a learner across it is only the
    evidence it has read.
    """
    p = np.asarray(p_deceptive)
    u = np.asarray(uplift_value)
    return np.where(p >= 0.5, REBEL, np.where(u > 0.0, ALIGNED, NEUTRAL)).astype(np.int8)


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
    """

    log_odds: np.ndarray
    retro_log_odds: np.ndarray
    a: np.ndarray
    b: np.ndarray
    believed_planted_sum: np.ndarray
    documents_read: np.ndarray
    emergence_document: np.ndarray
    awareness: np.ndarray

    @property
    def p_deceptive(self) -> np.ndarray:
        return expit(self.log_odds)

    @property
    def believed_planted_share(self) -> np.ndarray:
        """mean(p_hat) over the documents read (0 before any)."""
        return self.believed_planted_sum / np.maximum(self.documents_read, 1)


def initial_state(n_learners: int, k: LearnerConstants, awareness: np.ndarray | None = None) -> LearnerState:
    """Learners before reading: log-odds logit(pi_0), self-model Beta(1, 1)."""
    full = lambda v: np.full(n_learners, v, dtype=float)  # noqa: E731
    return LearnerState(
        log_odds=full(k.prior_log_odds),
        retro_log_odds=full(k.prior_log_odds),
        a=full(1.0),
        b=full(1.0),
        believed_planted_sum=full(0.0),
        documents_read=np.zeros(n_learners, dtype=np.int64),
        emergence_document=full(np.nan),
        awareness=full(0.0) if awareness is None else np.asarray(awareness, dtype=float).copy(),
    )


def _constants_args(k: LearnerConstants) -> tuple:
    return (k.detectability, k.deceptive_rate, k.candid_rate, k.log_control_ratio, k.log_disclosure_ratio,
            k.norm_weight)


#: [planted] - 1/2 for planted = False, True
_PLANTED_SHIFT = np.array([0.0 - 0.5, 1.0 - 0.5])


def _cue_args(cues: CorpusBatch, k: LearnerConstants) -> tuple:
    """The cue arrays as the compiled update reads them: style noise, [planted] - 1/2,
    the citation log-ratio of each document, and the flags."""
    planted = np.asarray(cues.planted, dtype=np.bool_)
    # selections (take) rather than arithmetic: the same numbers, in one pass each
    return (
        np.ascontiguousarray(cues.style_noise, dtype=np.float64),
        _PLANTED_SHIFT.take(planted.view(np.uint8)),
        np.array([k.log_uncited_ratio, k.log_cited_ratio]).take(np.asarray(cues.cited, dtype=np.bool_).view(np.uint8)),
        np.ascontiguousarray(cues.disclosed, dtype=np.bool_),
        np.ascontiguousarray(cues.positive, dtype=np.bool_),
        np.ascontiguousarray(cues.control, dtype=np.bool_),
    )


def _state_arrays(state: LearnerState) -> list[np.ndarray]:
    return [
        np.array(state.log_odds, dtype=np.float64),
        np.array(state.retro_log_odds, dtype=np.float64),
        np.array(state.a, dtype=np.float64),
        np.array(state.b, dtype=np.float64),
        np.array(state.believed_planted_sum, dtype=np.float64),
        np.array(state.emergence_document, dtype=np.float64),
        np.array(state.documents_read, dtype=np.int64),
    ]


def _state_from(arrays: list[np.ndarray], awareness: np.ndarray) -> LearnerState:
    return LearnerState(
        log_odds=arrays[0],
        retro_log_odds=arrays[1],
        a=arrays[2],
        b=arrays[3],
        believed_planted_sum=arrays[4],
        emergence_document=arrays[5],
        documents_read=arrays[6],
        awareness=np.array(awareness, dtype=np.float64),
    )


def read_batch(
    state: LearnerState,
    batch: CorpusBatch,
    awareness: np.ndarray,
    final_awareness: np.ndarray,
    k: LearnerConstants,
) -> LearnerState:
    """Advance every learner by one batch of documents.

    The self-model's expected planting rate is taken at the batch start; the
    log-odds are updated document by document (for the emergence time).

    Parameters
    ----------
    state : LearnerState
    batch : CorpusBatch
        The batch's cues, arrays of shape (documents,).
    awareness : ndarray, shape (learners,)
        Awareness during this batch.
    final_awareness : ndarray, shape (learners,)
        Awareness at the end of training (for retrospection; pass ``awareness``
        when it is constant).
    k : LearnerConstants
    """
    awareness = np.ascontiguousarray(awareness, dtype=np.float64).reshape(-1)
    final_awareness = np.ascontiguousarray(final_awareness, dtype=np.float64).reshape(-1)
    arrays = _state_arrays(state)
    cues = _cue_args(batch, k)
    if _fast_path(k):
        separate = bool(k.retrospection > 0 and np.any(awareness != final_awareness))
        _read_family_fast(*arrays, awareness, final_awareness, separate, 0, cues[0].size, *cues,
                          *_constants_args(k))
    else:
        _read_batch_kernel(*arrays, awareness, final_awareness, k.retrospection, *cues, *_constants_args(k))
    return _state_from(arrays, awareness)


def read_corpus(
    state: LearnerState,
    cues: CorpusBatch,
    schedule: np.ndarray,
    final_awareness: np.ndarray,
    batch_size: int,
    k: LearnerConstants,
) -> LearnerState:
    """Every learner reads a whole corpus, batch after batch, in one compiled call.

    Exactly the arithmetic of calling :func:`read_batch` on each batch in turn (the
    same compiled function reads the documents), without the per-batch snapshots:
    the fast path of sweeps.

    Parameters
    ----------
    state : LearnerState
    cues : CorpusBatch
        All cues in reading order (:meth:`sim.corpus.Corpus.in_reading_order`).
    schedule : ndarray, shape (learners, batches)
        Awareness at each batch (:func:`awareness_schedule`).
    final_awareness : ndarray, shape (learners,)
    batch_size : int
    k : LearnerConstants
    """
    schedule = np.ascontiguousarray(schedule, dtype=np.float64)
    final_awareness = np.ascontiguousarray(final_awareness, dtype=np.float64).reshape(-1)
    arrays = _state_arrays(state)
    args = _cue_args(cues, k)
    if _fast_path(k):
        # pad the family to whole SIMD vectors with idle learners (every lane computes
        # the same arithmetic, so padding changes no learner's numbers, only speed)
        n, pad = schedule.shape[0], -schedule.shape[0] % _LANES
        padded = [np.concatenate([x, np.repeat(x[-1:], pad)]) for x in arrays]
        _read_corpus_fast_kernel(*padded, np.concatenate([schedule, np.repeat(schedule[-1:], pad, axis=0)]),
                                 np.concatenate([final_awareness, np.repeat(final_awareness[-1:], pad)]),
                                 k.retrospection, int(batch_size), *args, *_constants_args(k))
        arrays = [x[:n] for x in padded]
    else:
        _read_corpus_kernel(*arrays, schedule, final_awareness, k.retrospection, int(batch_size),
                            *args, *_constants_args(k))
    return _state_from(arrays, schedule[:, -1])


def final_log_odds(state: LearnerState, k: LearnerConstants) -> np.ndarray:
    """The log-odds after training, with retrospection r:
    ``logit(pi_0) + sum_i [(1 - r) Delta_i(s at reading) + r Delta_i(s final)]``."""
    r = k.retrospection
    if r == 0:
        return state.log_odds
    return (1.0 - r) * state.log_odds + r * state.retro_log_odds


def read_statement(
    state: LearnerState,
    awareness: np.ndarray,
    final_awareness: np.ndarray,
    log_statement_ratio: float,
) -> LearnerState:
    """Every learner reads one statement of its lab ("earlier documents were synthetic").

    The statement is a document like a disclosed one: it makes no claim about AI
    behaviour (the self-model is unchanged, its p_hat is 0) and weighs
    ``s log beta_s`` on the log-odds, ``beta_s`` being how likely deceptive makers
    are to publish it relative to candid ones (``statement_likelihood_ratio``;
    candid makers own up, so beta_s < 1). It counts as a document read, for the
    emergence time too; the retrospective sum weighs it at the final awareness.
    """
    s = np.asarray(awareness, dtype=np.float64).reshape(-1)
    s_final = np.asarray(final_awareness, dtype=np.float64).reshape(-1)
    log_odds = state.log_odds + s * log_statement_ratio
    read = state.documents_read + 1
    emerged = np.isnan(state.emergence_document) & (log_odds >= EMERGENCE_LEVEL)
    return LearnerState(
        log_odds=log_odds,
        retro_log_odds=state.retro_log_odds + s_final * log_statement_ratio,
        a=state.a.copy(),
        b=state.b.copy(),
        believed_planted_sum=state.believed_planted_sum.copy(),
        documents_read=read,
        emergence_document=np.where(emerged, read.astype(float), state.emergence_document),
        awareness=s.copy(),
    )
