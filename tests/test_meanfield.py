"""The mean field: moments of the increment, P(rebel), thresholds, emergence, and the mean paths of
reacting labs, laundering and generations (sim.meanfield)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import quad
from scipy.stats import norm

from sim import Params, meanfield
from sim import meanfield as mf
from sim.corpus import build_corpus, expected_planted_cited_rate, expected_real_cited_rate
from sim.learner import EMERGENCE_LEVEL

Q = 0.6  # the q_r of the reference values (docs/model.md §4)


# -- reference values (docs/model.md §4, "Reference values, reproduced") -----------------------


def test_default_threshold_is_0_628():
    """s*_inf = 0.628 at rho = 0.15 with q_r = 0.6."""
    assert np.round(mf.thresholds(Params(), real_cited_rate=Q), 3).tolist() == [0.628]


def test_threshold_at_rho_0_25_is_0_373():
    """s*_inf = 0.373 at rho = 0.25 with q_r = 0.6."""
    assert np.round(mf.thresholds(Params(planted_fraction=0.25), real_cited_rate=Q), 3).tolist() == [0.373]


def test_reference_moments():
    """mu(1) = 0.1096, sigma^2(1) = 0.988 and mu(0.5) = -0.0311 at the defaults."""
    mu, var = mf.moments(Params(), [1.0, 0.5], real_cited_rate=Q)
    assert round(float(mu[0]), 4) == 0.1096
    assert round(float(var[0]), 3) == 0.988
    assert round(float(mu[1]), 4) == -0.0311


def test_reference_p_rebel_at_n_10000():
    """P(rebel) at N = 10,000 is about 0.09, 0.81 and 1.00 at s = 0.6, 0.65, 0.7."""
    p = mf.p_rebel(Params(), [0.6, 0.65, 0.7], real_cited_rate=Q)
    assert np.round(p, 2).tolist() == [0.09, 0.81, 1.0]


def test_reference_emergence_estimate_at_s_0_8():
    """Wald's emergence estimate at s = 0.8 is about 101 documents."""
    assert round(float(mf.emergence_estimate(Params(), 0.8, real_cited_rate=Q))) == 101


@pytest.mark.parametrize("rho", [0.10, 0.05, 0.0])
def test_no_threshold_below_the_window(rho):
    """Below rho ~ 0.103 mu < 0 at every s > 0: planting never backfires."""
    p = Params(planted_fraction=rho)
    assert mf.thresholds(p, real_cited_rate=Q).size == 0
    mu = mf.moments(p, np.linspace(0.01, 1, 100), real_cited_rate=Q)[0]
    assert np.all(mu < 0)


@pytest.mark.parametrize("rho", [0.11, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.64])
def test_one_threshold_inside_the_window(rho):
    """For rho in 0.11 .. 0.64 mu has exactly one root in (0, 1]; mu < 0 below it and > 0 above."""
    p = Params(planted_fraction=rho)
    roots = mf.thresholds(p, real_cited_rate=Q)
    assert roots.size == 1
    root = float(roots[0])
    assert 0 < root <= 1
    assert abs(float(mf.moments(p, root, real_cited_rate=Q)[0])) < 1e-9
    below, above = mf.moments(p, [root * 0.9, min(1.0, root * 1.1 + 1e-3)], real_cited_rate=Q)[0]
    assert below < 0 < above


@pytest.mark.parametrize("rho", [0.66, 0.8, 1.0])
def test_no_threshold_above_the_window(rho):
    """Above rho ~ 0.651 mu > 0 at every s > 0: planting backfires at any awareness."""
    p = Params(planted_fraction=rho)
    assert mf.thresholds(p, real_cited_rate=Q).size == 0
    mu = mf.moments(p, np.linspace(0.001, 1, 200), real_cited_rate=Q)[0]
    assert np.all(mu > 0)


def test_threshold_falls_as_planting_rises():
    """More planting lowers the large-corpus threshold."""
    roots = [float(mf.thresholds(Params(planted_fraction=r), real_cited_rate=Q)[0]) for r in (0.12, 0.15, 0.25, 0.4, 0.6)]
    assert np.all(np.diff(roots) < 0)


# -- analytic and independent checks of the moments ------------------------------------


