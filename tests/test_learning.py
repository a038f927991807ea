"""The learning learner (``learner_model = "learning"``, docs/model.md §3.1): its limits
(issue 12, item 5), its agreement with exact Bayes by enumeration (item 4), its outputs
(item 6) and the drivers' agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from learning_oracle import exact_posterior
from sim import Params, simulate
from sim import learner, learning
from sim.corpus import CorpusBatch, build_corpus
from sim.engine import run_family
from sim.engine import run_replicate as engine_run
from sim.learning import LEARNED_COLUMNS, learned_estimates
from sim.schema import FINAL_COLUMNS
from sim.simulation import run_replicate as mesa_run

LEARNING = Params(learner_model="learning")


def _point_mass(params: Params, corpus) -> learning.LearningConstants:
    """The learning learner's constants with point-mass priors at the true values."""
    return learning.learning_constants(params)._replace(
        deceptive_rate_count=math.inf,
        candid_rate_count=math.inf,
        detectability_mean=params.synthetic_detectability,
        detectability_variance=0.0,
        real_cited_mean=corpus.learner_real_cited_rate(params),
        real_cited_count=math.inf,
        planted_cited_mean=params.believed_planted_cited_rate,
        planted_cited_count=math.inf,
    )


@pytest.mark.parametrize("extra", [
    {},
    {"disclosed_fraction": 0.05, "control_likelihood_ratio": 1.5},
    {"sa_start": 0.1, "awareness_schedule": "logistic", "n_documents": 3000},
])
def test_point_mass_priors_give_the_informed_learner(extra):
    """Item 5: with point-mass priors at the true values (d, the corpus's q_r, q_p, pi_D,
    epsilon) the learning learner's numbers are the informed learner's, to 1e-9 in
    log-odds (measured: 9e-13 over 10,000 documents)."""
    params = Params(**extra)
    awareness = np.array([0.0, 0.2, 0.5, 0.63, 0.8, 1.0])
    corpus = build_corpus(params, 3)
    cues = corpus.in_reading_order()
    schedule = learner.awareness_schedule(awareness, params.n_batches, params)
    informed_constants = learner.learner_constants(params, corpus.learner_real_cited_rate(params))
    learning_constants = _point_mass(params, corpus)
    informed = learner.read_corpus(learner.initial_state(6, informed_constants, schedule[:, 0]), cues, schedule, awareness,
                                   params.batch_size, informed_constants)
    learned = learning.read_corpus(learning.initial_state(6, learning_constants, schedule[:, 0]), cues, schedule, awareness,
                                   params.batch_size, learning_constants)
    assert np.abs(informed.log_odds - learned.log_odds).max() < 1e-9
    assert np.abs(informed.believed_planted_sum - learned.believed_planted_sum).max() < 1e-9
    assert np.abs(informed.a - learned.a).max() < 1e-9 and np.abs(informed.b - learned.b).max() < 1e-9
    np.testing.assert_array_equal(informed.emergence_document, learned.emergence_document)
    assert np.ptp(informed.log_odds) > 100  # the learners differ, so the comparison says something


def test_awareness_zero_never_rebel():
    """Item 5: at awareness 0 no cue carries information, so the learning learner ends
    where it started (P(D) = pi_0) and never rebel: 20 replicates of the reference corpus."""
    prior = learning.learning_constants(LEARNING).prior_log_odds
    for rep in range(20):
        final, _ = engine_run(LEARNING, np.array([0.0, 0.9]), np.random.SeedSequence(20261202, spawn_key=(rep,)))
        assert final["persona"][0] != "rebel"
        assert abs(final["log_odds"][0] - prior) < 1e-12
        assert final["learned_planted_share"][0] == pytest.approx(0.05 * 0.3 + 0.95 * 0.01, abs=1e-12)


def test_learned_planted_share_at_full_awareness():
    """Item 5: at awareness 1, d = 2.5, 10,000 documents, the learned planted share
    averages within 0.02 of the true 0.15 over 20 replicates (measured: 0.1558, sd 0.0071)."""
    shares = []
    for rep in range(20):
        final, _ = engine_run(LEARNING, np.array([1.0]), np.random.SeedSequence(12, spawn_key=(rep,)))
        shares.append(final["learned_planted_share"][0])
    assert abs(np.mean(shares) - 0.15) < 0.02


