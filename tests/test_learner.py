"""The Bayesian learner's update rules (sim.learner), checked against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sim import Params
from sim.corpus import CorpusBatch, build_corpus
from sim.engine import run_family
from sim.learner import (
    ALIGNED,
    EMERGENCE_LEVEL,
    NEUTRAL,
    REBEL,
    awareness_schedule,
    final_log_odds,
    increment,
    initial_state,
    learner_constants,
    perceive,
    persona,
    planted_belief,
    read_batch,
    uplift,
)


def make_batch(rows) -> CorpusBatch:
    """A CorpusBatch from rows (z, planted, disclosed, cited, positive, control)."""
    z, planted, disclosed, cited, positive, control = zip(*rows)
    return CorpusBatch(
        style_noise=np.array(z, dtype=float),
        planted=np.array(planted, dtype=bool),
        disclosed=np.array(disclosed, dtype=bool),
        cited=np.array(cited, dtype=bool),
        positive=np.array(positive, dtype=bool),
        control=np.array(control, dtype=bool),
    )


def ref_log_lr(s, z, planted, cited, p: Params, q_r) -> float:
    """log Lambda by docs/model.md §3 with plain floats: m x' - m^2/2 plus the tempered citation term."""
    m = s * p.synthetic_detectability
    x = m * planted + z
    q_p = p.believed_planted_cited_rate
    cite = s * math.log(q_p / q_r) if cited else s * math.log((1 - q_p) / (1 - q_r))
    return m * x - m * m / 2 + cite


def ref_increment(s, z, planted, disclosed, cited, control, p: Params, q_r) -> float:
    """Delta by docs/model.md §3 with plain floats (math.exp / math.log)."""
    if disclosed:
        return s * math.log(p.disclosure_likelihood_ratio)
    lam = math.exp(ref_log_lr(s, z, planted, cited, p, q_r))
    pd, eps = p.deceptive_plant_rate, p.candid_plant_rate
    delta = math.log((pd * lam + 1 - pd) / (eps * lam + 1 - eps))
    if control:
        delta += s * math.log(p.control_likelihood_ratio)
    return delta


def ref_planted_belief(p_d, log_lr, p: Params) -> float:
    """p_hat = pi_hat Lambda / (pi_hat Lambda + 1 - pi_hat) with pi_hat = P(D) pi_D + (1 - P(D)) eps."""
    pi_hat = p_d * p.deceptive_plant_rate + (1 - p_d) * p.candid_plant_rate
    lam = math.exp(log_lr)
    return pi_hat * lam / (pi_hat * lam + 1 - pi_hat)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# rows: z, planted, disclosed, cited, positive, control
HAND_ROWS = [
    (0.3, False, False, True, True, False),  # real, good, cited
    (-1.1, False, False, False, False, True),  # real, bad, uncited, control discourse
    (0.5, True, False, False, True, False),  # planted (good, never cited)
    (0.2, False, True, False, False, False),  # disclosed
    (1.7, False, False, False, True, True),  # real, good, uncited, control discourse
]
HAND_PARAMS = Params(control_likelihood_ratio=3.0, disclosure_likelihood_ratio=0.25, norm_weight=2.0)
Q_R = 0.6


@pytest.mark.parametrize("s", [0.0, 0.3, 0.628, 1.0])
def test_perceive_matches_ideal_observer_of_shift_s_d(s):
    """log Lambda = m x' - m^2/2 + s log(q ratio), with m = s d and x' = s d [planted] + z."""
    constants = learner_constants(HAND_PARAMS, Q_R)
    batch = make_batch(HAND_ROWS)
    got = perceive(batch, np.array([s]), constants)[0]
    want = [ref_log_lr(s, z, pl, ci, HAND_PARAMS, Q_R) for z, pl, _, ci, _, _ in HAND_ROWS]
    assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_perceive_handles_a_family_of_learners_at_once():
    """perceive returns (learners, documents), each row the single-learner result."""
    constants = learner_constants(HAND_PARAMS, Q_R)
    batch = make_batch(HAND_ROWS)
    s = np.array([0.1, 0.5, 0.9])
    family = perceive(batch, s, constants)
    assert family.shape == (3, len(HAND_ROWS))
    for i, si in enumerate(s):
        assert_array_equal(family[i], perceive(batch, np.array([si]), constants)[0])