@pytest.mark.parametrize("s", [0.0, 0.3, 0.8, 1.0])
def test_moments_without_style_or_citation_cue_are_exact(s):
    """With d = 0 and q_p = q_r every undisclosed Lambda is 1, so
    mu = eta s log beta + (1 - rho - eta) c s log kappa, and the variance follows exactly."""
    rho, eta, c = 0.2, 0.1, 0.3
    kappa, beta = 3.0, 0.25
    p = Params(
        synthetic_detectability=0.0,
        believed_planted_cited_rate=0.35,
        planted_fraction=rho,
        disclosed_fraction=eta,
        control_discourse_fraction=c,
        control_likelihood_ratio=kappa,
        disclosure_likelihood_ratio=beta,
    )
    mu, var = mf.moments(p, s, real_cited_rate=0.35)
    kd, kc = s * math.log(beta), s * math.log(kappa)
    real = 1 - rho - eta
    want_mu = eta * kd + real * c * kc
    want_var = eta * kd**2 + real * c * kc**2 - want_mu**2
    assert_allclose(mu, want_mu, rtol=1e-12, atol=1e-15)
    assert_allclose(var, want_var, rtol=1e-12, atol=1e-15)


def _quad_moments(p: Params, s: float, q_r: float) -> tuple[float, float]:
    """Independent E[Delta], Var[Delta] by adaptive quadrature over the style noise."""
    d, q_p = p.synthetic_detectability, p.believed_planted_cited_rate
    pd, eps = p.deceptive_plant_rate, p.candid_plant_rate
    m = s * d

    def delta(z: float, planted: bool, cited: bool) -> float:
        x = m * planted + z
        cite = s * math.log(q_p / q_r) if cited else s * math.log((1 - q_p) / (1 - q_r))
        log_lr = m * x - m * m / 2 + cite
        return float(np.logaddexp(math.log(pd) + log_lr, math.log1p(-pd)) - np.logaddexp(math.log(eps) + log_lr, math.log1p(-eps)))

    def moment(planted: bool, cited: bool, extra: float, power: int) -> float:
        f = lambda z: (delta(z, planted, cited) + extra) ** power * norm.pdf(z)  # noqa: E731
        return quad(f, -12, 12, epsabs=1e-13, epsrel=1e-12, limit=200)[0]

    c, kc, kd = p.control_discourse_fraction, s * math.log(p.control_likelihood_ratio), s * math.log(p.disclosure_likelihood_ratio)
    real, rho, eta = p.real_fraction, p.planted_fraction, p.disclosed_fraction
    m1 = m2 = 0.0
    for cited, pc in ((True, q_r), (False, 1 - q_r)):
        for extra, pk in ((kc, c), (0.0, 1 - c)):
            m1 += real * pc * pk * moment(False, cited, extra, 1)
            m2 += real * pc * pk * moment(False, cited, extra, 2)
    m1 += rho * moment(True, False, 0.0, 1) + eta * kd
    m2 += rho * moment(True, False, 0.0, 2) + eta * kd**2
    return m1, m2 - m1 * m1


@pytest.mark.parametrize("s", [0.2, 0.628, 1.0])
@pytest.mark.parametrize(
    "params",
    [Params(), Params(disclosed_fraction=0.05, control_likelihood_ratio=2.0, planted_fraction=0.25)],
)
def test_moments_agree_with_independent_quadrature(params, s):
    """moments() matches an adaptive-quadrature computation of E[Delta] and Var[Delta]."""
    mu, var = mf.moments(params, s, real_cited_rate=0.62)
    q_mu, q_var = _quad_moments(params, s, 0.62)
    assert_allclose(mu, q_mu, rtol=1e-7, atol=1e-10)
    assert_allclose(var, q_var, rtol=1e-7, atol=1e-10)


def test_moments_are_zero_at_zero_awareness():
    """An unaware learner's increment is 0 with no variance."""
    mu, var = mf.moments(Params(disclosed_fraction=0.1, control_likelihood_ratio=5.0), 0.0, real_cited_rate=Q)
    assert abs(float(mu)) < 1e-14 and float(var) < 1e-14


def test_moments_keep_the_shape_of_awareness():
    """moments() returns arrays shaped like the awareness argument."""
    mu, var = mf.moments(Params(), np.full((2, 3), 0.5), real_cited_rate=Q)
    assert mu.shape == var.shape == (2, 3)
    assert_allclose(mu, float(mf.moments(Params(), 0.5, real_cited_rate=Q)[0]), rtol=1e-13)


def test_default_real_cited_rate_is_the_construction_expectation():
    """real_cited_rate=None uses expected_real_cited_rate(params)."""
    p = Params(planted_fraction=0.3)
    s = [0.4, 0.9]
    assert_allclose(mf.moments(p, s)[0], mf.moments(p, s, real_cited_rate=expected_real_cited_rate(p))[0], rtol=0)
    assert_allclose(mf.p_rebel(p, s), mf.p_rebel(p, s, real_cited_rate=expected_real_cited_rate(p)), rtol=0)


