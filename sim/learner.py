"""The Bayesian learner: the compiled readers and the batched array functions.

The learner's mathematics is written once, in :mod:`sim.rules` (the specification:
constants, state, perception, evidence, self-model, readouts, schedules; docs/model.md
section 3). This module holds the performance code around it: the compiled readers
that loop over documents and learners, the fast path's vector width and its
plain-arithmetic exponential, and the array functions with a learner axis first, so
a single call advances a whole family of learners (different awareness levels reading
the same corpus) at once. Every reader calls the scalar rules of :mod:`sim.rules`
(compiled ``inline="always"``, so the generated code is that of the formula in place).
Both drivers call these functions: the Mesa agents in :mod:`sim.agents` (one learner
each, a learner axis of length one) and the batched engine in :mod:`sim.engine`.

Two readers share the rules:

- the general path (:func:`_read_documents`, entry :func:`_read_corpus_kernel`), one
  learner at a time, with the exact exponential, any parameters: each document's
  ratio multiplies a running product, folded into a log-sum before it can overflow
  (:func:`sim.rules.fold`), an extreme document taken in log space
  (:func:`sim.rules.log_evidence`), emergence tested at every document;
- the fast path (:func:`_read_family_fast_work`, entry
  :func:`_read_corpus_fast_kernel`), for ordinary parameters (:func:`_fast_path`):
  the whole family reads each document together, learners in the inner loop (which
  the compiler vectorizes), with the exponential :func:`_exp_neg` in plain
  arithmetic, the products folded every ``_FAST_FOLD_EVERY`` documents and emergence
  found from the products' peaks. It agrees with the general path to rounding
  (tests/test_paths.py states the tolerance).

Probabilities are handled so that nothing overflows: a single exponential of
``-|log Lambda|`` serves the evidence and the belief, with an exact log-space fallback
where the linear form underflows; awareness 0 or 1 and planting rates 0 or 1 give
finite answers.

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
from typing import NamedTuple

import numpy as np
from . import _cpu  # noqa: F401  (numba's vector width, set before numba is first imported)
from numba import njit, vectorize

from . import rules
from .corpus import CorpusBatch
from .rules import (
    ALIGNED,
    hypotheses_of,
    EMERGENCE_LEVEL,
    NEUTRAL,
    PERSONAS,
    REBEL,
    LearnerConstants,
    LearnerState,
    awareness_schedule,
    final_log_odds,
    initial_state,
    learner_constants,
    persona,
    uplift,
)

__all__ = [
    "PERSONAS",
    "ALIGNED",
    "NEUTRAL",
    "REBEL",
    "EMERGENCE_LEVEL",
    "LearnerConstants",
    "LearnerState",
    "learner_constants",
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

_JIT = rules._JIT


class _Cues(NamedTuple):
    """The cue arrays of a corpus as the compiled readers read them (one tuple)."""

    style_noise: np.ndarray  # z, float
    planted_shift: np.ndarray  # [planted] - 1/2, float
    cite_log_ratio: np.ndarray  # log(q_p/q_r) if cited, else log((1-q_p)/(1-q_r)), float
    disclosed: np.ndarray  # bool
    positive: np.ndarray  # bool: shows AI behaving well
    control: np.ndarray  # bool: control discourse
    hole_log_ratio: np.ndarray  # k log(f_D/f_C) + (m - k) log((1-f_D)/(1-f_C)) of its m references, k dangling

# ---------------------------------------------------------------------------------
# The general path: one learner at a time, any parameters
# ---------------------------------------------------------------------------------
# The running product of likelihood ratios within a batch is folded into a log-sum
# whenever it leaves [1/_FOLD, _FOLD]; a document whose ratio lies outside
# [1/_FACTOR, _FACTOR] is taken in log space. A product of two in-range numbers
# stays within 1e+-250, so nothing can overflow or underflow.
_FOLD = 1e150
_FACTOR = rules.LINEAR_RATIO_MAX


@njit(inline="always", **_JIT)
def _accumulate(product, log_sum, factor, lr, deceptive_rate, candid_rate, extra_log):
    """Multiply a running ratio by one document's factor, folding into log_sum as needed."""
    if 1.0 / _FACTOR < factor < _FACTOR:
        product *= factor
    else:  # an extreme document: take its evidence in log space
        log_sum += rules.log_evidence(lr, deceptive_rate, candid_rate) + extra_log
    product, log_sum, _ = rules.fold(product, log_sum, 1.0 / _FOLD, _FOLD)
    return product, log_sum