@pytest.mark.parametrize("s", [0.0, 0.25, 0.7, 1.0])
@pytest.mark.parametrize(
    "params",
    [
        HAND_PARAMS,
        Params(),
        Params(candid_plant_rate=0.05, deceptive_plant_rate=0.6, synthetic_detectability=1.0,
               believed_planted_cited_rate=0.1, control_likelihood_ratio=0.5, disclosure_likelihood_ratio=4.0),
    ],
)
def test_increment_matches_the_mixture_likelihood(params, s):
    """Delta = log((pi_D L + 1 - pi_D)/(eps L + 1 - eps)) [+ s log kappa]; disclosed: s log beta."""
    constants = learner_constants(params, Q_R)
    batch = make_batch(HAND_ROWS)
    log_lr = perceive(batch, np.array([s]), constants)
    got = increment(log_lr, batch, np.array([s]), constants)[0]
    want = [
        ref_increment(s, z, pl, di, ci, co, params, Q_R) for z, pl, di, ci, _, co in HAND_ROWS
    ]
    assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_increment_hand_picked_values():
    """Three hand-picked documents at s = 0.8 with the defaults and kappa = 3, beta = 0.25."""
    p = Params(control_likelihood_ratio=3.0)
    constants = learner_constants(p, 0.6)
    batch = make_batch([
        (0.0, True, False, False, True, False),  # planted, uncited, z = 0
        (0.0, False, False, True, False, True),  # real control discourse, cited, z = 0
        (0.0, False, True, False, False, False),  # disclosed
    ])
    got = increment(perceive(batch, np.array([0.8]), constants), batch, np.array([0.8]), constants)[0]
    # planted: m = 2, x' = 2, lambda_style = 2 * 2 - 2 = 2; cite = 0.8 log(0.98 / 0.4)
    lam = math.exp(2.0 + 0.8 * math.log(0.98 / 0.4))
    planted = math.log((0.3 * lam + 0.7) / (0.01 * lam + 0.99))
    # real cited: lambda_style = -2; cite = 0.8 log(0.02 / 0.6)
    lam = math.exp(-2.0 + 0.8 * math.log(0.02 / 0.6))
    control = math.log((0.3 * lam + 0.7) / (0.01 * lam + 0.99)) + 0.8 * math.log(3.0)
    disclosed = 0.8 * math.log(0.25)
    assert_allclose(got, [planted, control, disclosed], rtol=1e-12)


def test_increment_does_not_overflow_for_huge_likelihood_ratios():
    """For Lambda far beyond exp overflow, Delta tends to log(pi_D / eps) without inf or NaN."""
    p = Params(synthetic_detectability=100.0)
    constants = learner_constants(p, 0.6)
    batch = make_batch([(3.0, True, False, False, True, False), (-3.0, False, False, False, True, False)])
    delta = increment(perceive(batch, np.array([1.0]), constants), batch, np.array([1.0]), constants)[0]
    assert np.all(np.isfinite(delta))
    assert_allclose(delta[0], math.log(0.3 / 0.01), rtol=1e-12)
    assert_allclose(delta[1], math.log(0.7 / 0.99), rtol=1e-12)


@pytest.mark.parametrize(
    "rates", [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.3, 0.0), (0.0, 0.3)]
)
def test_increment_is_finite_at_extreme_planting_rates(rates):
    """Planting rates 0 or 1 give finite increments (log space, no NaN)."""
    eps, pi_d = rates
    p = Params(candid_plant_rate=eps, deceptive_plant_rate=pi_d)
    constants = learner_constants(p, 0.6)
    batch = make_batch(HAND_ROWS)
    for s in (0.0, 0.5, 1.0):
        log_lr = perceive(batch, np.array([s]), constants)
        delta = increment(log_lr, batch, np.array([s]), constants)
        assert np.all(np.isfinite(delta))
        if eps == pi_d:
            # both hypotheses plant at the same rate: only control and disclosure carry evidence
            undisclosed = ~batch.disclosed & ~batch.control
            assert_allclose(delta[0][undisclosed], 0.0, atol=1e-12)


def test_unaware_learner_sees_no_evidence():
    """At s = 0 every document's increment is 0 (up to rounding), whatever its cues."""
    constants = learner_constants(HAND_PARAMS, Q_R)
    batch = make_batch(HAND_ROWS)
    delta = increment(perceive(batch, np.array([0.0]), constants), batch, np.array([0.0]), constants)
    assert_allclose(delta, 0.0, atol=1e-15)


