"""What every scenario script shares: its arguments, its size, its sweeps, its figures.

A scenario script reads like a short lab notebook: it states its question (the first
line of its docstring), runs the model, draws a figure and prints an answer whose
numbers are computed by the run. This module keeps the plumbing out of the scripts:

- :func:`start` parses ``--out DIR``, ``--quick``, ``--workers N`` and ``--seed S`` (the
  environment variable ``PERSONA_SIM_QUICK=1`` also asks for the reduced size the
  tests use), sets the seaborn style and prints the question; it returns a
  :class:`Notebook`.
- :meth:`Notebook.size` picks the full or the reduced value of a setting.
- :meth:`Notebook.sweep` runs :func:`sim.sweep` on threads (a tqdm bar on stderr
  unless quick) and :meth:`Notebook.thresholds` fits the rebel thresholds.
- :func:`new_figure` and :meth:`Notebook.save` draw without pyplot (matplotlib's Agg
  canvas) and write each PNG atomically (:func:`sim.files.write_atomically`).
- :meth:`Notebook.answer` prints the answer line, ``Answer: ...``.

Helpers for tables: :func:`rebel_share` and :func:`mean_by` summarise a sweep per
awareness level over replicates, :func:`measured_cited_rate` is the mean q_r of a
sweep's corpora (what the mean field should be given).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("sim") is None:  # pragma: no cover - a checkout without ``pip install -e .``
    sys.path.insert(0, str(ROOT))

import numpy as np
import pandas as pd

#: The environment variable that asks every script for its reduced size.
QUICK_ENV = "PERSONA_SIM_QUICK"
#: Where the tutorial's figures go by default.
DEFAULT_OUT = ROOT / "docs" / "figures" / "tutorial"
#: Resolution of every figure (small files, readable on a screen).
DPI = 100
#: Awareness axis label of every figure.
AWARENESS_LABEL = "situational awareness s"


def quick_from_environment() -> bool:
    """Whether ``PERSONA_SIM_QUICK`` asks for the reduced size (anything but '', 0, false, no)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def question_of(doc: str) -> str:
    """The question a script answers: the first paragraph of its docstring, on one line."""
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split())


