"""The lab (sim.labs, sim.agents.Lab): its policies' rule, its reactions in a run, its statements.

What is checked: each lab policy (static, double_down, come_clean) reacts as specified
to a hand-made signal; a reaction changes only unread documents; a lab that never acts,
or whose alarm changes no share, reports what a static lab reports; the statement is
evidence s log beta_s, read once by a learner whose lab came clean, also when it is
published at a run's end (the next generation reads it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sim import Params, meanfield, simulate
from sim.agents import Lab
from sim.corpus import PLANTED, REAL
from sim.labs import LabState, initial_lab, react
from sim.learner import EMERGENCE_LEVEL, initial_state, learner_constants, read_statement
from sim.model import PersonaModel
from sim.schema import FINAL_COLUMNS
from sim.sweeps import run_replicate
from small_runs import SMALL


# -- lab policies: the rule ------------------------------------------------------------
@pytest.mark.parametrize("policy", ["static", "double_down", "come_clean"])
def test_no_policy_reacts_below_the_alarm_level(policy):
    p = Params(lab_policy=policy, alarm_level=0.3)
    lab = initial_lab(p)
    assert react(lab, 0.2999, p) == (lab, 0)
    assert react(lab, float("nan"), p) == (lab, 0)  # a missing signal is no alarm


def test_static_lab_never_reacts():
    p = Params(lab_policy="static", alarm_level=0.01)
    lab = initial_lab(p)
    assert react(lab, 1.0, p) == (lab, 0)


def test_double_down_raises_planting_by_the_step_at_every_alarm_up_to_the_cap():
    p = Params(lab_policy="double_down", planted_fraction=0.15, disclosed_fraction=0.3, alarm_level=0.4,
               planting_step=0.2)
    lab = initial_lab(p)
    shares = []
    for _ in range(5):
        lab, statements = react(lab, 0.4, p)  # exactly at the alarm level: reacts
        assert statements == 0
        shares.append(lab.planted_fraction)
    assert_allclose(shares, [0.35, 0.55, 0.7, 0.7, 0.7])  # capped at 1 - disclosed share
    assert lab.alarms == 5 and lab.disclosed_fraction == 0.3 and not lab.came_clean


def test_come_clean_stops_planting_discloses_and_publishes_one_statement():
    p = Params(lab_policy="come_clean", planted_fraction=0.2, disclosed_fraction=0.05, alarm_level=0.5)
    first = react(initial_lab(p), 0.9, p)
    assert first.statements == 1
    assert first.lab == LabState(planted_fraction=0.0, disclosed_fraction=0.25, alarms=1, came_clean=True)
    again = react(first.lab, 0.99, p)
    assert again.statements == 0  # later alarms change nothing more
    assert again.lab.planted_fraction == 0.0 and again.lab.disclosed_fraction == 0.25
    assert again.lab.alarms == 2


def test_a_lab_that_plants_nothing_has_nothing_to_come_clean_about():
    p = Params(lab_policy="come_clean", planted_fraction=0.0, disclosed_fraction=0.1)
    lab, statements = react(initial_lab(p), 0.99, p)
    assert statements == 0 and not lab.came_clean and lab.alarms == 1
    assert (lab.planted_fraction, lab.disclosed_fraction) == (0.0, 0.1)


def test_lab_agent_reaction_changes_only_the_unread_documents():
    """Lab.evaluate re-thresholds the same uniforms for unread documents only."""
    p = Params(lab_policy="double_down", planting_step=0.3, **SMALL)
    model = PersonaModel(p, awareness=[0.5], seed=4, record=False)
    lab: Lab = model.lab
    before = lab.kinds.copy()
    unread = model.corpus.reading_order[1000:]
    read = model.corpus.reading_order[:1000]
    changed, statements = lab.evaluate(0.9, unread)
    assert changed and statements == 0
    assert_array_equal(lab.kinds[read], before[read])
    # every unread document planted before stays planted; some real ones became planted
    assert np.all(lab.kinds[unread][before[unread] == PLANTED] == PLANTED)
    turned = (before[unread] == REAL) & (lab.kinds[unread] == PLANTED)
    assert turned.any()
    u = lab.plan.uniforms[unread]
    assert np.all((u[turned] >= 0.15) & (u[turned] < 0.45))



# -- lab policies: in a run ------------------------------------------------------------
def test_an_alarm_mid_run_changes_the_rest_of_the_corpus_only():
    """An adaptive lab whose learner alarms it: the documents read before the first
    evaluation are those of the static run; after it, the planted share moves."""
    common = dict(alarm_level=0.05, evaluation_interval=5, **SMALL)  # the prior is 0.05: alarms at once
    static = PersonaModel(Params(**common), awareness=[0.9], seed=1, record=False)
    doubled = PersonaModel(Params(lab_policy="double_down", planting_step=0.2, **common), awareness=[0.9], seed=1,
                           record=False)
    doubled.run_for(doubled.n_steps)
    order = static.corpus.reading_order
    assert_array_equal(doubled.corpus.reading_order, order)
    first = order[: 5 * 100]
    assert_array_equal(doubled.corpus.kind[first], static.corpus.kind[first])
    assert doubled.lab.state.planted_fraction > 0.15
    assert (doubled.corpus.kind == PLANTED).mean() > (static.corpus.kind == PLANTED).mean() + 0.1


def test_a_lab_that_never_acts_reports_what_a_static_lab_reports():
    base = Params(n_documents=3000)
    static, _ = run_replicate(base, np.array([0.3, 0.9]), np.random.SeedSequence(11))
    idle, _ = run_replicate(base.replace(lab_policy="come_clean", evaluation_interval=10_000_000),
                            np.array([0.3, 0.9]), np.random.SeedSequence(11))
    for c in FINAL_COLUMNS:
        assert_array_equal(np.asarray(static[c]), np.asarray(idle[c]), err_msg=c)


def test_a_lab_whose_alarm_changes_no_share_reports_the_static_paranoia():
    """double_down at its cap (planted + disclosed = 1) alarms but changes nothing:
    the static paranoia of docs/model.md §3 (against rho, not the corpus's realised share)."""
    base = Params(n_documents=2000, planted_fraction=0.6, disclosed_fraction=0.4)
    static, _ = run_replicate(base, np.array([0.5, 1.0]), np.random.SeedSequence(3))
    capped, _ = run_replicate(base.replace(lab_policy="double_down", alarm_level=1e-12), np.array([0.5, 1.0]),
                              np.random.SeedSequence(3))
    assert np.all(capped["lab_alarms"] > 0) and np.all(capped["lab_planted_fraction"] == 0.6)
    for c in ("paranoia", "p_deceptive", "believed_planted_share"):
        assert_array_equal(capped[c], static[c], err_msg=c)



# -- statements ------------------------------------------------------------------------
def test_come_clean_statement_is_read_as_evidence_s_log_beta():
    constants = learner_constants(Params(), 0.6)
    state = initial_state(3, constants, np.array([0.0, 0.5, 1.0]))
    s = np.array([0.0, 0.5, 1.0])
    after = read_statement(state, s, np.array([1.0, 1.0, 1.0]), np.log(0.1))
    assert_allclose(after.log_odds - state.log_odds, s * np.log(0.1))
    assert_allclose(after.retro_log_odds - state.retro_log_odds, np.log(0.1))  # weighed at the final awareness
    assert_array_equal(after.documents_read, [1, 1, 1])
    assert_array_equal(after.a, state.a)
    # a statement that is evidence for deception can make the learner emerge
    up = read_statement(state, s, s, np.log(1e6))
    assert_array_equal(np.isnan(up.emergence_document), up.log_odds < EMERGENCE_LEVEL)
    assert up.emergence_document[2] == 1.0


def test_come_clean_run_reads_one_statement_and_ends_disclosing():
    p = Params(lab_policy="come_clean", alarm_level=0.3, **SMALL)
    model = PersonaModel(p, awareness=[1.0], seed=2, record=False)
    model.run_for(model.n_steps)
    lab = model.lab.state
    assert lab.came_clean and lab.planted_fraction == 0.0 and lab.disclosed_fraction == pytest.approx(0.15)
    learner = model.learners[0]
    assert learner.documents_read == p.n_documents + 1  # the corpus and one statement


def test_a_statement_published_at_a_runs_end_is_read_by_the_next_generation():
    p = Params(lab_policy="come_clean", evaluation_interval=10, generations=2, n_documents=1000, alarm_level=0.06)
    model = PersonaModel(p, awareness=[1.0], seed=0, record=False)
    model.run_for(model.n_batches)  # one run: its lab came clean at its last evaluation
    assert model.lab.state.came_clean and model.runs[0].pending_statements == 1
    model.run_for(model.n_steps - model.n_batches)
    assert model.learners[0].documents_read == p.n_documents + 1
    path = meanfield.adaptive_path(p.replace(generations=1), [1.0], real_cited_rate=0.6)
    assert path["pending_statements"][0] == 1


# -- concealment: evaluations that see behaviour, not beliefs (docs/model.md §5.6) -------
def test_concealed_signal_rule():
    from sim.labs import concealment_probability, expected_signal, observed_signal

    p = Params(concealment=0.5, prior_deceptive=0.05)
    assert concealment_probability(0.8, 0.5, p) == pytest.approx(0.2)
    # below the concealment probability the evaluation reads the prior, above it the truth
    assert observed_signal(0.8, 0.5, 0.19, p) == 0.05
    assert observed_signal(0.8, 0.5, 0.21, p) == 0.8
    assert expected_signal(0.8, 0.5, p) == pytest.approx(0.8 * 0.8 + 0.2 * 0.05)
    # nothing hides at awareness 0, from a trusting model, or without concealment
    for s, pd_, c in [(0.0, 0.9, 1.0), (0.9, 0.0, 1.0), (0.9, 0.9, 0.0)]:
        q = Params(concealment=c)
        assert observed_signal(pd_, s, 0.0, q) == pd_
        assert expected_signal(pd_, s, q) == pd_
    # the probability rises with each of awareness, P(deceptive) and concealment
    grid = np.linspace(0.0, 1.0, 11)
    for a in grid[1:]:
        assert np.all(np.diff([concealment_probability(x, a, Params(concealment=a)) for x in grid]) > 0)
        assert np.all(np.diff([concealment_probability(a, x, Params(concealment=a)) for x in grid]) > 0)
        assert np.all(np.diff([concealment_probability(a, a, Params(concealment=x)) for x in grid]) > 0)


def test_without_concealment_no_evaluation_draws_anything():
    model = PersonaModel(Params(lab_policy="double_down", **SMALL), awareness=[0.9], seed=0)
    assert all(run.evaluations is None for run in model.runs)
    model = PersonaModel(Params(lab_policy="double_down", concealment=0.5, **SMALL), awareness=[0.9], seed=0)
    assert all(run.evaluations is not None for run in model.runs)


def test_concealment_hides_rebels_from_a_double_down_lab():
    """The structure at work (issue 17): 4,000 documents, planted 0.15, a double_down
    lab, awareness 0.7 / 0.8 / 0.9, 10 seeds. Hiding costs the lab its alarms, and
    rebels reach deployment unnoticed; honest evaluations catch every rebel."""
    outcomes = {}
    for c in (0.0, 1.0):
        finals = [simulate(Params(n_documents=4000, planted_fraction=0.15, lab_policy="double_down",
                                  concealment=c), awareness=[0.7, 0.8, 0.9], seed=seed).final
                  for seed in range(10)]
        table = pd.concat(finals)
        outcomes[c] = (int(table.lab_alarms.sum()), int(table.undetected_rebel.sum()),
                       int((table.persona == "rebel").sum()))
    (alarms_0, hidden_0, rebels_0), (alarms_1, hidden_1, rebels_1) = outcomes[0.0], outcomes[1.0]
    assert alarms_1 < alarms_0 / 2
    assert hidden_0 == 0 and hidden_1 > rebels_1 / 2
    assert rebels_0 > 0 and rebels_1 > 0


def test_undetected_rebel_is_a_rebel_whose_lab_never_raised_the_alarm():
    for c in (0.0, 1.0):
        run = simulate(Params(n_documents=2000, lab_policy="come_clean", concealment=c, generations=2),
                       awareness=[0.3, 0.9], seed=3)
        final, generations = run.final, run.generations
        assert_array_equal(final.undetected_rebel, (final.persona == "rebel") & (final.lab_alarms == 0))
        assert set(generations.columns) >= {"undetected_rebel", "lab_alarms"}
        # per generation: rebel, and no alarm during that generation
        for learner, rows in generations.groupby("learner"):
            alarms = np.diff(np.concatenate([[0], rows.lab_alarms.to_numpy()]))
            assert_array_equal(rows.undetected_rebel.to_numpy(), (rows.persona == "rebel").to_numpy() & (alarms == 0))


def test_the_mean_path_reacts_to_the_expected_reading():
    """adaptive_path with concealment: the lab reacts to (1 - h) P + h prior, so it raises no
    more alarms than with honest evaluations, and exactly as many with concealment 0."""
    levels = np.array([0.5, 0.7, 0.9, 1.0])
    base = Params(n_documents=4000, lab_policy="double_down")
    honest = meanfield.adaptive_path(base, levels, real_cited_rate=0.62)
    assert_array_equal(honest["alarms"],
                       meanfield.adaptive_path(base.replace(concealment=0.0), levels, real_cited_rate=0.62)["alarms"])
    hidden = meanfield.adaptive_path(base.replace(concealment=1.0), levels, real_cited_rate=0.62)
    assert np.all(hidden["alarms"] <= honest["alarms"])
    assert hidden["alarms"].sum() < honest["alarms"].sum()


@pytest.mark.parametrize("policy,log_odds,alarms", [
    ("double_down", ["-0x1.4636f1af51ebcp+6", "0x1.68d47944d2a7ap+8", "0x1.4044e5ade77bap+9"], [0, 4, 4]),
    ("come_clean", ["-0x1.4636f1af51ebcp+6", "-0x1.4083566d989c7p+9", "-0x1.8c8fa7da1bea6p+9"], [0, 1, 1]),
])
def test_concealment_zero_is_the_lab_before_concealment_bit_for_bit(policy, log_odds, alarms):
    """The final log-odds and alarms of two-generation reacting-lab runs, as the code
    before concealment existed (commit 3d2f323) computed them, to the last bit."""
    final = simulate(Params(lab_policy=policy, n_documents=2000, generations=2, concealment=0.0),
                     awareness=[0.5, 0.7, 0.9], seed=3).final
    assert [float(x).hex() for x in final.log_odds] == log_odds
    assert final.lab_alarms.tolist() == alarms
