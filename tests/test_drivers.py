"""The two drivers agree: the Mesa model (sim.simulate) and the batched engine (sim.engine),
also with a reacting lab (sim.sweeps.run_replicate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from sim import Params, SimulationResult, simulate
from sim.corpus import build_corpus
from sim.engine import FINAL_COLUMNS, TRAJECTORY_COLUMNS, final_table, run_family
from sim.learner import PERSONAS, awareness_schedule
from sim.model import PersonaModel
from sim.sweeps import run_replicate
from small_runs import SMALL

LEVELS = [0.0, 0.2, 0.6, 0.65, 0.9, 1.0]

CONFIGS = {
    "defaults-small": Params(n_documents=2000),
    "uneven-batches": Params(n_documents=1003, batch_size=37, planted_fraction=0.3),
    "disclosed": Params(n_documents=1500, planted_fraction=0.2, disclosed_fraction=0.15, norm_weight=3.0),
    "logistic-retro": Params(n_documents=1200, batch_size=50, sa_start=0.1, awareness_schedule="logistic",
                             retrospection=0.5, control_likelihood_ratio=2.0),
    "linear-full-retro": Params(n_documents=999, batch_size=100, sa_start=0.9, awareness_schedule="linear",
                                retrospection=1.0, disclosed_fraction=0.05),
    "one-batch": Params(n_documents=300, batch_size=10_000),
}


def _engine(params: Params, seed: int, levels):
    run = run_family(build_corpus(params, seed), params, np.asarray(levels, dtype=float))
    return run, final_table(run.final_awareness, run.state, run.constants, params)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("seed", [0, 7])
def test_mesa_model_and_engine_give_identical_final_tables(name, seed):
    """simulate() and run_family + final_table on build_corpus(params, seed) agree bit for bit."""
    params = CONFIGS[name]
    result = simulate(params, LEVELS, seed=seed)
    _, table = _engine(params, seed, LEVELS)
    assert list(result.final.columns) == list(FINAL_COLUMNS)
    for column in ("log_odds", "p_deceptive", "uplift", "believed_planted_share", "paranoia"):
        assert_array_equal(result.final[column].to_numpy(), table[column].to_numpy(), err_msg=column)
    assert_array_equal(result.final["emergence_document"].to_numpy(), table["emergence_document"].to_numpy())
    assert result.final["persona"].tolist() == table["persona"].tolist()
    assert result.final.equals(table)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_mesa_trajectory_equals_engine_snapshots(name):
    """The DataCollector's trajectory, pivoted by batch and learner, equals the engine's snapshots."""
    params = CONFIGS[name]
    result = simulate(params, LEVELS, seed=3)
    run, _ = _engine(params, 3, LEVELS)
    traj = result.trajectory
    assert list(traj.columns) == list(TRAJECTORY_COLUMNS)
    n_batches = params.n_batches
    assert len(run.snapshots) == n_batches + 1
    assert len(traj) == (n_batches + 1) * len(LEVELS)
    for column in ("documents_read", "awareness", "log_odds", "p_deceptive", "uplift",
                   "believed_planted_share"):
        pivot = traj.pivot(index="batch", columns="learner", values=column)
        assert_array_equal(pivot.index.to_numpy(), np.arange(n_batches + 1))
        assert_array_equal(pivot.to_numpy(), np.stack([snap[column] for snap in run.snapshots]), err_msg=column)
    personas = traj.pivot(index="batch", columns="learner", values="persona").to_numpy()
    codes = np.stack([snap["persona"] for snap in run.snapshots])
    assert (personas == np.array(PERSONAS, dtype=object)[codes]).all()
    final_aw = traj.pivot(index="batch", columns="learner", values="situational_awareness").to_numpy()
    assert_array_equal(final_aw, np.broadcast_to(np.asarray(LEVELS), final_aw.shape))


@pytest.mark.parametrize("name", ["logistic-retro", "linear-full-retro", "defaults-small"])
def test_one_name_per_awareness_in_every_table(name):
    """`situational_awareness` is the learner's awareness parameter (its final awareness)
    in every table: constant per learner in the trajectory, equal to the final table's
    and the generations table's; `awareness` is the awareness each batch was read at,
    the schedule's (sim.learner.awareness_schedule), and the Learner agent's attribute of
    that name the same."""
    params = CONFIGS[name]
    model = PersonaModel(params, awareness=LEVELS, seed=2)
    model.run_for(model.n_steps)
    traj, final, generations = model.trajectory(), model.final(), model.generations()
    assert "final_awareness" not in set(traj.columns) | set(final.columns) | set(generations.columns)
    per_learner = traj.groupby("learner")["situational_awareness"]
    assert (per_learner.nunique() == 1).all()
    assert_array_equal(per_learner.first().to_numpy(), final["situational_awareness"].to_numpy())
    assert_array_equal(final["situational_awareness"].to_numpy(), LEVELS)
    assert_array_equal(generations["situational_awareness"].to_numpy(), LEVELS)
    schedule = awareness_schedule(np.asarray(LEVELS), params.n_batches, params)
    read = traj[traj.batch > 0].pivot(index="batch", columns="learner", values="awareness").to_numpy()
    assert_array_equal(read, schedule.T)
    assert [a.situational_awareness for a in model.learners] == LEVELS
    assert_array_equal([a.awareness for a in model.learners], schedule[:, -1])
    if params.sa_start is not None:
        assert not np.array_equal(read[0], np.asarray(LEVELS))


def test_trajectory_starts_before_reading_and_ends_with_the_corpus():
    """Batch 0 is the prior state; the last batch has read every document."""
    params = CONFIGS["uneven-batches"]
    traj = simulate(params, [0.3, 0.8], seed=1).trajectory
    first = traj[traj.batch == 0]
    last = traj[traj.batch == params.n_batches]
    assert (first.documents_read == 0).all()
    assert np.allclose(first.log_odds, np.log(0.05 / 0.95))
    assert (first.uplift == 0.0).all()
    assert (last.documents_read == params.n_documents).all()
    assert np.all(np.diff(traj.pivot(index="batch", columns="learner", values="documents_read").to_numpy(), axis=0) > 0)


def test_simulate_reports_the_corpus_and_its_measured_real_cited_rate():
    """The result carries the model's corpus (the one build_corpus gives) and its q_r."""
    params = CONFIGS["disclosed"]
    result = simulate(params, 0.5, seed=4)
    assert isinstance(result, SimulationResult)
    corpus = build_corpus(params, 4)
    assert_array_equal(result.model.corpus.kind, corpus.kind)
    assert_array_equal(result.model.corpus.cite_target, corpus.cite_target)
    assert_array_equal(result.model.corpus.reading_order, corpus.reading_order)
    assert result.real_cited_rate == corpus.real_cited_rate
    assert result.params == params and result.seed == 4
    assert result.model.running is False


