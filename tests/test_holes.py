"""Holes in the corpus (docs/model.md §5.7): the lab filters real documents, the references
to them dangle, and a learner that hypothesises deceptive makers filter more can notice.

The corpus rule against hand-made graphs, the lab's removals, invariants (probabilities,
awareness 0, more holes never lower the log-odds), both drivers and every executor, the
mean field, bad inputs. Off means off (``filtered_fraction = 0``, hypotheses at their
defaults) is tests/test_off_means_off.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sim import Params, meanfield, simulate
from sim.corpus import DISCLOSED, PLANTED, REAL, Corpus, CorpusBatch, build_corpus, choose_removed, removed_count
from sim.engine import final_table, run_family
from sim.learner import initial_state, learner_constants, read_corpus
from sim.params import ParameterError
from sim.rules import maker_readouts
from sim.sweeps import plan_sweep, run_sweep

from small_runs import SMALL, assert_cli_refuses, assert_drivers_agree, assert_reacting_runs_agree

HOLES = dict(deceptive_filter_rate=0.2)  # the learner hypothesises deceptive makers filter ten times more


# -- the corpus rule, on hand-made graphs ------------------------------------------------------
def _hand_made(removed):
    """Documents 0-2 real, 3 planted, 4 real, 5 disclosed; 1 cites 0; 2 cites 0 and 1; 3 cites 0
    and 2; 4 cites 1 and 2 (real and planted documents cite real ones only)."""
    kind = np.array([REAL, REAL, REAL, PLANTED, REAL, DISCLOSED], dtype=np.int8)
    source = np.array([1, 2, 2, 3, 3, 4, 4])
    target = np.array([0, 0, 1, 0, 2, 1, 2])
    kept = np.flatnonzero(~np.asarray(removed, bool)) if removed is not None else np.arange(6)
    return Corpus(kind=kind, positive=np.array([1, 0, 0, 1, 1, 0], bool), control=np.zeros(6, bool),
                  style_noise=np.zeros(6), cite_source=source, cite_target=target, reading_order=kept[::-1].copy(),
                  synthetic_detectability=2.5, removed=None if removed is None else np.asarray(removed, bool))


def test_dangling_references_are_counted_exactly():
    corpus = _hand_made([False, True, False, False, False, False])  # the lab removed document 1
    assert_array_equal(corpus.references, [0, 1, 2, 2, 2, 0])
    assert_array_equal(corpus.dangling, [0, 0, 1, 0, 1, 0])  # 2 and 4 cite 1
    # the removed document's own citation (1 -> 0) is gone: 0 is cited by 2 and 3 only (and the
    # removed document 1 by 2 and 4: its references dangle)
    assert_array_equal(corpus.in_degree, [2, 2, 2, 0, 0, 0])
    assert_array_equal(corpus.cited[corpus.kept], [True, True, False, False, False])
    assert corpus.n_documents == 6 and corpus.n_read == 5
    assert corpus.real_cited_rate == pytest.approx(2 / 3)  # kept real documents 0, 2, 4; cited 0 and 2
    cues = corpus.in_reading_order()
    assert_array_equal(cues.references, [0, 2, 2, 2, 0])  # reading order 5, 4, 3, 2, 0
    assert_array_equal(cues.dangling, [0, 1, 0, 1, 0])


def test_removing_a_cited_document_leaves_its_citers_dangling():
    whole = _hand_made(None)
    cut = _hand_made([True, False, False, False, False, False])  # document 0, cited three times
    assert_array_equal(whole.dangling, np.zeros(6))
    assert_array_equal(whole.in_reading_order().dangling, np.zeros(6))  # nothing filtered: every reference there
    assert_array_equal(cut.dangling, [0, 1, 1, 1, 0, 0])
    assert_array_equal(cut.in_degree, whole.in_degree)  # document 0 cites nothing: no citation is lost
    assert cut.real_cited_rate == pytest.approx(2 / 3)  # kept real 1, 2, 4: 1 (by 2, 4) and 2 (by 3, 4) cited


def test_the_lab_removes_documents_showing_misbehaviour_first():
    kind = np.array([REAL] * 6 + [PLANTED], dtype=np.int8)
    draws = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.95])  # shows AI behaving badly above g = 0.5
    p = Params(real_positive_rate=0.5)
    two = choose_removed(kind, draws, p, 2, np.random.default_rng(0))
    assert two.sum() == 2 and set(np.flatnonzero(two)) <= {0, 2, 4}
    four = choose_removed(kind, draws, p, 4, np.random.default_rng(0))
    assert set(np.flatnonzero(four)) >= {0, 2, 4} and not four[6]  # every bad one, then a good real one
    assert choose_removed(kind, draws, p, 0, np.random.default_rng(0)) is None
    # a lab that later turns a kept real document into a planted one keeps its removals
    later = kind.copy()
    later[np.flatnonzero(~two & (kind == REAL))[0]] = PLANTED
    assert_array_equal(choose_removed(later, draws, p, 2, np.random.default_rng(0)), two)


@pytest.mark.parametrize("phi,rho,eta", [(0.2, 0.15, 0.0), (0.4, 0.0, 0.1), (0.05, 0.3, 0.2)])
def test_the_training_corpus_keeps_its_size_and_shares(phi, rho, eta):
    p = Params(n_documents=20_000, filtered_fraction=phi, planted_fraction=rho, disclosed_fraction=eta)
    corpus = build_corpus(p, 3)
    assert corpus.n_read == p.n_documents
    assert corpus.removed.sum() == removed_count(p) == corpus.n_documents - p.n_documents
    assert (corpus.kind[corpus.removed] == REAL).all() and not corpus.positive[corpus.removed].any()
    assert np.isin(corpus.reading_order, np.flatnonzero(corpus.removed)).sum() == 0
    read = corpus.kind[corpus.reading_order]
    assert abs((read == PLANTED).mean() - rho) < 0.015 and abs((read == DISCLOSED).mean() - eta) < 0.015
    kept = corpus.kept
    share = corpus.dangling[kept].sum() / corpus.references[kept].sum()  # laundering 0: every citation to a real one
    assert abs(share - phi) < 0.02


# -- the learner: invariants -----------------------------------------------------------------------
def _cues(n, rng, dangling_extra=None):
    references = np.where(rng.random(n) < 0.1, 0, 3)
    dangling = rng.binomial(references, 0.2)
    if dangling_extra is not None:
        dangling = np.minimum(references, dangling + dangling_extra)
    return CorpusBatch(style_noise=rng.standard_normal(n), planted=rng.random(n) < 0.15,
                       disclosed=rng.random(n) < 0.05, cited=rng.random(n) < 0.6, positive=rng.random(n) < 0.5,
                       control=rng.random(n) < 0.1, references=references, dangling=dangling)


@given(seed=st.integers(0, 10_000), awareness=st.floats(0.0, 1.0), f_d=st.floats(0.03, 0.6),
       filters_only=st.floats(0.0, 0.5), plants_only=st.floats(0.0, 0.5), benevolent=st.floats(0.0, 0.4))
def test_more_holes_never_lower_the_log_odds_of_deception(seed, awareness, f_d, filters_only, plants_only, benevolent):
    """Where deceptive makers are hypothesised to filter more than candid ones, a corpus with
    more dangling references (the same otherwise) never gives lower log-odds of deception,
    under every mixture of the deceptive sub-hypotheses and with benevolent makers."""
    p = Params(deceptive_filter_rate=f_d, deceptive_filters_only=filters_only, deceptive_plants_only=plants_only,
               prior_benevolent=benevolent, batch_size=50)
    rng = np.random.default_rng(seed)
    base = _cues(300, rng)
    more = base._replace(dangling=np.minimum(base.references, base.dangling + (rng.random(300) < 0.3)))
    constants = learner_constants(p, 0.6)
    levels = np.array([awareness, 0.5, 1.0])
    schedule = np.repeat(levels[:, None], 6, axis=1)
    read = [read_corpus(initial_state(3, constants, levels), cues, schedule, levels, 50, constants)
            for cues in (base, more)]
    deceptive = [maker_readouts(r.log_odds, r.holes, r.mistrust, r.hypotheses)[0] for r in read]
    assert (deceptive[1] >= deceptive[0] - 1e-9 * (1 + np.abs(deceptive[0]))).all()
    if awareness == 0.0:  # an unaware learner notices no hole
        assert deceptive[1][0] == deceptive[0][0]


@given(phi=st.floats(0.0, 0.6), f_d=st.floats(0.005, 0.5), filters_only=st.floats(0.0, 1.0),
       awareness=st.floats(0.0, 1.0))
def test_probabilities_stay_probabilities(phi, f_d, filters_only, awareness):
    p = Params(n_documents=800, batch_size=200, filtered_fraction=phi, deceptive_filter_rate=f_d,
               deceptive_filters_only=filters_only, planted_fraction=0.1)
    run = run_family(build_corpus(p, 5), p, np.array([awareness, 1.0]), record=False)
    table = final_table(np.array([awareness, 1.0]), run.state, run.constants, p)
    assert table["p_deceptive"].between(0, 1).all() and np.isfinite(table["log_odds"]).all()
    assert table["persona"].isin(["aligned", "neutral", "rebel"]).all()


def test_at_awareness_zero_holes_change_nothing():
    """An unaware learner reads the filtered corpus alike whether or not it expects deceptive
    makers to filter more (the same sub-hypotheses otherwise): the holes tell it nothing."""
    p = Params(filtered_fraction=0.3, deceptive_filters_only=0.3, **SMALL)
    corpus = build_corpus(p, 8)
    plain = run_family(corpus, p, np.array([0.0]), record=False)
    aware = run_family(corpus, p.replace(**HOLES), np.array([0.0]), record=False)
    a = final_table(np.array([0.0]), plain.state, plain.constants, p)
    b = final_table(np.array([0.0]), aware.state, aware.constants, p.replace(**HOLES))
    for column in ("p_deceptive", "uplift", "believed_planted_share", "persona"):
        assert_array_equal(a[column], b[column], err_msg=column)


def test_the_hole_evidence_is_the_declared_sum():
    """One batch at awareness s: the log-odds move by the two-hypothesis evidence plus s sum h_i."""
    p = Params(n_documents=3000, batch_size=3000, filtered_fraction=0.25)
    corpus = build_corpus(p, 2)
    s = np.array([0.4, 0.9])
    plain = run_family(corpus, p, s, record=False)
    holes = run_family(corpus, p.replace(**HOLES), s, record=False)
    cues = corpus.in_reading_order()
    h = (cues.dangling * math.log(0.2 / 0.02) + (cues.references - cues.dangling) * math.log(0.8 / 0.98)).sum()
    assert_allclose(holes.state.holes, s * h, rtol=1e-12)
    assert_allclose(holes.state.log_odds - plain.state.log_odds, s * h, rtol=1e-9, atol=1e-9)


# -- drivers and executors ------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [
    dict(filtered_fraction=0.2, **HOLES),
    dict(filtered_fraction=0.3, deceptive_filter_rate=0.1, deceptive_filters_only=0.4, prior_benevolent=0.1,
         sa_start=0.2, awareness_schedule="linear", retrospection=0.5),
])
def test_mesa_model_and_engine_agree_bit_for_bit(extra):
    assert_drivers_agree(Params(**SMALL, **extra), [0.0, 0.3, 0.7, 1.0], seed=6)


@pytest.mark.parametrize("extra", [dict(lab_policy="double_down", alarm_level=0.2), dict(generations=3)])
def test_reacting_labs_and_generations_are_the_same_through_both_drivers(extra):
    p = Params(filtered_fraction=0.2, deceptive_filter_rate=0.05, planted_fraction=0.1, **SMALL, **extra)
    assert_reacting_runs_agree(p, [0.2, 0.8], np.random.SeedSequence(4, spawn_key=(1, 0)))
    # every generation's training corpus has N documents, none of them removed
    trajectory = simulate(p, [0.2, 0.8], seed=np.random.SeedSequence(4, spawn_key=(1, 0))).trajectory
    assert trajectory["documents_read"].max() == p.n_documents


def test_one_table_whatever_the_executor():
    plan = plan_sweep(Params(**SMALL, **HOLES), grid={"situational_awareness": "0.2:1:3",
                                                      "filtered_fraction": [0.0, 0.3],
                                                      "deceptive_filters_only": [0.0, 1.0]}, replicates=2, seed=3)
    serial = run_sweep(plan, executor="serial", progress=False)
    for executor in ("thread", "process"):
        pd.testing.assert_frame_equal(run_sweep(plan, executor=executor, workers=2, progress=False), serial)


# -- the mean field -----------------------------------------------------------------------------
def test_mean_hole_evidence_matches_the_corpus():
    """The mean field's per-document hole evidence at s = 1 against built corpora's (the share of
    references that dangle varies from corpus to corpus: a removed hub takes many; 6 corpora)."""
    p = Params(n_documents=20_000, filtered_fraction=0.3, **HOLES)
    means = []
    for seed in range(6):
        cues = build_corpus(p, seed).in_reading_order()
        means.append((cues.dangling * math.log(0.2 / 0.02)
                      + (cues.references - cues.dangling) * math.log(0.8 / 0.98)).mean())
    with_holes = meanfield.moments(p, 1.0, real_cited_rate=0.6)[0]
    without = meanfield.moments(p.replace(deceptive_filter_rate=0.02), 1.0, real_cited_rate=0.6)[0]
    assert float(with_holes - without) == pytest.approx(np.mean(means), rel=0.05)


def test_mean_field_follows_the_simulated_rebel_share():
    p = Params(n_documents=3000, planted_fraction=0.0, filtered_fraction=0.1, deceptive_filter_rate=0.1)
    levels = np.array([0.2, 0.5, 0.8, 1.0])
    shares = np.mean([final_table(levels, r.state, r.constants, p)["persona"].eq("rebel").to_numpy()
                      for r in (run_family(build_corpus(p, seed), p, levels, record=False) for seed in range(16))],
                     axis=0)
    curve = meanfield.p_rebel(p, levels)
    assert np.abs(shares - curve).max() <= 0.25


def test_sub_hypotheses_have_no_mean_field_and_say_so():
    p = Params(deceptive_filters_only=0.5, **HOLES)
    assert not meanfield.has_mean_field(p)
    with pytest.raises(ValueError, match="deceptive_filters_only and deceptive_plants_only have no mean field"):
        meanfield.p_rebel(p, [0.5])


# -- bad inputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("values,message", [
    (dict(filtered_fraction=1.0), "filtered_fraction = 1 is out of bounds"),
    (dict(deceptive_filters_only=0.7, deceptive_plants_only=0.5), "deceptive_filters_only \\+ deceptive_plants_only"),
    (dict(candid_filter_rate=0.0), "candid_filter_rate = 0 is out of bounds"),
    (dict(deceptive_filter_rate=0.3, learner_model="learning"), "learner_model is 'learning'"),
])
def test_bad_values_are_refused_in_one_line(values, message):
    with pytest.raises(ParameterError, match=message):
        Params(**values)


def test_the_cli_refuses_a_bad_filtered_share_with_exit_2(tmp_path):
    assert_cli_refuses(tmp_path, "filtered_fraction=1.5", "filtered_fraction")