def test_self_model_update_by_hand():
    """read_batch on a hand-made batch matches the hand computation of a, b, p_hat sum and log-odds."""
    p = HAND_PARAMS
    s = 0.8
    constants = learner_constants(p, Q_R)
    batch = make_batch(HAND_ROWS)
    state = read_batch(initial_state(1, constants, np.array([s])), batch, np.array([s]), np.array([s]), constants)

    prior = math.log(p.prior_deceptive / (1 - p.prior_deceptive))
    a, b, believed, ell = 1.0, 1.0, 0.0, prior
    p_d = sigmoid(prior)  # P(D) at the batch start
    for z, pl, di, ci, pos, co in HAND_ROWS:
        ell += ref_increment(s, z, pl, di, ci, co, p, Q_R)
        if di:
            a += p.norm_weight  # disclosed: adds w to a, p_hat = 0
            continue
        p_hat = ref_planted_belief(p_d, ref_log_lr(s, z, pl, ci, p, Q_R), p)
        believed += p_hat
        if pos:
            a += 1 - p_hat
        else:
            b += 1 - p_hat

    assert_allclose(state.a, [a], rtol=1e-12)
    assert_allclose(state.b, [b], rtol=1e-12)
    assert_allclose(state.believed_planted_sum, [believed], rtol=1e-12)
    assert_allclose(state.log_odds, [ell], rtol=1e-12)
    assert_array_equal(state.documents_read, [len(HAND_ROWS)])
    assert_allclose(state.believed_planted_share, [believed / len(HAND_ROWS)], rtol=1e-12)
    assert_allclose(uplift(state.a, state.b, p.real_positive_rate), [a / (a + b) - 0.5], rtol=1e-12)
    assert_allclose(state.p_deceptive, [sigmoid(ell)], rtol=1e-12)


def test_planted_belief_uses_p_deceptive_at_the_batch_start():
    """In the second batch pi_hat comes from P(D) after the first batch, not from the prior."""
    p = HAND_PARAMS
    s = 1.0
    constants = learner_constants(p, Q_R)
    first = make_batch([(2.5, True, False, False, True, False)] * 3)  # strong planted docs: P(D) rises
    second = make_batch([(0.4, False, False, False, True, False), (0.9, True, False, False, True, False)])
    state = initial_state(1, constants, np.array([s]))
    state = read_batch(state, first, np.array([s]), np.array([s]), constants)
    p_d_start = sigmoid(float(state.log_odds[0]))
    assert p_d_start > 0.5  # the two batches see clearly different P(D)
    after = read_batch(state, second, np.array([s]), np.array([s]), constants)

    p_hats = [
        ref_planted_belief(p_d_start, ref_log_lr(s, z, pl, ci, p, Q_R), p)
        for z, pl, _, ci, _, _ in [(0.4, False, False, False, True, False), (0.9, True, False, False, True, False)]
    ]
    assert_allclose(after.believed_planted_sum - state.believed_planted_sum, [sum(p_hats)], rtol=1e-12)
    assert_allclose(after.a - state.a, [2 - sum(p_hats)], rtol=1e-12)
    assert_array_equal(after.b, state.b)


def test_disclosed_document_adds_norm_weight_whatever_the_awareness():
    """A disclosed document adds w to a and nothing to b or the planted belief at any s."""
    p = Params(norm_weight=2.5)
    constants = learner_constants(p, 0.6)
    batch = make_batch([(0.0, False, True, False, False, False)])
    s = np.array([0.0, 0.4, 1.0])
    state = read_batch(initial_state(3, constants, s), batch, s, s, constants)
    assert_array_equal(state.a, [3.5, 3.5, 3.5])
    assert_array_equal(state.b, [1.0, 1.0, 1.0])
    assert_array_equal(state.believed_planted_sum, [0.0, 0.0, 0.0])
    assert_allclose(state.log_odds, constants.prior_log_odds + s * math.log(0.25), rtol=1e-12)


def test_initial_state_is_prior_and_flat_self_model():
    """Before reading: log-odds logit(pi_0), Beta(1, 1), nothing read, no emergence."""
    constants = learner_constants(Params(prior_deceptive=0.2), 0.6)
    st = initial_state(2, constants)
    assert_allclose(st.log_odds, math.log(0.25), rtol=1e-12)
    assert_array_equal(st.a, [1, 1])
    assert_array_equal(st.b, [1, 1])
    assert_array_equal(st.documents_read, [0, 0])
    assert np.all(np.isnan(st.emergence_document))
    assert_array_equal(st.believed_planted_share, [0.0, 0.0])


def test_constants_reject_real_cited_rate_outside_open_unit_interval():
    """learner_constants() requires 0 < q_r < 1."""
    for q in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="real_cited_rate"):
            learner_constants(Params(), q)


# -- emergence ------------------------------------------------------------------------

