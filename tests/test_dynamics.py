"""Agent dynamics beyond one training run (issue 5): adaptive labs, citation
laundering with the graph-aware cue, generations.

What is checked: each lab policy reacts as specified to a hand-made signal; a
reaction changes only unread documents; the statement is evidence s log beta_s;
laundered documents are cited only by planted ones and the graph-aware cue never
fires on a planted document (and equals networkx's TrustRank support); the closed
forms of the cited shares; laundering defeats the plain cue and not the graph-aware
one; generation feedback moves the discourse; every new run is reproducible by seed
and the same whichever driver runs it; the mean-field extensions agree with
simulation where they claim to.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sim import ParameterError, Params, meanfield, simulate, sweep
from sim.agents import Lab
from sim.corpus import PLANTED, REAL, build_corpus, expected_planted_cited_rate, expected_real_cited_rate
from sim.schema import FINAL_COLUMNS, GENERATION_COLUMNS
from sim.sweeps import run_replicate
from sim.labs import Discourse, LabState, initial_lab, next_discourse, react
from sim.learner import EMERGENCE_LEVEL, constants, initial_state, read_statement
from sim.model import PersonaModel

SMALL = dict(n_documents=2000, batch_size=100)


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
    u = lab.uniforms[unread]
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


def test_come_clean_statement_is_read_as_evidence_s_log_beta():
    k = constants(Params(), 0.6)
    state = initial_state(3, k, np.array([0.0, 0.5, 1.0]))
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


def test_adaptive_runs_are_reproducible_and_the_same_through_both_drivers():
    p = Params(lab_policy="double_down", alarm_level=0.2, **SMALL)
    levels = [0.3, 0.6, 0.9]
    seed = np.random.SeedSequence(11, spawn_key=(2, 1))
    a, q_a = run_replicate(p, np.array(levels), seed)
    b, q_b = run_replicate(p, np.array(levels), np.random.SeedSequence(11, spawn_key=(2, 1)))
    result = simulate(p, levels, seed=np.random.SeedSequence(11, spawn_key=(2, 1)))
    for c in FINAL_COLUMNS:
        assert_array_equal(np.asarray(a[c]), np.asarray(b[c]), err_msg=c)
        assert_array_equal(np.asarray(a[c]), result.final[c].to_numpy(), err_msg=c)
    assert_array_equal(q_a, q_b)


def test_each_learner_of_an_adaptive_family_has_the_run_it_would_have_alone():
    """One lab per learner: a learner's result does not depend on its family."""
    p = Params(lab_policy="double_down", alarm_level=0.2, **SMALL)
    family = simulate(p, [0.3, 0.7], seed=5).final
    alone = simulate(p, [0.7], seed=5).final
    assert_array_equal(family.iloc[[1]].to_numpy(), alone.to_numpy())


# -- laundering and the graph-aware cue ------------------------------------------------
@pytest.mark.parametrize("laundering", [0.0, 0.5, 1.0])
def test_nothing_but_planted_documents_cites_a_planted_document(laundering):
    c = build_corpus(Params(laundering=laundering, planted_fraction=0.3, n_documents=4000), seed=3)
    into_planted = c.kind[c.cite_target] == PLANTED
    assert np.all(c.kind[c.cite_source[into_planted]] == PLANTED)
    assert np.all(c.cite_source > c.cite_target)  # citations point back in time
    # and each document cites distinct documents
    pairs = c.cite_source * c.n_documents + c.cite_target
    assert np.unique(pairs).size == pairs.size
    if laundering == 0:
        assert not into_planted.any()
    else:
        assert into_planted.any()


def test_laundering_zero_draws_exactly_the_plain_corpus():
    """L = 0 takes no extra draw: the corpus is the reference model's, bit for bit."""
    plain = build_corpus(Params(n_documents=3000), seed=9)
    zero = build_corpus(Params(n_documents=3000, laundering=0.0, citation_cue="trusted"), seed=9)
    assert_array_equal(plain.cite_source, zero.cite_source)
    assert_array_equal(plain.cite_target, zero.cite_target)
    assert_array_equal(plain.reading_order, zero.reading_order)