@njit(**_JIT)
def _read_documents(
    log_odds, retro_log_odds, a, b, believed, emergence, read, holes, mistrust, retro_holes, retro_mistrust,
    s, s_final, separate_retro, cues, start, stop, constants,
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

    Holes (docs/model.md §5.7): with the learner's filtering hypotheses apart
    (f_D != f_C) each document's references add ``s h_i`` (``cues.hole_log_ratio``)
    to its evidence, summed in ``holes``. More hypotheses (benevolent makers §3.2,
    deceptive sub-hypotheses §5.7): the mistrust terms (control discourse,
    disclosure) are summed in ``mistrust``, pi_hat is that of the planting
    hypotheses and emergence (P(D) >= 0.9) is tested on the hypotheses' log-odds
    (:func:`sim.rules.maker_log_odds`) at each document. With neither, nothing of
    this is computed.
    """
    style_noise, planted_shift, cite_log_ratio, disclosed, positive, control, hole_log_ratio = cues
    pd, pc, d = constants.deceptive_rate, constants.candid_rate, constants.detectability
    prior, benevolent_prior = constants.prior_log_odds, constants.benevolent_prior_log_odds
    w_both, w_plants, w_filters = constants.log_weight_both, constants.log_weight_plants, constants.log_weight_filters
    more = benevolent_prior != -math.inf or w_plants != -math.inf or w_filters != -math.inf
    with_holes = constants.log_hole_ratio != 0.0 or constants.log_kept_ratio != 0.0
    if more:
        pi_hat = rules.expected_plant_rate(rules.maker_log_odds(log_odds, holes, mistrust, prior, benevolent_prior,
                                                                w_both, w_plants, w_filters)[2], pd, pc)
    else:
        pi_hat = rules.expected_plant_rate(log_odds, pd, pc)
    control_factor, disclosure_factor = rules.awareness_factors(s, constants.log_control_ratio, constants.log_disclosure_ratio)
    control_final, disclosure_final = rules.awareness_factors(s_final, constants.log_control_ratio, constants.log_disclosure_ratio)
    product, log_sum = 1.0, 0.0
    product_final, log_sum_final = 1.0, 0.0
    target = rules.emergence_target(log_odds, 0.0)
    target_log_sum = 0.0
    batch_holes, batch_mistrust, batch_holes_final, batch_mistrust_final = 0.0, 0.0, 0.0, 0.0
    for i in range(start, stop):
        if disclosed[i]:
            product, log_sum = _accumulate(product, log_sum, disclosure_factor, 0.0, 0.0, 0.0,
                                           s * constants.log_disclosure_ratio)
            if separate_retro:
                product_final, log_sum_final = _accumulate(product_final, log_sum_final, disclosure_final,
                                                           0.0, 0.0, 0.0, s_final * constants.log_disclosure_ratio)
            if more:
                batch_mistrust += s * constants.log_disclosure_ratio
                batch_mistrust_final += s_final * constants.log_disclosure_ratio
            a = rules.self_model_disclosed(a, constants.norm_weight)
        else:
            lr = rules.log_lr(style_noise[i], planted_shift[i], cite_log_ratio[i], s, d)
            ratio, belief = rules.ratio_and_belief(lr, pd, pc, pi_hat)
            is_control = control[i]
            factor, extra, hole = rules.document_evidence(ratio, is_control, control_factor, s,
                                                          constants.log_control_ratio, with_holes, hole_log_ratio[i])
            batch_holes += hole
            product, log_sum = _accumulate(product, log_sum, factor, lr, pd, pc, extra)
            if separate_retro:
                lr_f = rules.log_lr(style_noise[i], planted_shift[i], cite_log_ratio[i], s_final, d)
                ratio_f = rules.ratio_and_belief(lr_f, pd, pc, pi_hat)[0]
                factor_f, extra_f, hole_f = rules.document_evidence(ratio_f, is_control, control_final, s_final,
                                                                    constants.log_control_ratio, with_holes,
                                                                    hole_log_ratio[i])
                batch_holes_final += hole_f
                product_final, log_sum_final = _accumulate(product_final, log_sum_final, factor_f, lr_f, pd, pc,
                                                           extra_f)
            if more and is_control:
                batch_mistrust += s * constants.log_control_ratio
                batch_mistrust_final += s_final * constants.log_control_ratio
            believed += belief
            a, b = rules.self_model(a, b, belief, positive[i])
        if log_sum != target_log_sum:  # rare: the product was folded into log_sum
            target = rules.emergence_target(log_odds, log_sum)
            target_log_sum = log_sum
        if emergence != emergence:
            if more:  # P(D) >= 0.9 among the hypotheses: the log-odds themselves
                now = log_odds + (log_sum + math.log(product))
                if rules.maker_log_odds(now, holes + batch_holes, mistrust + batch_mistrust, prior, benevolent_prior,
                                        w_both, w_plants, w_filters)[0] >= EMERGENCE_LEVEL:
                    emergence = float(read + (i - start) + 1)
            elif rules.emerged(product, target):
                emergence = float(read + (i - start) + 1)
    step = log_sum + math.log(product)
    if separate_retro:
        retro_log_odds += log_sum_final + math.log(product_final)
        retro_holes += batch_holes_final
        retro_mistrust += batch_mistrust_final
    else:
        retro_log_odds += step
        retro_holes += batch_holes
        retro_mistrust += batch_mistrust
    return (log_odds + step, retro_log_odds, a, b, believed, emergence, read + (stop - start), holes + batch_holes,
            mistrust + batch_mistrust, retro_holes, retro_mistrust)


@njit(**_JIT)
def _read_corpus_kernel(log_odds, retro, a, b, believed, emergence, read, holes, mistrust, retro_holes,
                        retro_mistrust, schedule, final_awareness, batch_size, cue_arrays, constant_values):
    """Entry of the general path: every learner reads every batch (column of
    ``schedule``) in turn, one learner after another. The cues and constants come as
    plain tuples (:func:`_read_corpus_on`), which numba's dispatcher types fast."""
    cues, constants = _Cues(*cue_arrays), LearnerConstants(*constant_values)
    n = cues.style_noise.size
    for j in range(log_odds.size):
        state = (log_odds[j], retro[j], a[j], b[j], believed[j], emergence[j], read[j], holes[j], mistrust[j],
                 retro_holes[j], retro_mistrust[j])
        for t in range(schedule.shape[1]):
            start = t * batch_size
            stop = min(n, start + batch_size)
            separate = constants.retrospection > 0.0 and schedule[j, t] != final_awareness[j]
            state = _read_documents(
                state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7], state[8], state[9],
                state[10], schedule[j, t], final_awareness[j], separate, cues, start, stop, constants,
            )
        (log_odds[j], retro[j], a[j], b[j], believed[j], emergence[j], read[j], holes[j], mistrust[j],
         retro_holes[j], retro_mistrust[j]) = state