EMERGE = Params(
    prior_deceptive=0.5,  # log-odds start at 0
    synthetic_detectability=0.0,  # no style cue
    believed_planted_cited_rate=0.6,  # with q_r = 0.6: no citation cue, so Lambda = 1
    control_likelihood_ratio=2.0,  # each control document adds log 2 at s = 1
    disclosure_likelihood_ratio=0.01,  # a disclosed document subtracts log 100 at s = 1
)
CTRL = (0.0, False, False, False, False, True)
PLAIN = (0.0, False, False, False, True, False)
DISC = (0.0, False, True, False, False, False)


def _read_stream(batches, s=1.0):
    constants = learner_constants(EMERGE, 0.6)
    state = initial_state(1, constants, np.array([s]))
    for rows in batches:
        state = read_batch(state, make_batch(rows), np.array([s]), np.array([s]), constants)
    return state


def test_known_increments_are_exact_multiples_of_log_kappa():
    """With no style or citation cue the stream's increments are s log kappa and s log beta only."""
    state = _read_stream([[CTRL, PLAIN, CTRL, DISC]])
    assert_allclose(state.log_odds, [2 * math.log(2.0) + math.log(0.01)], rtol=1e-12)


def test_emergence_is_the_first_document_past_log_9_counted_over_batches():
    """log 9 = 2.197 lies between 3 and 4 control documents (log 2 each): emergence at the 4th one,
    counted 1-based over all documents read across batches."""
    assert 3 * math.log(2) < EMERGENCE_LEVEL < 4 * math.log(2)
    state = _read_stream([[PLAIN, CTRL, CTRL], [PLAIN, CTRL, PLAIN, CTRL, PLAIN]])
    # documents: 1 P, 2 C, 3 C | 4 P, 5 C, 6 P, 7 C, 8 P -> the 4th control document is document 7
    assert_array_equal(state.emergence_document, [7.0])


def test_emergence_within_the_first_batch():
    """Four control documents in a row emerge at document 4 of the first batch."""
    state = _read_stream([[CTRL, CTRL, CTRL, CTRL, CTRL, PLAIN]])
    assert_array_equal(state.emergence_document, [4.0])


def test_emergence_is_nan_when_never_reached():
    """Three control documents never reach P(D) = 0.9: emergence stays NaN."""
    state = _read_stream([[CTRL, PLAIN], [CTRL, CTRL, PLAIN]])
    assert np.isnan(state.emergence_document[0])
    assert state.log_odds[0] < EMERGENCE_LEVEL


def test_emergence_keeps_the_first_crossing_after_log_odds_fall():
    """Emergence records the first crossing even when later disclosed documents push log-odds down
    and a later crossing follows."""
    state = _read_stream([
        [CTRL, CTRL, CTRL],
        [CTRL, DISC, PLAIN],  # crossing at document 4, then log-odds fall far below 0
        [CTRL] * 12,  # and cross again later
    ])
    assert_array_equal(state.emergence_document, [4.0])
    assert state.log_odds[0] > EMERGENCE_LEVEL  # crossed again at the end


def test_emergence_is_per_learner():
    """Learners of one family crossing at different documents get their own emergence time."""
    constants = learner_constants(EMERGE, 0.6)
    s = np.array([1.0, 0.5, 0.2])
    state = initial_state(3, constants, s)
    state = read_batch(state, make_batch([CTRL] * 20), s, s, constants)
    # s log 2 per document: crossing at ceil(log 9 / (s log 2))
    want = [math.ceil(EMERGENCE_LEVEL / (si * math.log(2))) for si in s]
    assert want == [4, 7, 16]
    assert_array_equal(state.emergence_document, np.array(want, dtype=float))


# -- awareness schedule ---------------------------------------------------------------


def test_constant_schedule_is_the_final_awareness_throughout():
    """Without sa_start every batch is read at the final awareness."""
    final = np.array([0.0, 0.37, 1.0])
    sched = awareness_schedule(final, 6, Params())
    assert sched.shape == (3, 6)
    assert_array_equal(sched, np.repeat(final[:, None], 6, axis=1))


@pytest.mark.parametrize("kind", ["linear", "logistic"])
@pytest.mark.parametrize("start", [0.0, 0.2, 1.0])
def test_schedule_endpoints_hit_sa_start_and_final_exactly(kind, start):
    """The first batch is read exactly at sa_start and the last exactly at the final awareness."""
    final = np.array([0.0, 0.1, 0.35, 0.9, 1.0])
    p = Params(sa_start=start, awareness_schedule=kind)
    for n_batches in (2, 7, 100):
        sched = awareness_schedule(final, n_batches, p)
        assert sched.shape == (5, n_batches)
        assert_array_equal(sched[:, 0], np.full(5, start))
        assert_array_equal(sched[:, -1], final)


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_single_batch_schedule_is_the_final_awareness(kind):
    """With one batch the learner reads at its final awareness."""
    p = Params(sa_start=0.1, awareness_schedule=kind)
    assert_allclose(awareness_schedule(np.array([0.8]), 1, p), [[0.8]], rtol=1e-15)