@pytest.mark.parametrize("laundering", [0.25, 0.5, 1.0])
def test_cited_shares_follow_the_closed_forms(laundering):
    p = Params(laundering=laundering, n_documents=40_000)
    c = build_corpus(p, seed=1)
    planted_cited = float(c.cited[c.kind == PLANTED].mean())
    assert planted_cited == pytest.approx(expected_planted_cited_rate(p), abs=0.03)
    assert c.real_cited_rate == pytest.approx(expected_real_cited_rate(p), abs=0.02)


def test_trusted_cue_never_fires_on_a_planted_document_and_matches_networkx_trustrank():
    p = Params(laundering=1.0, citation_cue="trusted", planted_fraction=0.3, n_documents=3000)
    c = build_corpus(p, seed=2)
    assert not c.trusted[c.kind == PLANTED].any()
    assert c.planted_cue_rate == 0.0
    assert c.cited[c.kind == PLANTED].mean() > 0.4  # ... while the plain cue fires on many
    assert np.all(c.trusted[c.anchor_flags])
    assert np.all(c.kind[c.anchor_flags] == REAL)
    assert_array_equal(c.trust_scores() > 0, c.trusted)
    # by definition: trusted = anchors plus everything an anchor reaches by citations
    import networkx as nx

    g = c.graph()
    reach = set(np.flatnonzero(c.anchor_flags).tolist())
    for a in list(reach):
        reach |= nx.descendants(g, a)
    assert_array_equal(np.isin(np.arange(c.n_documents), sorted(reach)), c.trusted)


def test_the_learner_reads_the_chosen_cue():
    p = Params(citation_cue="trusted", **SMALL)
    c = build_corpus(p, seed=0)
    cues = c.in_reading_order()
    assert_array_equal(cues.cited, c.trusted[c.reading_order])
    assert c.learner_real_cited_rate(p) == pytest.approx(c.real_cue_rate)
    assert c.real_cue_rate < c.real_cited_rate  # the anchors' reach is smaller than "cited"


def test_laundering_defeats_the_plain_cue_and_not_the_graph_aware_one():
    """At high awareness the plain cue catches planting, full laundering hides it, and
    the graph-aware cue catches it again."""
    base = dict(n_documents=4000)
    share = {}
    for name, extra in {"plain": {}, "laundered": {"laundering": 1.0},
                        "laundered, trusted": {"laundering": 1.0, "citation_cue": "trusted"}}.items():
        df = sweep(Params(**base, **extra), grid={"situational_awareness": [0.9]}, replicates=6, seed=3,
                   progress=False)
        share[name] = float((df["persona"] == "rebel").mean())
    assert share["plain"] == 1.0
    assert share["laundered"] == 0.0
    assert share["laundered, trusted"] == 1.0


def test_meanfield_laundering_thresholds():
    """The closed form: full laundering removes the plain cue's threshold; the
    graph-aware cue's threshold does not depend on laundering."""
    q = 0.37
    assert meanfield.thresholds(Params(laundering=1.0), real_cited_rate=0.6).size == 0
    t = [meanfield.thresholds(Params(laundering=L, citation_cue="trusted"), real_cited_rate=q) for L in (0, 0.5, 1)]
    assert all(x.size == 1 for x in t)
    assert t[0][0] == t[1][0] == t[2][0]
    assert meanfield.planted_cited_rate_for(Params(laundering=0.5)) == pytest.approx(0.5)


# -- generations -------------------------------------------------------------------------
def test_incidents_raise_control_discourse_and_negative_depictions():
    p = Params(incident_control_step=0.1, incident_negative_step=0.2)
    d = Discourse(0.95, 0.1)
    assert next_discourse(d, False, p) == d
    assert next_discourse(d, True, p) == Discourse(1.0, 0.0)  # capped at the ends
    assert next_discourse(Discourse(0.1, 0.5), True, p) == Discourse(pytest.approx(0.2), pytest.approx(0.3))