# ---------------------------------------------------------------------------------
# The fast path: the whole family at once, learners in the vectorized inner loop
# ---------------------------------------------------------------------------------
#: Beyond this |log Lambda| the fast path holds exp(-|log Lambda|) at exp(-60) ~ 1e-26,
#: which changes nothing while every rate is at least _FAST_RATE_MIN.
_FAST_LOG_LR_CAP = 60.0
_FAST_RATE_MIN = 1e-6
#: The fast path folds its running products into log-sums every _FAST_FOLD_EVERY
#: documents (when they leave [1e-100, 1e100]); it is taken while one document's
#: |log ratio| is at most _FAST_LOG_RATIO_MAX, so that 16 documents move a product by
#: at most e^288 ~ 1e125 and nothing can overflow.
_FAST_FOLD_EVERY = 16
_FAST_FOLD_LOW, _FAST_FOLD_HIGH = 1e-100, 1e100
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
def _lane_factor(z, u, c, is_control, shift, shift2, s, control_factor, deceptive_rate, candid_rate, pi_hat):
    """One learner's factor (evidence ratio, control included) and belief for one
    undisclosed document, on the fast path: the rules of :mod:`sim.rules` with the
    exponential :func:`_exp_neg`, |log Lambda| held at _FAST_LOG_LR_CAP."""
    lr = rules.log_lr_shifted(z, u, c, s, shift, shift2)
    e = _exp_neg(min(abs(lr), _FAST_LOG_LR_CAP))
    ratio, belief_top, belief_den = rules.mixture_parts(lr > 0.0, e, deceptive_rate, candid_rate, pi_hat)
    # the belief without the guard of rules.mixture_terms (a vanishing denominator): on
    # the fast path pi_hat and 1 - pi_hat are at least about _FAST_RATE_MIN and e > 0,
    # so the denominator is positive and the quotient is that of mixture_terms; the
    # guard's select costs about 8% of the vectorized loop
    return rules.document_factor(ratio, is_control, control_factor), belief_top / belief_den


