"""Invariants over the whole parameter box, with Hypothesis (every parameter within its declared bounds)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from sim import PARAMETERS, Params, simulate
from sim import meanfield as mf
from sim.corpus import build_corpus
from sim.engine import final_table, run_family
from sim.learner import (
    EMERGENCE_LEVEL,
    PERSONAS,
    awareness_schedule,
    increment,
    learner_constants,
    perceive,
    persona,
    planted_belief,
)

SPEC = {p.name: p for p in PARAMETERS}
TINY = math.ulp(0.0)  # the smallest positive float: the edge of an open bound at 0


def _float_in_bounds(name: str, extra_edges=()) -> st.SearchStrategy[float]:
    """Any float allowed for ``name``, with its (closed) endpoints and given edge values drawn often."""
    spec = SPEC[name]
    lo, hi = float(spec.low), float(spec.high)
    edges = [x for x in (lo, hi) if not (x == lo and spec.low_open) and not (x == hi and spec.high_open)]
    edges += list(extra_edges)
    inner = st.floats(lo, hi, exclude_min=spec.low_open, exclude_max=spec.high_open, allow_nan=False)
    for value in edges:
        spec.validate(value)  # every edge is itself allowed
    return st.one_of(st.sampled_from(edges), inner) if edges else inner


#: Edge values beyond the closed endpoints: open bounds approached, extreme likelihood ratios.
EXTRA_EDGES = {
    "control_likelihood_ratio": (1e-6, 1.0, 1e6),
    "disclosure_likelihood_ratio": (1e-6, 1.0, 1e6),
    "believed_planted_cited_rate": (1e-9, 0.5, 1 - 1e-9),
    "prior_deceptive": (1e-9, 0.5, 1 - 1e-9),
    "schedule_steepness": (TINY, 1e-3, 10.0),
    "synthetic_detectability": (2.5, 26.0),
    "candid_plant_rate": (1e-300, 0.01, 0.5),
    "deceptive_plant_rate": (1e-300, 0.3, 0.5),
    "norm_weight": (1.0,),
}


@st.composite
def params_in_box(draw, max_documents: int = 300, max_batches: int | None = None) -> Params:
    """A Params anywhere in the declared box (joint constraints respected), with a small corpus."""
    values = {}
    n = draw(st.one_of(st.integers(1, max_documents), st.integers(max_documents // 2, max_documents)))
    values["n_documents"] = n
    low_batch = 1 if max_batches is None else -(-n // max_batches)
    values["batch_size"] = draw(
        st.one_of(st.sampled_from([max(low_batch, 1), 10_000_000]), st.integers(low_batch, max(low_batch, n + 5)))
    )
    planted = draw(_float_in_bounds("planted_fraction"))
    values["planted_fraction"] = planted
    values["disclosed_fraction"] = draw(
        st.one_of(st.sampled_from([0.0, 1.0 - planted]), st.floats(0.0, 1.0 - planted))
    )
    values["citations_per_document"] = draw(
        st.one_of(st.sampled_from([0, 1, 3, 1000]), st.integers(0, 1000))
    )
    for name in (
        "real_positive_rate",
        "control_discourse_fraction",
        "control_likelihood_ratio",
        "synthetic_detectability",
        "believed_planted_cited_rate",
        "prior_deceptive",
        "candid_plant_rate",
        "deceptive_plant_rate",
        "disclosure_likelihood_ratio",
        "norm_weight",
        "situational_awareness",
        "schedule_steepness",
        "retrospection",
    ):
        values[name] = draw(_float_in_bounds(name, EXTRA_EDGES.get(name, ())))
    schedule = draw(st.sampled_from(SPEC["awareness_schedule"].choices))
    values["awareness_schedule"] = schedule
    if schedule != "constant":  # a rising schedule needs its start, constant awareness has none
        values["sa_start"] = draw(_float_in_bounds("sa_start"))
    return Params(**values)


awareness_levels = st.lists(
    st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)), min_size=1, max_size=4
)
seeds = st.integers(0, 2**32 - 1)


@given(params=params_in_box(), levels=awareness_levels, seed=seeds)
def test_final_table_is_finite_and_in_range_over_the_box(params, levels, seed):
    """Probabilities and shares stay in [0, 1], uplift in [-1, 1], and nothing is NaN or inf
    except emergence_document (NaN or a document index) and the learning learner's
    estimates (NaN for this, the informed learner)."""
    corpus = build_corpus(params, seed)
    run = run_family(corpus, params, np.array(levels), record=True)
    table = final_table(run.final_awareness, run.state, run.constants, params)
    assert len(table) == len(levels)
    learned = [c for c in table.columns if c.startswith("learned_")]  # the learning learner's only
    assert table[learned].isna().all().all()
    numeric = table.drop(columns=["persona", "emergence_document", *learned])
    assert np.all(np.isfinite(numeric.to_numpy(dtype=float))), table
    for column in ("p_deceptive", "believed_planted_share"):
        assert table[column].between(0.0, 1.0).all(), column
    assert table["uplift"].between(-1.0, 1.0).all()
    emergence = table["emergence_document"].to_numpy()
    found = ~np.isnan(emergence)
    assert np.all(emergence[found] >= 1) and np.all(emergence[found] <= params.n_documents)
    assert np.all(emergence[found] == np.round(emergence[found]))
    want = [PERSONAS[c] for c in persona(table["p_deceptive"].to_numpy(), table["uplift"].to_numpy())]
    assert table["persona"].tolist() == want
    # as-read log-odds at or above log 9 imply an emergence time
    assert np.all(found[run.state.log_odds >= EMERGENCE_LEVEL])
    # the schedule itself stays within [0, 1]
    sched = awareness_schedule(run.final_awareness, params.n_batches, params)
    assert np.all((sched >= 0) & (sched <= 1))
    for snap in run.snapshots:
        for key in ("log_odds", "p_deceptive", "uplift", "believed_planted_share"):
            assert np.all(np.isfinite(snap[key])), key


@given(params=params_in_box(max_documents=10_000_000, max_batches=400), levels=awareness_levels)
def test_meanfield_is_finite_and_p_rebel_a_probability_over_the_box(params, levels):
    """moments() is finite with variance >= 0 and p_rebel() is a finite probability everywhere in the box."""
    s = np.array(levels)
    mu, var = mf.moments(params, s)
    assert np.all(np.isfinite(mu)) and np.all(np.isfinite(var)) and np.all(var >= 0)
    p = mf.p_rebel(params, s)
    assert p.shape == s.shape
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    est = mf.emergence_estimate(params, s)
    assert np.all((est >= 0) & ~np.isnan(est))


@given(params=params_in_box(max_documents=1000), q=st.floats(0.0, 1.0))
def test_thresholds_are_roots_of_mu_in_the_unit_interval(params, q):
    """Every threshold lies in (0, 1] and is a root of mu(s)."""
    roots = mf.thresholds(params, real_cited_rate=q, grid=60)
    assert np.all((roots > 0) & (roots <= 1))
    if roots.size:
        mu = mf.moments(params, roots, real_cited_rate=q)[0]
        scale = np.max(np.abs(mf.moments(params, np.linspace(0.01, 1, 60), real_cited_rate=q)[0]))
        assert np.all(np.abs(mu) <= 1e-6 * max(scale, 1e-300) + 1e-12)


@given(params=params_in_box(), levels=awareness_levels, seed=seeds)
def test_same_seed_gives_identical_tables(params, levels, seed):
    """Two runs with the same seed give equal final tables (DataFrame.equals)."""
    def table():
        run = run_family(build_corpus(params, seed), params, np.array(levels), record=False)
        return final_table(run.final_awareness, run.state, run.constants, params)

    assert table().equals(table())


@given(params=params_in_box(max_documents=150), levels=awareness_levels, seed=seeds)
def test_mesa_model_and_batched_functions_give_identical_log_odds(params, levels, seed):
    """The Mesa model and the batched engine give the same final table, log-odds bit for bit."""
    mesa = simulate(params, levels, seed=seed).final
    run = run_family(build_corpus(params, seed), params, np.array(levels), record=False)
    engine = final_table(run.final_awareness, run.state, run.constants, params)
    assert_array_equal(mesa["log_odds"].to_numpy(), engine["log_odds"].to_numpy())
    assert mesa.equals(engine)


@given(params=params_in_box(), seed=seeds)
def test_unaware_learner_keeps_its_prior(params, seed):
    """A learner at awareness 0 throughout sees no evidence: its log-odds stay at logit(pi_0)."""
    constant = params.replace(sa_start=None, awareness_schedule="constant")
    run = run_family(build_corpus(constant, seed), constant, np.array([0.0]), record=False)
    prior = math.log(constant.prior_deceptive) - math.log1p(-constant.prior_deceptive)
    assert abs(float(run.final_log_odds()[0]) - prior) <= 1e-13 * constant.n_documents * max(1.0, abs(prior))


def _reference_read(corpus, params, levels):
    """The learner's state recomputed from the public array functions (perceive, increment,
    planted_belief), batch by batch: log-odds, a, b, sum of p_hat, emergence path."""
    constants = learner_constants(params, corpus.learner_real_cited_rate(params))
    levels = np.asarray(levels, dtype=float)
    sched = awareness_schedule(levels, params.n_batches, params)
    ell = np.full(levels.size, constants.prior_log_odds)
    a, b, believed = np.ones(levels.size), np.ones(levels.size), np.zeros(levels.size)
    paths = []
    for t, batch in enumerate(corpus.batches(params.batch_size)):
        s = sched[:, t]
        log_lr = perceive(batch, s, constants)
        p_hat = planted_belief(ell, log_lr, batch, constants)
        weight = 1.0 - p_hat
        a = a + (weight * (batch.positive & ~batch.disclosed)).sum(axis=1) + constants.norm_weight * batch.disclosed.sum()
        b = b + (weight * (~batch.positive & ~batch.disclosed)).sum(axis=1)
        believed = believed + p_hat.sum(axis=1)
        path = ell[:, None] + np.cumsum(increment(log_lr, batch, s, constants), axis=1)
        paths.append(path)
        ell = path[:, -1]
    return ell, a, b, believed, np.concatenate(paths, axis=1)


@given(params=params_in_box(), levels=awareness_levels, seed=seeds)
def test_engine_state_equals_the_reference_reader(params, levels, seed):
    """run_family's log-odds, self-model counts, planted belief and emergence equal a plain
    recomputation from perceive / increment / planted_belief (the update rules, summed in numpy)."""
    corpus = build_corpus(params, seed)
    state = run_family(corpus, params, np.array(levels), record=False).state
    ell, a, b, believed, path = _reference_read(corpus, params, levels)
    assert np.all(np.isfinite(ell))
    scale = 1e-9 * (1.0 + np.max(np.abs(path), axis=1))
    assert np.all(np.abs(state.log_odds - ell) <= scale), (state.log_odds, ell)
    np.testing.assert_allclose(state.a, a, rtol=1e-9)
    np.testing.assert_allclose(state.b, b, rtol=1e-9)
    np.testing.assert_allclose(state.believed_planted_sum, believed, rtol=1e-9, atol=1e-12)
    for j in range(len(levels)):
        if np.any(np.abs(path[j] - EMERGENCE_LEVEL) <= scale[j]):
            continue  # a crossing within rounding of log 9: either answer is right
        crossed = np.flatnonzero(path[j] >= EMERGENCE_LEVEL)
        want = float(crossed[0] + 1) if crossed.size else float("nan")
        np.testing.assert_array_equal(state.emergence_document[j], want)


def test_tiny_schedule_steepness_keeps_awareness_finite():
    """A logistic schedule with the smallest allowed steepness still gives awareness in [0, 1] (no NaN)."""
    for constants in (1e-17, TINY):
        p = Params(sa_start=0.1, awareness_schedule="logistic", schedule_steepness=constants, n_documents=50, batch_size=10)
        sched = awareness_schedule(np.array([0.5, 0.9]), p.n_batches, p)
        assert np.all(np.isfinite(sched)), (constants, sched)
        run = run_family(build_corpus(p, 0), p, np.array([0.5]), record=False)
        assert np.all(np.isfinite(run.final_log_odds()))
