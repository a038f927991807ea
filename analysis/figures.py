"""The figures: a sweep's (P(rebel), the phase diagram, uplift, emergence, finite size)
and a single run's trajectory (:func:`trajectory_figure`, ``persona-sim run``).

:func:`make_figures` reads a sweep's tidy results (one row per point, replicate and
awareness level) and the thresholds fitted to them (:func:`analysis.fit_thresholds`)
and writes PNG files. Like the fit, it draws from the results' compact form
(:func:`analysis.read_sweep`: per group, counts and sums per replicate and awareness
level), so a table in memory and ``results.parquet`` streamed from disk give the same
figures, and a sweep of millions of rows is drawn in bounded memory. Every simulated curve carries a bootstrap band over
replicates and, where the mean field has something to say (``docs/model.md``,
"Mean field and the threshold"), the mean field's curve is drawn dashed in the same
colour, so that each figure is also a check of the simulation against the theory.

The figures are drawn on matplotlib ``Figure`` objects with the Agg canvas (no
pyplot, no global state: safe in scripts, tests and worker processes) in seaborn's
styles (written out here, :data:`_STYLE`: drawing a sweep's figures, but for the phase
diagram's colour map, and a run's trajectory imports neither seaborn nor pyplot, nor
IPython, which seaborn pulls in), and each file is written
atomically (a temporary file in the same folder, then ``os.replace``), so a reader
never sees half a PNG.
"""

from __future__ import annotations

import math
import os
import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from sim import meanfield
from sim.files import write_atomically
from sim.params import PARAMETERS_BY_NAME

from .thresholds import (
    SweepData,
    SweepGroup,
    ThresholdRows,
    _p_rebel,
    finite_size_scaling,
    fit_threshold_rows,
    meanfield_crossings,
    read_sweep,
)

if TYPE_CHECKING:  # pandas loads only for the figures that filter the table (phase diagram, finite size)
    import pandas as pd

__all__ = ["make_figures", "trajectory_figure", "figure_texts", "png_bytes", "FIGURE_NAMES", "MAX_LINES", "MAX_PANELS"]

#: The files :func:`make_figures` may write, in order.
FIGURE_NAMES = ("p_rebel.png", "phase_diagram.png", "uplift.png", "emergence.png", "finite_size.png")

#: At most this many groups are drawn as lines in one panel (chosen evenly).
MAX_LINES = 6

_DPI = 100
_PARAMETERS = PARAMETERS_BY_NAME
_N_BOOT = 1000
_AWARENESS_LABEL = "situational awareness (s)"