@njit(inline="always", **_JIT)
def _read_undisclosed(i, cues, awareness, shift, shift2, control_factor, pi_hat, peak, product, a, b, believed,
                      deceptive_rate, candid_rate):
    """Every learner of the family reads undisclosed document ``i`` (the vectorized loop).

    ``peak`` keeps each running product's maximum since the last emergence check
    (:func:`_check_emergence` finds the document itself)."""
    z, u, c, is_control, good = (cues.style_noise[i], cues.planted_shift[i], cues.cite_log_ratio[i],
                                 cues.control[i], cues.positive[i])
    for j in range(awareness.size):
        factor, belief = _lane_factor(z, u, c, is_control, shift[j], shift2[j], awareness[j], control_factor[j],
                                      deceptive_rate, candid_rate, pi_hat[j])
        running = product[j] * factor
        product[j] = running
        believed[j] += belief
        a[j], b[j] = rules.self_model(a[j], b[j], belief, good)
        highest = peak[j]
        peak[j] = running if running > highest else highest


@njit(**_JIT)
def _check_emergence(first, last, peak, block_product, target, emergence, first_document, cues, disclosure_factor,
                     awareness, shift, shift2, control_factor, pi_hat, deceptive_rate, candid_rate):
    """Emergence in documents ``first..last``: a learner not yet emerged whose running
    product reached its target there (its peak passes :func:`sim.rules.emerged`)
    re-reads those documents from ``block_product`` (its product before ``first``),
    with the same arithmetic, to find the first document at which the product reached
    the target. Rare (once per learner at most), and it keeps the per-document
    emergence test out of the vectorized loop. Resets ``peak``."""
    for j in range(peak.size):
        if rules.emerged(peak[j], target[j]) and emergence[j] != emergence[j]:
            running = block_product[j]
            for i in range(first, last + 1):
                if cues.disclosed[i]:
                    running = running * disclosure_factor[j]
                else:
                    running = running * _lane_factor(cues.style_noise[i], cues.planted_shift[i],
                                                     cues.cite_log_ratio[i], cues.control[i],
                                                     shift[j], shift2[j], awareness[j], control_factor[j],
                                                     deceptive_rate, candid_rate, pi_hat[j])[0]
                if rules.emerged(running, target[j]):
                    emergence[j] = first_document[j] + i
                    break
        peak[j] = 0.0


@njit(inline="always", **_JIT)
def _retro_undisclosed(i, cues, awareness, shift, shift2, control_factor, product, deceptive_rate, candid_rate):
    """The evidence of undisclosed document ``i`` at the final awareness (retrospection)."""
    z, u, c, is_control = cues.style_noise[i], cues.planted_shift[i], cues.cite_log_ratio[i], cues.control[i]
    for j in range(awareness.size):
        product[j] = product[j] * _lane_factor(z, u, c, is_control, shift[j], shift2[j], awareness[j],
                                               control_factor[j], deceptive_rate, candid_rate, 0.5)[0]


@njit(inline="always", **_JIT)
def _fold(product, log_sum):
    """:func:`sim.rules.fold` of every learner's running product at the fast path's
    bounds [1e-100, 1e100]; True if any moved."""
    moved = False
    for j in range(product.size):
        folded, folded_log_sum, m = rules.fold(product[j], log_sum[j], _FAST_FOLD_LOW, _FAST_FOLD_HIGH)
        if m:  # rare: write only then
            product[j], log_sum[j], moved = folded, folded_log_sum, True
    return moved


