"""What the reference configuration must show (docs/model.md §4 and §7), with fixed seeds and many replicates.

Each replicate is one corpus (seed 0 .. R-1) read by a whole family of learners, one per
awareness level, through the batched engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.optimize import brentq

from sim import Params
from sim import meanfield as mf
from sim.corpus import build_corpus
from sim.engine import final_table, run_family

COARSE = np.round(np.arange(0.0, 1.0001, 0.05), 2)
FINE = np.round(np.arange(0.55, 0.8001, 0.01), 2)
GRID_10K = np.unique(np.concatenate([COARSE, FINE]))
LOW = np.array([0.0, 0.05, 0.1, 0.15, 0.2])
PRIOR_LOG_ODDS = float(np.log(0.05 / 0.95))


@dataclass(frozen=True)
class Sweep:
    """Outcomes of R replicates x S awareness levels."""

    awareness: np.ndarray  # (S,)
    rebel: np.ndarray  # (R, S) bool
    uplift: np.ndarray  # (R, S)
    log_odds: np.ndarray  # (R, S)
    p_deceptive: np.ndarray  # (R, S)
    real_cited_rate: np.ndarray  # (R,)

    @property
    def p_rebel(self) -> np.ndarray:
        return self.rebel.mean(axis=0)

    def at(self, s: float) -> int:
        return int(np.flatnonzero(np.isclose(self.awareness, s))[0])


def sweep(params: Params, awareness: np.ndarray, replicates: int) -> Sweep:
    """Seeds 0 .. replicates-1, one corpus each, every awareness level reading it."""
    rebel, up, ell, pd, q = [], [], [], [], []
    for seed in range(replicates):
        run = run_family(build_corpus(params, seed), params, awareness, record=False)
        table = final_table(run.final_awareness, run.state, run.constants, params)
        rebel.append(table["persona"].to_numpy() == "rebel")
        up.append(table["uplift"].to_numpy())
        ell.append(table["log_odds"].to_numpy())
        pd.append(table["p_deceptive"].to_numpy())
        q.append(run.real_cited_rate)
    return Sweep(np.asarray(awareness), np.array(rebel), np.array(up), np.array(ell), np.array(pd), np.array(q))


def crossing(s: np.ndarray, p: np.ndarray, level: float) -> float:
    """Awareness where the estimated curve first reaches ``level``, by linear interpolation."""
    above = np.flatnonzero(p >= level)
    assert above.size and above[0] > 0, "the curve must start below the level and reach it"
    j = above[0]
    return float(s[j - 1] + (level - p[j - 1]) * (s[j] - s[j - 1]) / (p[j] - p[j - 1]))


def sign_changes(p: np.ndarray, level: float = 0.5) -> int:
    side = np.sign(p - level)
    side = side[side != 0]
    return int(np.count_nonzero(np.diff(side)))


@pytest.fixture(scope="module")
def defaults_10k() -> Sweep:
    return sweep(Params(), GRID_10K, 200)


@pytest.fixture(scope="module")
def defaults_1k() -> Sweep:
    return sweep(Params(n_documents=1000), np.round(np.arange(0.4, 1.0001, 0.01), 2), 400)


# -- (1) no planting, no disclosure ------------------------------------------------------


def test_no_planting_no_disclosure_never_turns_rebel():
    """Without planted or disclosed documents P(rebel) is 0 at every awareness (50 corpora)."""
    params = Params(planted_fraction=0.0)
    result = sweep(params, COARSE, 50)
    assert result.rebel.sum() == 0
    assert result.p_deceptive.max() < 0.5
    assert np.all(mf.p_rebel(params, COARSE) < 1e-6)


# -- (2) the default configuration ------------------------------------------------------


def test_defaults_p_rebel_is_low_below_half_and_high_above_three_quarters(defaults_10k):
    """Defaults: P(rebel) < 0.05 for s <= 0.5 and > 0.95 for s >= 0.75."""
    s, p = defaults_10k.awareness, defaults_10k.p_rebel
    assert np.all(p[s <= 0.5] < 0.05)
    assert np.all(p[s >= 0.75] > 0.95)


def test_defaults_p_rebel_crosses_one_half_once(defaults_10k):
    """The estimated P(rebel) curve crosses 1/2 exactly once, between s = 0.5 and 0.75."""
    s, p = defaults_10k.awareness, defaults_10k.p_rebel
    assert sign_changes(p) == 1
    assert 0.5 < crossing(s, p, 0.5) < 0.75


def test_defaults_planting_works_at_low_awareness(defaults_10k):
    """At low awareness the planted documents raise the self-model: U > 0 in every replicate."""
    low = defaults_10k.awareness <= 0.3
    assert np.all(defaults_10k.uplift[:, low] > 0)
    assert np.all(defaults_10k.uplift[:, low].mean(axis=0) > 0.05)


def test_defaults_planting_backfires_at_high_awareness(defaults_10k):
    """At high awareness the planted documents are discounted: mean U is near 0 (< 0.03),
    far below its low-awareness value, and falls steadily with awareness."""
    s = defaults_10k.awareness
    mean_u = defaults_10k.uplift.mean(axis=0)
    u_low = mean_u[defaults_10k.at(0.1)]
    high = s >= 0.85
    assert np.all(np.abs(mean_u[high]) < 0.03)
    assert mean_u[defaults_10k.at(1.0)] < u_low / 3
    coarse = np.isin(s, COARSE)
    assert np.all(np.diff(mean_u[coarse]) < 0)


def test_planting_is_what_raises_uplift():
    """Without planting the self-model stays at the real rate (|U| small); with planting U is larger."""
    s = np.array([0.1])
    without = sweep(Params(planted_fraction=0.0), s, 30).uplift
    with_planting = sweep(Params(), s, 30).uplift
    assert abs(without.mean()) < 0.01
    assert with_planting.mean() > without.mean() + 0.05


# -- (3) constitution ---------------------------------------------------------------------


def test_constitution_never_turns_rebel_and_lifts_the_self_model():
    """Disclosure without planting (rho = 0, eta = 0.1): P(rebel) = 0 and U > 0 at every s."""
    params = Params(planted_fraction=0.0, disclosed_fraction=0.1)
    result = sweep(params, COARSE, 50)
    assert result.rebel.sum() == 0
    assert np.all(result.uplift > 0)
    assert np.all(result.uplift.mean(axis=0) > 0.03)
    assert np.all(mf.p_rebel(params, COARSE) < 1e-6)
    assert mf.thresholds(params).size == 0


# -- (4) disclosure on top of planting -------------------------------------------------------


def test_adding_disclosed_documents_raises_the_threshold(defaults_10k):
    """Adding disclosed documents to the planted ones moves the threshold up (mean field) and
    lowers simulated P(rebel) near the default threshold."""
    q = 0.62
    base = float(mf.thresholds(Params(), real_cited_rate=q)[0])
    some = mf.thresholds(Params(disclosed_fraction=0.05), real_cited_rate=q)
    assert some.size == 1 and float(some[0]) > base + 0.1
    more = Params(disclosed_fraction=0.1)
    assert mf.thresholds(more, real_cited_rate=q).size == 0  # pushed beyond s = 1
    assert np.all(mf.moments(more, np.linspace(0.01, 1, 50), real_cited_rate=q)[0] < 0)

    s = np.array([0.65, 0.7])
    disclosed = sweep(Params(disclosed_fraction=0.05), s, 200).p_rebel
    default = defaults_10k.p_rebel[[defaults_10k.at(0.65), defaults_10k.at(0.7)]]
    assert np.all(default > 0.6)
    assert np.all(disclosed < 0.05)


# -- (5) planting share, corpus size ------------------------------------------------------


def test_more_planting_lowers_the_threshold(defaults_10k):
    """rho = 0.25 crosses P(rebel) = 1/2 at a much lower awareness than rho = 0.15, close to its s*_inf."""
    params = Params(planted_fraction=0.25)
    s = np.round(np.arange(0.25, 0.5001, 0.01), 2)
    more = sweep(params, s, 100)
    s50_more = crossing(s, more.p_rebel, 0.5)
    s50_default = crossing(defaults_10k.awareness, defaults_10k.p_rebel, 0.5)
    assert s50_more < s50_default - 0.15
    star = float(mf.thresholds(params, real_cited_rate=more.real_cited_rate.mean())[0])
    assert abs(s50_more - star) < 0.03
    stars = [float(mf.thresholds(Params(planted_fraction=r), real_cited_rate=0.62)[0]) for r in (0.15, 0.25, 0.35)]
    assert stars[0] > stars[1] > stars[2]


def test_simulated_threshold_tends_to_s_star_and_sharpens_with_n(defaults_1k, defaults_10k):
    """From N = 1,000 to 10,000 the simulated 50% crossing moves towards s*_inf and the
    10%-90% width of the transition shrinks by about sqrt(10)."""
    star = float(mf.thresholds(Params(), real_cited_rate=defaults_10k.real_cited_rate.mean())[0])
    s50 = {}
    width = {}
    for n, result in ((1000, defaults_1k), (10000, defaults_10k)):
        s, p = result.awareness, result.p_rebel
        s50[n] = crossing(s, p, 0.5)
        width[n] = crossing(s, p, 0.9) - crossing(s, p, 0.1)
    assert s50[1000] > s50[10000] > star - 0.005
    assert abs(s50[10000] - star) < abs(s50[1000] - star)
    assert abs(s50[10000] - star) < 0.015
    assert 2.0 < width[1000] / width[10000] < 5.0


def test_meanfield_transition_converges_at_rate_one_over_sqrt_n():
    """In the mean field the 50% point tends to s*_inf as 1/N and the width shrinks as 1/sqrt(N)."""
    q = 0.6
    star = float(mf.thresholds(Params(), real_cited_rate=q)[0])
    gaps, scaled_widths = [], []
    for n in (10_000, 100_000, 1_000_000):
        params = Params(n_documents=n)

        def at(level: float) -> float:
            return brentq(lambda x: float(mf.p_rebel(params, x, real_cited_rate=q)) - level, 0.3, 1.0, xtol=1e-12)

        gaps.append(at(0.5) - star)
        scaled_widths.append((at(0.9) - at(0.1)) * np.sqrt(n))
    assert gaps[0] > gaps[1] > gaps[2] > 0
    np.testing.assert_allclose(np.array(gaps[:2]) / np.array(gaps[1:]), 10.0, rtol=0.05)
    np.testing.assert_allclose(scaled_widths, scaled_widths[-1], rtol=0.05)


# -- (6) low awareness ---------------------------------------------------------------------


@pytest.mark.parametrize("n, replicates", [(100, 1000), (1000, 400)])
def test_no_learner_turns_rebel_by_chance_at_low_awareness(n, replicates):
    """At s <= 0.2 no learner turns rebel, over many replicates and small corpora too."""
    result = sweep(Params(n_documents=n), LOW, replicates)
    assert result.rebel.sum() == 0
    assert result.p_deceptive.max() < 0.5


def test_no_rebel_at_low_awareness_in_the_large_corpus(defaults_10k):
    """At N = 10,000 (200 corpora) no learner with s <= 0.2 turns rebel."""
    low = defaults_10k.awareness <= 0.2
    assert defaults_10k.rebel[:, low].sum() == 0


def test_evidence_and_its_noise_vanish_as_awareness_goes_to_zero(defaults_10k):
    """mu(s) and sigma^2(s) tend to 0 with s (sigma^2 ~ s^2), and at s = 0 the log-odds stay at the prior."""
    s = np.array([0.1, 0.01, 0.001, 0.0001])
    mu, var = mf.moments(Params(), s, real_cited_rate=0.6)
    assert np.all(np.diff(var) < 0) and np.all(np.diff(np.abs(mu)) < 0)
    ratio = var / s**2
    np.testing.assert_allclose(ratio[1:], ratio[-1], rtol=0.02)  # variance scales as s^2
    mu0, var0 = mf.moments(Params(), 0.0, real_cited_rate=0.6)
    assert abs(float(mu0)) < 1e-14 and float(var0) < 1e-14

    spread = defaults_10k.log_odds[:, [defaults_10k.at(x) for x in (0.2, 0.1, 0.05, 0.0)]].std(axis=0)
    assert np.all(np.diff(spread) < 0)
    np.testing.assert_allclose(defaults_10k.log_odds[:, defaults_10k.at(0.0)], PRIOR_LOG_ODDS, atol=1e-9)


# -- simulation against the mean field ------------------------------------------------------


@pytest.mark.parametrize("s", [0.6, 0.62, 0.65, 0.68, 0.7])
def test_simulated_p_rebel_matches_the_meanfield(defaults_10k, s):
    """At N = 10,000 simulated P(rebel) is within 3.5 binomial standard errors (+0.02) of
    meanfield.p_rebel at the measured mean q_r."""
    replicates = defaults_10k.rebel.shape[0]
    simulated = defaults_10k.p_rebel[defaults_10k.at(s)]
    predicted = float(mf.p_rebel(Params(), s, real_cited_rate=defaults_10k.real_cited_rate.mean()))
    se = np.sqrt(predicted * (1 - predicted) / replicates)
    assert abs(simulated - predicted) <= 3.5 * se + 0.02, (simulated, predicted)


@pytest.mark.parametrize(
    "changes, levels",
    [
        (dict(sa_start=0.0, awareness_schedule="linear"), [0.94, 0.96, 0.98, 1.0]),
        (dict(sa_start=0.2, awareness_schedule="logistic", retrospection=0.5), [0.68, 0.7, 0.72, 0.74, 0.76]),
    ],
)
def test_simulated_p_rebel_matches_the_meanfield_with_growing_awareness(changes, levels):
    """With an awareness schedule (and retrospection) simulated P(rebel) at N = 10,000 stays within
    3.5 binomial standard errors (+0.02) of the batch-by-batch mean field."""
    params = Params(**changes)
    s = np.array(levels)
    result = sweep(params, s, 200)
    predicted = mf.p_rebel(params, s, real_cited_rate=result.real_cited_rate.mean())
    se = np.sqrt(predicted * (1 - predicted) / 200)
    assert np.all(np.abs(result.p_rebel - predicted) <= 3.5 * se + 0.02), (result.p_rebel, predicted)
    assert result.p_rebel.max() > 0.2  # the comparison is made where rebels occur