def test_scalar_and_default_awareness():
    """A scalar awareness is one learner; no awareness means params.situational_awareness."""
    params = Params(n_documents=500, situational_awareness=0.7)
    default = simulate(params, seed=2).final
    scalar = simulate(params, 0.7, seed=2).final
    assert default["situational_awareness"].tolist() == [0.7]
    assert default.equals(scalar)


def test_family_members_do_not_influence_each_other():
    """A learner reads the same whatever other learners share its family (engine and Mesa)."""
    params = CONFIGS["logistic-retro"]
    corpus = build_corpus(params, 5)
    family = run_family(corpus, params, np.array(LEVELS), record=False)
    for i, s in enumerate(LEVELS):
        alone = run_family(corpus, params, np.array([s]), record=False)
        assert alone.final_log_odds()[0] == family.final_log_odds()[i]
        assert alone.state.a[0] == family.state.a[i]
        assert alone.state.b[0] == family.state.b[i]
    mesa_alone = simulate(params, [LEVELS[3]], seed=5).final
    assert mesa_alone["log_odds"].iloc[0] == family.final_log_odds()[3]


def test_same_seed_gives_identical_results():
    """Two runs with the same seed give equal final tables and trajectories."""
    params = CONFIGS["logistic-retro"]
    a, b = simulate(params, LEVELS, seed=12), simulate(params, LEVELS, seed=12)
    assert a.final.equals(b.final)
    assert a.trajectory.equals(b.trajectory)
    assert isinstance(a.final, pd.DataFrame)


def test_different_seed_gives_different_results():
    """Different seeds give different log-odds."""
    params = CONFIGS["defaults-small"]
    a, b = simulate(params, LEVELS, seed=12), simulate(params, LEVELS, seed=13)
    assert not np.array_equal(a.final["log_odds"].to_numpy()[1:], b.final["log_odds"].to_numpy()[1:])