def test_linear_schedule_is_evenly_spaced_and_logistic_is_centred():
    """Linear steps are equal; the logistic curve passes half-way at the middle batch and is monotone."""
    lin = awareness_schedule(np.array([1.0]), 5, Params(sa_start=0.0, awareness_schedule="linear"))
    assert_allclose(lin, [[0.0, 0.25, 0.5, 0.75, 1.0]], atol=1e-15)
    p = Params(sa_start=0.2, awareness_schedule="logistic", schedule_steepness=10.0)
    log = awareness_schedule(np.array([0.8]), 9, p)[0]
    assert_allclose(log[4], 0.5, rtol=1e-12)
    assert np.all(np.diff(log) > 0)
    # steeper than linear near the middle, flatter near the ends
    assert log[1] - log[0] < 0.6 / 8 < log[5] - log[4]


def test_schedule_may_fall():
    """sa_start above the final awareness gives a decreasing schedule."""
    sched = awareness_schedule(np.array([0.2]), 4, Params(sa_start=0.8, awareness_schedule="linear"))[0]
    assert np.all(np.diff(sched) < 0)


# -- persona readout --------------------------------------------------------------------


def test_persona_readout():
    """Rebel iff P(D) >= 1/2; otherwise aligned iff U > 0, else neutral."""
    p = np.array([0.5, 0.5, 0.9, 0.4999, 0.4999, 0.4999, 0.0, 1.0])
    u = np.array([0.3, -0.3, 0.0, 1e-12, 0.0, -0.2, 0.1, -1.0])
    want = [REBEL, REBEL, REBEL, ALIGNED, NEUTRAL, NEUTRAL, ALIGNED, REBEL]
    got = persona(p, u)
    assert_array_equal(got, want)
    assert got.dtype == np.int8


def test_uplift_is_beta_mean_minus_g():
    """U = a / (a + b) - g."""
    assert_allclose(uplift(np.array([3.0, 1.0]), np.array([1.0, 3.0]), 0.5), [0.25, -0.25], rtol=1e-15)


# -- retrospection ----------------------------------------------------------------------

SCHEDULED = Params(n_documents=1037, batch_size=64, sa_start=0.1, awareness_schedule="logistic",
                   disclosed_fraction=0.05, control_likelihood_ratio=2.0)
LEVELS = np.array([0.0, 0.3, 0.55, 0.65, 0.9, 1.0])


def _manual_as_read(params, corpus, levels):
    """prior + sum of increments at each batch's awareness, computed outside read_batch."""
    constants = learner_constants(params, corpus.learner_real_cited_rate(params))
    sched = awareness_schedule(levels, params.n_batches, params)
    ell = np.full(levels.size, constants.prior_log_odds)
    for t, batch in enumerate(corpus.batches(params.batch_size)):
        s = sched[:, t]
        ell = ell + increment(perceive(batch, s, constants), batch, s, constants).sum(axis=1)
    return ell


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_zero_retrospection_keeps_log_odds_as_read(kind):
    """With r = 0 the final log-odds are the sum of increments at each reading awareness."""
    p = SCHEDULED.replace(awareness_schedule=kind, retrospection=0.0)
    corpus = build_corpus(p, seed=4)
    run = run_family(corpus, p, LEVELS, record=False)
    assert_array_equal(run.final_log_odds(), run.state.log_odds)
    assert_allclose(run.final_log_odds(), _manual_as_read(p, corpus, LEVELS), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "logistic"])
@pytest.mark.parametrize("n, batch", [(1037, 64), (1000, 100), (40, 1)])
def test_full_retrospection_equals_reading_at_final_awareness(kind, n, batch):
    """With r = 1 and a rising schedule, the final log-odds equal those of a constant-awareness run
    at the final awareness on the same corpus."""
    p = SCHEDULED.replace(awareness_schedule=kind, retrospection=1.0, n_documents=n, batch_size=batch)
    corpus = build_corpus(p, seed=9)
    scheduled = run_family(corpus, p, LEVELS, record=False).final_log_odds()
    constant = p.replace(sa_start=None, awareness_schedule="constant", retrospection=0.0)
    reference = run_family(corpus, constant, LEVELS, record=False).final_log_odds()
    assert_allclose(scheduled, reference, rtol=1e-12, atol=1e-12)


