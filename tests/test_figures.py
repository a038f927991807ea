"""The sweep's figures: which files are written, that they are valid PNG, written atomically
(analysis.figures)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import analysis.figures as figures_module
from analysis import fit_thresholds, make_figures
from sim import Params
from sweep_data import fake_results

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

AWARENESS = np.round(np.linspace(0.2, 1.0, 17), 3)
SMALL = Params(n_documents=2000)


def assert_valid_png(path, min_bytes: int = 10_000) -> None:
    """A complete, decodable PNG image of a reasonable size."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert len(data) > min_bytes, (path, len(data))
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300


def test_awareness_only_sweep_writes_three_figures(tmp_path):
    """Sweeping awareness alone gives p_rebel, uplift and emergence (no phase diagram, no finite size)."""
    results = fake_results(SMALL, [{}], AWARENESS, 8)
    written = make_figures(results, fit_thresholds(results, n_boot=20), tmp_path / "figs")
    assert [p.name for p in written] == ["p_rebel.png", "uplift.png", "emergence.png"]
    for path in written:
        assert path.parent == tmp_path / "figs"
        assert_valid_png(path)
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(p.name for p in written)


def test_second_swept_parameter_adds_the_phase_diagram(tmp_path):
    """Sweeping planted_fraction as well adds phase_diagram.png."""
    results = fake_results(SMALL, [{"planted_fraction": r} for r in (0.15, 0.2, 0.25)], AWARENESS, 6)
    written = make_figures(results, fit_thresholds(results, n_boot=20), tmp_path)
    assert [p.name for p in written] == ["p_rebel.png", "phase_diagram.png", "uplift.png", "emergence.png"]
    for path in written:
        assert_valid_png(path)


def test_corpus_size_sweep_adds_finite_size(tmp_path):
    """Sweeping n_documents adds finite_size.png (and a phase diagram over N)."""
    results = fake_results(Params(), [{"n_documents": n} for n in (1000, 3000)], AWARENESS, 6)
    written = make_figures(results, fit_thresholds(results, n_boot=20), tmp_path)
    names = [p.name for p in written]
    assert names == ["p_rebel.png", "phase_diagram.png", "uplift.png", "emergence.png", "finite_size.png"]
    for path in written:
        assert_valid_png(path)


def test_many_groups_and_no_thresholds_given(tmp_path):
    """With more groups than lines and thresholds=None, the figures are still made (lines capped)."""
    rhos = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]
    results = fake_results(Params(n_documents=1000), [{"planted_fraction": r} for r in rhos],
                           np.linspace(0.0, 1.0, 6), 3)
    written = make_figures(results, None, tmp_path, swept=["planted_fraction", "situational_awareness"])
    assert len(written) == 4
    for path in written:
        assert_valid_png(path)


def test_rewriting_leaves_no_partial_files(tmp_path):
    """Writing twice replaces the files and leaves no temporary file behind."""
    results = fake_results(SMALL, [{}], AWARENESS, 4)
    table = fit_thresholds(results, n_boot=10)
    first = make_figures(results, table, tmp_path)
    second = make_figures(results, table, tmp_path)
    assert first == second
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in first)
    for path in second:
        assert_valid_png(path)


def test_docstring_examples():
    """The examples in analysis.figures' docstrings run as written."""
    assert doctest.testmod(figures_module).failed == 0


@pytest.mark.parametrize("value, text", [(0.15, "0.15"), (10000, "10000"), (np.nan, "unset"), ("linear", "linear")])
def test_group_labels_read_naturally(value, text):
    """Group labels print numbers plainly and an unset sa_start as 'unset'."""
    assert figures_module._label(["x"], [value]) == f"x = {text}"


def test_mean_band_is_the_mean_over_units_and_the_percentiles_of_resampled_means():
    """_mean_band gives, per awareness level, the mean over the units with a value there and the
    2.5th and 97.5th percentiles (linear interpolation between order statistics) of that mean over
    resamples of whole units: the resamples are redrawn here from the same seed (n units drawn with
    replacement are multinomial counts) and averaged unit by unit, skipping missing values."""
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(12, 5)) + np.arange(5)
    matrix[[0, 3, 7], [1, 1, 4]] = np.nan  # levels where some units have no value
    n_boot = 300
    mean, low, high = figures_module._mean_band(matrix, np.random.default_rng(9), n_boot=n_boot)
    counts = np.random.default_rng(9).multinomial(12, np.full(12, 1.0 / 12), size=n_boot)
    for j in range(matrix.shape[1]):
        column = matrix[:, j]
        has = ~np.isnan(column)
        assert mean[j] == pytest.approx(column[has].mean(), rel=1e-12)
        means = []
        for c in counts:
            units = np.repeat(np.arange(12), c)
            values = column[units][has[units]]
            if values.size:
                means.append(values.mean())
        x = np.sort(means)
        for q, got in ((2.5, low[j]), (97.5, high[j])):
            h = (x.size - 1) * q / 100.0
            i = int(np.floor(h))
            want = x[i] + (h - i) * (x[min(i + 1, x.size - 1)] - x[i])
            assert got == pytest.approx(want, rel=1e-10, abs=1e-12), (j, q)