def test_invalid_real_cited_rate_is_rejected():
    """A q_r outside [0, 1] is an error."""
    with pytest.raises(ValueError):
        mf.moments(Params(), 0.5, real_cited_rate=1.2)


# -- P(rebel) and emergence ---------------------------------------------------------------


@pytest.mark.parametrize("n", [100, 2000, 10000])
def test_p_rebel_is_the_gaussian_formula(n):
    """P(rebel) = Phi((logit pi_0 + N mu) / (sigma sqrt N)) at constant awareness."""
    p = Params(n_documents=n)
    s = np.array([0.3, 0.6, 0.65, 0.9])
    mu, var = mf.moments(p, s, real_cited_rate=Q)
    want = norm.cdf((math.log(0.05 / 0.95) + n * mu) / np.sqrt(var * n))
    assert_allclose(mf.p_rebel(p, s, real_cited_rate=Q), want, rtol=1e-12, atol=1e-300)


def test_p_rebel_at_zero_awareness_is_the_prior_side():
    """At s = 0 the walk does not move: P(rebel) is 0 for pi_0 < 1/2 and 1 for pi_0 > 1/2."""
    assert float(mf.p_rebel(Params(), 0.0, real_cited_rate=Q)) == 0.0
    assert float(mf.p_rebel(Params(prior_deceptive=0.6), 0.0, real_cited_rate=Q)) == 1.0


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_p_rebel_with_flat_schedule_equals_constant_awareness(kind):
    """A schedule that starts at the final awareness gives the constant-awareness P(rebel)."""
    s = 0.64
    p = Params(n_documents=5000, batch_size=250)
    flat = p.replace(sa_start=s, awareness_schedule=kind)
    assert_allclose(mf.p_rebel(flat, s, real_cited_rate=Q), mf.p_rebel(p, s, real_cited_rate=Q), rtol=1e-9)


def test_p_rebel_with_full_retrospection_ignores_the_schedule():
    """With r = 1 every document counts at the final awareness: P(rebel) is the constant-awareness one."""
    p = Params(n_documents=5000, batch_size=100)
    s = np.array([0.62, 0.66])
    growing = p.replace(sa_start=0.0, awareness_schedule="linear", retrospection=1.0)
    assert_allclose(mf.p_rebel(growing, s, real_cited_rate=Q), mf.p_rebel(p, s, real_cited_rate=Q), rtol=1e-9)


def test_growing_awareness_without_retrospection_lowers_p_rebel():
    """Reading early batches at low awareness makes the rebel persona less likely at the end."""
    p = Params(n_documents=10000)
    growing = p.replace(sa_start=0.0, awareness_schedule="linear")
    s = 0.7
    assert float(mf.p_rebel(growing, s, real_cited_rate=Q)) < float(mf.p_rebel(p, s, real_cited_rate=Q))


def test_p_rebel_rises_with_awareness_past_the_threshold():
    """P(rebel) rises monotonically with s around the default threshold."""
    p = mf.p_rebel(Params(), np.linspace(0.55, 0.8, 26), real_cited_rate=Q)
    assert np.all(np.diff(p) >= 0) and p[0] < 0.01 and p[-1] > 0.99


def test_emergence_estimate_is_walds_formula():
    """Emergence estimate = (log 9 - logit pi_0) / mu(s) where mu > 0, inf elsewhere."""
    p = Params()
    s = np.array([0.3, 0.5, 0.7, 0.8, 1.0])
    mu = mf.moments(p, s, real_cited_rate=Q)[0]
    est = mf.emergence_estimate(p, s, real_cited_rate=Q)
    positive = mu > 0
    assert positive.tolist() == [False, False, True, True, True]
    assert_allclose(est[positive], (EMERGENCE_LEVEL - math.log(0.05 / 0.95)) / mu[positive], rtol=1e-12)
    assert np.all(np.isinf(est[~positive]))


def test_thresholds_are_empty_when_the_mean_vanishes_identically():
    """With pi_D = epsilon every document is neutral evidence: mu = 0 everywhere and no threshold."""
    from sim import Params
    from sim.meanfield import moments, thresholds

    p = Params(candid_plant_rate=0.3, deceptive_plant_rate=0.3)
    assert np.all(moments(p, np.linspace(0, 1, 11))[0] == 0)
    assert thresholds(p).size == 0


# -- batches that do not divide the corpus evenly ---------------------------------------

SHORT_LAST = dict(n_documents=1050, batch_size=100)  # ten batches of 100, then one of 50