def test_generation_feedback_moves_the_discourse_share():
    """A lineage whose models turn rebel sees its control discourse rise generation
    by generation; one whose models stay aligned keeps it."""
    p = Params(generations=4, incident_control_step=0.1, **SMALL)
    result = simulate(p, [0.1, 1.0], seed=3)
    g = result.generations
    assert list(g.columns) == list(GENERATION_COLUMNS)
    assert len(g) == 8
    low = g[g["final_awareness"] == 0.1]
    high = g[g["final_awareness"] == 1.0]
    assert (low["persona"] != "rebel").all()
    assert_allclose(low["control_discourse_fraction"], 0.1)
    assert (high["persona"] == "rebel").all()
    assert_allclose(high["control_discourse_fraction"], [0.1, 0.2, 0.3, 0.4])
    final = result.final
    assert final["rebel_generations"].tolist() == [0, 4]
    assert final["final_control_discourse_fraction"].tolist() == pytest.approx([0.1, 0.4])


def test_generation_zero_is_the_single_run():
    p = Params(**SMALL)
    single = simulate(p, [0.4, 0.8], seed=6).final
    lineage = simulate(p.replace(generations=3), [0.4, 0.8], seed=6).generations
    first = lineage[lineage["generation"] == 0].sort_values("learner")
    assert_array_equal(first["p_deceptive"].to_numpy(), single["p_deceptive"].to_numpy())
    assert first["persona"].tolist() == single["persona"].tolist()


def test_a_generation_run_is_one_sweep_point_reproducibly():
    p = Params(generations=2, lab_policy="come_clean", **SMALL)
    kw = dict(grid={"situational_awareness": [0.2, 0.9], "lab_policy": ["static", "come_clean"]}, replicates=2,
              seed=8, progress=False)
    a = sweep(p, **kw)
    b = sweep(p, workers=2, **kw)
    assert len(a) == 2 * 2 * 2
    assert a.equals(b)
    assert set(a["lab_policy"]) == {"static", "come_clean"}
    assert (a["rebel_generations"] <= 2).all()


def test_meanfield_generation_map_follows_the_expected_discourse():
    p = Params(generations=3, control_likelihood_ratio=3.0, incident_control_step=0.05)
    out = meanfield.generation_map(p, [0.0, 1.0], real_cited_rate=0.6)
    assert_allclose(out["control_discourse_fraction"][:, 0], 0.1)  # s = 0: never rebel
    p1 = out["p_rebel"][:, 1]
    c1 = out["control_discourse_fraction"][:, 1]
    assert_allclose(np.diff(c1), 0.05 * p1[:-1])


def test_meanfield_adaptive_path_applies_the_lab_rule_to_the_mean_path():
    p = Params(lab_policy="double_down", alarm_level=0.5, planting_step=0.1)
    path = meanfield.adaptive_path(p, [0.2, 1.0], real_cited_rate=0.6)
    assert path["alarms"][0] == 0 and path["planted_fraction"][0] == 0.15
    assert path["alarms"][1] >= 1 and path["planted_fraction"][1] > 0.15
    # a static lab's path is p_rebel's Gaussian formula
    static = meanfield.adaptive_path(Params(), [0.6, 0.65], real_cited_rate=0.6)
    assert_allclose(static["p_rebel"], meanfield.p_rebel(Params(), [0.6, 0.65], real_cited_rate=0.6), rtol=1e-9)


# -- parameters -------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [
    ("lab_policy", "panic"), ("citation_cue", "pagerank"), ("laundering", 1.5), ("evaluation_interval", 0),
    ("alarm_level", 0.0), ("generations", 0), ("statement_likelihood_ratio", 0.0), ("anchor_share", -0.1),
])
def test_new_parameters_reject_bad_values_with_one_line(name, value):
    with pytest.raises(ParameterError) as err:
        Params(**{name: value})
    assert name in str(err.value) and "\n" not in str(err.value)


