"""Thresholds fitted to a sweep: the logistic fit, its bootstrap, honest notes, the mean field
(analysis.thresholds)."""

from __future__ import annotations

import doctest
import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import analysis.thresholds as thresholds_module
from analysis import finite_size_scaling, fit_logistic, fit_thresholds
from analysis.thresholds import RESULT_COLUMNS, params_from_row, swept_parameters
from sim import Params
from sim import meanfield as mf
from sweep_data import fake_results


# -- helpers ------------------------------------------------------------------------




def bernoulli_table(curve, levels, replicates: int, seed: int, **columns) -> pd.DataFrame:
    """Synthetic results: each (replicate, level) is rebel with probability ``curve(level)``."""
    rng = np.random.default_rng(seed)
    s = np.repeat(np.asarray(levels, float)[None, :], replicates, axis=0)
    rebel = rng.random(s.shape) < curve(s)
    table = pd.DataFrame(
        {
            "situational_awareness": s.ravel(),
            "replicate": np.repeat(np.arange(replicates), s.shape[1]),
            "persona": np.where(rebel.ravel(), "rebel", "aligned"),
        }
    )
    for name, value in columns.items():
        table[name] = value
    return table


def logistic(s_star: float, scale: float):
    return lambda s: expit((s - s_star) / scale)


# -- the logistic fit -----------------------------------------------------------------


def test_fit_recovers_known_threshold_and_width():
    """Bernoulli data from a known logistic give back its s_star and width."""
    truth_s, truth_scale = 0.6, 0.04
    table = bernoulli_table(logistic(truth_s, truth_scale), np.linspace(0, 1, 41), 200, seed=1)
    row = fit_thresholds(table, n_boot=50).iloc[0]
    assert row.note == ""
    assert abs(row.s_star - truth_s) < 0.01
    assert row.width == pytest.approx(2 * math.log(9) * truth_scale, rel=0.15)
    assert row.n_replicates == 200 and row.n_awareness == 41


def test_fit_logistic_is_exact_on_expected_counts():
    """Counts equal to their expectation are fitted exactly (the likelihood's maximum)."""
    s = np.linspace(0.2, 0.9, 15)
    fit = fit_logistic(s, 500 * expit((s - 0.55) / 0.07), np.full(15, 500))
    assert fit.s_star == pytest.approx(0.55, abs=1e-6)
    assert fit.scale == pytest.approx(0.07, rel=1e-5)
    assert fit(0.55) == pytest.approx(0.5)


def test_falling_curve_is_fitted_with_its_direction():
    """P(rebel) falling through 1/2 is fitted too, with direction -1."""
    table = bernoulli_table(lambda s: expit((0.4 - s) / 0.05), np.linspace(0, 1, 41), 100, seed=2)
    row = fit_thresholds(table, n_boot=20).iloc[0]
    assert row.direction == -1
    assert abs(row.s_star - 0.4) < 0.015
    assert row.note == ""


def test_vectorized_refits_equal_scipy_fits():
    """The bootstrap's batched Newton fits agree with scipy's bounded optimizer on the same data."""
    rng = np.random.default_rng(3)
    s = np.linspace(0, 1, 31)
    rebels = rng.binomial(30, expit((s - 0.45) / 0.06), size=(8, s.size)).astype(float)
    trials = np.full_like(rebels, 30.0)
    bounds = thresholds_module._bounds(s)
    start = np.array([0.5, math.log(0.1)])
    batched, ok = thresholds_module._newton(s, rebels, trials, 1, start, bounds)
    assert ok.all()
    for i in range(rebels.shape[0]):
        single = fit_logistic(s, rebels[i], trials[i])
        assert batched[i, 0] == pytest.approx(single.s_star, abs=1e-6)
        assert math.exp(batched[i, 1]) == pytest.approx(single.scale, rel=1e-5)


# -- the bootstrap ------------------------------------------------------------------