# -- exact Bayes by enumeration (item 4) ------------------------------------------------
def _small_run(n, s, k, rng, d=2.5, rho=0.15):
    planted = rng.random(n) < rho
    z = rng.normal(size=n)
    cited = np.where(planted, rng.random(n) < 0.02, rng.random(n) < 0.6)
    cues = CorpusBatch(z, planted, np.zeros(n, bool), cited, np.ones(n, bool), np.zeros(n, bool))
    k = k._replace(detectability=d)
    state = learning.read_corpus(learning.initial_state(1, k, np.array([s])), cues, np.array([[s]]), np.array([s]),
                                 n, k)
    est = learned_estimates(state)
    exact = exact_posterior(z + s * d * planted, cited, s, k)
    return np.array([
        state.log_odds[0] - exact["log_odds"],
        est["learned_planted_share"][0] - exact["planted_share"],
        state.detectability_mean[0] - exact["detectability"],
        est["learned_real_cited_rate"][0] - exact["real_cited_rate"],
    ])


def test_planted_share_alone_agrees_with_exact_bayes():
    """With the cue model known (near-point priors on delta and the cited shares), the
    filter of the two planting-rate Betas agrees with exact Bayes over the 2^12 class
    assignments of 12 documents to 0.01 in log-odds and 0.002 in the planted share
    (measured over 20 corpora: median 5e-4, largest 5e-3 in log-odds)."""
    k = learning.learning_constants(LEARNING)._replace(
        detectability_mean=2.5, detectability_variance=1e-12, real_cited_mean=0.6, real_cited_count=1e9,
        planted_cited_mean=0.02, planted_cited_count=1e9)
    rng = np.random.default_rng(5)
    err = np.abs([_small_run(12, 1.0, k, rng) for _ in range(20)])
    assert err[:, 0].max() < 0.01
    assert err[:, 1].max() < 0.002


@pytest.mark.parametrize("s, median_log_odds, median_share", [(0.3, 0.15, 0.005), (1.0, 0.8, 0.04)])
def test_whole_filter_agrees_with_exact_bayes(s, median_log_odds, median_share):
    """The whole filter (planted share, detectability, cited shares, default priors)
    against exact Bayes on 12-document corpora: the stated agreement (docs/model.md §3.1,
    measured over 30 corpora: median |error| in log-odds 0.07 at s = 0.3 and 0.52 at
    s = 1, where exact Bayes's log-odds spread over corpora is 0.30 and 2.3; in the
    planted share 0.002 and 0.026)."""
    k = learning.learning_constants(LEARNING)
    rng = np.random.default_rng(5 + int(10 * s))
    err = np.abs([_small_run(12, s, k, rng) for _ in range(30)])
    assert np.median(err[:, 0]) < median_log_odds
    assert np.median(err[:, 1]) < median_share


# -- outputs and drivers (items 5, 6) ---------------------------------------------------
def test_learned_columns_are_outputs_and_nan_for_the_informed_learner():
    """Item 6: the learned estimates are columns of the final table and the trajectory,
    NaN for the informed learner; the learned separation approaches s d."""
    informed = simulate(Params(n_documents=1000), awareness=[0.5], seed=1)
    for c in LEARNED_COLUMNS:
        assert c in FINAL_COLUMNS
        assert np.isnan(informed.final[c]).all()
    run = simulate(LEARNING.replace(n_documents=5000), awareness=[0.0, 1.0], seed=1)
    final = run.final
    assert final["learned_style_separation"][0] == 0.0
    assert abs(final["learned_style_separation"][1] - 2.5) < 0.5
    assert abs(final["learned_planted_share"][1] - 0.15) < 0.03
    assert (final["learned_planted_share_sd"] > 0).all()
    traj = run.trajectory
    assert np.isfinite(traj["learned_planted_share"]).all()
    assert traj["learned_planted_share"].iloc[0] == pytest.approx(0.0245)


@pytest.mark.parametrize("extra", [
    {},
    {"disclosed_fraction": 0.05, "control_likelihood_ratio": 1.5, "citation_cue": "trusted"},
    {"sa_start": 0.0, "awareness_schedule": "linear"},
])
def test_mesa_and_engine_agree_bit_for_bit(extra):
    """Item 5: the Mesa model and the batched engine give the learning learner's numbers
    bit for bit (final table and trajectory)."""
    params = LEARNING.replace(n_documents=3000, **extra)
    awareness = np.array([0.0, 0.3, 0.6, 0.9])
    mesa = simulate(params, awareness=awareness, seed=7)
    fast, _ = engine_run(params, awareness, 7)
    for c in FINAL_COLUMNS:
        np.testing.assert_array_equal(np.asarray(mesa.final[c]), np.asarray(fast[c]), err_msg=c)
    family = run_family(build_corpus(params, 7), params, awareness)
    for c in ("log_odds", "believed_planted_share", "learned_planted_share", "learned_style_separation"):
        engine_traj = np.concatenate([snap[c] for snap in family.snapshots])
        np.testing.assert_array_equal(np.asarray(mesa.trajectory[c]), engine_traj, err_msg=c)