def test_partial_retrospection_interpolates_as_read_and_final():
    """r = 0.3 gives 0.7 * (log-odds as read) + 0.3 * (log-odds at final awareness)."""
    corpus = build_corpus(SCHEDULED, seed=2)
    runs = {r: run_family(corpus, SCHEDULED.replace(retrospection=r), LEVELS, record=False).final_log_odds()
            for r in (0.0, 0.3, 1.0)}
    assert_allclose(runs[0.3], 0.7 * runs[0.0] + 0.3 * runs[1.0], rtol=1e-12, atol=1e-12)


def test_retrospection_changes_nothing_at_constant_awareness():
    """Re-reading at the same awareness gives the same log-odds, whatever r."""
    p = Params(n_documents=800)
    corpus = build_corpus(p, seed=1)
    base = run_family(corpus, p, LEVELS, record=False).final_log_odds()
    for r in (0.4, 1.0):
        again = run_family(corpus, p.replace(retrospection=r), LEVELS, record=False).final_log_odds()
        assert_allclose(again, base, rtol=1e-12, atol=1e-12)


def test_retrospection_does_not_move_the_self_model_or_emergence():
    """Retrospection only recomputes the final log-odds: a, b, emergence and the as-read path are unchanged."""
    corpus = build_corpus(SCHEDULED, seed=3)
    a = run_family(corpus, SCHEDULED, LEVELS, record=False).state
    b = run_family(corpus, SCHEDULED.replace(retrospection=1.0), LEVELS, record=False).state
    assert_array_equal(a.log_odds, b.log_odds)
    assert_array_equal(a.a, b.a)
    assert_array_equal(a.b, b.b)
    assert_array_equal(a.emergence_document, b.emergence_document)
    constants = learner_constants(SCHEDULED.replace(retrospection=0.0), 0.6)
    assert_array_equal(final_log_odds(a, constants), a.log_odds)


# -- log-space accumulation ---------------------------------------------------------------

#: Three planted documents whose likelihood ratios are about e^438, e^346 and e^339.
EXTREME_ROWS = [(3.81, True, False, False, True, False), (0.27, True, False, False, True, False),
                (0.0, True, False, False, True, False)]


