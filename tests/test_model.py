"""The Mesa model as such (sim.model.PersonaModel, sim.simulate): its agents and its generations.

What is checked: each learner of a family has its own lab, so its run is the one it
would have alone; incidents move the discourse; generation feedback moves the control
discourse share generation by generation; generation 0 is the single run; the
trajectory keeps each generation's final state; a run with generations is one sweep
point, reproducibly.
"""

from __future__ import annotations

import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sim import Params, simulate, sweep
from sim.labs import Discourse, next_discourse
from sim.schema import GENERATION_COLUMNS
from small_runs import SMALL


# -- agents: one lab per learner -------------------------------------------------------
def test_each_learner_of_an_adaptive_family_has_the_run_it_would_have_alone():
    """One lab per learner: a learner's result does not depend on its family."""
    p = Params(lab_policy="double_down", alarm_level=0.2, **SMALL)
    family = simulate(p, [0.3, 0.7], seed=5).final
    alone = simulate(p, [0.7], seed=5).final
    pd.testing.assert_frame_equal(family.iloc[[1]].reset_index(drop=True), alone)  # NaN equals NaN here



# -- generations -----------------------------------------------------------------------
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
    low = g[g["situational_awareness"] == 0.1]
    high = g[g["situational_awareness"] == 1.0]
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


def test_trajectory_keeps_each_generations_final_state():
    p = Params(generations=2, n_documents=1000)
    result = simulate(p, [0.9], seed=1)
    t = result.trajectory
    end0 = t[(t["generation"] == 0) & (t["batch"] == p.n_batches)].iloc[0]
    assert end0["documents_read"] == p.n_documents
    g = result.generations
    assert end0["p_deceptive"] == g.loc[g["generation"] == 0, "p_deceptive"].iloc[0]
    assert len(t) == 1 + 2 * p.n_batches


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