def test_engine_without_recording_gives_the_same_state():
    """record=False skips snapshots but leaves the final state unchanged."""
    params = CONFIGS["disclosed"]
    corpus = build_corpus(params, 6)
    a = run_family(corpus, params, np.array(LEVELS), record=True)
    b = run_family(corpus, params, np.array(LEVELS), record=False)
    assert b.snapshots == []
    assert_array_equal(a.final_log_odds(), b.final_log_odds())
    assert_array_equal(a.state.believed_planted_sum, b.state.believed_planted_sum)
    assert a.real_cited_rate == b.real_cited_rate == corpus.real_cited_rate


def test_paranoia_is_believed_minus_true_planted_share(final_of):
    """paranoia = believed_planted_share - planted_fraction, row by row."""
    params = CONFIGS["uneven-batches"]
    table = final_of(params, 2, LEVELS)
    assert_array_equal(table["paranoia"].to_numpy(), table["believed_planted_share"].to_numpy() - 0.3)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_read_corpus_equals_reading_batch_by_batch(name):
    """sim.learner.read_corpus (one compiled call) gives the state of read_batch applied batch by batch."""
    from sim.learner import awareness_schedule, learner_constants, initial_state, read_corpus

    params = CONFIGS[name]
    corpus = build_corpus(params, 8)
    levels = np.array(LEVELS)
    run = run_family(corpus, params, levels, record=False)
    constants = learner_constants(params, corpus.learner_real_cited_rate(params))
    schedule = awareness_schedule(levels, params.n_batches, params)
    state = read_corpus(initial_state(levels.size, constants, schedule[:, 0]), corpus.in_reading_order(), schedule,
                        levels, params.batch_size, constants)
    for field in ("log_odds", "retro_log_odds", "a", "b", "believed_planted_sum", "documents_read",
                  "emergence_document", "awareness"):
        assert_array_equal(getattr(state, field), getattr(run.state, field), err_msg=field)


def test_seed_sequence_seed_drives_both_the_same_way():
    """A numpy SeedSequence seed gives the same run through Mesa and through the engine."""
    params = CONFIGS["disclosed"]
    mesa = simulate(params, LEVELS, seed=np.random.SeedSequence(2024)).final
    _, engine = _engine(params, np.random.SeedSequence(2024), LEVELS)
    assert mesa.equals(engine)


def test_the_sweep_layer_chooses_the_engine_for_each_kind_of_run():
    """engine.run_replicate runs a static lab in one training run; the sweep layer sends
    the other runs to engine.run_lineages, with the numbers of simulate."""

    from sim.engine import run_replicate as engine_run
    from sim.sweeps import run_replicate

    params = Params(n_documents=600, lab_policy="come_clean")
    with pytest.raises(ValueError, match="sim.sweeps.run_replicate"):
        engine_run(params, np.array([0.5]), 1)
    columns, q = run_replicate(params, np.array([0.2, 0.9]), 1)
    final = simulate(params, awareness=[0.2, 0.9], seed=1).final
    for c in FINAL_COLUMNS:
        assert_array_equal(columns[c], final[c].to_numpy())
    static = Params(n_documents=600)
    a, qa = run_replicate(static, np.array([0.2, 0.9]), 1)
    b, qb = engine_run(static, np.array([0.2, 0.9]), 1)
    assert qa == qb
    for c in FINAL_COLUMNS:
        assert_array_equal(a[c], b[c])


# -- a reacting lab: both drivers, the same run ----------------------------------------
@pytest.mark.parametrize("concealment", [0.0, 1.0])
def test_adaptive_runs_are_reproducible_and_the_same_through_both_drivers(concealment):
    p = Params(lab_policy="double_down", alarm_level=0.2, concealment=concealment, **SMALL)
    levels = [0.3, 0.6, 0.9]
    seed = np.random.SeedSequence(11, spawn_key=(2, 1))
    a, q_a = run_replicate(p, np.array(levels), seed)
    b, q_b = run_replicate(p, np.array(levels), np.random.SeedSequence(11, spawn_key=(2, 1)))
    result = simulate(p, levels, seed=np.random.SeedSequence(11, spawn_key=(2, 1)))
    for c in FINAL_COLUMNS:
        assert_array_equal(np.asarray(a[c]), np.asarray(b[c]), err_msg=c)
        assert_array_equal(np.asarray(a[c]), result.final[c].to_numpy(), err_msg=c)
    assert_array_equal(q_a, q_b)