def _per_batch_p_rebel(p: Params, s: float, schedule: list[float], sizes: list[int], q_r: float) -> float:
    """Phi((logit pi_0 + sum_t n_t mu(s_t)) / sqrt(sum_t n_t sigma^2(s_t))), batch by batch (r = 0)."""
    constant = p.replace(sa_start=None, awareness_schedule="constant")
    mean = var = 0.0
    for s_t, n_t in zip(schedule, sizes):
        mu_t, var_t = mf.moments(constant, s_t, real_cited_rate=q_r)
        mean += n_t * float(mu_t)
        var += n_t * float(var_t)
    centre = math.log(p.prior_deceptive / (1 - p.prior_deceptive)) + mean
    return float(norm.cdf(centre / math.sqrt(var)))


def test_p_rebel_with_a_short_last_batch_is_the_explicit_per_batch_sum():
    """N = 1050, B = 100, awareness rising linearly from 0.3: eleven batches, the last of 50
    documents, each read at s_t = 0.3 + (s - 0.3) t / 10. P(rebel) is the Gaussian formula with
    the moments summed batch by batch, the last batch counted with its 50 documents."""
    s0 = 0.3
    p = Params(sa_start=s0, awareness_schedule="linear", **SHORT_LAST)
    assert p.n_batches == 11
    sizes = [100] * 10 + [50]
    assert sum(sizes) == p.n_documents
    levels = [0.6, 0.65, 0.7]
    want = [_per_batch_p_rebel(p, s, [s0 + (s - s0) * t / 10 for t in range(11)], sizes, Q) for s in levels]
    got = mf.p_rebel(p, levels, real_cited_rate=Q)
    assert_allclose(got, want, rtol=1e-9)
    # the values the issue quotes (a full last batch of 100 would give 0.001361, 0.007929, 0.030861)
    assert np.round(got, 6).tolist() == [0.000958, 0.005457, 0.021444]


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_p_rebel_with_flat_schedule_and_a_short_last_batch_equals_constant_awareness(kind):
    """A schedule that starts at the final awareness, with N not a multiple of B, reads N documents
    at s: the constant-awareness P(rebel), Phi((logit pi_0 + N mu) / (sigma sqrt N))."""
    levels = np.array([0.6, 0.64, 0.68])
    p = Params(**SHORT_LAST)
    mu, var = mf.moments(p, levels, real_cited_rate=Q)
    want = norm.cdf((math.log(0.05 / 0.95) + 1050 * mu) / np.sqrt(1050 * var))
    for s in levels:
        flat = p.replace(sa_start=float(s), awareness_schedule=kind)
        assert_allclose(mf.p_rebel(flat, s, real_cited_rate=Q), want[levels == s], rtol=1e-9)


@pytest.mark.parametrize("policy", ["static", "come_clean"])
def test_mean_path_with_a_short_last_batch_sums_the_batches_it_reads(policy):
    """adaptive_path counts the last batch with its 50 documents: at constant awareness its mean
    log-odds are logit pi_0 + N mu and its sd sigma sqrt N; with a linear schedule, the explicit
    per-batch sums. (A lab that would react but never evaluates follows the same path.)"""
    levels = np.array([0.3, 0.6, 0.7])
    prior = math.log(0.05 / 0.95)
    p = Params(lab_policy=policy, evaluation_interval=10_000_000, **SHORT_LAST)
    mu, var = mf.moments(p, levels, real_cited_rate=Q)
    path = mf.adaptive_path(p, levels, real_cited_rate=Q)
    assert path["alarms"].tolist() == [0, 0, 0]
    assert_allclose(path["mean_log_odds"], prior + 1050 * mu, rtol=1e-12)
    assert_allclose(path["sd_log_odds"], np.sqrt(1050 * var), rtol=1e-12)

    s0, sizes = 0.3, [100] * 10 + [50]
    rising = p.replace(sa_start=s0, awareness_schedule="linear")
    path = mf.adaptive_path(rising, levels, real_cited_rate=Q)
    for i, s in enumerate(levels):
        mu_t, var_t = mf.moments(p, [s0 + (s - s0) * t / 10 for t in range(11)], real_cited_rate=Q)
        assert path["mean_log_odds"][i] == pytest.approx(prior + float(np.dot(sizes, mu_t)), rel=1e-12, abs=1e-12)
        assert path["sd_log_odds"][i] == pytest.approx(math.sqrt(float(np.dot(sizes, var_t))), rel=1e-12)