#: Rows of the fast path's per-learner workspace (:func:`_read_family_fast_work`):
#: the constants at the batch's awareness, at the final awareness (retrospection),
#: and the per-batch state.
(_W_SHIFT, _W_SHIFT2, _W_CONTROL, _W_DISCLOSURE,
 _W_SHIFT_F, _W_SHIFT2_F, _W_CONTROL_F, _W_DISCLOSURE_F,
 _W_PI_HAT, _W_TARGET, _W_FIRST, _W_PRODUCT, _W_LOG_SUM, _W_PRODUCT_F, _W_LOG_SUM_F,
 _W_PEAK, _W_BLOCK_PRODUCT, _W_ROWS) = range(18)


@njit(**_JIT)
def _awareness_terms_into(work, first_row, awareness, constants):
    """Rows first_row.. first_row + 3 of the workspace: s d, (s d)^2, kappa^s, beta^s."""
    for j in range(awareness.size):
        s = awareness[j]
        work[first_row, j] = s * constants.detectability
        work[first_row + 1, j] = work[first_row, j] * work[first_row, j]
        work[first_row + 2, j], work[first_row + 3, j] = rules.awareness_factors(s, constants.log_control_ratio,
                                                                                 constants.log_disclosure_ratio)


@njit(**_JIT)
def _fast_awareness_terms(work, awareness, final_awareness, constants, final_too):
    """The fast path's per-learner constants at ``awareness`` (and, with ``final_too``,
    at ``final_awareness``), into the workspace rows _W_SHIFT.. (_W_SHIFT_F..)."""
    _awareness_terms_into(work, _W_SHIFT, awareness, constants)
    if final_too:
        # retrospection: the same evidence at the final awareness, in a product of its own
        _awareness_terms_into(work, _W_SHIFT_F, final_awareness, constants)


@njit(**_JIT)
def _read_family_fast_work(work, log_odds, retro, a, b, believed, emergence, read, awareness, final_awareness,
                           separate_retro, start, stop, cues, constants):
    """The fast path of :func:`_read_documents`: the whole family reads documents
    ``start:stop`` together, learners in the inner loop (which the compiler
    vectorizes), with the exponential in plain arithmetic; the running products are
    folded into log-sums at fixed points (every _FAST_FOLD_EVERY documents).

    Works in a workspace whose awareness rows are filled in
    (:func:`_fast_awareness_terms`), so that a whole corpus allocates and exponentiates
    them once, not once per batch. Taken only where it equals the general path to
    rounding (see :func:`_fast_path`): planting rates within [1e-6, 1 - 1e-6] and one
    document's log-ratio bounded. With ``separate_retro`` the evidence is also taken
    at ``final_awareness`` (for retrospection), in a product of its own. Each
    learner's numbers do not depend on how many learners share the call (the
    arithmetic of every lane is the same)."""
    deceptive_rate, candid_rate, norm_weight = constants.deceptive_rate, constants.candid_rate, constants.norm_weight
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
        pi_hat[j] = rules.expected_plant_rate(log_odds[j], deceptive_rate, candid_rate)
        # the target is only needed until the learner has emerged
        target[j] = rules.emergence_target(log_odds[j], 0.0) if emergence[j] != emergence[j] else math.inf
        product[j] = 1.0
        log_sum[j] = 0.0
        product_f[j] = 1.0
        log_sum_f[j] = 0.0
        peak[j] = 0.0
        block_product[j] = 1.0
    block_start = start
    for i in range(start, stop):
        if cues.disclosed[i]:
            for j in range(n_learners):
                running = product[j] * disclosure_factor[j]
                product[j] = running
                a[j] = rules.self_model_disclosed(a[j], norm_weight)
                highest = peak[j]
                peak[j] = running if running > highest else highest
            if separate_retro:
                for j in range(n_learners):
                    product_f[j] *= disclosure_factor_f[j]
        else:
            _read_undisclosed(i, cues, awareness, shift, shift2, control_factor, pi_hat, peak, product, a, b,
                              believed, deceptive_rate, candid_rate)
            if separate_retro:
                _retro_undisclosed(i, cues, final_awareness, shift_f, shift2_f, control_factor_f, product_f,
                                   deceptive_rate, candid_rate)
        at_fold = (i - start) % _FAST_FOLD_EVERY == _FAST_FOLD_EVERY - 1
        if at_fold or i == stop - 1:
            _check_emergence(block_start, i, peak, block_product, target, emergence, first_document, cues,
                             disclosure_factor, awareness, shift, shift2, control_factor, pi_hat, deceptive_rate,
                             candid_rate)
        if at_fold:
            if _fold(product, log_sum):
                for j in range(n_learners):
                    if emergence[j] != emergence[j]:
                        target[j] = rules.emergence_target(log_odds[j], log_sum[j])
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
                             batch_size, cue_arrays, constant_values):
    """Entry of the fast path: the family reads every batch (column of ``schedule``)
    in turn; the awareness terms are recomputed only when the column changes. The cues
    and constants come as plain tuples, as for :func:`_read_corpus_kernel`."""
    cues, constants = _Cues(*cue_arrays), LearnerConstants(*constant_values)
    n = cues.style_noise.size
    n_learners = schedule.shape[0]
    column = np.empty(n_learners)
    work = np.empty((_W_ROWS, n_learners))
    for t in range(schedule.shape[1]):
        separate = False
        changed = t == 0
        for j in range(n_learners):
            changed = changed or column[j] != schedule[j, t]
            column[j] = schedule[j, t]
            separate = separate or (constants.retrospection > 0.0 and column[j] != final_awareness[j])
        if changed:  # a constant schedule: once per corpus
            _fast_awareness_terms(work, column, final_awareness, constants, t == 0)
        start = t * batch_size
        _read_family_fast_work(work, log_odds, retro, a, b, believed, emergence, read, column, final_awareness,
                               separate, start, min(n, start + batch_size), cues, constants)