# ---------------------------------------------------------------------------------
# Plumbing: figures without pyplot, atomic files, styles
# ---------------------------------------------------------------------------------
def _new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1, layout: str | None = "constrained", **kw):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout=layout)  # laid out at the dpi it is saved at
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _save(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically."""
    return write_atomically(path, png_bytes(fig))


def _lay_out(fig, passes: int = 2) -> None:
    """Lay out a figure of panels with its legend on the right (:meth:`_Layout.figure`,
    :func:`_legend`): the panels, with their ticks, labels and titles, fill the figure
    but for the legend's strip and the figure's title (matplotlib's tight layout, made
    ``passes`` times: the resized panels' ticks may differ). What the constrained
    layout gave these figures, in a fraction of the time (it measures every panel
    twice per draw, and ``savefig`` draws twice). A pass whose panels keep their
    ticks is the last."""
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    pad = 0.3  # in font sizes: about constrained layout's 3 points
    pad_pixels = pad * float(_STYLE["font.size"]) / 72 * fig.dpi
    right = min((legend.get_window_extent(renderer).x0 for legend in fig.legends), default=width + pad_pixels)
    top = height + pad_pixels
    title = fig._suptitle
    if title is not None and title.get_text() and title.get_visible():
        top = title.get_window_extent(renderer).y0
        title.set_in_layout(False)  # the rectangle below leaves it out

    def ticks() -> list:
        return [tuple(map(tuple, (axis.get_majorticklocs(), axis.get_minorticklocs())))
                for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)]

    for _ in range(passes):
        measured = ticks()  # the ticks the layout is made for
        fig.tight_layout(pad=pad, rect=(0, 0, (right - pad_pixels) / width, (top - pad_pixels) / height))
        if ticks() == measured:  # the resized panels have the same ticks: the layout fits them
            break


#: The PNG text chunk in which :func:`png_bytes` records a figure's words.
TEXTS_KEY = "persona-sim texts"


def figure_texts(fig) -> dict[str, list[str]]:
    """The words a reader of ``fig`` meets, by role: ``title`` (the figure's and the
    panels'), ``label`` (axis and colour-bar labels) and ``legend`` (entries and legend
    titles); empty strings left out. What the figure test checks for raw parameter
    names and undefined symbols (tests/test_figure_texts.py)."""
    texts: dict[str, list[str]] = {"title": [], "label": [], "legend": []}

    def add(role: str, text) -> None:
        words = text.get_text() if hasattr(text, "get_text") else str(text)
        if words and words.strip() and (not hasattr(text, "get_visible") or text.get_visible()):
            texts[role].append(words)

    if fig._suptitle is not None:
        add("title", fig._suptitle)
    legends = list(fig.legends)
    for ax in fig.axes:
        for title in (ax.title, ax._left_title, ax._right_title):
            add("title", title)
        add("label", ax.xaxis.label)
        add("label", ax.yaxis.label)
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
    for legend in legends:
        add("legend", legend.get_title())
        for text in legend.get_texts():
            add("legend", text)
    return texts


def png_bytes(fig, dpi: int = _DPI, palette: bool = False) -> bytes:
    """``fig`` as PNG bytes, with its words (:func:`figure_texts`) in a text chunk
    (:data:`TEXTS_KEY`), so that a test, or a search, can read what a saved figure
    says. ``palette`` reduces it to 256 colours (a third of the bytes, no visible
    change for line art).

    The figure is drawn once, to pixels (``savefig``'s "rgba"), and those are encoded
    once: as RGB when every pixel is opaque (as a figure on a white ground is), the
    same image in fewer bytes and less time than RGBA."""
    import json

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    raw = io.BytesIO()
    fig.savefig(raw, format="rgba", dpi=dpi)
    pixels = np.frombuffer(raw.getbuffer(), dtype=np.uint8)
    try:
        height, width = np.asarray(fig.canvas.buffer_rgba()).shape[:2]  # the Agg canvas savefig drew on
    except AttributeError:  # a canvas of another kind (SVG, PDF): savefig drew on a borrowed Agg canvas
        height = width = 0
    if pixels.size == height * width * 4:
        pixels = pixels.reshape(height, width, 4)
    else:  # the pixels' shape unknown: a PNG from savefig, read back
        encoded = io.BytesIO()
        fig.savefig(encoded, format="png", dpi=dpi)
        with Image.open(io.BytesIO(encoded.getvalue())) as decoded:
            pixels = np.asarray(decoded.convert("RGBA"))
    if palette:
        image = Image.fromarray(pixels[..., :3].copy(), "RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    elif pixels[..., 3].min() == 255:
        image = Image.fromarray(pixels[..., :3].copy(), "RGB")
    else:
        image = Image.fromarray(pixels, "RGBA")
    info = PngInfo()
    info.add_itxt(TEXTS_KEY, json.dumps(figure_texts(fig), ensure_ascii=False))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=palette, pnginfo=info)
    return out.getvalue()


def _nanpercentile(a: np.ndarray, q, axis: int = 0) -> np.ndarray:
    """``np.nanpercentile(a, q, axis=0)`` of a 2-D array (``q`` a number or a list),
    the same numbers (linear interpolation, numpy's formulas) without numpy's loop
    over columns; columns without a value give NaN, without a warning."""
    assert axis == 0
    a = np.sort(np.asarray(a, dtype=float), axis=0)  # NaN sort last
    n = np.sum(~np.isnan(a), axis=0)
    quantiles = np.true_divide(np.asarray(q, dtype=float), 100)
    scalar = quantiles.ndim == 0
    quantiles = np.atleast_1d(quantiles)[:, None]
    virtual = (n - 1) * quantiles  # numpy's virtual index for method "linear"
    previous = np.floor(virtual)
    gamma = virtual - previous
    top = np.maximum(n - 1, 0)
    below = np.clip(previous.astype(np.intp), 0, top)
    above = np.clip(previous.astype(np.intp) + 1, 0, top)
    columns = np.arange(a.shape[1])
    lo, hi = a[below, columns], a[above, columns]
    # numpy's _lerp
    diff = hi - lo
    result = lo + diff * gamma
    np.subtract(hi, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    result = np.where(n > 0, result, np.nan)
    return result[0] if scalar else result


def _plain_log_formatter(minor: bool = False):
    """Matplotlib's log-axis labels (``10³``, ``2×10²``) in plain text: the same
    labels without mathtext, whose parser took a tenth of a second of the emergence
    figure."""
    from matplotlib.ticker import LogFormatterSciNotation

    superscript = str.maketrans("0123456789-−", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻")

    class PlainLogFormatter(LogFormatterSciNotation):
        def __call__(self, x, pos=None):
            text = super().__call__(x, pos)
            if not text.startswith("$"):
                return text
            body = text.strip("$").replace(r"\mathdefault{", "", 1)[:-1].replace(r"\times", "×")
            body = body.replace(r"\;", "").replace(r"\,", "")
            head, _, power = body.partition("^{")
            return head + power.rstrip("}").translate(superscript) if power else head

    return PlainLogFormatter(base=10, labelOnlyBase=False) if minor else PlainLogFormatter(base=10)


def _fmt_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unset"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def _words(column: str) -> str:
    """A parameter column in words, its symbol in brackets (``planted share (ρ)``)."""
    parameter = _PARAMETERS.get(column)
    return parameter.axis_label() if parameter is not None else column.replace("_", " ")


def _label(columns: Sequence[str], keys: Sequence[Any]) -> str:
    return ", ".join(f"{_words(c)} = {_fmt_value(v)}" for c, v in zip(columns, keys)) or "all runs"


# ---------------------------------------------------------------------------------
# Groups and their summaries
# ---------------------------------------------------------------------------------
class _Group:
    """One group of the sweep: its compact data, label, Params and mean q_r."""

    def __init__(self, columns: list[str], data: SweepGroup):
        self.keys = data.keys
        self.data = data
        self.params = data.params()
        self.label = _label(columns, self.keys) if columns else _label(
            ["n_documents", "planted_fraction"], [self.params.n_documents, self.params.planted_fraction]
        )
        self.key_label = _label(columns, self.keys)
        self.real_cited_rate = data.real_cited_rate
        self.levels = data.levels

    def awareness_grid(self, n: int) -> np.ndarray:
        lo, hi = float(self.levels.min()), float(self.levels.max())
        return np.linspace(lo, hi, n) if hi > lo else np.array([lo])

    def per_level(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Levels and the (replicates x levels) means of ``column`` ("rebel": the rebel share)."""
        return self.data.per_level(column)


def _groups(data: SweepData) -> list[_Group]:
    return [_Group(list(data.group_columns), g) for g in data.groups]


def _shown(groups: list, limit: int = MAX_LINES) -> list:
    """At most ``limit`` groups, spread evenly over the sorted list."""
    if len(groups) <= limit:
        return list(groups)
    index = np.unique(np.round(np.linspace(0, len(groups) - 1, limit)).astype(int))
    return [groups[i] for i in index]


#: seaborn's "deep" palette's first colour (``seaborn.color_palette("deep")[0]``),
#: written out so that drawing a sweep's figures does not import seaborn (half a
#: second: it pulls in pyplot and IPython); tests/test_figures.py checks it.
_DEEP_BLUE = (0.2980392156862745, 0.4470588235294118, 0.6901960784313725)

#: seaborn's ``plotting_context("notebook")`` font sizes (at font scale 1), which
#: ``font_scale`` multiplies (:func:`_style`).
_NOTEBOOK_FONTS = {
    "axes.labelsize": 12,
    "axes.titlesize": 12,
    "font.size": 12,
    "legend.fontsize": 11,
    "legend.title_fontsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
}

#: seaborn's ``axes_style("whitegrid")`` and the rest of ``plotting_context("notebook")``
#: (what does not scale with the fonts), written out for the same reason
#: (tests/test_figures.py checks them against seaborn's), but for ``image.cmap``
#: ("rocket", a colour map only seaborn registers; every image here names its colour map).
_WHITEGRID = {
    "axes.axisbelow": True,
    "axes.edgecolor": ".8",
    "axes.facecolor": "white",
    "axes.grid": True,
    "axes.labelcolor": ".15",
    "axes.linewidth": 1.25,
    "axes.spines.bottom": True,
    "axes.spines.left": True,
    "axes.spines.right": True,
    "axes.spines.top": True,
    "figure.facecolor": "white",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "grid.color": ".8",
    "grid.linestyle": "-",
    "grid.linewidth": 1,
    "lines.linewidth": 1.5,
    "lines.markersize": 6,
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "patch.linewidth": 1,
    "text.color": ".15",
    "xtick.bottom": False,
    "xtick.color": ".15",
    "xtick.direction": "out",
    "xtick.major.size": 6,
    "xtick.major.width": 1.25,
    "xtick.minor.size": 4,
    "xtick.minor.width": 1,
    "xtick.top": False,
    "ytick.color": ".15",
    "ytick.direction": "out",
    "ytick.left": False,
    "ytick.major.size": 6,
    "ytick.major.width": 1.25,
    "ytick.minor.size": 4,
    "ytick.minor.width": 1,
    "ytick.right": False,
}


def _style(font_scale: float) -> dict[str, Any]:
    """seaborn's "whitegrid" style at notebook size with its fonts scaled by
    ``font_scale`` (``axes_style("whitegrid")`` and ``plotting_context("notebook",
    font_scale)``: the scale multiplies the font sizes alone)."""
    return {**_WHITEGRID, **{k: size * font_scale for k, size in _NOTEBOOK_FONTS.items()}}


#: The sweep's figures' style: seaborn's "whitegrid" at notebook size, font scale 0.85.
_STYLE = _style(0.85)


def _colours(n: int) -> list:
    """``n`` colours of an ordered palette, dark enough for lines on white: seaborn's
    "deep" blue for one, else viridis (seaborn's "viridis" is matplotlib's)."""
    if n == 1:
        return [_DEEP_BLUE]
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.82, n)]


def _phase_parameter(columns: list[str]) -> str | None:
    """The parameter drawn as colour (and on the phase diagram's y axis)."""
    if not columns:
        return None
    return "planted_fraction" if "planted_fraction" in columns else columns[0]


class _Layout:
    """Which groups each figure shows, in which panel and colour.

    Colour is one swept parameter (``planted_fraction`` when swept); each
    combination of the other swept parameters gets its own panel (at most
    :data:`MAX_PANELS`, chosen evenly); a panel holds at most :data:`MAX_LINES`
    lines, chosen evenly.
    """

    def __init__(self, groups: list[_Group], columns: list[str]):
        self.hue = _phase_parameter(columns)
        self.facet_columns = [c for c in columns if c != self.hue]
        self.n_groups = len(groups)
        if self.facet_columns:
            index = [columns.index(c) for c in self.facet_columns]
            facets: dict[str, list[_Group]] = {}
            for g in groups:
                facets.setdefault(_label(self.facet_columns, [g.keys[i] for i in index]), []).append(g)
            panels = list(facets.items())
        else:
            panels = [("", groups)]
        self.panels = [(title, _shown(part)) for title, part in _shown(panels, MAX_PANELS)]
        hue_index = columns.index(self.hue) if self.hue else None
        self.hue_value = {}
        for _, part in self.panels:
            for g in part:
                self.hue_value[g.label] = _fmt_value(g.keys[hue_index]) if hue_index is not None else g.label
        values = list(dict.fromkeys(self.hue_value[g.label] for _, part in self.panels for g in part))
        self.palette = dict(zip(values, _colours(len(values))))
        self.n_shown = sum(len(part) for _, part in self.panels)

    def colour(self, group: _Group):
        return self.palette[self.hue_value[group.label]]

    def legend_entries(self) -> list[tuple[Any, str]]:
        if self.hue:
            return [(c, f"{_words(self.hue)} = {v}") for v, c in self.palette.items()]
        return [(c, v.replace(", ", "\n")) for v, c in self.palette.items()]

    def suffix(self) -> str:
        return f" ({self.n_shown} of {self.n_groups} groups shown)" if self.n_shown < self.n_groups else ""

    def figure(self, height: float, nrows: int = 1, **kw):
        ncols = len(self.panels)
        width = 2.6 + 5.6 * min(ncols, 1) + 4.0 * max(ncols - 1, 0)  # the legend, then the panels
        fig, axes = _new_figure(width, height, ncols=ncols, nrows=nrows, sharey="row", layout=None, **kw)
        for j, (title, _) in enumerate(self.panels):
            if title:
                axes[0, j].set_title(title, fontsize=9)
        return fig, axes


#: At most this many panels (combinations of the other swept parameters) per figure.
MAX_PANELS = 4


def _mean_band(matrix: np.ndarray, rng: np.random.Generator, n_boot: int = _N_BOOT):
    """Mean over units per level and its 95% bootstrap band (whole units resampled)."""
    n_units = matrix.shape[0]
    finite = np.isfinite(matrix)
    values = np.where(finite, matrix, 0.0)
    weights = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(0) / finite.sum(0)
        boot = (weights @ values) / (weights @ finite)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # levels without a finite value
        low, high = _nanpercentile(boot, [2.5, 97.5], axis=0) if n_units > 1 else (mean, mean)
    return mean, low, high


def _legend(fig, layout: _Layout, simulated: str, theory: str | None = None, fitted: bool = False) -> None:
    """The figure's legend: the groups' colours, then what the marks mean. The band's
    entry shows a line over its shaded band in the first group's colour, as drawn."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    entries = layout.legend_entries()
    handles: list[Any] = [Line2D([], [], color=c, lw=2) for c, _ in entries]
    labels = [label for _, label in entries]
    first = entries[0][0] if entries else "0.3"
    handles.append((Patch(facecolor=first, alpha=0.25, edgecolor="none"), Line2D([], [], color=first, lw=2)))
    labels.append(simulated)
    if theory:
        handles.append(Line2D([], [], color="0.3", ls="--", lw=1.3))
        labels.append(theory)
    if fitted:
        handles.append(Line2D([], [], color="0.3", marker="D", ls="-", lw=1.2, ms=5))
        labels.append("fitted threshold (s*),\n95% bootstrap interval")
    fig.legend(handles=handles, labels=labels, loc="outside right upper", fontsize=8, frameon=False)


def _fits_by_label(thresholds: ThresholdRows | pd.DataFrame, columns: list[str]) -> dict[str, Any]:
    """The rows of a thresholds table keyed by their group's label (a row: a dict, or a
    Series of a DataFrame)."""
    if not set(columns) <= set(thresholds.columns):
        return {}
    rows = thresholds.rows if isinstance(thresholds, ThresholdRows) else (row for _, row in thresholds.iterrows())
    return {_label(columns, [row[c] for c in columns]): row for row in rows}


def _frame(thresholds: ThresholdRows | pd.DataFrame) -> pd.DataFrame:
    return thresholds.to_frame() if isinstance(thresholds, ThresholdRows) else thresholds


def _line(ax, levels, mean, low, high, colour) -> None:
    ax.fill_between(levels, low, high, color=colour, alpha=0.22, lw=0)
    ax.plot(levels, mean, color=colour, lw=1.8, marker="o" if levels.size <= 25 else None, ms=3)


# ---------------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------------
def _figure_p_rebel(layout: _Layout, thresholds: ThresholdRows | pd.DataFrame, columns: list[str], path: Path, rng) -> Path:
    fits = _fits_by_label(thresholds, columns)
    fig, axes = layout.figure(4.3)
    for j, (_, part) in enumerate(layout.panels):
        ax = axes[0, j]
        for group in part:
            colour = layout.colour(group)
            levels, matrix = group.per_level("rebel")
            _line(ax, levels, *_mean_band(matrix, rng), colour)
            s = group.awareness_grid(201 if group.params.sa_start is None else 41)
            ax.plot(s, _p_rebel(group.params, s, group.real_cited_rate), color=colour, ls="--", lw=1.2)
            fit = fits.get(group.key_label)
            if fit is not None and np.isfinite(fit["s_star"]):
                err = np.array([[fit["s_star"] - fit["s_star_low"]], [fit["s_star_high"] - fit["s_star"]]])
                ax.errorbar([fit["s_star"]], [0.5], xerr=np.abs(err) if np.all(np.isfinite(err)) else None,
                            fmt="D", color=colour, mec="white", ms=5, capsize=3, lw=1.4, zorder=5)
        ax.axhline(0.5, color="0.5", lw=0.7, ls=":")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(_AWARENESS_LABEL)
    axes[0, 0].set_ylabel("P(rebel) after training")
    fig.suptitle("Share of rebel learners" + layout.suffix(), fontsize=10)
    _legend(fig, layout, "simulated mean,\n95% bootstrap band\nover replicates",
            "mean field (Gaussian,\nat this corpus size)", fitted=True)
    _lay_out(fig)
    return _save(fig, path)


def _figure_uplift(layout: _Layout, path: Path, rng) -> Path:
    fig, axes = layout.figure(4.0)
    for j, (_, part) in enumerate(layout.panels):
        ax = axes[0, j]
        for group in part:
            levels, matrix = group.per_level("uplift")
            _line(ax, levels, *_mean_band(matrix, rng), layout.colour(group))
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_xlabel(_AWARENESS_LABEL)
    axes[0, 0].set_ylabel("self-model uplift over real data (U)")
    fig.suptitle("Self-model uplift against awareness" + layout.suffix(), fontsize=10)
    _legend(fig, layout, "mean, 95% bootstrap\nband over replicates")
    _lay_out(fig)
    return _save(fig, path)


def _figure_emergence(layout: _Layout, path: Path) -> Path:
    fig, axes = layout.figure(5.4, nrows=2, sharex="col", gridspec_kw={"height_ratios": [3, 1.3]})
    drawn_any = False
    for j, (_, part) in enumerate(layout.panels):
        ax, ax_share = axes[0, j], axes[1, j]
        for group in part:
            colour = layout.colour(group)
            levels, matrix = group.per_level("emergence_document")
            emerged = np.isfinite(matrix)
            share = emerged.mean(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # levels where nothing emerged
                q25, median, q75 = _nanpercentile(matrix, [25, 50, 75], axis=0)
            # the median is shown where at least a quarter of the replicates emerged
            enough = share >= 0.25
            _line(ax, levels, np.where(enough, median, np.nan), np.where(enough, q25, np.nan),
                  np.where(enough, q75, np.nan), colour)
            drawn_any |= bool(np.any(enough & np.isfinite(median)))
            if group.params.sa_start is None:
                s = group.awareness_grid(201)
                wald = meanfield.emergence_estimate(group.params, s, real_cited_rate=group.real_cited_rate)
                wald = np.where(np.isfinite(wald), wald, np.nan)
                ax.plot(s, wald, color=colour, ls="--", lw=1.2)
                drawn_any |= bool(np.isfinite(wald).any())
            ax_share.plot(levels, share, color=colour, lw=1.6)
        ax_share.set_ylim(-0.03, 1.03)
        ax_share.set_xlabel(_AWARENESS_LABEL)
    if drawn_any:
        for j in range(len(layout.panels)):
            ax = axes[0, j]
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(_plain_log_formatter())
            ax.yaxis.set_minor_formatter(_plain_log_formatter(minor=True))
            low, high = ax.get_ylim()
            if 0 < low < high and math.log10(high / low) > 1:
                # over more than a decade the minor ticks have no label, and in this
                # style no mark and no grid line: none are made (a third of the ticks)
                from matplotlib.ticker import NullLocator

                ax.yaxis.set_minor_locator(NullLocator())
    axes[0, 0].set_ylabel("emergence document\n(first P(deceptive) ≥ 0.9)")
    axes[1, 0].set_ylabel("share emerged\n(at any time)")
    axes[1, 0].set_title("A learner emerges when P(deceptive) first reaches 0.9, even if it later falls "
                         "and the learner ends aligned", fontsize=7.5, loc="left")
    fig.suptitle("When the belief in deceptive makers emerges" + layout.suffix(), fontsize=10)
    _legend(fig, layout, "median and interquartile\nrange over the replicates\nthat emerged (shown\n"
            "where ≥ 25% emerged)", "mean-field estimate\n(Wald's, docs/model.md §4)")
    _lay_out(fig)
    return _save(fig, path)


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    v = np.log(values) if log else values.astype(float)
    if v.size == 1:
        mids = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        inner = 0.5 * (v[1:] + v[:-1])
        mids = np.concatenate([[v[0] - (inner[0] - v[0])], inner, [v[-1] + (v[-1] - inner[-1])]])
    return np.exp(mids) if log else mids


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _figure_phase(groups: list[_Group], columns: list[str], thresholds: pd.DataFrame, path: Path) -> Path | None:
    import seaborn as sns

    y_name = _phase_parameter(columns)
    others = [c for c in columns if c != y_name]
    # one slice of the other group columns: their first combination
    slice_keys = tuple(groups[0].keys[columns.index(c)] for c in others)
    chosen = [g for g in groups if tuple(g.keys[columns.index(c)] for c in others) == slice_keys]
    if len(chosen) < 2:
        return None
    y_values = [g.keys[columns.index(y_name)] for g in chosen]
    numeric = all(_is_number(v) and not (isinstance(v, float) and math.isnan(v)) for v in y_values)
    levels = np.unique(np.concatenate([g.levels for g in chosen]))
    grid = np.full((len(chosen), levels.size), np.nan)
    for i, g in enumerate(chosen):
        lv, matrix = g.per_level("rebel")
        grid[i, np.searchsorted(levels, lv)] = np.nanmean(matrix, axis=0)

    order = np.argsort(np.asarray(y_values, dtype=float)) if numeric else np.arange(len(chosen))
    chosen = [chosen[i] for i in order]
    grid = grid[order]
    y = np.asarray([y_values[i] for i in order], dtype=float) if numeric else np.arange(len(chosen), dtype=float)
    log_y = bool(numeric and y.min() > 0 and y.max() / y.min() >= 10)

    fig, axes = _new_figure(7.4, 4.6)
    ax = axes[0, 0]
    cmap = sns.color_palette("rocket", as_cmap=True)
    mesh = ax.pcolormesh(_edges(levels, False), _edges(y, log_y), grid, cmap=cmap, vmin=0, vmax=1, shading="flat")
    fig.colorbar(mesh, ax=ax, label="P(rebel), simulated", pad=0.01)
    if log_y:
        ax.set_yscale("log")

    # the mean-field boundary: on a fine grid of the parameter when it is a number
    base = chosen[0]
    q_values = np.array([g.real_cited_rate if g.real_cited_rate is not None else np.nan for g in chosen])
    if numeric and y_name in ("n_documents", "batch_size", "citations_per_document"):
        fine = np.unique(np.round(np.geomspace(y.min(), y.max(), 16) if log_y else np.linspace(y.min(), y.max(), 16)))
    elif numeric:
        fine = np.unique(np.concatenate([np.linspace(y.min(), y.max(), 21), y]))
    else:
        fine = y
    s_n, s_inf = [], []
    for value in fine:
        if numeric:
            x_interp = np.log(value) if log_y else value
            xs = np.log(y) if log_y else y
            finite = np.isfinite(q_values)
            q = float(np.interp(x_interp, xs[finite], q_values[finite])) if finite.any() else None
            over = {y_name: int(round(value)) if isinstance(chosen[0].params[y_name], int) else float(value)}
        else:
            g = chosen[int(value)]
            q = g.real_cited_rate
            over = {y_name: g.params[y_name]}
        try:
            p = base.params.replace(**over)
        except ValueError:
            s_n.append(np.nan)
            s_inf.append(np.nan)
            continue
        roots = meanfield_crossings(p, q, grid=101 if p.sa_start is None else None)
        s_n.append(roots[0] if roots.size else np.nan)
        roots = meanfield.thresholds(p, real_cited_rate=q, grid=100)
        s_inf.append(roots[0] if roots.size else np.nan)
    ax.plot(s_n, fine, color="#35b7e8", lw=2.2, label="mean field: P(rebel) = 1/2 at this corpus size")
    ax.plot(s_inf, fine, color="white", lw=1.6, ls="--", label="mean field: large-corpus threshold (s*∞)")

    # the fitted thresholds with their intervals
    import pandas as pd

    fits = thresholds.copy()
    for c, v in zip(others, slice_keys):
        fits = fits[(fits[c] == v) | (fits[c].isna() & pd.isna(v))]
    if numeric and y_name in fits.columns:
        fy = fits[y_name].to_numpy(float)
    else:
        lookup = {_fmt_value(v): i for i, v in enumerate(y_values[i] for i in order)}
        fy = np.array([lookup.get(_fmt_value(v), np.nan) for v in fits[y_name]]) if y_name in fits.columns else []
    if len(fy):
        sx = fits["s_star"].to_numpy(float)
        err = np.abs(np.vstack([sx - fits["s_star_low"].to_numpy(float), fits["s_star_high"].to_numpy(float) - sx]))
        ax.errorbar(sx, fy, xerr=err, fmt="o", color="#7fff7f", ms=4, lw=1.2, capsize=2,
                    label="fitted threshold (s*), 95% bootstrap interval")
    ax.set_xlim(levels.min(), levels.max())
    if not numeric:
        ax.set_yticks(y, [_fmt_value(chosen[i].keys[columns.index(y_name)]) for i in range(len(chosen))])
    ax.set_xlabel(_AWARENESS_LABEL)
    ax.set_ylabel(_words(y_name))
    title = f"Phase diagram: P(rebel) over awareness and {_PARAMETERS[y_name].words if y_name in _PARAMETERS else y_name}"
    if others:
        title += "\n(slice " + _label(others, slice_keys) + ")"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower left", facecolor="0.25", labelcolor="white", framealpha=0.8)
    ax.grid(False)
    return _save(fig, path)


def _figure_finite_size(groups: list[_Group], columns: list[str], thresholds: pd.DataFrame, path: Path) -> Path | None:
    others = [c for c in columns if c != "n_documents"]
    fits = thresholds[np.isfinite(thresholds["n_documents"].to_numpy(float))]
    if fits["n_documents"].nunique() < 2:
        return None
    if others:
        subgroups = [(k if isinstance(k, tuple) else (k,), part) for k, part in fits.groupby(others, sort=True, dropna=False)]
    else:
        subgroups = [((), fits)]
    subgroups = _shown(subgroups)
    colours = _colours(len(subgroups))
    try:
        scaling = finite_size_scaling(thresholds)
    except (KeyError, ValueError):  # pragma: no cover - defensive
        scaling = {}

    fig, axes = _new_figure(9.0, 3.9, ncols=2)
    ax_s, ax_w = axes[0, 0], axes[0, 1]
    group_by_label = {g.label: g for g in groups}
    all_n = fits["n_documents"].to_numpy(float)
    n_fine = np.unique(np.round(np.geomspace(all_n.min(), all_n.max(), 12)))
    for (keys, part), colour in zip(subgroups, colours):
        part = part.sort_values("n_documents")
        n = part["n_documents"].to_numpy(float)
        s = part["s_star"].to_numpy(float)
        err = np.abs(np.vstack([s - part["s_star_low"].to_numpy(float), part["s_star_high"].to_numpy(float) - s]))
        label = _label(others, keys) if others else "fitted threshold (s*), 95% interval"
        ax_s.errorbar(n, s, yerr=err, fmt="o-", color=colour, ms=4, capsize=2, lw=1.2, label=label)
        # the mean field at each N and for a large corpus, for this subgroup
        first = part.iloc[0]
        group = group_by_label.get(_label(columns, [first[c] for c in columns]), groups[0])
        s_n, w_n = [], []
        for value in n_fine:
            p = group.params.replace(n_documents=int(value))
            grid = 101 if p.sa_start is None else None
            roots = meanfield_crossings(p, group.real_cited_rate, grid=grid)
            s_n.append(roots[0] if roots.size else np.nan)
            lo = meanfield_crossings(p, group.real_cited_rate, level=0.1, grid=grid)
            hi = meanfield_crossings(p, group.real_cited_rate, level=0.9, grid=grid)
            w_n.append(hi[0] - lo[0] if lo.size and hi.size else np.nan)
        ax_s.plot(n_fine, s_n, color=colour, ls="--", lw=1.1)
        s_inf = part["s_star_meanfield_inf"].to_numpy(float)
        if np.isfinite(s_inf).any():
            ax_s.axhline(float(np.nanmean(s_inf)), color=colour, ls=":", lw=1.3)
        w = part["width"].to_numpy(float)
        if {"width_low", "width_high"} <= set(part.columns):
            werr = np.abs(np.vstack([w - part["width_low"].to_numpy(float), part["width_high"].to_numpy(float) - w]))
        else:
            werr = None
        ax_w.errorbar(n, w, yerr=werr, fmt="o", color=colour, ms=4, capsize=2, lw=1.2)
        ax_w.plot(n_fine, w_n, color=colour, ls="--", lw=1.1)
    # slope -1/2 guide through the data's geometric centre
    w_all = fits["width"].to_numpy(float)
    ok = np.isfinite(w_all) & (w_all > 0)
    if ok.any():
        centre_n, centre_w = np.exp(np.mean(np.log(all_n[ok]))), np.exp(np.mean(np.log(w_all[ok])))
        guide = centre_w * (n_fine / centre_n) ** -0.5
        ax_w.plot(n_fine, guide, color="0.4", lw=1.0, ls="-.", label="slope -1/2 guide")
    ax_s.set_xscale("log")
    ax_s.set_xlabel("corpus size (N, documents)")
    ax_s.set_ylabel("threshold awareness (s*)")
    ax_s.set_title("Threshold against corpus size\n(dashed: mean field at this size; dotted: large-corpus limit)",
                   fontsize=9)
    ax_s.legend(fontsize=7, loc="best")
    ax_w.set_xscale("log")
    ax_w.set_yscale("log")
    ax_w.set_xlabel("corpus size (N, documents)")
    ax_w.set_ylabel("10%-90% width of the transition")
    slope = scaling.get("slope", math.nan)
    title = "Width of the transition (dashed: mean field)"
    if np.isfinite(slope):
        title += f"\nfitted slope {slope:.2f} [{scaling['slope_low']:.2f}, {scaling['slope_high']:.2f}]"
    ax_w.set_title(title, fontsize=9)
    ax_w.legend(fontsize=7, loc="best")
    return _save(fig, path)


def make_figures(
    results: pd.DataFrame | str | os.PathLike | SweepData,
    thresholds: pd.DataFrame | ThresholdRows | None,
    out_dir: str | os.PathLike,
    swept: list[str] | None = None,
    seed: int = 0,
) -> list[Path]:
    """Draw a sweep's figures as PNG files in ``out_dir``.

    Parameters
    ----------
    results : pandas.DataFrame, path or SweepData
        The sweep's tidy results: one row per (point, replicate, awareness level),
        in memory, or ``results.parquet`` (or anything :func:`analysis.read_sweep`
        reads) streamed in batches of the needed columns, or read already
        (:class:`analysis.SweepData`, which the fit can share: read once, fit and
        draw).
    thresholds : pandas.DataFrame, ThresholdRows or None
        :func:`analysis.fit_thresholds` of the same results with the same ``swept``, or
        :func:`analysis.thresholds.fit_threshold_rows`'s rows (what the command line
        passes: the figures of a sweep that swept awareness alone then need no pandas);
        None: fitted here, from the same compact data.
    out_dir : path
        Folder of the figures (created if missing).
    swept : list of str, optional
        The swept parameters (the manifest's ``"swept"``); None infers them (with a
        SweepData: None or the swept it was read with).
    seed : int
        Seed of the bootstrap bands.

    Returns
    -------
    list of Path
        The files written, among

        - ``p_rebel.png``: P(rebel) against awareness, a line per group with a 95%
          bootstrap band over replicates, the mean field's P(rebel) dashed in the
          same colour, and the fitted threshold with its interval. Colour is one
          swept parameter (``planted_fraction`` if swept); each combination of the
          others gets a panel (at most :data:`MAX_PANELS`, each with at most
          :data:`MAX_LINES` lines, chosen evenly);
        - ``phase_diagram.png`` (when a parameter besides awareness is swept):
          P(rebel) over awareness and that parameter (``planted_fraction`` if it is
          swept), with the mean-field boundary at the groups' corpus size (solid),
          the large-corpus threshold ``s*_inf`` (dashed) and the fitted thresholds;
        - ``uplift.png``: mean uplift against awareness with bands, per group (same
          panels and colours);
        - ``emergence.png``: median and interquartile range of the emergence
          document over the replicates where P(deceptive) reached 0.9, the share
          where it did, and Wald's estimate dashed (log scale);
        - ``finite_size.png`` (when ``n_documents`` is swept): the fitted threshold
          against N with the mean field's ``s*_N`` and ``s*_inf``, and the width
          against N on log-log axes with a slope -1/2 guide.
    """
    from matplotlib import rc_context

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = read_sweep(results, swept)
    columns = list(data.group_columns)
    if thresholds is None:
        thresholds = fit_threshold_rows(data)
    groups = _groups(data)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    written: list[Path] = []
    with rc_context(_STYLE):
        layout = _Layout(groups, columns)
        written.append(_figure_p_rebel(layout, thresholds, columns, out / "p_rebel.png", rng))
        if columns:
            phase = _figure_phase(groups, columns, _frame(thresholds), out / "phase_diagram.png")
            if phase is not None:
                written.append(phase)
        written.append(_figure_uplift(layout, out / "uplift.png", rng))
        written.append(_figure_emergence(layout, out / "emergence.png"))
        if "n_documents" in columns:
            finite = _figure_finite_size(groups, columns, _frame(thresholds), out / "finite_size.png")
            if finite is not None:
                written.append(finite)
    return written


#: seaborn's "colorblind" palette (``seaborn.color_palette("colorblind")``), the
#: trajectory's colours for up to ten learners; tests/test_figures.py checks it.
_COLORBLIND = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133",
               "#56b4e9")


def _dashes(n: int) -> list:
    """``n`` dash patterns that tell lines apart: seaborn's ``unique_dashes`` (a solid
    line, four well-distinguishable patterns, then long and short dashes combined),
    written out so that ``persona-sim run`` does not import seaborn; tests/test_figures.py
    checks it."""
    import itertools

    dashes: list = ["", (4, 1.5), (1, 1), (3, 1.25, 1.5, 1.25), (5, 1, 1, 1)]
    p = 3
    while len(dashes) < n:
        longs = list(itertools.combinations_with_replacement([3, 1.25], p))[1:-1][::-1]
        shorts = list(itertools.combinations_with_replacement([4, 1], p))[1:-1]
        for segments in itertools.chain(*zip(longs, shorts)):
            gap = min(segments)
            dashes.append(tuple(itertools.chain(*((seg, gap) for seg in segments))))
        p += 1
    return dashes[:n]


def _trajectory_colours(n: int) -> list:
    """seaborn's "colorblind" palette for up to ten lines, else its "viridis" palette
    of ``n`` colours (the colour map at ``n`` evenly spaced interior points)."""
    if n <= len(_COLORBLIND):
        from matplotlib.colors import to_rgb

        return [to_rgb(c) for c in _COLORBLIND[:n]]
    from matplotlib import colormaps

    return [tuple(rgba[:3]) for rgba in colormaps["viridis"](np.linspace(0, 1, n + 2)[1:-1])]


def trajectory_figure(trajectory: pd.DataFrame, title: str, n_documents: int) -> bytes:
    """A run's trajectory as PNG bytes: P(deceptive) and the uplift against documents
    read, one line per learner coloured by awareness, generations one after another
    (``persona-sim run``'s ``trajectory.png``; ``trajectory`` is
    ``SimulationResult.trajectory``).

    Drawn as seaborn's ``lineplot(hue=level, style=level, units=learner,
    estimator=None)`` drew it (a colour and a dash pattern per awareness level, a line
    per learner), in seaborn's style, with matplotlib alone: importing seaborn was a
    fifth of the command's time (issue 18, benchmarks/README.md)."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context(_style(1.0)):
        fig = Figure(figsize=(11, 4.4))
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2, sharex=True)
        generations = int(trajectory["generation"].max()) + 1 if len(trajectory) else 1
        # one x axis over every generation: each generation's model starts from scratch
        x = (trajectory["documents_read"] + trajectory["generation"] * n_documents).to_numpy()
        levels = np.array([f"{s:g}" for s in trajectory["situational_awareness"]], dtype=object)
        order = list(dict.fromkeys(levels))  # the levels in order of appearance, as seaborn orders them
        # lines that lie on top of each other stay apart: a colour and a dash pattern each
        looks = dict(zip(order, zip(_trajectory_colours(len(order)), _dashes(len(order)))))
        learners = trajectory["learner"].to_numpy()
        lines = [(level, k == 0, np.flatnonzero((levels == level) & (learners == learner)))
                 for level in order for k, learner in enumerate(np.unique(learners[levels == level]))]
        for ax, column in zip(axes, ("p_deceptive", "uplift")):
            y = trajectory[column].to_numpy()
            for level, first, rows in lines:
                rows = rows[np.lexsort((y[rows], x[rows]))]  # along x, as seaborn sorts a line
                colour, dashes = looks[level]
                line, = ax.plot(x[rows], y[rows], color=colour, lw=1.8, label=level if first else "_nolegend_")
                if dashes:
                    line.set_dashes(dashes)
        _label_trajectory(fig, axes, title, generations, n_documents)
        return png_bytes(fig)


def _label_trajectory(fig, axes, title: str, generations: int, n_documents: int) -> None:
    """The trajectory figure's reference lines, labels, ticks, legend and title, once
    its lines are drawn; then its layout."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    xlabel = "documents read" if generations == 1 else f"documents read, generation after generation ({generations})"
    axes[0].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[0].set(ylabel="P(makers deceptive)", xlabel=xlabel, ylim=(-0.02, 1.02),
                title="belief that the makers are deceptive")
    axes[1].axhline(0.0, color="grey", lw=0.8, ls="--")
    axes[1].set(ylabel="self-model uplift over real data (U)", xlabel=xlabel,
                title="self-model: how well it expects AIs like it to behave")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        for g in range(1, generations):
            ax.axvline(g * n_documents, color="grey", lw=0.6, ls=":")
    axes[0].legend(title="final awareness (s)", fontsize=9, title_fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