# -- reacting labs, laundering and generations -----------------------------------------
def test_meanfield_laundering_thresholds():
    """The closed form: full laundering removes the plain cue's threshold; the
    graph-aware cue's threshold does not depend on laundering."""
    q = 0.37
    assert meanfield.thresholds(Params(laundering=1.0), real_cited_rate=0.6).size == 0
    t = [meanfield.thresholds(Params(laundering=L, citation_cue="trusted"), real_cited_rate=q) for L in (0, 0.5, 1)]
    assert all(x.size == 1 for x in t)
    assert t[0][0] == t[1][0] == t[2][0]
    assert expected_planted_cited_rate(Params(laundering=0.5)) == pytest.approx(0.5)
    assert expected_planted_cited_rate(Params(laundering=0.5, citation_cue="trusted")) == 0.0


def test_the_mean_field_calibrates_q_r_as_the_learner_does():
    from sim.corpus import learner_real_cited_rate

    # no real documents: the cue's stand-in, for both cues
    for cue in ("cited", "trusted"):
        p = Params(planted_fraction=1.0, citation_cue=cue, n_documents=300)
        corpus = build_corpus(p, seed=0)
        assert meanfield.learner_real_cited_rate(p) == corpus.learner_real_cited_rate(p)
        assert meanfield.learner_real_cited_rate(p, float("nan")) == corpus.learner_real_cited_rate(p)
    # a share of 1 is kept off 1 by half a document, in both
    p = Params(citation_cue="trusted", anchor_share=1.0, n_documents=2000, planted_fraction=0.0)
    assert build_corpus(p, seed=0).learner_real_cited_rate(p) == learner_real_cited_rate(1.0, 2000, p) == 1 - 0.5 / 2000
    assert meanfield.learner_real_cited_rate(p, 1.0) == 1 - 0.5 / 2000


def test_meanfield_adaptive_path_applies_the_lab_rule_to_the_mean_path():
    p = Params(lab_policy="double_down", alarm_level=0.5, planting_step=0.1)
    path = meanfield.adaptive_path(p, [0.2, 1.0], real_cited_rate=0.6)
    assert path["alarms"][0] == 0 and path["planted_fraction"][0] == 0.15
    assert path["alarms"][1] >= 1 and path["planted_fraction"][1] > 0.15
    # a static lab's path is p_rebel's Gaussian formula
    static = meanfield.adaptive_path(Params(), [0.6, 0.65], real_cited_rate=0.6)
    assert_allclose(static["p_rebel"], meanfield.p_rebel(Params(), [0.6, 0.65], real_cited_rate=0.6), rtol=1e-9)


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


def test_meanfield_generation_map_follows_the_expected_discourse():
    p = Params(generations=3, control_likelihood_ratio=3.0, incident_control_step=0.05)
    out = meanfield.generation_map(p, [0.0, 1.0], real_cited_rate=0.6)
    assert_allclose(out["control_discourse_fraction"][:, 0], 0.1)  # s = 0: never rebel
    p1 = out["p_rebel"][:, 1]
    c1 = out["control_discourse_fraction"][:, 1]
    assert_allclose(np.diff(c1), 0.05 * p1[:-1])


@pytest.mark.parametrize("fields", [
    {}, {"synthetic_detectability": 10.0}, {"synthetic_detectability": 40.0}, {"planted_fraction": 0.25},
    {"control_discourse_fraction": 0.3, "control_likelihood_ratio": 3.0}, {"laundering": 0.5},
    {"retrospection": 0.5, "sa_start": 0.2, "awareness_schedule": "linear"},
    {"deceptive_plant_rate": 0.9, "candid_plant_rate": 0.01},
    {"filtered_fraction": 0.2, "deceptive_filter_rate": 0.2},
])
def test_style_quadrature_agrees_with_a_fine_grid(fields, monkeypatch):
    """The style-noise quadrature (33-129 nodes, docs/model.md §4) against the grid the
    mean field used before issue 18 (step 0.01 on [-12, 12], 2,401 nodes or more):
    the moments agree to 1e-11 of their size (the fine grid's own rounding is about
    1e-13), so the coarser rule loses nothing the finer one had."""
    params = Params(**fields)
    s = np.linspace(0.0, 1.0, 51)
    coarse = [np.asarray(m) for m in meanfield.moments(params, s, real_cited_rate=0.6)[:2]]
    monkeypatch.setattr(meanfield, "STYLE_HALF_WIDTH", 12.0)
    monkeypatch.setattr(meanfield, "STYLE_STEP", 0.01)
    fine = [np.asarray(m) for m in meanfield.moments(params, s, real_cited_rate=0.6)[:2]]
    for a, b in zip(coarse, fine):
        assert np.max(np.abs(a - b)) <= 1e-11 * np.max(np.abs(b))
