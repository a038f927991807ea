"""Reacting labs and generations on the batched engine (sim.engine.run_lineages): the Mesa
model's numbers, bit for bit, for every policy, generation count, learner and mechanism,
whatever the executor, and through an interrupted and resumed sweep (issue 18 item 2).

The Mesa model (sim.simulation.run_replicate, every learner a run of its own) is the
readable reference; the engine carries learners whose labs agree together and splits them
where their labs part (docs/model.md §5.8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from sim import Params
from sim.engine import run_lineages
from sim.schema import FINAL_COLUMNS
from sim.simulation import run_replicate as mesa_replicate
from sim.sweeps import plan_sweep, run_sweep
import sim.sweeps as sweep_module

from small_runs import SMALL, Interrupted, stop_after_chunks

LEVELS = np.array([0.0, 0.3, 0.55, 0.65, 0.8, 1.0])

#: Every policy and generation count, and every learner and mechanism with them.
CONFIGS = {
    "double_down": dict(lab_policy="double_down", alarm_level=0.2),
    "come_clean": dict(lab_policy="come_clean", evaluation_interval=3),
    "double_down, concealment": dict(lab_policy="double_down", concealment=0.7, evaluation_interval=4),
    "come_clean, concealment, disclosure": dict(lab_policy="come_clean", concealment=1.0, disclosed_fraction=0.05),
    "double_down, uneven batches": dict(lab_policy="double_down", n_documents=1999, batch_size=37,
                                        evaluation_interval=7),
    "static, 3 generations": dict(generations=3, control_likelihood_ratio=3.0),
    "come_clean, 3 generations": dict(generations=3, lab_policy="come_clean", evaluation_interval=5),
    "double_down, 4 generations, laundering": dict(generations=4, lab_policy="double_down", laundering=0.5),
    "double_down, benevolent, filtering": dict(generations=2, lab_policy="double_down", prior_benevolent=0.2,
                                               control_likelihood_ratio=2.0, filtered_fraction=0.2,
                                               deceptive_filter_rate=0.1, deceptive_filters_only=0.3),
    "learning learner, come_clean": dict(generations=2, learner_model="learning", lab_policy="come_clean"),
    "schedule, retrospection, trusted cue": dict(generations=2, sa_start=0.1, awareness_schedule="linear",
                                                 retrospection=0.5, lab_policy="double_down",
                                                 citation_cue="trusted"),
}


def _equal(a, b, column):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        assert_array_equal(a, b, err_msg=column)  # NaN equals NaN here
    else:
        assert (a == b).all(), column


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_engine_gives_the_mesa_models_numbers_bit_for_bit(name):
    params = Params(**{**SMALL, **CONFIGS[name]})
    columns, rates = run_lineages(params, LEVELS, np.random.SeedSequence(5, spawn_key=(1, 2)))
    reference, reference_rates = mesa_replicate(params, LEVELS, np.random.SeedSequence(5, spawn_key=(1, 2)))
    for column in FINAL_COLUMNS:
        _equal(columns[column], reference[column], column)
    assert_array_equal(rates, reference_rates)


def test_learners_that_part_are_split_and_the_outcome_is_not_trivial():
    """The reacting configuration above really parts its learners: some lineages' labs
    raised the alarm and some did not, some ended rebel and some aligned."""
    columns, _ = run_lineages(Params(**{**SMALL, **CONFIGS["double_down"]}), LEVELS, 11)
    assert len(set(columns["lab_alarms"].tolist())) > 1
    assert len(set(columns["persona"].tolist())) > 1


def test_one_learner_alone_gives_its_numbers_in_a_family():
    """A learner's lineage does not depend on which other learners share its run."""
    params = Params(**{**SMALL, **CONFIGS["come_clean, 3 generations"]})
    family, _ = run_lineages(params, LEVELS, 3)
    for i in (1, 4):
        alone, _ = run_lineages(params, LEVELS[i:i + 1], 3)
        for column in FINAL_COLUMNS:
            _equal(np.asarray(family[column])[i:i + 1], alone[column], column)


def _plan():
    return plan_sweep(Params(**SMALL), grid={"lab_policy": ["double_down", "come_clean"], "generations": [1, 2],
                                             "situational_awareness": "0.3:1:3"}, replicates=2, seed=9)


def test_one_table_whatever_the_executor():
    serial = run_sweep(_plan(), executor="serial", progress=False)
    for executor in ("thread", "process"):
        pd.testing.assert_frame_equal(run_sweep(_plan(), executor=executor, workers=2, progress=False), serial)



def test_an_interrupted_sweep_resumes_to_the_same_table(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    reference = run_sweep(_plan(), executor="serial", progress=False)
    out = tmp_path / "sweep"

    stop_after_two = stop_after_chunks(out, 2)

    with pytest.raises(Interrupted):
        run_sweep(_plan(), out=out, executor="serial", progress=False, on_chunk=stop_after_two)
    df = run_sweep(_plan(), out=out, executor="serial", resume=True, progress=False)
    pd.testing.assert_frame_equal(df, reference)


@pytest.mark.parametrize("name", ["static, 3 generations", "come_clean, 3 generations",
                                  "double_down, 4 generations, laundering", "double_down, concealment"])
def test_the_generations_table_is_the_mesa_models(name):
    from sim import simulate
    from sim.engine import lineage_table

    params = Params(**{**SMALL, **CONFIGS[name]})
    seed = np.random.SeedSequence(8, spawn_key=(0, 3))
    engine_table = lineage_table(params, LEVELS, seed)
    mesa_table = simulate(params, list(LEVELS), seed=np.random.SeedSequence(8, spawn_key=(0, 3))).generations
    pd.testing.assert_frame_equal(engine_table, mesa_table)