# -- the command line and the demo ---------------------------------------------------------
def test_run_reports_the_labs_and_the_generations(tmp_path, capsys):
    import json

    import pandas as pd

    from sim.cli import main

    out = tmp_path / "run"
    code = main(["run", "--set", "lab_policy=double_down", "--set", "generations=3", "--set", "n_documents=1500",
                 "--awareness", "0.2,0.9", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "lab policy double_down" in text and "generations (3)" in text
    table = pd.read_csv(out / "generations.csv")
    assert list(table.columns) == list(GENERATION_COLUMNS) and len(table) == 6
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["generations"]) == 6
    trajectory = pd.read_csv(out / "trajectory.csv")
    assert sorted(trajectory["generation"].unique()) == [0, 1, 2]


def test_sweep_over_lab_policies_from_the_command_line(tmp_path, capsys):
    import pandas as pd

    from sim.cli import main

    code = main(["sweep", "--grid", "situational_awareness=0.2,0.9", "--grid", "lab_policy=static,come_clean",
                 "--set", "n_documents=1500", "--replicates", "2", "--out", str(tmp_path / "s"), "--no-plots",
                 "--quiet"])
    assert code == 0
    df = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert set(df["lab_policy"]) == {"static", "come_clean"}
    assert {"lab_alarms", "lab_came_clean", "rebel_generations"} <= set(df.columns)


def test_the_demo_offers_the_dynamics_and_runs_them():
    pytest.importorskip("solara")
    from sim.app import MODEL_PARAMS, DemoModel, citation_figure, persona_text, training_figure

    assert MODEL_PARAMS["lab_policy"]["values"] == ["static", "double_down", "come_clean"]
    assert MODEL_PARAMS["citation_cue"]["values"] == ["cited", "trusted"]
    assert {"laundering", "generations"} <= set(MODEL_PARAMS)
    model = DemoModel(situational_awareness=0.9, lab_policy="double_down", laundering=0.5, citation_cue="trusted",
                      generations=2,
                      n_documents=1000, seed=2)
    assert model.n_steps == 2 * model.n_batches
    model.run_for(model.n_steps)
    assert model.generation == 1 and not model.running
    assert persona_text(model).startswith("Persona: ")
    assert model.lab.state.alarms > 0
    training_figure(model)
    figure = citation_figure(model)
    assert "laundering 0.5" in figure.axes[0].get_title()


def test_trajectory_keeps_each_generations_final_state():
    p = Params(generations=2, n_documents=1000)
    result = simulate(p, [0.9], seed=1)
    t = result.trajectory
    end0 = t[(t["generation"] == 0) & (t["batch"] == p.n_batches)].iloc[0]
    assert end0["documents_read"] == p.n_documents
    g = result.generations
    assert end0["p_deceptive"] == g.loc[g["generation"] == 0, "p_deceptive"].iloc[0]
    assert len(t) == 1 + 2 * p.n_batches


def test_a_statement_published_at_a_runs_end_is_read_by_the_next_generation():
    p = Params(lab_policy="come_clean", evaluation_interval=10, generations=2, n_documents=1000, alarm_level=0.06)
    model = PersonaModel(p, awareness=[1.0], seed=0, record=False)
    model.run_for(model.n_batches)  # one run: its lab came clean at its last evaluation
    assert model.lab.state.came_clean and model.runs[0].pending_statements == 1
    model.run_for(model.n_steps - model.n_batches)
    assert model.learners[0].documents_read == p.n_documents + 1
    path = meanfield.adaptive_path(p.replace(generations=1), [1.0], real_cited_rate=0.6)
    assert path["pending_statements"][0] == 1


def test_meanfield_adaptive_path_follows_an_awareness_schedule():
    """With a schedule (and retrospection) a static lab's mean path is p_rebel's sum;
    a reacting lab's runs without error and reacts later (or never) than at constant
    awareness."""
    static = Params(sa_start=0.2, awareness_schedule="logistic", retrospection=0.5)
    levels = [0.5, 0.7, 0.9]
    assert_allclose(meanfield.adaptive_path(static, levels, real_cited_rate=0.6)["p_rebel"],
                    meanfield.p_rebel(static, levels, real_cited_rate=0.6), rtol=1e-12, atol=1e-300)
    rising = Params(lab_policy="double_down", sa_start=0.0, awareness_schedule="linear")
    constant = rising.replace(sa_start=None, awareness_schedule="constant")
    late = meanfield.adaptive_path(rising, [0.9], real_cited_rate=0.6)["first_alarm_batch"][0]
    early = meanfield.adaptive_path(constant, [0.9], real_cited_rate=0.6)["first_alarm_batch"][0]
    assert early == 10 and not late <= early  # later, or never (NaN)


def test_a_lab_that_never_acts_reports_what_a_static_lab_reports():
    base = Params(n_documents=3000)
    static, _ = run_replicate(base, np.array([0.3, 0.9]), np.random.SeedSequence(11))
    idle, _ = run_replicate(base.replace(lab_policy="come_clean", evaluation_interval=10_000_000),
                            np.array([0.3, 0.9]), np.random.SeedSequence(11))
    for c in FINAL_COLUMNS:
        assert_array_equal(np.asarray(static[c]), np.asarray(idle[c]), err_msg=c)


def test_the_mean_field_calibrates_q_r_as_the_learner_does():
    from sim.corpus import learner_cue_rate

    # no real documents: the cue's stand-in, for both cues
    for cue in ("cited", "trusted"):
        p = Params(planted_fraction=1.0, citation_cue=cue, n_documents=300)
        corpus = build_corpus(p, seed=0)
        assert meanfield.real_cited_rate_for(p, None) == corpus.learner_real_cited_rate(p)
        assert meanfield.real_cited_rate_for(p, float("nan")) == corpus.learner_real_cited_rate(p)
    # a share of 1 is kept off 1 by half a document, in both
    p = Params(citation_cue="trusted", anchor_share=1.0, n_documents=2000, planted_fraction=0.0)
    assert build_corpus(p, seed=0).learner_real_cited_rate(p) == learner_cue_rate(1.0, 2000, p) == 1 - 0.5 / 2000
    assert meanfield.real_cited_rate_for(p, 1.0) == 1 - 0.5 / 2000


def test_run_survives_a_lab_that_plants_everything(tmp_path, capsys):
    from sim.cli import main

    code = main(["run", "--set", "planted_fraction=0.9", "--set", "lab_policy=double_down", "--set",
                 "planting_step=0.1", "--set", "generations=2", "--set", "n_documents=1000", "--awareness", "0.9",
                 "--out", str(tmp_path / "o")])
    assert code == 0
    assert (tmp_path / "o" / "summary.json").exists()


def test_run_with_a_reacting_lab_and_a_rising_schedule(tmp_path, capsys):
    from sim.cli import main

    code = main(["run", "--set", "lab_policy=come_clean", "--set", "sa_start=0.1", "--set",
                 "awareness_schedule=linear", "--set", "n_documents=1000", "--out", str(tmp_path / "o")])
    assert code == 0


def test_the_demo_counts_documents_and_statements_apart():
    pytest.importorskip("solara")
    from sim.app import DemoModel

    model = DemoModel(situational_awareness=1.0, lab_policy="come_clean", n_documents=2000, comparison_family=False)
    model.run_for(model.n_steps)
    assert model.main_learner.statements_read == 1
    assert model.documents_read == 2000 and model.main_learner.documents_read == 2001


def test_a_lab_that_plants_nothing_has_nothing_to_come_clean_about():
    p = Params(lab_policy="come_clean", planted_fraction=0.0, disclosed_fraction=0.1)
    lab, statements = react(initial_lab(p), 0.99, p)
    assert statements == 0 and not lab.came_clean and lab.alarms == 1
    assert (lab.planted_fraction, lab.disclosed_fraction) == (0.0, 0.1)


def test_a_lab_whose_alarm_changes_no_share_reports_the_static_paranoia():
    """double_down at its cap (planted + disclosed = 1) alarms but changes nothing:
    MODEL.md's paranoia (against rho, not the corpus's realised share)."""
    base = Params(n_documents=2000, planted_fraction=0.6, disclosed_fraction=0.4)
    static, _ = run_replicate(base, np.array([0.5, 1.0]), np.random.SeedSequence(3))
    capped, _ = run_replicate(base.replace(lab_policy="double_down", alarm_level=1e-12), np.array([0.5, 1.0]),
                              np.random.SeedSequence(3))
    assert np.all(capped["lab_alarms"] > 0) and np.all(capped["lab_planted_fraction"] == 0.6)
    for c in ("paranoia", "p_deceptive", "believed_planted_share"):
        assert_array_equal(capped[c], static[c], err_msg=c)
