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


def test_style_and_colours_are_seaborns():
    """The sweep's figures are drawn in seaborn's "whitegrid" style at notebook size
    (font scale 0.85) with seaborn's colours, written out in analysis.figures so that
    drawing them does not import seaborn: they are still seaborn's."""
    import seaborn as sns

    style = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.85)}
    style.pop("image.cmap")  # seaborn's own colour map, named by no figure here
    assert figures_module._STYLE == style
    assert figures_module._colours(1) == [tuple(sns.color_palette("deep")[0])]
    viridis = sns.color_palette("viridis", as_cmap=True)
    for n in (2, 5):
        assert figures_module._colours(n) == [viridis(x) for x in np.linspace(0.0, 0.82, n)]


def test_drawing_the_figures_imports_neither_seaborn_nor_pyplot(tmp_path):
    """A sweep's figures are drawn without seaborn (and IPython, which it pulls in) and
    without pyplot: a fresh process draws them and has imported neither."""
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(tests)!r})\n"
        "import numpy as np\n"
        "from analysis import fit_thresholds, make_figures\n"
        "from sim import Params\n"
        "from sweep_data import fake_results\n"
        "results = fake_results(Params(n_documents=2000), [{}], np.linspace(0.2, 1.0, 9), 4)\n"
        f"make_figures(results, fit_thresholds(results, n_boot=10), {str(tmp_path)!r})\n"
        "print(sorted(m for m in ('seaborn', 'matplotlib.pyplot', 'IPython') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emergence.png", "p_rebel.png", "uplift.png"]


def test_figures_are_deterministic(tmp_path):
    """The same results and seed give the same PNG files, byte for byte."""
    results = fake_results(SMALL, [{"planted_fraction": r} for r in (0.15, 0.25)], AWARENESS, 4)
    table = fit_thresholds(results, n_boot=10)
    first = make_figures(results, table, tmp_path / "a")
    second = make_figures(results, table, tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.parametrize("seed", range(6))
def test_nanpercentile_is_numpys(seed):
    """_nanpercentile gives np.nanpercentile's numbers, bit for bit, column by column
    (missing values, columns with one value or none, tied values)."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(int(rng.integers(1, 30)), 12)) * 10.0 ** rng.integers(-3, 5)
    if seed % 2:
        matrix = np.round(matrix)
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    matrix[:, 0] = np.nan
    matrix[1:, 1] = np.nan
    for q in ([2.5, 97.5], [25, 50, 75], 50, [0, 100]):
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):  # numpy warns of the empty column
            want = np.nanpercentile(matrix, q, axis=0)
        got = figures_module._nanpercentile(matrix, q, axis=0)
        assert got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True), q


def test_png_keeps_the_words_and_a_transparent_ground():
    """png_bytes records the figure's words; an opaque figure is saved as RGB, a
    figure with a transparent ground keeps its alpha channel, and ``palette`` gives
    256 colours (the scenario scripts' figures)."""
    import io
    import json

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    for facecolor, palette, mode in (("white", False, "RGB"), ("none", False, "RGBA"), ("white", True, "P")):
        fig = Figure(figsize=(4, 3), facecolor=facecolor)
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], label="a line")
        ax.set_xlabel("situational awareness (s)")
        ax.legend()
        with Image.open(io.BytesIO(figures_module.png_bytes(fig, dpi=50, palette=palette))) as image:
            image.load()
            assert image.mode == mode and image.size == (200, 150)
            texts = json.loads(image.text[figures_module.TEXTS_KEY])
        assert texts["label"] == ["situational awareness (s)"] and texts["legend"] == ["a line"]

    from matplotlib.backends.backend_svg import FigureCanvasSVG  # a canvas with no pixels of its own

    fig = Figure(figsize=(4, 3))
    FigureCanvasSVG(fig)
    fig.subplots().set_xlabel("situational awareness (s)")
    with Image.open(io.BytesIO(figures_module.png_bytes(fig, dpi=50))) as image:
        image.load()
        assert image.mode == "RGB" and image.size == (200, 150)
        assert json.loads(image.text[figures_module.TEXTS_KEY])["label"] == ["situational awareness (s)"]


