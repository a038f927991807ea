"""Figures of a sensitivity analysis (``persona-sim sensitivity``, docs/model.md §11)
and of scenario discovery (``persona-sim discover``).

- ``indices.png``: per output, the total-order Sobol' index ST of each parameter
  with its bootstrap 95% interval (bars) and the first-order S1 (dots); for Morris,
  mu* with its interval and sigma;
- ``s_star_distribution.png``: the distribution of ``s_star_inf`` over the box
  where a threshold exists, with the share of the box without one;
- ``convergence.png``: the Sobol' ST estimates (and intervals) as the base sample
  size N grows;
- ``peeling.png``: PRIM's peeling trajectory, coverage against density, the box
  chosen marked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.files import write_atomically
from sim.params import PARAMETERS_BY_NAME

from .figures import png_bytes

__all__ = ["sensitivity_figures", "peeling_figure", "parameter_label", "OUTPUT_LABELS"]

_BY_NAME = PARAMETERS_BY_NAME
#: The outputs in words (the symbol in brackets after them).
OUTPUT_LABELS = {
    "s_star_inf": "large-corpus threshold (s*∞)",
    "threshold_exists": "whether a threshold exists",
    "p_rebel_at": "P(rebel) at the chosen awareness",
    "s_star_sim": "simulated threshold (s*)",
    "threshold_exists_sim": "whether a simulated threshold exists",
    "p_rebel_at_sim": "simulated share of rebels at the chosen awareness",
}


def parameter_label(name: str) -> str:
    """A parameter in words, its symbol in brackets: ``planted share (ρ)``."""
    return _BY_NAME[name].axis_label() if name in _BY_NAME else name


def _subplots(nrows: int = 1, ncols: int = 1, figsize=(6.0, 4.0), **kw):
    """A figure and its axes without pyplot (no global state: the caller's matplotlib
    backend, a notebook's for one, is left alone), as analysis.figures draws."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kw)


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    write_atomically(path, png_bytes(fig, dpi=110))
    return path.name


def _indices_figure(indices: pd.DataFrame, folder: Path, by: str | None = None) -> str:
    outputs = list(dict.fromkeys(indices["output"]))
    parameters = list(dict.fromkeys(indices["parameter"]))
    groups = list(dict.fromkeys(indices[by])) if by else [None]
    fig, axes = _subplots(1, len(outputs), figsize=(4.2 * len(outputs), 0.45 * len(parameters) * len(groups) + 1.6),
                             sharey=True, squeeze=False)
    sobol = "ST" in indices
    total, total_conf, first = ("ST", "ST_conf", "S1") if sobol else ("mu_star", "mu_star_conf", "sigma")
    height = 0.8 / len(groups)
    colours = colormaps["tab10"].colors
    for ax, name in zip(axes[0], outputs):
        for g, group in enumerate(groups):
            rows = indices[indices["output"] == name]
            if by:
                rows = rows[rows[by] == group]
            rows = rows.set_index("parameter").reindex(parameters)
            y = np.arange(len(parameters)) + (g - (len(groups) - 1) / 2) * height
            label = f"{parameter_label(by).split(' (')[0]}: {group}, " if by else ""
            ax.barh(y, rows[total], height=height * 0.95, xerr=rows[total_conf], color=colours[g % 10],
                    alpha=0.8, capsize=2,
                    label=label + ("total order (ST)" if sobol else "mean absolute effect (μ*)"))
            ax.plot(rows[first], y, "o", ms=4, color="#dd8452" if not by else "k",
                    label=("first order (S1)" if sobol else "spread of the effects (σ)") if g == 0 else None)
        ax.set_xlabel("Sobol' index" if sobol else "Morris elementary effects")
        ax.set_yticks(np.arange(len(parameters)), [parameter_label(p) for p in parameters], fontsize=8)
        ax.set_title(OUTPUT_LABELS.get(name, name), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(loc="lower right", fontsize=7)
    fig.suptitle("Which assumptions drive the answer: indices with bootstrap 95% intervals", fontsize=10)
    return _save(fig, folder / "indices.png")


def _distribution_figure(samples: pd.DataFrame, folder: Path, by: str | None = None) -> str:
    fig, ax = _subplots(figsize=(6, 3.6))
    groups = list(dict.fromkeys(samples[by])) if by else [None]
    titles = []
    for g, group in enumerate(groups):
        rows = samples if group is None else samples[samples[by] == group]
        exists = rows["threshold_exists"].to_numpy() == 1
        s = rows["s_star_inf"].to_numpy()[exists]
        label = f"{parameter_label(by).split(' (')[0]}: {group}" if by else None
        ax.hist(s, bins=np.linspace(0, 1, 41), alpha=0.85 if not by else 0.5, label=label,
                color=colormaps["tab10"].colors[g % 10])
        if s.size and not by:
            for q, style in ((0.05, ":"), (0.5, "--"), (0.95, ":")):
                ax.axvline(np.quantile(s, q), color="k", ls=style, lw=1)
        text = (f"no threshold in {1 - exists.mean():.1%}; "
                + (f"median {np.median(s):.3f}, 5-95% [{np.quantile(s, 0.05):.3f}, {np.quantile(s, 0.95):.3f}]"
                   if s.size else "no threshold anywhere"))
        titles.append((f"{group}: " if by else f"{len(rows):,} points: ") + text)
    ax.set_xlabel("large-corpus threshold (s*∞), where one exists")
    ax.set_ylabel("sample points")
    ax.set_title("\n".join(titles), fontsize=8)
    if by:
        ax.legend(fontsize=7)
    return _save(fig, folder / "s_star_distribution.png")


def _convergence_figure(conv: pd.DataFrame, folder: Path, by: str | None = None) -> str:
    outputs = list(dict.fromkeys(conv["output"]))
    groups = list(dict.fromkeys(conv[by])) if by else [None]
    fig, axes = _subplots(len(groups), len(outputs), figsize=(4.2 * len(outputs), 3.6 * len(groups)), sharey=True,
                             squeeze=False)
    for r, group in enumerate(groups):
        for ax, name in zip(axes[r], outputs):
            rows = conv[conv["output"] == name]
            if by:
                rows = rows[rows[by] == group]
            for parameter, part in rows.groupby("parameter", sort=False):
                line = ax.plot(part["n"], part["ST"], marker="o", ms=3, label=parameter_label(parameter))[0]
                ax.fill_between(part["n"], part["ST"] - part["ST_conf"], part["ST"] + part["ST_conf"],
                                color=line.get_color(), alpha=0.15)
            if np.isfinite(rows["ST"].to_numpy(dtype=float)).any():
                ax.set_xscale("log", base=2)
            else:  # a constant output (the same at every point) has no indices to converge
                ax.text(0.5, 0.5, "constant over the points:\nno indices", ha="center", va="center",
                        transform=ax.transAxes, fontsize=8, color="0.4")
            ax.set_xlabel("base samples (N)")
            title = OUTPUT_LABELS.get(name, name)
            ax.set_title(title if not by else f"{title}; {parameter_label(by).split(' (')[0]}: {group}", fontsize=9)
            ax.grid(alpha=0.3)
        axes[r][0].set_ylabel("total-order index (ST)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.suptitle("Convergence of the total-order indices as the base sample grows (bands: bootstrap 95%)", fontsize=10)
    return _save(fig, folder / "convergence.png")


def sensitivity_figures(folder: Path, samples: pd.DataFrame, indices: pd.DataFrame,
                        conv: pd.DataFrame) -> list[str]:
    """Write the sensitivity figures into ``folder``; return their names."""
    folder = Path(folder)
    by = indices.columns[0] if indices.columns[0] != "output" else None  # the categorical parameter, if any
    written = [_indices_figure(indices, folder, by)]
    if {"s_star_inf", "threshold_exists"} <= set(samples.columns):
        written.append(_distribution_figure(samples, folder, by))
    if conv is not None and not conv.empty:
        written.append(_convergence_figure(conv, folder, by))
    return written


def peeling_figure(trajectory: pd.DataFrame, chosen: int, where: str, path: Path) -> str:
    """PRIM's peeling trajectory: coverage against density per box, coloured by the
    number of restricted parameters; the chosen box circled."""
    fig, ax = _subplots(figsize=(5.5, 4))
    points = ax.scatter(trajectory["coverage"], trajectory["density"], c=trajectory["res_dim"], cmap="viridis", s=14)
    ax.plot(trajectory["coverage"], trajectory["density"], color="0.6", lw=0.8, zorder=0)
    row = trajectory.iloc[chosen]
    ax.scatter([row["coverage"]], [row["density"]], s=120, facecolors="none", edgecolors="red", lw=1.5,
               label=f"box {chosen}: coverage {row['coverage']:.2f}, density {row['density']:.2f}")
    fig.colorbar(points, ax=ax, label="parameters the box restricts")
    ax.set_xlabel("coverage (share of the cases of interest inside the box)")
    ax.set_ylabel("density (share of the box's points that are cases)")
    ax.set_title(f"PRIM's peeling trajectory (cases: {where})", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _save(fig, path)