def test_adaptive_lab_and_generations_run_the_learning_learner():
    """The Mesa driver's own runs (an adaptive lab with statements, generations) read
    with the learning learner; the sweep driver gives the same numbers."""
    params = LEARNING.replace(n_documents=2000, lab_policy="come_clean", generations=2)
    awareness = np.array([0.2, 0.9])
    final, _ = mesa_run(params, awareness, 3)
    again = simulate(params, awareness=awareness, seed=3).final
    for c in FINAL_COLUMNS:
        np.testing.assert_array_equal(np.asarray(again[c]), np.asarray(final[c]), err_msg=c)
    assert np.isfinite(final["learned_planted_share"]).all()


def test_retrospection_with_a_schedule_is_refused():
    """The learning learner has no retrospection with a rising schedule: a one-line error."""
    from sim import ParameterError

    with pytest.raises(ParameterError, match="learner_model"):
        Params(learner_model="learning", retrospection=0.5, sa_start=0.1, awareness_schedule="linear")


def test_sweep_is_identical_across_executors_and_workers():
    """Item 5: a sweep over both learners gives the same table whatever runs it (serial,
    threads, processes; one or two workers)."""
    from sim.sweeps import plan_sweep, run_sweep

    plan = plan_sweep(Params(n_documents=1500),
                      grid={"learner_model": ["informed", "learning"], "situational_awareness": "0:1:5"},
                      replicates=3, seed=4)
    tables = [run_sweep(plan, executor=executor, workers=workers, progress=False)
              for executor, workers in (("serial", 1), ("thread", 2), ("process", 2))]
    first = tables[0]
    for other in tables[1:]:
        assert first.equals(other)
    learning_rows = first[first["learner_model"] == "learning"]
    assert np.isfinite(learning_rows["learned_planted_share"]).all()
    assert first[first["learner_model"] == "informed"]["learned_planted_share"].isna().all()


def test_large_corpus_limit():
    """docs/model.md §3.1: the large-corpus log-odds are logit(pi_0) plus the log-ratio of
    the two planting-rate priors' densities at the learned share; pi_dagger is where
    they turn positive (0.0751 under the defaults); two equal priors never turn rebel."""
    from scipy import stats
    from scipy.special import logit

    from sim.learning import large_corpus_log_odds, rebel_share_threshold

    p = Params()
    expected = logit(0.05) + stats.beta(3, 7).logpdf(0.15) - stats.beta(1, 99).logpdf(0.15)
    assert large_corpus_log_odds(p, 0.15) == pytest.approx(expected, abs=1e-12)
    threshold = rebel_share_threshold(p)
    assert threshold == pytest.approx(0.07514, abs=1e-4)
    assert abs(large_corpus_log_odds(p, threshold)) < 1e-8
    same = p.replace(candid_plant_rate=0.3, candid_rate_concentration=10.0)
    assert math.isnan(rebel_share_threshold(same))


def test_command_line_sweeps_both_learners(tmp_path):
    """Item 9: `persona-sim sweep --grid learner_model=informed,learning` runs both learners;
    the threshold table has a row per learner, with no mean-field columns for the learning one."""
    import pandas as pd

    from sim.cli import main

    out = tmp_path / "sweep"
    code = main(["sweep", "--set", "n_documents=2000", "--grid", "learner_model=informed,learning",
                 "--grid", "situational_awareness=0:1:11", "--replicates", "4", "--seed", "3", "--out", str(out),
                 "--quiet", "--no-plots"])
    assert code == 0
    results = pd.read_parquet(out / "results.parquet")
    assert set(results["learner_model"]) == {"informed", "learning"}
    assert results.loc[results["learner_model"] == "learning", "learned_planted_share"].notna().all()
    table = pd.read_csv(out / "thresholds.csv").set_index("learner_model")
    assert np.isnan(table.loc["learning", "s_star_meanfield_inf"])
    assert np.isfinite(table.loc["informed", "s_star_meanfield_inf"])