def test_bootstrap_interval_contains_truth_and_narrows_with_replicates():
    """The 95% interval covers the true threshold, and is much narrower with 16x the replicates."""
    curve = logistic(0.5, 0.05)
    levels = np.linspace(0, 1, 26)
    few = fit_thresholds(bernoulli_table(curve, levels, 20, seed=4), n_boot=200).iloc[0]
    many = fit_thresholds(bernoulli_table(curve, levels, 320, seed=5), n_boot=200).iloc[0]
    for row in (few, many):
        assert row.s_star_low <= 0.5 <= row.s_star_high
        assert row.s_star_low <= row.s_star <= row.s_star_high
    assert many.s_star_high - many.s_star_low < 0.5 * (few.s_star_high - few.s_star_low)


def test_same_seed_same_interval():
    """The bootstrap is seeded: the same seed gives the same table, another seed another interval."""
    table = bernoulli_table(logistic(0.5, 0.05), np.linspace(0, 1, 26), 30, seed=6)
    a = fit_thresholds(table, n_boot=100, seed=7)
    b = fit_thresholds(table, n_boot=100, seed=7)
    c = fit_thresholds(table, n_boot=100, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert a.s_star.iloc[0] == c.s_star.iloc[0]
    assert (a.s_star_low.iloc[0], a.s_star_high.iloc[0]) != (c.s_star_low.iloc[0], c.s_star_high.iloc[0])


# -- saying so plainly ----------------------------------------------------------------


def test_no_crossing_below_gives_nan_and_a_note():
    """P(rebel) that stays below 1/2 gives NaN thresholds and says so."""
    table = bernoulli_table(lambda s: 0.2 * s, np.linspace(0, 1, 21), 30, seed=8)
    row = fit_thresholds(table, n_boot=20).iloc[0]
    assert np.isnan([row.s_star, row.s_star_low, row.s_star_high, row.width]).all()
    assert row.note.startswith("no crossing: P(rebel) stays below 1/2 for awareness in [0, 1]")


def test_no_crossing_above_gives_nan_and_a_note():
    """P(rebel) that stays above 1/2 gives NaN thresholds and says so."""
    table = bernoulli_table(lambda s: 0.8 + 0.2 * s, np.linspace(0.3, 1, 15), 30, seed=9)
    row = fit_thresholds(table, n_boot=20).iloc[0]
    assert np.isnan(row.s_star) and np.isnan(row.width)
    assert row.note.startswith("no crossing: P(rebel) stays above 1/2 for awareness in [0.3, 1]")


def test_more_than_one_crossing_gives_nan_and_a_note():
    """A rise and a fall through 1/2 are two crossings: NaN, and a note saying where."""
    bump = lambda s: expit((s - 0.3) / 0.03) * expit((0.7 - s) / 0.03)  # noqa: E731
    table = bernoulli_table(bump, np.linspace(0, 1, 41), 30, seed=10)
    row = fit_thresholds(table, n_boot=20).iloc[0]
    assert np.isnan(row.s_star) and np.isnan(row.width)
    assert row.note.startswith("more than one crossing at about ")
    where = [float(x) for x in row.note.split("at about ")[1].split(";")[0].split(", ")]
    assert len(where) == 2
    assert where[0] == pytest.approx(0.3, abs=0.05) and where[1] == pytest.approx(0.7, abs=0.05)


def test_noise_around_one_crossing_is_not_a_second_crossing():
    """Sampling noise in a single transition never counts as more than one crossing."""
    notes = [
        fit_thresholds(bernoulli_table(logistic(0.5, 0.1), np.linspace(0, 1, 101), 20, seed=k), n_boot=0).note[0]
        for k in range(30)
    ]
    assert notes == [""] * 30


def test_too_few_awareness_levels():
    """Two awareness levels are too few to fit a curve."""
    table = bernoulli_table(logistic(0.5, 0.05), [0.2, 0.8], 30, seed=11)
    row = fit_thresholds(table, n_boot=20).iloc[0]
    assert np.isnan(row.s_star)
    assert row.note.startswith("too few awareness levels to fit")


def test_jump_sharper_than_the_grid():
    """All-or-nothing levels give the jump's midpoint, its two levels as interval, and no width."""
    table = bernoulli_table(lambda s: (s > 0.55).astype(float), np.linspace(0, 1, 11), 10, seed=12)
    row = fit_thresholds(table, n_boot=20).iloc[0]
    assert row.s_star == pytest.approx(0.55)
    assert (row.s_star_low, row.s_star_high) == pytest.approx((0.5, 0.6))
    assert np.isnan(row.width)
    assert row.note.startswith("transition sharper than the awareness grid")


# -- groups and columns ---------------------------------------------------------------


def test_one_row_per_group_with_the_columns_in_order():
    """Groups are the swept parameters other than awareness; the columns come in the stated order."""
    parts = [
        bernoulli_table(logistic(c, 0.05), np.linspace(0, 1, 21), 20, seed=13 + i,
                        planted_fraction=rho, n_documents=10000, sa_start=np.nan)
        for i, (rho, c) in enumerate([(0.25, 0.37), (0.15, 0.63)])
    ]
    table = pd.concat(parts, ignore_index=True)
    assert swept_parameters(table) == ["planted_fraction", "situational_awareness"]
    out = fit_thresholds(table, n_boot=20)
    assert list(out.columns[: 1 + len(RESULT_COLUMNS)]) == ["planted_fraction", *RESULT_COLUMNS]
    assert out.planted_fraction.tolist() == [0.15, 0.25]  # sorted
    assert out.s_star.to_numpy() == pytest.approx([0.63, 0.37], abs=0.03)
    # the mean field is that of each group's own parameters
    assert out.s_star_meanfield_inf.to_numpy() == pytest.approx(
        [mf.thresholds(Params(planted_fraction=r))[0] for r in (0.15, 0.25)], abs=1e-6
    )
    explicit = fit_thresholds(table, swept=["planted_fraction", "situational_awareness"], n_boot=20)
    pd.testing.assert_frame_equal(out, explicit)


def test_unknown_swept_name_is_an_error():
    """A swept name that is not a column is an error that names it."""
    table = bernoulli_table(logistic(0.5, 0.05), np.linspace(0, 1, 11), 5, seed=14)
    with pytest.raises(KeyError, match="planted_fraction"):
        fit_thresholds(table, swept=["planted_fraction"])


def test_params_from_row_reads_nan_as_unset():
    """A row's parameter columns make its Params; NaN sa_start is unset, other columns are ignored."""
    p = params_from_row({"planted_fraction": np.float64(0.2), "n_documents": 3000.0, "sa_start": np.nan,
                         "point": 4, "persona": "rebel"})
    assert p == Params(planted_fraction=0.2, n_documents=3000)


# -- simulated data against the mean field -------------------------------------------


@pytest.fixture(scope="module")
def default_sweep() -> pd.DataFrame:
    return fake_results(Params(), [{}], np.round(np.linspace(0.5, 0.8, 31), 3), 40, seed=0)


def test_simulated_threshold_matches_mean_field(default_sweep):
    """At the defaults (N = 10,000) the fitted s_star is within 0.02 of the mean field's s*_N."""
    row = fit_thresholds(default_sweep).iloc[0]
    assert row.note == ""
    assert abs(row.s_star - row.s_star_meanfield_n) < 0.02
    assert row.s_star_low < row.s_star_meanfield_n < row.s_star_high
    q = float(default_sweep.real_cited_rate.mean())
    assert row.real_cited_rate == pytest.approx(q)
    # s*_N is where the mean field's P(rebel) is 1/2, a hair above s*_inf (0.628 at q_r = 0.6)
    assert float(mf.p_rebel(Params(), row.s_star_meanfield_n, real_cited_rate=q)) == pytest.approx(0.5, abs=1e-6)
    assert row.s_star_meanfield_inf == pytest.approx(mf.thresholds(Params(), real_cited_rate=q)[0], abs=1e-9)
    assert 0 < row.s_star_meanfield_n - row.s_star_meanfield_inf < 0.005
    assert row.s_star_meanfield_inf == pytest.approx(0.63, abs=0.01)


def test_default_sweep_is_analysed_quickly():
    """A default sweep (101 levels x 20 replicates, bootstrap 200) is analysed in well under 5 s."""
    table = bernoulli_table(logistic(0.63, 0.013), np.linspace(0, 1, 101), 20, seed=15)
    fit_thresholds(table, n_boot=5)  # warm up imports and compiled code
    start = time.perf_counter()
    fit_thresholds(table)
    assert time.perf_counter() - start < 5.0


# -- finite-size scaling --------------------------------------------------------------


@pytest.fixture(scope="module")
def size_sweep() -> pd.DataFrame:
    awareness = np.round(np.arange(0.45, 0.851, 0.01), 3)
    return fake_results(Params(), [{"n_documents": n} for n in (1000, 4000, 16000)], awareness, 40, seed=0)


def test_transition_sharpens_like_one_over_root_n(size_sweep):
    """The width shrinks with N, with a fitted log-log slope near -1/2, and s*_N closes on s*_inf."""
    table = fit_thresholds(size_sweep)
    assert (table.note == "").all()
    result = finite_size_scaling(table)
    assert -0.8 < result["slope"] < -0.25
    assert result["slope_low"] < result["slope"] < result["slope_high"]
    scaled = result["table"]
    assert scaled.n_documents.tolist() == [1000, 4000, 16000]
    assert np.all(np.diff(scaled.width) < 0)
    assert result["distance_shrinks"]
    assert scaled.distance.iloc[-1] < 0.01
    assert np.all(np.diff(scaled.distance_meanfield) < 0)  # the mean field's shift falls like 1/N


def test_finite_size_scaling_needs_n_documents():
    """Without n_documents among the groups there is nothing to scale, and the error says so."""
    table = fit_thresholds(bernoulli_table(logistic(0.5, 0.05), np.linspace(0, 1, 11), 10, seed=16), n_boot=10)
    with pytest.raises(KeyError, match="n_documents"):
        finite_size_scaling(table)


def test_docstring_examples():
    """The examples in analysis.thresholds' docstrings run as written."""
    assert doctest.testmod(thresholds_module).failed == 0


# -- the bootstrap interval against its definition, and its coverage -----------------------


def _percentile(values: np.ndarray, q: float) -> float:
    """The q-th percentile by linear interpolation between order statistics (Hyndman and Fan's
    definition 7): x_(h) + (h - floor h) (x_(h+1) - x_(h)) at h = (n - 1) q / 100, 0-based."""
    x = np.sort(np.asarray(values, dtype=float))
    h = (x.size - 1) * q / 100.0
    i = int(math.floor(h))
    return float(x[i] + (h - i) * (x[min(i + 1, x.size - 1)] - x[i]))


def test_bootstrap_interval_is_the_2_5_and_97_5_percentiles_of_the_refits():
    """With a fixed seed, s_star_low and s_star_high are the 2.5th and 97.5th percentiles of s_star
    refitted on the bootstrap resamples, and width_low/high those of the width: the resamples are
    redrawn here from the group's stream (SeedSequence(seed, spawn_key=(0,)); n replicates drawn with
    replacement are multinomial counts) and each is refitted with scipy (fit_logistic)."""
    replicates, levels = 20, np.linspace(0, 1, 21)
    table = bernoulli_table(logistic(0.5, 0.08), levels, replicates, seed=21)
    n_boot, seed = 200, 3
    row = fit_thresholds(table, n_boot=n_boot, seed=seed).iloc[0]
    assert row.note == ""

    rebel = (table.assign(r=(table.persona == "rebel").astype(float))
             .pivot(index="replicate", columns="situational_awareness", values="r").to_numpy())
    assert rebel.shape == (replicates, levels.size)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    counts = rng.multinomial(replicates, np.full(replicates, 1.0 / replicates), size=n_boot)
    fits = [fit_logistic(levels, c @ rebel, np.full(levels.size, float(replicates))) for c in counts]
    assert not any(f.at_bound for f in fits)
    s_star = np.array([f.s_star for f in fits])
    width = np.array([f.width for f in fits])
    assert row.s_star_low == pytest.approx(_percentile(s_star, 2.5), abs=1e-6)
    assert row.s_star_high == pytest.approx(_percentile(s_star, 97.5), abs=1e-6)
    assert row.width_low == pytest.approx(_percentile(width, 2.5), rel=1e-5)
    assert row.width_high == pytest.approx(_percentile(width, 97.5), rel=1e-5)


def test_bootstrap_interval_covers_the_true_threshold_95_percent_of_the_time(monkeypatch):
    """On 200 synthetic data sets from a known logistic (s* = 0.5, scale 0.1; 11 levels with 200
    replicates each, where the percentile bootstrap is accurate), the 95% interval holds s* in
    95% of them, within binomial error.

    The count of intervals holding the truth is binomial(200, 0.95): mean 190, standard error
    sqrt(200 * 0.95 * 0.05) = 3.08. The test accepts 95% +- 3 standard errors, 181 to 199 (a correct
    interval fails it with probability about 0.3%; the data sets and resamples are seeded, so the
    outcome is fixed). The mean field's columns play no part in the interval and are stubbed out
    to keep the test fast (about 5 ms per data set)."""
    monkeypatch.setattr(thresholds_module, "_meanfield_columns", lambda params, q_r: (math.nan, math.nan, []))
    truth, n_sets = 0.5, 200
    levels = np.linspace(0, 1, 11)
    held = 0
    for k in range(n_sets):
        table = bernoulli_table(logistic(truth, 0.1), levels, 200, seed=10_000 + k)
        row = fit_thresholds(table, n_boot=200, seed=k).iloc[0]
        assert row.note == ""
        held += bool(row.s_star_low <= truth <= row.s_star_high)
    se = math.sqrt(n_sets * 0.95 * 0.05)
    assert abs(held - 0.95 * n_sets) <= 3 * se, f"{held} of {n_sets} intervals hold the truth"


def test_bootstrap_refits_are_maximum_likelihood_fits_of_each_resample():
    """A transition about as sharp as the grid (scale 0.01, spacing 0.05): many resamples are fitted
    by the batched Newton iteration, many on the scale floor (_on_scale_floor). Each bootstrap row is
    a maximum of its resample's likelihood: its negative log-likelihood is no larger than that of
    scipy's bounded fit (fit_logistic) of the same resample, and where the maximum is unique (scipy's
    fit inside the bounds and at least two levels strictly between no rebels and all rebels; with
    one, every steep enough curve through that level is a maximum) the two fits agree."""
    replicates, levels = 12, np.linspace(0, 1, 21)
    table = bernoulli_table(logistic(0.47, 0.01), levels, replicates, seed=6)
    group = thresholds_module.read_sweep(table).groups[0]
    lv, rebels_u, trials_u = group.levels, group.rebels.astype(float), group.trials.astype(float)
    rebels, trials = rebels_u.sum(0), trials_u.sum(0)
    assert thresholds_module._separated(lv, rebels, trials, 1) is None  # the data set itself is not separated
    bounds = thresholds_module._bounds(lv)
    start = fit_logistic(lv, rebels, trials)
    start = np.array([start.s_star, math.log(start.scale)])
    n_boot = 200
    boot = thresholds_module._bootstrap(lv, rebels_u, trials_u, 1, start, bounds, n_boot, np.random.default_rng(1))
    counts = np.random.default_rng(1).multinomial(replicates, np.full(replicates, 1.0 / replicates), size=n_boot)
    rebels_b, trials_b = counts @ rebels_u, counts @ trials_u
    newton_ok = thresholds_module._newton(lv, rebels_b, trials_b, 1, start, bounds)[1]
    assert 20 <= newton_ok.sum() <= n_boot - 20  # both ways of fitting are exercised

    def nll(theta, i):
        return thresholds_module._negative_log_likelihood(theta, lv, rebels_b[i], trials_b[i], 1)[0]

    inside = 0
    for i in range(n_boot):
        fit = fit_logistic(lv, rebels_b[i], trials_b[i])
        reference = np.array([fit.s_star, math.log(fit.scale)])
        assert nll(boot[i], i) <= nll(reference, i) + 1e-5, (i, boot[i], reference)
        mixed = (rebels_b[i] > 0) & (rebels_b[i] < trials_b[i])
        if not fit.at_bound and mixed.sum() >= 2:
            inside += 1
            assert boot[i, 0] == pytest.approx(fit.s_star, abs=1e-6)
            assert math.exp(boot[i, 1]) == pytest.approx(fit.scale, rel=1e-4)
    assert inside >= 20


# -- the finite-size slope's interval ---------------------------------------------------------


def _size_table(widths, errors=None, s_star=None) -> pd.DataFrame:
    """A thresholds table over n_documents = 1000 .. 16000 with the given widths; with ``errors``
    (standard errors of log width) a width interval of +- 1.96 errors in log, as a bootstrap gives."""
    n = np.array([1000, 2000, 4000, 8000, 16000])
    widths = np.asarray(widths, dtype=float)
    s = np.asarray(s_star if s_star is not None else 0.63 + 0.5 / np.sqrt(n), dtype=float)
    table = pd.DataFrame({"n_documents": n, "s_star": s, "s_star_low": s - 0.01, "s_star_high": s + 0.01,
                          "s_star_meanfield_n": 0.63 + 1.0 / n, "s_star_meanfield_inf": np.full(n.size, 0.63),
                          "width": widths})
    if errors is not None:
        z = 1.959963984540054
        table["width_low"] = widths * np.exp(-z * np.asarray(errors))
        table["width_high"] = widths * np.exp(z * np.asarray(errors))
    table.attrs["group_columns"] = ["n_documents"]
    return table


@pytest.mark.parametrize("scatter", [0.02, 0.3])
def test_width_slope_interval_is_the_weighted_least_squares_interval(scatter):
    """With bootstrap intervals on the widths the slope of log width against log N is weighted least
    squares (weights 1/se^2, se = half the log interval / 1.96); its standard error 1/sqrt(Sxx) is
    scaled by the Birge ratio sqrt(chi^2/dof) when the scatter exceeds the errors, and the 95%
    interval is slope +- 1.96 standard errors. Recomputed here by the textbook formulas, with the
    scatter below (0.02) and above (0.3) the errors."""
    from scipy.stats import norm

    n = np.array([1000, 2000, 4000, 8000, 16000], dtype=float)
    errors = np.array([0.05, 0.08, 0.1, 0.12, 0.2])
    noise = scatter * np.array([1.0, -0.5, 0.8, -1.2, 0.4])
    widths = 3.0 / np.sqrt(n) * np.exp(noise)
    result = finite_size_scaling(_size_table(widths, errors))
    assert result["method"] == "weighted"
    x, y, w = np.log(n), np.log(widths), 1.0 / errors**2
    xm, ym = (w * x).sum() / w.sum(), (w * y).sum() / w.sum()
    sxx = (w * (x - xm) ** 2).sum()
    slope = (w * (x - xm) * (y - ym)).sum() / sxx
    chi2 = (w * (y - ym - slope * (x - xm)) ** 2).sum()
    birge = max(1.0, chi2 / (n.size - 2))
    assert (birge > 1.0) == (scatter == 0.3)
    se = math.sqrt(birge / sxx)
    z = float(norm.ppf(0.975))
    assert result["slope"] == pytest.approx(slope, rel=1e-10)
    assert result["slope_se"] == pytest.approx(se, rel=1e-10)
    assert result["slope_low"] == pytest.approx(slope - z * se, rel=1e-10)
    assert result["slope_high"] == pytest.approx(slope + z * se, rel=1e-10)


def test_slope_intervals_without_errors_are_ordinary_least_squares_with_student_t():
    """Without width intervals (and always for the distance to s*_inf) the slope is ordinary least
    squares, with scipy.stats.linregress's standard error and a Student t interval on n - 2 degrees
    of freedom."""
    from scipy.stats import linregress, t as student

    n = np.array([1000, 2000, 4000, 8000, 16000], dtype=float)
    widths = 3.0 / np.sqrt(n) * np.exp(0.1 * np.array([1.0, -0.5, 0.8, -1.2, 0.4]))
    s_star = 0.63 + np.array([0.04, 0.03, 0.012, 0.011, 0.004])
    result = finite_size_scaling(_size_table(widths, s_star=s_star))
    assert result["method"] == "ordinary"
    q = float(student.ppf(0.975, n.size - 2))
    for prefix, y in (("", widths), ("distance_", s_star - 0.63)):
        fit = linregress(np.log(n), np.log(y))
        assert result[f"{prefix}slope"] == pytest.approx(fit.slope, rel=1e-10)
        assert result[f"{prefix}slope_se"] == pytest.approx(fit.stderr, rel=1e-10)
        assert result[f"{prefix}slope_low"] == pytest.approx(fit.slope - q * fit.stderr, rel=1e-10)
        assert result[f"{prefix}slope_high"] == pytest.approx(fit.slope + q * fit.stderr, rel=1e-10)


# -- the crossing check and the all-or-nothing jump, by hand ------------------------------------


def test_crossing_check_tests_each_level_two_sided_at_5_percent():
    """A level is significantly off 1/2 when |k/n - 1/2| / (1 / (2 sqrt n)) > 1.96: with n = 100,
    60 or 40 rebels (z = +-2.0) are, 59 or 41 (z = +-1.8) are not. So 5, 41, 59, 41, 95 rebels
    cross once (rising), and 5, 40, 60, 40, 95 cross three times."""
    s = np.linspace(0.5, 1.0, 5)
    n = np.full(5, 100.0)
    assert thresholds_module._crossing_check(s, np.array([5.0, 41, 59, 41, 95]), n) == (1, "")
    assert thresholds_module._crossing_check(s, np.array([95.0, 59, 41, 59, 5]), n) == (-1, "")
    direction, note = thresholds_module._crossing_check(s, np.array([5.0, 40, 60, 40, 95]), n)
    assert direction == 0
    assert note == "more than one crossing at about 0.688, 0.812, 0.938"


def test_crossing_check_notes_levels_too_small_to_be_significant_and_one_sided_data():
    """With 3 learners per level no level can differ significantly from 1/2 (all rebels gives
    z = sqrt(3) < 1.96; 4 learners give z = 2); data significantly below 1/2 whose highest estimate
    is above 1/2 but not significantly have no crossing, and the note says where the highest is."""
    s = np.linspace(0.0, 1.0, 5)
    direction, note = thresholds_module._crossing_check(s, np.array([0.0, 0, 0, 3, 3]), np.full(5, 3.0))
    assert direction == 0
    assert note == ("no crossing detected: P(rebel) is nowhere significantly different from 1/2 for awareness "
                    "in [0, 1] (with at most 3 learners per level none can be: at least 4 are needed)")
    assert thresholds_module._crossing_check(s, np.array([0.0, 0, 0, 4, 4]), np.full(5, 4.0)) == (1, "")
    direction, note = thresholds_module._crossing_check(s, np.array([4.0, 5, 5, 6, 6]), np.full(5, 10.0))
    assert direction == 0  # 10 learners could show a difference; these do not, and the note says only that
    assert note == "no crossing detected: P(rebel) is nowhere significantly different from 1/2 for awareness in [0, 1]"
    direction, note = thresholds_module._crossing_check(s, np.array([2.0, 3, 5, 8, 11]), np.full(5, 20.0))
    assert direction == 0
    assert note == ("no crossing: P(rebel) is never significantly above 1/2 for awareness in [0, 1] "
                    "(highest 0.55 at s = 1; a crossing may lie at the end of the range)")


def test_falling_jump_sharper_than_the_grid():
    """All rebels below s = 0.45 and none above: the falling jump's midpoint, its two levels as the
    interval, direction -1 and no width (as for a rising jump)."""
    table = bernoulli_table(lambda s: (s < 0.45).astype(float), np.linspace(0, 1, 11), 10, seed=17)
    row = fit_thresholds(table, n_boot=20).iloc[0]
    assert row.direction == -1
    assert row.s_star == pytest.approx(0.45)
    assert (row.s_star_low, row.s_star_high) == pytest.approx((0.4, 0.5))
    assert np.isnan(row.width)
    assert row.note.startswith("transition sharper than the awareness grid: P(rebel) jumps between 0.4 and 0.5")


# ---------------------------------------------------------------------------------
# The refit without pandas, scipy or the mean field (issue 18: persona-sim threshold)
# ---------------------------------------------------------------------------------
def _grouped_table() -> pd.DataFrame:
    """Two policies (a string column) x two planted shares, one group with no crossing."""
    parts = []
    for i, (policy, rho) in enumerate([("static", 0.1), ("static", 0.25), ("double_down", 0.1), ("come_clean", 0.25)]):
        curve = logistic(0.3 + 0.1 * i, 0.05) if policy != "come_clean" else (lambda s: np.zeros_like(s))
        parts.append(bernoulli_table(curve, np.linspace(0, 1, 21), replicates=8, seed=i, lab_policy=policy,
                                     planted_fraction=rho))
    return pd.concat(parts, ignore_index=True)


def test_threshold_rows_write_the_csv_pandas_writes():
    from analysis.thresholds import fit_threshold_rows, read_sweep

    data = read_sweep(_grouped_table(), swept=["lab_policy", "planted_fraction"])
    rows = fit_threshold_rows(data, n_boot=30)
    assert any("," in r["note"] for r in rows.rows) or any(r["note"] for r in rows.rows)
    assert rows.to_csv() == rows.to_frame().to_csv(index=False)
    assert rows.to_frame().equals(fit_thresholds(data, n_boot=30))


def test_mean_field_columns_recorded_by_a_sweep_are_used_bit_for_bit(monkeypatch):
    from analysis.thresholds import MeanFieldColumns, fit_threshold_rows, read_sweep

    data = read_sweep(_grouped_table(), swept=["lab_policy", "planted_fraction"])
    first = MeanFieldColumns()
    computed = fit_threshold_rows(data, n_boot=10, meanfield_columns=first)
    record = first.record()
    assert len(record["groups"]) == 4
    # read back (as the manifest keeps it): no mean field is computed, the numbers are the same
    monkeypatch.setattr(thresholds_module, "_meanfield_columns", lambda *a: pytest.fail("mean field computed"))
    again = fit_threshold_rows(data, n_boot=10, meanfield_columns=MeanFieldColumns(record))
    assert again.to_csv() == computed.to_csv()
    # a record made by other code is not used
    monkeypatch.undo()
    stale = dict(record, code="0" * 16, groups=[[k, (0.5).hex(), (0.5).hex(), []] for k, *_ in record["groups"]])
    fresh = fit_threshold_rows(data, n_boot=10, meanfield_columns=MeanFieldColumns(stale))
    assert fresh.to_csv() == computed.to_csv()
    # a damaged record (an edited manifest) is not used either
    for damaged in ({"code": record["code"], "groups": [["key", "not a number", "0x0p+0", []]]},
                    {"code": record["code"], "groups": 3}, ["not", "a", "record"]):
        assert MeanFieldColumns(damaged).known == {}


@pytest.mark.parametrize("values", [
    np.array([0.2, 0.1, np.nan, 0.2, np.nan, -0.0, 0.0]),
    np.array([3, 1, 3, 2, 1]),
    np.array(["b", None, "a", "b", None], dtype=object),
    np.array([True, False, True]),
])
def test_factorize_is_pandas_factorize(values):
    codes, _ = pd.factorize(values, use_na_sentinel=False)
    np.testing.assert_array_equal(thresholds_module._factorize(values), codes)


def test_arrow_columns_read_as_pyarrow_reads_them():
    import pyarrow as pa

    arrays = [pa.array([1, 2, None, 4], pa.int64()), pa.array([1.5, None, 3.0]), pa.array([0.1, 0.2], pa.float32()),
              pa.array(list(range(20)), pa.int32()).slice(3, 9), pa.array([True, False] * 9).slice(5, 7),
              pa.array([True, None, False]), pa.array(["a", None, "b"]),
              pa.array([1, None, 3, 4, 5, None, 7, 8, 9], pa.int64()).slice(1, 6)]
    for array in arrays:
        mine, theirs = thresholds_module._to_numpy(array), array.to_numpy(zero_copy_only=False)
        assert mine.dtype == theirs.dtype, array.type
        assert [None if x != x else x for x in mine.tolist()] == [None if x != x else x for x in theirs.tolist()]
    persona = pa.array(["rebel", "aligned", None, "rebel", "rebels", "", "rebe"], pa.large_string()).slice(0, 7)
    np.testing.assert_array_equal(thresholds_module._equals(persona, "rebel"),
                                  [True, False, False, True, False, False, False])
    np.testing.assert_array_equal(thresholds_module._equals(persona.slice(3, 2), "rebel"), [True, False])