def test_log_axis_labels_are_plain_text():
    """The emergence figure's log-axis labels say what matplotlib's say (10³, 2×10²),
    in plain text rather than mathtext."""
    from matplotlib.ticker import LogFormatterSciNotation

    plain, plain_minor = figures_module._plain_log_formatter(), figures_module._plain_log_formatter(minor=True)
    assert plain(1000.0) == "10³" and plain(0.01) == "10⁻²" and plain(1.0) == "10⁰"
    assert not any("$" in f(v) for f in (plain, plain_minor) for v in (3.0, 20.0, 1e5))
    assert LogFormatterSciNotation()(1000.0) == "$\\mathdefault{10^{3}}$"  # what is translated

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_yscale("log")
    ax.set_ylim(150, 900)  # less than a decade: the minor ticks are labelled
    ax.yaxis.set_minor_formatter(plain_minor)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.yaxis.get_minorticklabels() if t.get_text()]
    assert "2×10²" in labels and not any("$" in label for label in labels), labels


def _seaborn_trajectory_figure(trajectory, title: str, n_documents: int) -> bytes:
    """``persona-sim run``'s figure with its lines drawn by seaborn, as before issue 18's
    session 8: the reference that analysis.figures.trajectory_figure draws without it
    (the labels, ticks and legend are made by the same function either way)."""
    import seaborn as sns
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        fig = Figure(figsize=(11, 4.4))
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2, sharex=True)
        x = trajectory["documents_read"] + trajectory["generation"] * n_documents
        data = trajectory.assign(level=trajectory["situational_awareness"].map(lambda s: f"{s:g}"), x=x)
        n_lines = data["level"].nunique()
        palette = sns.color_palette("colorblind" if n_lines <= 10 else "viridis", n_colors=n_lines)
        style = dict(hue="level", style="level", palette=palette, estimator=None, units="learner", lw=1.8)
        sns.lineplot(data=data, x="x", y="p_deceptive", ax=axes[0], **style)
        sns.lineplot(data=data, x="x", y="uplift", ax=axes[1], legend=False, **style)
        generations = int(trajectory["generation"].max()) + 1
        figures_module._label_trajectory(fig, axes, title, generations, n_documents)
        return figures_module.png_bytes(fig)


@pytest.mark.parametrize("awareness, generations", [
    ([0.5], 1),
    ([0.7, 0.2, 0.45], 3),  # levels out of order; three generations, their joins at equal x
    (list(np.round(np.linspace(0.05, 1.0, 12), 2)), 2),  # more than ten: viridis, and generated dash patterns
    ([0.3, 0.3, 0.6], 1),  # two learners at one level share its colour and dashes
])
def test_the_run_figure_is_seaborns_without_seaborn(awareness, generations):
    """``persona-sim run``'s trajectory figure, drawn with matplotlib alone (importing
    seaborn was a fifth of the command's time), is the PNG seaborn's lineplot drew,
    byte for byte: colours, dash patterns, line order, legend and style."""
    pytest.importorskip("seaborn")
    from sim import simulate

    params = Params(n_documents=600, batch_size=50, generations=generations)
    trajectory = simulate(params, awareness=np.array(awareness), seed=3).trajectory
    ours = figures_module.trajectory_figure(trajectory, "a title", params.n_documents)
    assert ours == _seaborn_trajectory_figure(trajectory, "a title", params.n_documents)


def test_the_run_figures_style_dashes_and_colours_are_seaborns():
    """The constants behind the trajectory figure are seaborn's: its whitegrid style at
    notebook size, ``unique_dashes``, the colorblind palette and its viridis palette."""
    import seaborn as sns
    from seaborn._base import unique_dashes

    style = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook")}
    style.pop("image.cmap")
    ours = figures_module._style(1.0)
    assert ours.keys() == style.keys()
    assert all(ours[k] == pytest.approx(v, rel=1e-12) if isinstance(v, float) else ours[k] == v
               for k, v in style.items())
    for n in (1, 2, 5, 6, 12, 40, 100):
        assert figures_module._dashes(n) == unique_dashes(n), n
    for n in (1, 3, 10):
        assert figures_module._trajectory_colours(n) == list(sns.color_palette("colorblind", n_colors=n)), n
    for n in (11, 25):
        assert figures_module._trajectory_colours(n) == list(sns.color_palette("viridis", n_colors=n)), n