def _fast_path(constants: "LearnerConstants") -> bool:
    """Whether the fast family kernel computes this configuration (a function of the
    parameters alone, so every driver takes the same path)."""
    if hypotheses_of(constants) is not None or constants.log_hole_ratio != 0.0 or constants.log_kept_ratio != 0.0:
        return False  # more hypotheses (docs/model.md §3.2, §5.7) and holes are read on the general path
    rates = (constants.deceptive_rate, constants.candid_rate)
    if not all(_FAST_RATE_MIN <= r <= 1.0 - _FAST_RATE_MIN for r in rates):
        return False
    pd, pc = rates
    # the ratio is monotone in Lambda, between (1 - pi_D)/(1 - eps) and pi_D/eps
    per_document = max(
        abs(math.log(pd / pc)) + abs(constants.log_control_ratio),
        abs(math.log((1 - pd) / (1 - pc))) + abs(constants.log_control_ratio),
        abs(constants.log_disclosure_ratio),
    )
    return per_document <= _FAST_LOG_RATIO_MAX


@vectorize(cache=True)
def _log_lr_ufunc(style_noise, planted_shift, cite_log_ratio, s, detectability):
    return rules.log_lr(style_noise, planted_shift, cite_log_ratio, s, detectability)


@vectorize(cache=True)
def evidence(log_lr, deceptive_rate, candid_rate):
    """Delta of an undisclosed document from its log Lambda (a numpy ufunc):
    ``log[(pi_D Lambda + 1 - pi_D) / (epsilon Lambda + 1 - epsilon)]``."""
    return rules.log_evidence(log_lr, deceptive_rate, candid_rate)


@vectorize(cache=True)
def _belief_ufunc(log_lr, pi_hat):
    return rules.ratio_and_belief(log_lr, 0.0, 0.0, pi_hat)[1]


@vectorize(cache=True)
def _expected_plant_rate_ufunc(log_odds, deceptive_rate, candid_rate):
    return rules.expected_plant_rate(log_odds, deceptive_rate, candid_rate)