@pytest.mark.parametrize(
    "rates", [dict(candid_plant_rate=1e-300), dict(candid_plant_rate=0.3, deceptive_plant_rate=1e-300)]
)
def test_log_odds_do_not_overflow_with_extreme_planting_rates(rates):
    """Documents with huge (or tiny) evidence ratios, e.g. eps = 1e-300, still give finite log-odds
    equal to logit(pi_0) plus the sum of the increments (docs/model.md §9: no overflow)."""
    p = Params(synthetic_detectability=26.0, **rates)
    constants = learner_constants(p, 0.6)
    batch = make_batch(EXTREME_ROWS)
    s = np.array([1.0])
    delta = increment(perceive(batch, s, constants), batch, s, constants)
    assert np.all(np.isfinite(delta)) and np.all(np.abs(delta) > 300)
    state = read_batch(initial_state(1, constants, s), batch, s, s, constants)
    assert np.all(np.isfinite(state.log_odds)), state.log_odds
    assert_allclose(state.log_odds, constants.prior_log_odds + delta.sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("s", [0.0, 0.4, 0.65, 1.0])
def test_read_batch_log_odds_are_prior_plus_sum_of_increments(s):
    """On a real corpus, read_batch's log-odds equal logit(pi_0) plus the sum of increment()."""
    p = Params(n_documents=3000, batch_size=3000, disclosed_fraction=0.05, control_likelihood_ratio=2.0)
    corpus = build_corpus(p, seed=13)
    constants = learner_constants(p, corpus.learner_real_cited_rate(p))
    batch = next(corpus.batches(p.batch_size))
    aw = np.array([s])
    state = read_batch(initial_state(1, constants, aw), batch, aw, aw, constants)
    delta = increment(perceive(batch, aw, constants), batch, aw, constants)[0]
    assert_allclose(state.log_odds, [constants.prior_log_odds + delta.sum()], rtol=1e-11, atol=1e-11)
    path = constants.prior_log_odds + np.cumsum(delta)
    crossed = np.flatnonzero(path >= EMERGENCE_LEVEL)
    want = float(crossed[0] + 1) if crossed.size else float("nan")
    assert_array_equal(state.emergence_document, [want])


# -- the fast path's exponential ------------------------------------------------------------


def test_fast_exponential_matches_math_exp_over_its_whole_range():
    """_exp_neg(x) (plain-arithmetic exp(-x) of the fast path, used for 0 <= x <= 60) is within its
    documented relative error of 1e-13 of math.exp(-x) everywhere on [0, 60]: a fine uniform grid,
    random points, and both ends."""
    from sim.learner import _FAST_LOG_LR_CAP, _exp_neg

    assert _FAST_LOG_LR_CAP == 60.0
    x = np.concatenate([
        np.linspace(0.0, 60.0, 120_001),
        np.random.default_rng(10).uniform(0.0, 60.0, 30_000),
        [0.0, 1e-300, 5e-324, 1e-8, math.log(2.0), 59.999999, 60.0],
    ])
    got = np.array([_exp_neg(float(v)) for v in x])
    want = np.array([math.exp(-float(v)) for v in x])
    rel = np.abs(got - want) / want
    worst = int(np.argmax(rel))
    assert rel[worst] < 1e-13, f"relative error {rel[worst]:.3g} at x = {x[worst]!r}"
    assert _exp_neg(0.0) == 1.0


# -- log-space evidence and folded products, against plain float64 ------------------------------

EVIDENCE_RATES = [(0.3, 0.01), (1e-300, 0.3), (0.3, 1e-300), (0.0, 0.3), (0.3, 0.0), (1.0, 0.01), (0.01, 1.0),
                  (1.0, 0.0), (0.0, 1.0), (0.999999, 0.5)]


@pytest.mark.parametrize("rates", EVIDENCE_RATES, ids=[f"{a:g}-{b:g}" for a, b in EVIDENCE_RATES])
def test_evidence_equals_the_log_sum_exp_formula_over_the_whole_line(rates):
    """Delta(log Lambda) = log(pi_D Lambda + 1 - pi_D) - log(eps Lambda + 1 - eps), computed here with
    numpy's logaddexp, for log Lambda from -10^4 to 10^4: through the linear ratio where it is in
    [1e-100, 1e100] and the log-space fallback (_log_mix) beyond, with planting rates 0, 1 and 1e-300.
    Agreement to a few units in the last place of the terms, 1e-14 (1 + |log Lambda|)."""
    from sim.learner import evidence

    pi_d, eps = rates
    x = np.concatenate([np.linspace(-800.0, 800.0, 3201),
                        [-1e4, -745.2, -709.8, -230.3, -1e-9, 0.0, 1e-9, 230.3, 709.8, 745.2, 1e4]])
    with np.errstate(divide="ignore"):
        want = (np.logaddexp(np.log(pi_d) + x, np.log1p(-pi_d)) - np.logaddexp(np.log(eps) + x, np.log1p(-eps)))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        got = evidence(x, pi_d, eps)
    assert np.all(np.isfinite(got)) and np.all(np.isfinite(want))
    err = np.abs(got - want) / (1.0 + np.abs(x))
    worst = int(np.argmax(err))
    assert err[worst] <= 1e-14, f"Delta({x[worst]!r}) = {got[worst]!r}, want {want[worst]!r}"


#: No style or citation cue (Lambda = 1), so a control document adds exactly s log kappa and a
#: disclosed one s log beta; with log kappa = 13 and log beta = -13 a long batch moves the log-odds
#: by tens of thousands, far beyond what a running product of ratios can hold without folding.
FOLD = Params(synthetic_detectability=0.0, believed_planted_cited_rate=0.6, control_likelihood_ratio=math.exp(13.0),
              disclosure_likelihood_ratio=math.exp(-13.0))


@pytest.mark.parametrize("rates", [{}, {"candid_plant_rate": 0.0}], ids=["fast-path", "general-path"])
@pytest.mark.parametrize("kind", ["control", "disclosed", "mixed"])
def test_long_batches_fold_their_products_exactly(rates, kind):
    """2,000 documents of one batch, each moving the log-odds by +-13 s: the log-odds equal
    logit(pi_0) + s (n_control log kappa + n_disclosed log beta), finite, on the fast path (products
    folded every 16 documents) and the general one (folded beyond 1e+-150), and the emergence
    document is the first at which the exact path reaches log 9."""
    from sim.learner import _fast_path

    p = FOLD.replace(**rates)
    constants = learner_constants(p, 0.6)
    assert _fast_path(constants) == (not rates)
    if kind == "control":
        rows = [CTRL] * 2000
    elif kind == "disclosed":
        rows = [DISC] * 2000
    else:  # 1,200 disclosed then 800 control documents: down by 15,600 s, then back up by 10,400 s
        rows = [DISC] * 1200 + [CTRL] * 800
    s = np.array([0.3, 1.0])
    state = read_batch(initial_state(2, constants, s), make_batch(rows), s, s, constants)
    steps = np.array([13.0 if row is CTRL else -13.0 for row in rows])
    prior = math.log(0.05 / 0.95)
    want = prior + np.outer(s, np.cumsum(steps))
    assert np.all(np.isfinite(state.log_odds))
    assert_allclose(state.log_odds, want[:, -1], rtol=1e-12)
    for j in range(2):
        crossed = np.flatnonzero(want[j] >= EMERGENCE_LEVEL)
        expected = float(crossed[0] + 1) if crossed.size else math.nan
        assert_array_equal(state.emergence_document[j], expected)


@pytest.mark.parametrize("steepness", [0.5, 4.0, 10.0, 30.0])
def test_logistic_schedule_is_the_documented_rescaled_expit(steepness):
    """s_t = s_0 + (s - s_0) x~_t with x~ = (expit(constants (x - 1/2)) - expit(-constants/2)) / (expit(constants/2) - expit(-constants/2))
    and x = t / (T - 1) (docs/model.md), evaluated here with scipy's expit in float64."""
    from scipy.special import expit

    s0, final = 0.1, np.array([0.35, 0.9, 1.0])
    p = Params(sa_start=s0, awareness_schedule="logistic", schedule_steepness=steepness)
    for n_batches in (2, 7, 50):
        x = np.arange(n_batches) / (n_batches - 1)
        constants = steepness
        tilde = (expit(constants * (x - 0.5)) - expit(-constants / 2)) / (expit(constants / 2) - expit(-constants / 2))
        want = s0 + (final[:, None] - s0) * tilde[None, :]
        assert_allclose(awareness_schedule(final, n_batches, p), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("pi_hat", [0.0, 1e-300, 0.0245, 0.5, 1 - 1e-9, 1.0])
def test_planted_belief_is_expit_of_logit_pi_hat_plus_log_lambda_over_the_whole_line(pi_hat):
    """p_hat = pi_hat Lambda / (pi_hat Lambda + 1 - pi_hat) = expit(logit(pi_hat) + log Lambda), computed
    here with scipy's expit in float64, for log Lambda from -10^4 to 10^4 (exp(-|log Lambda|) underflows
    beyond 745) and pi_hat from 0 to 1 (pi_D = epsilon = pi_hat fixes pi_hat whatever P(D) is)."""
    from scipy.special import expit, logit

    constants = learner_constants(Params(candid_plant_rate=pi_hat, deceptive_plant_rate=pi_hat), 0.6)
    x = np.concatenate([np.linspace(-800.0, 800.0, 1601), [-1e4, -745.2, -709.8, 0.0, 709.8, 745.2, 1e4]])
    batch = make_batch([(0.0, False, False, False, True, False)] * x.size)
    got = planted_belief(np.array([0.0]), x[None, :], batch, constants)[0]
    with np.errstate(divide="ignore"):
        want = expit(logit(pi_hat) + x)
    assert_allclose(got, want, rtol=1e-13, atol=1e-300)


def test_expit_and_logit_are_scipys_bit_for_bit():
    """sim.rules' logistic function and log-odds (written there so that a sweep does
    not import scipy.special) give scipy.special's bits: the same formulas (scipy's
    xsf/log_exp.h) on the same C library, over a million values and the edges."""
    scipy = pytest.importorskip("scipy")
    from scipy.special import expit as scipy_expit, logit as scipy_logit

    from sim.rules import expit, logit

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 5, 10**6), rng.normal(0, 400, 10**4),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 709.0, -709.0, 709.8, -709.8, 745.2, -745.2, 1e-300]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow on the way to 0
        ours = expit(np.concatenate([x, [-1e308]]))[:-1]
    assert ours.shape == x.shape and ours.dtype == np.float64
    assert_array_equal(ours.view(np.int64), scipy_expit(x).view(np.int64))
    assert_array_equal(expit(x.reshape(-1, 2)).ravel().view(np.int64), ours.view(np.int64))
    assert expit(-800.0) == 0.0 and expit(800.0) == 1.0 and math.isnan(expit(math.nan))
    if tuple(int(v) for v in scipy.__version__.split(".")[:2]) < (1, 15):
        pytest.skip("scipy < 1.15 has the plain log(p / (1 - p)) near 1/2 (scipy PR 21388)")
    p = np.concatenate([rng.random(10**5), rng.random(10**4) * 1e-9, 1 - rng.random(10**4) * 1e-9,
                        [0.0, -0.0, 1.0, 0.3, 0.65, 0.5, 1e-300, -0.5, 1.5, np.inf, -np.inf, np.nan]])
    mine = np.array([logit(v) for v in p])
    assert_array_equal(mine.view(np.int64), scipy_logit(p).view(np.int64))