def parse_args(doc: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--out DIR`` (default docs/figures/tutorial), ``--quick``, ``--workers N``, ``--seed S``."""
    parser = argparse.ArgumentParser(
        description=doc.strip().split("\n\n")[0],
        epilog=f"Set {QUICK_ENV}=1 (or pass --quick) for the reduced size the tests use.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the figures (default {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--quick", action="store_true",
                        help="reduced corpus size, replicates and grids (a few seconds)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="threads for the sweeps (default: the machine's cores)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="root seed of the runs (default: the script's own, so the figures are reproducible)")
    args = parser.parse_args(argv)
    args.quick = bool(args.quick or quick_from_environment())
    return args


@dataclass
class Notebook:
    """One scenario's run: its options, the files it wrote, and how to print the answer."""

    out: Path
    quick: bool
    workers: int | None = None
    root_seed: int | None = None
    written: list[Path] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    # -- sizes ----------------------------------------------------------------------
    def size(self, full: Any, quick: Any) -> Any:
        """``full`` for the tutorial's run, ``quick`` for the reduced one."""
        return quick if self.quick else full

    def seed(self, default: int) -> int:
        """The root seed: ``--seed`` if given, else the script's ``default``."""
        return default if self.root_seed is None else self.root_seed

    # -- running the model ---------------------------------------------------------
    def sweep(self, params, grid: Mapping[str, Any], replicates: int, seed: int) -> pd.DataFrame:
        """:func:`sim.sweep` on threads; a progress bar on stderr unless quick."""
        from sim import sweep

        return sweep(params, grid=grid, replicates=replicates, seed=seed, workers=self.workers,
                     executor="thread", progress=not self.quick)

    def thresholds(self, results: pd.DataFrame, swept: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
        """:func:`analysis.fit_thresholds` with fewer bootstrap resamples when quick."""
        from analysis import fit_thresholds

        return fit_thresholds(results, swept=swept, n_boot=self.size(400, 50), seed=seed)

    # -- output ------------------------------------------------------------------------
    def save(self, fig, name: str) -> Path:
        """Write ``fig`` as ``OUT/name`` (PNG, atomically) and remember the file."""
        from sim.files import write_atomically

        path = write_atomically(self.out / name, png_bytes(fig))
        self.written.append(path)
        print(f"Figure: {shown(path)} ({path.stat().st_size / 1024:.0f} KB)")
        return path

    def note(self, text: str) -> None:
        """A line of the notebook (what was run, an intermediate number)."""
        print(textwrap.fill(text, width=100, subsequent_indent="  "))

    def answer(self, text: str) -> None:
        """The answer line(s): ``Answer: ...``, then the elapsed time."""
        print(textwrap.fill("Answer: " + " ".join(text.split()), width=100, subsequent_indent="  "))
        print(f"({time.perf_counter() - self.started:.1f} s{', quick' if self.quick else ''})")


def shown(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it (shorter to read)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def start(doc: str, argv: Sequence[str] | None = None) -> Notebook:
    """Parse the arguments, set the style, make the output folder, print the question."""
    args = parse_args(doc, argv)
    args.out.mkdir(parents=True, exist_ok=True)
    set_style()
    print("Question: " + question_of(doc))
    return Notebook(out=args.out, quick=args.quick, workers=args.workers, root_seed=args.seed)


# ---------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------
def set_style() -> None:
    """seaborn's white grid, a notebook context a little smaller than its default."""
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.8)


def new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kw):
    """A matplotlib Figure on the Agg canvas (no pyplot) and a 2-D array of its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def png_bytes(fig) -> bytes:
    """``fig`` as PNG at :data:`DPI`, reduced to a 256-colour palette (a third of the bytes,
    no visible change for line art)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    small = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(small, format="PNG", optimize=True)
    return small.getvalue()


def palette(n: int, name: str = "viridis") -> list:
    """``n`` colours of an ordered palette, dark enough for lines on white."""
    import seaborn as sns

    cmap = sns.color_palette(name, as_cmap=True)
    return [cmap(x) for x in np.linspace(0.0, 0.85, n)] if n > 1 else [cmap(0.3)]


def band(ax, x, mean, low, high, colour, label=None, marker="o", **kw) -> None:
    """A line with markers and a shaded interval."""
    ax.fill_between(x, low, high, color=colour, alpha=0.2, lw=0)
    ax.plot(x, mean, color=colour, lw=1.6, marker=marker, ms=2.5, label=label, **kw)


# ---------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------
def rebel_share(results: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Share of rebels per group and awareness level, with its binomial standard error.

    Columns: ``by``, ``situational_awareness``, ``p_rebel``, ``se``, ``n``.
    """
    keys = list(by) + ["situational_awareness"]
    table = (results.assign(rebel=(results["persona"] == "rebel").astype(float))
             .groupby(keys, sort=True, dropna=False)["rebel"].agg(["mean", "count"]).reset_index())
    table = table.rename(columns={"mean": "p_rebel", "count": "n"})
    table["se"] = np.sqrt(table["p_rebel"] * (1 - table["p_rebel"]) / table["n"])
    return table


def mean_by(results: pd.DataFrame, column: str, by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean of ``column`` per group and awareness level with a normal 95% interval over replicates.

    Columns: ``by``, ``situational_awareness``, ``mean``, ``low``, ``high``, ``n``.
    """
    keys = list(by) + ["situational_awareness"]
    table = results.groupby(keys, sort=True, dropna=False)[column].agg(["mean", "std", "count"]).reset_index()
    half = 1.96 * table["std"].fillna(0.0) / np.sqrt(table["count"])
    table["low"], table["high"] = table["mean"] - half, table["mean"] + half
    return table.rename(columns={"count": "n"}).drop(columns="std")


def measured_cited_rate(results: pd.DataFrame) -> float:
    """Mean measured q_r over a sweep's corpora (one value per point and replicate)."""
    runs = results.drop_duplicates(["point", "replicate"])
    return float(runs["real_cited_rate"].mean())


def at(table: pd.DataFrame, awareness: float, column: str, **where: Any) -> float:
    """The value of ``column`` at the awareness level nearest ``awareness`` (and ``where``)."""
    rows = table
    for name, value in where.items():
        rows = rows[np.isclose(rows[name], value)] if isinstance(value, float) else rows[rows[name] == value]
    s = rows["situational_awareness"].to_numpy(float)
    return float(rows[column].to_numpy(float)[int(np.argmin(np.abs(s - awareness)))])


def nearest(levels: Sequence[float], value: float) -> float:
    """The element of ``levels`` nearest ``value``."""
    levels = np.asarray(levels, dtype=float)
    return float(levels[int(np.argmin(np.abs(levels - value)))])


def fmt_interval(row: Mapping[str, Any], name: str = "s_star", digits: int = 3) -> str:
    """``0.631 [0.622, 0.640]`` from a thresholds row (or 'none' where there is no fit)."""
    value = float(row[name])
    if not np.isfinite(value):
        return "none"
    low, high = float(row.get(f"{name}_low", np.nan)), float(row.get(f"{name}_high", np.nan))
    if np.isfinite(low) and np.isfinite(high):
        return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    return f"{value:.{digits}f}"


def fmt_root(roots: np.ndarray, digits: int = 3) -> str:
    """The first mean-field root, or 'none'."""
    roots = np.asarray(roots, dtype=float)
    return f"{roots[0]:.{digits}f}" if roots.size else "none"