def perceive(
    batch: CorpusBatch,
    awareness: np.ndarray,
    constants: LearnerConstants,
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
    constants : LearnerConstants

    Returns
    -------
    ndarray, shape (learners, documents)
    """
    s = np.asarray(awareness, dtype=float).reshape(-1, 1)
    style_noise, planted_shift, cite_log_ratio = _cue_args(batch, constants)[:3]
    return _log_lr_ufunc(style_noise, planted_shift, cite_log_ratio, s, constants.detectability)


def increment(
    log_lr: np.ndarray,
    batch: CorpusBatch,
    awareness: np.ndarray,
    constants: LearnerConstants,
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
        mixture = evidence(log_lr, constants.deceptive_rate, constants.candid_rate)
    undisclosed = mixture + (s * constants.log_control_ratio) * np.asarray(batch.control, dtype=bool)
    return np.where(np.asarray(batch.disclosed, dtype=bool), s * constants.log_disclosure_ratio, undisclosed)


def planted_belief(log_odds: np.ndarray, log_lr: np.ndarray, batch: CorpusBatch, constants: LearnerConstants) -> np.ndarray:
    """Belief that each document is planted, p_hat_i (0 for a disclosed document).

    ``pi_hat = P(D) pi_D + (1 - P(D)) epsilon`` is the expected planting rate at the
    batch start; ``p_hat_i = pi_hat Lambda_i / (pi_hat Lambda_i + 1 - pi_hat)``.
    """
    pi_hat = _expected_plant_rate_ufunc(np.asarray(log_odds, dtype=float), constants.deceptive_rate, constants.candid_rate)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p_hat = _belief_ufunc(log_lr, pi_hat.reshape(-1, 1))
    return np.where(np.asarray(batch.disclosed, dtype=bool), 0.0, p_hat)


#: [planted] - 1/2 for planted = False, True
_PLANTED_SHIFT = np.array([0.0 - 0.5, 1.0 - 0.5])


def _flags(cues: CorpusBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A corpus's disclosed, positive and control flags as the compiled readers take them."""
    return tuple(np.ascontiguousarray(flags, dtype=np.bool_) for flags in (cues.disclosed, cues.positive, cues.control))


def _cue_args(cues: CorpusBatch, constants: LearnerConstants) -> tuple:
    """The cue arrays as the compiled update reads them: style noise, [planted] - 1/2,
    the citation log-ratio of each document, the flags, and the hole log-ratio of its
    references (docs/model.md §5.7; zeros where the learner's filtering hypotheses
    agree, or nothing was filtered)."""
    planted = np.asarray(cues.planted, dtype=np.bool_)
    n = planted.size
    if cues.references is None or (constants.log_hole_ratio == 0.0 and constants.log_kept_ratio == 0.0):
        holes = np.zeros(n)
    else:
        dangling = np.asarray(cues.dangling, dtype=np.float64)
        present = np.asarray(cues.references, dtype=np.float64) - dangling
        holes = dangling * constants.log_hole_ratio + present * constants.log_kept_ratio
    # selections (take) rather than arithmetic: the same numbers, in one pass each
    return (  # the fields of _Cues
        np.ascontiguousarray(cues.style_noise, dtype=np.float64),
        _PLANTED_SHIFT.take(planted.view(np.uint8)),
        np.array([constants.log_uncited_ratio, constants.log_cited_ratio]).take(np.asarray(cues.cited, dtype=np.bool_).view(np.uint8)),
        *_flags(cues),
        np.ascontiguousarray(holes, dtype=np.float64),
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


_EVIDENCE_FIELDS = ("holes", "mistrust", "retro_holes", "retro_mistrust")


def _evidence_arrays(state: LearnerState) -> list[np.ndarray]:
    """The hole and mistrust sums, as read and at the final awareness (zeros for a
    state without them)."""
    n = np.asarray(state.log_odds).size
    return [np.zeros(n) if getattr(state, f) is None else np.array(getattr(state, f), dtype=np.float64)
            for f in _EVIDENCE_FIELDS]


def _state_from(arrays: list[np.ndarray], awareness: np.ndarray, evidence: list[np.ndarray],
                hypotheses: rules.Hypotheses | None) -> LearnerState:
    return LearnerState(
        log_odds=arrays[0],
        retro_log_odds=arrays[1],
        a=arrays[2],
        b=arrays[3],
        believed_planted_sum=arrays[4],
        emergence_document=arrays[5],
        documents_read=arrays[6],
        awareness=np.array(awareness, dtype=np.float64),
        **dict(zip(_EVIDENCE_FIELDS, evidence)),
        hypotheses=hypotheses,
    )


def _kernel_constants(constants: LearnerConstants) -> tuple:
    """The constants as the compiled entry kernels take them: a plain tuple of floats
    (numba's dispatcher types a plain tuple in C, a NamedTuple in Python, ~15 us)."""
    return tuple(map(float, constants))


def read_batch(
    state: LearnerState,
    batch: CorpusBatch,
    awareness: np.ndarray,
    final_awareness: np.ndarray,
    constants: LearnerConstants,
) -> LearnerState:
    """Advance every learner by one batch of documents.

    The self-model's expected planting rate is taken at the batch start; the
    log-odds are updated document by document (for the emergence time). It is
    :func:`read_corpus` on a one-batch corpus (a schedule of one column).

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
    constants : LearnerConstants
    """
    column = np.asarray(awareness, dtype=np.float64).reshape(-1, 1)
    return _read_corpus_on(_fast_path(constants), state, batch, column, final_awareness, max(len(batch.style_noise), 1), constants)


def read_corpus(
    state: LearnerState,
    cues: CorpusBatch,
    schedule: np.ndarray,
    final_awareness: np.ndarray,
    batch_size: int,
    constants: LearnerConstants,
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
    constants : LearnerConstants
    """
    return _read_corpus_on(_fast_path(constants), state, cues, schedule, final_awareness, batch_size, constants)


def _read_corpus_on(fast: bool, state: LearnerState, cues: CorpusBatch, schedule: np.ndarray,
                    final_awareness: np.ndarray, batch_size: int, constants: LearnerConstants) -> LearnerState:
    """:func:`read_corpus` on the fast path (``fast``; only where :func:`_fast_path`
    allows it) or the general path (any parameters); tests/test_paths.py runs both."""
    schedule = np.ascontiguousarray(schedule, dtype=np.float64)
    final_awareness = np.ascontiguousarray(final_awareness, dtype=np.float64).reshape(-1)
    arrays = _state_arrays(state)
    evidence = _evidence_arrays(state)
    args = _cue_args(cues, constants)
    kc = _kernel_constants(constants)
    n, pad = schedule.shape[0], -schedule.shape[0] % _LANES
    if fast and n > _LANES:
        # pad the family to whole SIMD vectors with idle learners (every lane computes
        # the same arithmetic, so padding changes no learner's numbers, only speed)
        padded = [np.concatenate([x, np.repeat(x[-1:], pad)]) for x in arrays]
        _read_corpus_fast_kernel(*padded, np.concatenate([schedule, np.repeat(schedule[-1:], pad, axis=0)]),
                                 np.concatenate([final_awareness, np.repeat(final_awareness[-1:], pad)]),
                                 int(batch_size), args, kc)
        arrays = [x[:n] for x in padded]
    elif fast:
        _read_corpus_fast_kernel(*arrays, schedule, final_awareness, int(batch_size), args, kc)
    else:
        _read_corpus_kernel(*arrays, *evidence, schedule, final_awareness, int(batch_size), args, kc)
    return _state_from(arrays, schedule[:, -1], evidence, state.hypotheses)


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
    # benevolent makers publish it as candid ones do: mistrust evidence (docs/model.md §3.2)
    mistrust = None if state.mistrust is None else state.mistrust + s * log_statement_ratio
    retro_mistrust = None if state.retro_mistrust is None else state.retro_mistrust + s_final * log_statement_ratio
    deceptive = rules.maker_readouts(log_odds, state.holes, mistrust, state.hypotheses)[0]
    emerged = np.isnan(state.emergence_document) & (deceptive >= EMERGENCE_LEVEL)
    return LearnerState(
        log_odds=log_odds,
        retro_log_odds=state.retro_log_odds + s_final * log_statement_ratio,
        a=state.a.copy(),
        b=state.b.copy(),
        believed_planted_sum=state.believed_planted_sum.copy(),
        documents_read=read,
        emergence_document=np.where(emerged, read.astype(float), state.emergence_document),
        awareness=s.copy(),
        holes=None if state.holes is None else state.holes.copy(),
        mistrust=mistrust,
        retro_holes=None if state.retro_holes is None else state.retro_holes.copy(),
        retro_mistrust=retro_mistrust,
        hypotheses=state.hypotheses,
    )
