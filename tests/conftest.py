"""Shared fixtures and Hypothesis settings for the persona-sim test suite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from sim import Params
from sim.corpus import build_corpus
from sim.engine import final_table, run_family

# Deterministic property tests: the same examples on every run, no example database.
settings.register_profile(
    "persona-sim",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("persona-sim")


def engine_final(params: Params, seed: int, awareness) -> pd.DataFrame:
    """Final table of the batched engine on ``build_corpus(params, seed)``."""
    run = run_family(build_corpus(params, seed), params, np.asarray(awareness, dtype=float))
    return final_table(run.final_awareness, run.state, run.constants, params)


@pytest.fixture
def final_of():
    """The batched engine's final table for (params, seed, awareness levels)."""
    return engine_final


@pytest.fixture(scope="session", autouse=True)
def scenario_background(request, tmp_path_factory):
    """The scenario scripts' runs the selected tests read, started now on a thread of their own
    (tests/scenario_runs.py): ``persona-sim scenario all --quick`` first, then each script alone."""
    from scenario_runs import Background, scripts_needed

    background = Background(tmp_path_factory)
    items = request.session.items
    if any("scenario_all_quick" in getattr(item, "fixturenames", ()) for item in items):
        background.start_all_quick()
    for script in scripts_needed(items):
        background.start(script)
    yield background
    background.close()


@pytest.fixture(scope="session")
def scenario_all_quick(scenario_background):
    """``persona-sim scenario all --quick`` from a fresh working folder, run once for the session
    (tests/scenario_runs.py): every scenario script at its reduced size."""
    return scenario_background.all_quick()
