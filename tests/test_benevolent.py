"""Benevolent makers, a third hypothesis (docs/model.md §3.2): the structure, its exact
limits, invariants, both drivers and every executor, the mean field, bad inputs.

Off means off (``prior_benevolent = 0`` gives every existing number bit for bit) is
tests/test_off_means_off.py.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit

from sim import Params, meanfield, simulate
from sim.corpus import build_corpus
from sim.engine import final_table, run_family
from sim.learner import EMERGENCE_LEVEL, increment, learner_constants, perceive
from sim.params import ParameterError
from sim.schema import FINAL_COLUMNS, GENERATION_COLUMNS, TRAJECTORY_COLUMNS
from sim.sweeps import plan_sweep, run_sweep

from small_runs import SMALL, assert_cli_refuses, assert_drivers_agree, assert_reacting_runs_agree


def _rebel_share(params: Params, awareness: float, seeds: range) -> float:
    return float(np.mean([simulate(params, [awareness], seed=seed).final["persona"].iloc[0] == "rebel"
                          for seed in seeds]))


# -- the structure at work (issue 16 item 4) ------------------------------------------------------
def test_benevolent_prior_removes_the_backfire_until_control_discourse_speaks_for_mistrust():
    """4,000 documents, planted share 0.2, awareness 0.9, 10 seeds: a benevolent prior of
    0.5 with uninformative control discourse (ratio 1) leaves the rebel share well below
    the two-hypothesis learner's; informative control discourse (ratio 10, share 0.1)
    brings it back."""
    base = Params(n_documents=4000, planted_fraction=0.2)
    seeds = range(10)
    two = _rebel_share(base, 0.9, seeds)
    absorbed = _rebel_share(base.replace(prior_benevolent=0.5), 0.9, seeds)
    back = _rebel_share(base.replace(prior_benevolent=0.5, control_likelihood_ratio=10.0,
                                     control_discourse_fraction=0.1), 0.9, seeds)
    assert two >= 0.9
    assert absorbed <= two - 0.5
    assert back >= two - 0.1


def test_without_mistrust_evidence_the_prior_ratio_of_the_planting_makers_never_moves():
    """Known answer: with control discourse uninformative (kappa = 1) and nothing disclosed,
    deceptive and benevolent makers predict every document alike, so P(D)/P(B) stays
    pi_0/pi_B after every batch, however much planting is caught."""
    p = Params(prior_benevolent=0.3, prior_deceptive=0.1, planted_fraction=0.25, **SMALL)
    trajectory = simulate(p, [0.3, 0.9], seed=4).trajectory
    ratio = trajectory["p_deceptive"] / trajectory["p_benevolent"]
    assert_allclose(ratio, 0.1 / 0.3, rtol=1e-9)
    final = simulate(p, [0.9], seed=4).final
    assert final["p_deceptive"].iloc[0] + final["p_benevolent"].iloc[0] > 0.999  # candid makers ruled out
    assert final["persona"].iloc[0] != "rebel"  # P(D) -> pi_0 / (pi_0 + pi_B) = 1/4


def test_emergence_is_the_first_document_at_which_p_deceptive_reaches_nine_tenths():
    """The kernel's emergence document equals the first index at which the three-hypothesis
    P(D) computed from the documents' evidence (sim.learner.increment, the mistrust
    terms taken off for B) reaches 0.9, on one batch at constant awareness."""
    p = Params(n_documents=3000, batch_size=3000, prior_benevolent=0.2, control_likelihood_ratio=4.0,
               disclosed_fraction=0.02)
    corpus = build_corpus(p, 3)
    levels = np.array([0.5, 0.7, 0.9])
    run = run_family(corpus, p, levels, record=False)
    constants = learner_constants(p, corpus.learner_real_cited_rate(p))
    cues = corpus.in_reading_order()
    delta = increment(perceive(cues, levels, constants), cues, levels, constants)
    s = levels.reshape(-1, 1)
    mistrust = np.where(np.asarray(cues.disclosed, bool), s * constants.log_disclosure_ratio,
                        np.where(np.asarray(cues.control, bool), s * constants.log_control_ratio, 0.0))
    ell = constants.prior_log_odds + np.cumsum(delta, axis=1)
    ell_b = constants.benevolent_prior_log_odds + np.cumsum(delta - mistrust, axis=1)
    reached = ell - np.logaddexp(0.0, ell_b) >= EMERGENCE_LEVEL  # log P(D)/(1 - P(D)) >= log 9
    expected = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1.0, np.nan)
    assert np.isfinite(expected).sum() >= 2
    assert_array_equal(run.state.emergence_document, expected)
    # and the final log-odds and mistrust evidence agree with the sums to rounding
    assert_allclose(run.state.log_odds, ell[:, -1], rtol=1e-9, atol=1e-9)
    assert_allclose(run.state.mistrust, mistrust.sum(axis=1), rtol=1e-9, atol=1e-9)


def test_a_vanishing_benevolent_prior_is_the_two_hypothesis_learner():
    """pi_B -> 0: the same personas and P(D) to 1e-9 (the general path against the fast one)."""
    p = Params(**SMALL)
    levels = np.array([0.2, 0.6, 0.7, 1.0])
    corpus = build_corpus(p, 2)
    two = run_family(corpus, p, levels, record=False)
    three = run_family(corpus, p.replace(prior_benevolent=1e-12), levels, record=False)
    a = final_table(levels, two.state, two.constants, p)
    b = final_table(levels, three.state, three.constants, p.replace(prior_benevolent=1e-12))
    assert_array_equal(a["persona"], b["persona"])
    assert_allclose(b["p_deceptive"], a["p_deceptive"], atol=1e-9)
    assert (b["p_benevolent"] < 1e-9).all()


# -- invariants ---------------------------------------------------------------------------------
@given(
    prior_deceptive=st.floats(0.01, 0.5),
    prior_benevolent=st.floats(0.0, 0.45),
    kappa=st.floats(0.2, 20.0),
    disclosed=st.floats(0.0, 0.2),
    awareness=st.floats(0.0, 1.0),
)
def test_the_three_probabilities_are_probabilities_summing_to_one(prior_deceptive, prior_benevolent, kappa,
                                                                  disclosed, awareness):
    p = Params(n_documents=600, batch_size=200, prior_deceptive=prior_deceptive, prior_benevolent=prior_benevolent,
               control_likelihood_ratio=kappa, disclosed_fraction=disclosed)
    run = run_family(build_corpus(p, 1), p, np.array([awareness, 1.0]), record=False)
    table = final_table(np.array([awareness, 1.0]), run.state, run.constants, p)
    p_d, p_b = table["p_deceptive"].to_numpy(), table["p_benevolent"].to_numpy()
    ell = run.state.log_odds  # log P(D)/P(C)
    ell_b = run.constants.benevolent_prior_log_odds + ell - run.constants.prior_log_odds - run.state.mistrust
    p_c = np.exp(-np.logaddexp(np.logaddexp(0.0, ell), ell_b))
    assert np.isfinite(p_d).all() and np.isfinite(p_b).all()
    assert ((0 <= p_d) & (p_d <= 1) & (0 <= p_b) & (p_b <= 1)).all()
    assert_allclose(p_d + p_b + p_c, 1.0, atol=1e-12)
    assert_allclose(p_d, expit(table["log_odds"]), rtol=1e-12)
    if awareness == 0.0:  # an unaware learner sees nothing: its beliefs stay the priors
        assert p_d[0] == pytest.approx(prior_deceptive, rel=1e-9)
        assert p_b[0] == pytest.approx(prior_benevolent, rel=1e-9, abs=1e-300)


def test_every_table_reports_p_benevolent():
    assert {"p_benevolent"} <= set(FINAL_COLUMNS) & set(TRAJECTORY_COLUMNS) & set(GENERATION_COLUMNS)
    r = simulate(Params(prior_benevolent=0.2, generations=2, **SMALL), [0.5, 0.9], seed=1)
    for table in (r.final, r.trajectory, r.generations):
        assert table["p_benevolent"].between(0, 1).all()
        assert (table["p_benevolent"] > 0).any()
    assert (simulate(Params(**SMALL), [0.9], seed=1).final["p_benevolent"] == 0).all()


# -- drivers and executors ------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [
    dict(prior_benevolent=0.4, control_likelihood_ratio=3.0, disclosed_fraction=0.05),
    dict(prior_benevolent=0.2, sa_start=0.1, awareness_schedule="linear", retrospection=0.5,
         control_likelihood_ratio=2.0),
])
def test_mesa_model_and_engine_agree_bit_for_bit(extra):
    assert_drivers_agree(Params(**SMALL, **extra), [0.0, 0.4, 0.7, 1.0], seed=5)


def test_a_reacting_lab_gives_the_same_run_through_both_drivers():
    p = Params(lab_policy="double_down", alarm_level=0.2, prior_benevolent=0.3, control_likelihood_ratio=3.0,
               **SMALL)
    assert_reacting_runs_agree(p, [0.3, 0.9], np.random.SeedSequence(3, spawn_key=(0, 1)))


def test_one_table_whatever_the_executor():
    plan = plan_sweep(Params(**SMALL), grid={"situational_awareness": "0.5:1:3", "prior_benevolent": [0.0, 0.3],
                                             "control_likelihood_ratio": [1.0, 4.0]}, replicates=2, seed=9)
    serial = run_sweep(plan, executor="serial", progress=False)
    for executor in ("thread", "process"):
        pd.testing.assert_frame_equal(run_sweep(plan, executor=executor, workers=2, progress=False), serial)
    assert (serial.loc[serial["prior_benevolent"] == 0, "p_benevolent"] == 0).all()


# -- the mean field -----------------------------------------------------------------------------
def test_mean_field_of_three_hypotheses_is_the_gaussian_one_as_the_benevolent_prior_vanishes():
    s = np.linspace(0.0, 1.0, 21)
    p = Params(control_likelihood_ratio=2.0, disclosed_fraction=0.02)
    two = meanfield.p_rebel(p, s, real_cited_rate=0.6)
    three = meanfield.p_rebel(p.replace(prior_benevolent=1e-9), s, real_cited_rate=0.6)
    assert_allclose(three, two, atol=2e-4)


def test_mean_field_with_a_deterministic_mistrust_evidence_is_a_shifted_gaussian():
    """With kappa = 1 and nothing disclosed M = 0: rebel needs pi_0 > pi_B, and then
    T >= -log((pi_0 - pi_B)/pi_C), a Gaussian tail."""
    from scipy.stats import norm

    p = Params(prior_deceptive=0.3, prior_benevolent=0.1)
    s = np.array([0.5, 0.7, 0.9])
    mu, var = meanfield.moments(p, s, real_cited_rate=0.6)
    n = p.n_documents
    expected = norm.sf((-np.log((0.3 - 0.1) / 0.6) - n * mu) / np.sqrt(n * var))
    assert_allclose(meanfield.p_rebel(p, s, real_cited_rate=0.6), expected, rtol=1e-9, atol=1e-12)
    assert (meanfield.p_rebel(p.replace(prior_benevolent=0.35), s, real_cited_rate=0.6) == 0).all()


def test_large_corpus_threshold_needs_growing_mistrust():
    base = Params(prior_benevolent=0.5)
    assert meanfield.thresholds(base, real_cited_rate=0.6).size == 0  # kappa = 1: no threshold at all
    informative = base.replace(control_likelihood_ratio=2.0)
    assert_allclose(meanfield.thresholds(informative, real_cited_rate=0.6),
                    meanfield.thresholds(informative.replace(prior_benevolent=0.0), real_cited_rate=0.6))
    assert meanfield.thresholds(informative.replace(disclosed_fraction=0.2), real_cited_rate=0.6).size == 0


def test_mean_field_follows_the_simulated_rebel_share():
    """20 corpora per level: the simulated rebel share within 0.25 of the mean field's P(rebel)."""
    p = Params(n_documents=3000, prior_benevolent=0.5, control_likelihood_ratio=1.5)
    levels = np.array([0.3, 0.5, 0.7, 0.9])
    shares = np.mean([final_table(levels, r.state, r.constants, p)["persona"].eq("rebel").to_numpy()
                      for r in (run_family(build_corpus(p, seed), p, levels, record=False) for seed in range(20))],
                     axis=0)
    q = float(np.mean([build_corpus(p, seed).real_cited_rate for seed in range(3)]))
    curve = meanfield.p_rebel(p, levels, real_cited_rate=q)
    assert np.abs(shares - curve).max() <= 0.25
    assert shares[0] < shares[-1]


# -- bad inputs ---------------------------------------------------------------------------------
def test_priors_summing_to_one_or_more_are_refused_in_one_line():
    with pytest.raises(ParameterError, match=r"prior_deceptive \+ prior_benevolent = 1\.05 .*below 1"):
        Params(prior_deceptive=0.1, prior_benevolent=0.95)
    with pytest.raises(ParameterError, match="prior_benevolent is set but learner_model is 'learning'"):
        Params(prior_benevolent=0.1, learner_model="learning")
    with pytest.raises(ParameterError, match="prior_benevolent"):
        Params(prior_benevolent=1.0)


def test_the_cli_refuses_a_bad_benevolent_prior_with_exit_2(tmp_path):
    assert_cli_refuses(tmp_path, "prior_benevolent=0.96", "prior_benevolent")
