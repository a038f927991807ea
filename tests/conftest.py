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


@pytest.fixture(scope="session")
def scenario_all_quick(tmp_path_factory):
    """``persona-sim scenario all --quick`` from a fresh working folder, run once for the session
    (tests/scenario_runs.py): every scenario script at its reduced size."""
    from scenario_runs import run_all_quick

    return run_all_quick(tmp_path_factory.mktemp("scenario-all"))