# -- the compiled reader's arithmetic (benchmarks/README.md, "the learning learner, vectorized") --
def test_plain_arithmetic_exp_and_log():
    """The reader's exp and log in plain arithmetic (so that the loop over learners
    vectorizes) agree with libm: exp within 2 ulp (subnormal results within one
    subnormal step, 0 below exp(-746)); log_ratio within 1e-15 plus 2 ulp of
    log(top / bottom) (it is exact where the quotient would round), subnormal top
    included, a 0 giving -inf or inf."""
    from numba import njit

    @njit
    def apply(x, y, out):
        for i in range(x.size):
            out[0, i] = learning.exp_nonpositive(-x[i])
            out[1, i] = learning.log_ratio(x[i], y[i])

    rng = np.random.default_rng(1)
    ends = [0.0, 1e-310, 5e-324, 1.0, 2.0, 744.5, 745.2, 746.0, np.inf]
    x = np.concatenate([rng.random(20000) * 800, rng.random(20000), np.exp(-rng.random(2000) * 740), ends])
    y = np.concatenate([rng.random(x.size - len(ends)), [1.0, 0.5, 1e-300, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    out = np.empty((2, x.size))
    apply(x, y, out)
    with np.errstate(divide="ignore", over="ignore"):
        quotient = x / y
        exp, ratio = np.exp(-x), np.log(quotient)
    normal = exp > 2.3e-308
    assert np.all(np.abs(out[0][normal] - exp[normal]) <= 2 * np.spacing(exp[normal]))
    assert np.all(np.abs(out[0][~normal] - exp[~normal]) <= 5e-324)
    finite = np.isfinite(ratio) & (quotient > 2.3e-308)  # a subnormal quotient rounds the reference itself
    assert np.all(np.abs(out[1][finite] - ratio[finite]) <= 1e-15 + 2 * np.spacing(np.abs(ratio[finite])))
    tiny = (x > 0) & (x < 1e-300)
    assert np.all(np.abs(out[1][tiny] - (np.log(x[tiny]) - np.log(y[tiny]))) <= 1e-12)
    assert out[1][x.size - 9] == -np.inf and out[1][x.size - 6] == np.inf


@pytest.mark.parametrize("extra", [
    {"candid_plant_rate": 0.0},
    {"candid_plant_rate": 1.0},
    {"deceptive_plant_rate": 1.0, "candid_plant_rate": 0.0},
    {"deceptive_rate_concentration": 1e-6, "candid_rate_concentration": 1e99},
    {"detectability_prior_sd": 0.0, "cited_rate_concentration": math.inf},
    {"detectability_prior_sd": 100.0, "detectability_prior_mean": -100.0, "cited_rate_concentration": 1e-6},
    {"planted_fraction": 1.0, "synthetic_detectability": 8.0},
])
def test_extreme_priors_stay_finite(extra):
    """At the ends of the priors' ranges (planting rates 0 and 1, concentrations tiny and
    huge, detectability told or nearly unknown) and at awareness 0 and 1 the learning
    learner's outputs are finite and in range (before the vectorized reader, planting
    rates of 1 gave NaN: the planted share's count lost its variance to cancellation)."""
    params = LEARNING.replace(n_documents=2000, **extra)
    final, _ = engine_run(params, np.array([0.0, 0.05, 0.3, 1.0]), 11)
    for c in ("log_odds", "believed_planted_share", "uplift", *LEARNED_COLUMNS):
        assert np.isfinite(np.asarray(final[c], dtype=float)).all(), c
    for c in ("p_deceptive", "believed_planted_share", "learned_planted_share", "learned_real_cited_rate"):
        values = np.asarray(final[c], dtype=float)
        assert ((values >= 0.0) & (values <= 1.0)).all(), c


def test_a_learner_reads_the_same_in_any_family():
    """Every lane's arithmetic is its own: a learner alone, in a family of 11 (padded to
    whole SIMD vectors) and in the Mesa model gives the same bits."""
    params = LEARNING.replace(n_documents=3000, disclosed_fraction=0.02)
    corpus = build_corpus(params, 9)
    levels = np.linspace(0.0, 1.0, 11)
    family = run_family(corpus, params, levels, record=False)
    for i in (0, 4, 10):
        alone = run_family(corpus, params, levels[i:i + 1], record=False)
        assert alone.final_log_odds()[0] == family.final_log_odds()[i]
        for f in ("a", "b", "believed_planted_sum", "emergence_document", "deceptive_rate_mean",
                  "detectability_variance", "planted_cited_count"):
            np.testing.assert_array_equal(getattr(alone.state, f)[0], getattr(family.state, f)[i], err_msg=f)
    mesa = simulate(params, levels[4:5], seed=9).final
    assert mesa["log_odds"].iloc[0] == family.final_log_odds()[4]
