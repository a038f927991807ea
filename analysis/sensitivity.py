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

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.files import write_atomically  # noqa: E402

__all__ = ["sensitivity_figures", "peeling_figure"]


def _save(fig, path: Path) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    write_atomically(path, buffer.getvalue())
    return path.name


def _indices_figure(indices: pd.DataFrame, folder: Path) -> str:
    outputs = list(dict.fromkeys(indices["output"]))
    fig, axes = plt.subplots(1, len(outputs), figsize=(4.2 * len(outputs), 0.45 * indices["parameter"].nunique() + 1.6),
                             sharey=True, squeeze=False)
    sobol = "ST" in indices
    for ax, name in zip(axes[0], outputs):
        rows = indices[indices["output"] == name]
        y = np.arange(len(rows))
        if sobol:
            ax.barh(y, rows["ST"], xerr=rows["ST_conf"], color="#4c72b0", alpha=0.8, capsize=3, label="ST (total)")
            ax.plot(rows["S1"], y, "o", color="#dd8452", label="S1 (first order)")
            ax.set_xlabel("Sobol' index")
            ax.set_xlim(left=min(0.0, float(np.nanmin(rows[["S1", "ST"]].to_numpy(), initial=0.0))) - 0.02)
        else:
            ax.barh(y, rows["mu_star"], xerr=rows["mu_star_conf"], color="#4c72b0", alpha=0.8, capsize=3,
                    label="mu* (mean |effect|)")
            ax.plot(rows["sigma"], y, "o", color="#dd8452", label="sigma")
            ax.set_xlabel("Morris elementary effects")
        ax.set_yticks(y, rows["parameter"])
        ax.set_title(name)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.suptitle("Which assumptions drive the answer: indices with bootstrap 95% intervals", fontsize=10)
    return _save(fig, folder / "indices.png")


def _distribution_figure(samples: pd.DataFrame, folder: Path) -> str:
    exists = samples["threshold_exists"].to_numpy() == 1
    s = samples["s_star_inf"].to_numpy()[exists]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(s, bins=np.linspace(0, 1, 41), color="#4c72b0", alpha=0.85)
    if s.size:
        for q, style in ((0.05, ":"), (0.5, "--"), (0.95, ":")):
            ax.axvline(np.quantile(s, q), color="k", ls=style, lw=1)
    ax.set_xlabel("large-corpus threshold s*_inf (where one exists)")
    ax.set_ylabel("sample points")
    ax.set_title(f"{len(samples):,} points: no threshold in {1 - exists.mean():.1%}; "
                 + (f"median {np.median(s):.3f}, 5-95% [{np.quantile(s, 0.05):.3f}, {np.quantile(s, 0.95):.3f}]"
                    if s.size else "no threshold anywhere"), fontsize=9)
    return _save(fig, folder / "s_star_distribution.png")


def _convergence_figure(conv: pd.DataFrame, folder: Path) -> str:
    outputs = list(dict.fromkeys(conv["output"]))
    fig, axes = plt.subplots(1, len(outputs), figsize=(4.2 * len(outputs), 3.6), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], outputs):
        rows = conv[conv["output"] == name]
        for parameter, group in rows.groupby("parameter", sort=False):
            line = ax.plot(group["n"], group["ST"], marker="o", ms=3, label=parameter)[0]
            ax.fill_between(group["n"], group["ST"] - group["ST_conf"], group["ST"] + group["ST_conf"],
                            color=line.get_color(), alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("base samples N")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("ST (total order)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.suptitle("Convergence of the total-order indices as N grows (bands: bootstrap 95%)", fontsize=10)
    return _save(fig, folder / "convergence.png")


def sensitivity_figures(folder: Path, samples: pd.DataFrame, indices: pd.DataFrame,
                        conv: pd.DataFrame) -> list[str]:
    """Write the sensitivity figures into ``folder``; return their names."""
    folder = Path(folder)
    written = [_indices_figure(indices, folder)]
    if {"s_star_inf", "threshold_exists"} <= set(samples.columns):
        written.append(_distribution_figure(samples, folder))
    if conv is not None and not conv.empty:
        written.append(_convergence_figure(conv, folder))
    return written


def peeling_figure(trajectory: pd.DataFrame, chosen: int, where: str, path: Path) -> str:
    """PRIM's peeling trajectory: coverage against density per box, coloured by the
    number of restricted parameters; the chosen box circled."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    points = ax.scatter(trajectory["coverage"], trajectory["density"], c=trajectory["res_dim"], cmap="viridis", s=14)
    ax.plot(trajectory["coverage"], trajectory["density"], color="0.6", lw=0.8, zorder=0)
    row = trajectory.iloc[chosen]
    ax.scatter([row["coverage"]], [row["density"]], s=120, facecolors="none", edgecolors="red", lw=1.5,
               label=f"box {chosen}: coverage {row['coverage']:.2f}, density {row['density']:.2f}")
    fig.colorbar(points, ax=ax, label="restricted parameters")
    ax.set_xlabel("coverage (share of the cases of interest inside the box)")
    ax.set_ylabel("density (share of the box's points that are cases)")
    ax.set_title(f"PRIM peeling trajectory: {where}", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _save(fig, path)
