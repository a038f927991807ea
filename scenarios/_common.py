"""What every scenario script shares: its arguments, its size, its sweeps, its figures.

A scenario script reads like a short lab notebook: it states its question (the first
line of its docstring), runs the model, draws a figure and prints an answer whose
numbers are computed by the run. This module keeps the plumbing out of the scripts:

- :func:`start` parses ``--out DIR``, ``--docs`` (the tutorial's own figures,
  ``docs/figures/tutorial``, overwritten), ``--overwrite``, ``--quick``, ``--workers N``
  and ``--seed S`` (the environment variable ``PERSONA_SIM_QUICK=1`` also asks for the
  reduced size the tests use), takes the output folder (:mod:`sim.outputs`: one
  writer at a time; a folder of figures the scenario scripts share, listed by script
  in its ``manifest.json``; without ``--out`` a new ``results/tutorial-TIME``), sets
  the seaborn style and prints the question; it returns a :class:`Notebook`, and
  :meth:`Notebook.finish` puts the script's figures in place.
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
#: The tutorial's figures (only ``make_all.py --docs`` rewrites them; without ``--out``
#: every script writes a new folder under ``results/``).
TUTORIAL_FIGURES = ROOT / "docs" / "figures" / "tutorial"
#: Resolution of every figure (small files, readable on a screen).
DPI = 100
#: Awareness axis label of every figure.
AWARENESS_LABEL = "situational awareness (s)"


def quick_from_environment() -> bool:
    """Whether ``PERSONA_SIM_QUICK`` asks for the reduced size (anything but '', 0, false, no)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def question_of(doc: str) -> str:
    """The question a script answers: the first paragraph of its docstring, on one line."""
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split())


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2, like ``persona-sim``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``, ``--docs``, ``--overwrite``, ``--quick``, ``--workers N``, ``--seed S``
    (every script's and ``make_all.py``'s)."""
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="folder for the figures, shared with the other scenario scripts (default: a new "
                             "folder results/tutorial-YYYYMMDD-HHMMSS)")
    parser.add_argument("--docs", action="store_true",
                        help="redraw the tutorial's own figures: the same as --out "
                             f"{TUTORIAL_FIGURES.relative_to(ROOT)} --overwrite (full size only)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the figures of the same script in DIR (kept whole until the new ones are "
                             "drawn)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced corpus size, replicates and grids (a few seconds)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="threads for the sweeps (default: the machine's cores)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="root seed of the runs (default: the script's own, so the figures are reproducible)")


def resolve_output_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Apply ``PERSONA_SIM_QUICK`` and ``--docs`` (the tutorial's folder, overwritten; refused
    with ``--out`` or at the reduced size, whose figures would not match the tutorial's numbers)."""
    args.quick = bool(args.quick or quick_from_environment())
    if args.docs:
        if args.out is not None:
            parser.error(f"--docs writes {TUTORIAL_FIGURES.relative_to(ROOT)}: allowed is --docs or --out DIR, "
                         "not both")
        if args.quick:
            parser.error(f"--docs redraws the tutorial's figures at the full size: allowed is --docs without "
                         f"--quick (and without {QUICK_ENV}=1)")
        args.out, args.overwrite = TUTORIAL_FIGURES, True
    return args


def parse_args(doc: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--out DIR`` (default: a new folder), ``--docs``, ``--overwrite``, ``--quick``, ``--workers N``,
    ``--seed S``."""
    parser = ArgumentParser(
        description=doc.strip().split("\n\n")[0],
        epilog=f"Set {QUICK_ENV}=1 (or pass --quick) for the reduced size the tests use.",
    )
    add_output_arguments(parser)
    return resolve_output_arguments(parser, parser.parse_args(argv))


@dataclass
class Notebook:
    """One scenario's run: its options, the files it wrote, and how to print the answer."""

    out: Path
    quick: bool
    workers: int | None = None
    root_seed: int | None = None
    written: list[Path] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    name: str = "scenario"
    output: Any = None  # the sim.outputs.Output held while the script runs
    closing: Any = None  # the ExitStack that releases it

    # -- sizes ----------------------------------------------------------------------
    def size(self, full: Any, quick: Any) -> Any:
        """``full`` for the tutorial's run, ``quick`` for the reduced one."""
        return quick if self.quick else full

    def seed(self, default: int) -> int:
        """The root seed: ``--seed`` if given, else the script's ``default``."""
        return default if self.root_seed is None else self.root_seed

    # -- running the model ---------------------------------------------------------
    def sweep(self, params, grid: Mapping[str, Any], replicates: int, seed: int) -> pd.DataFrame:
        """:func:`sim.sweep` on threads; a progress bar on stderr unless quick (and, on a
        machine's first run, a line while the model compiles, quick or not)."""
        from sim import sweep
        from sim.sweeps import compile_first

        if self.quick:  # without a progress bar the sweep would compile silently
            compile_first(params)
        return sweep(params, grid=grid, replicates=replicates, seed=seed, workers=self.workers,
                     executor="thread", progress=not self.quick)

    def thresholds(self, results: pd.DataFrame, swept: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
        """:func:`analysis.fit_thresholds` with fewer bootstrap resamples when quick."""
        from analysis import fit_thresholds

        return fit_thresholds(results, swept=swept, n_boot=self.size(400, 50), seed=seed)

    # -- output ------------------------------------------------------------------------
    def save(self, fig, name: str) -> Path:
        """Write ``fig`` as ``name`` (PNG, atomically) and remember the file; it is in
        ``OUT`` once :meth:`finish` has run."""
        from sim.files import write_atomically

        work = self.output.work if self.output is not None else self.out
        path = write_atomically(work / name, png_bytes(fig))
        self.written.append(self.out / name)
        print(f"Figure: {shown(self.out / name)} ({path.stat().st_size / 1024:.0f} KB)")
        return self.out / name

    def finish(self) -> list[Path]:
        """Put the script's figures in place (replacing its earlier ones, listed in the
        folder's manifest, and nothing else), release the folder, return the files."""
        if self.output is not None:
            self.output.commit({"files": {self.name: [p.name for p in self.written]}, "complete": True})
            self.closing.close()
            self.output = None
            _OPEN.remove(self)
        return self.written

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


#: Notebooks holding their folder (released by :meth:`Notebook.finish`, or by
#: :func:`abandon` when a script failed).
_OPEN: list[Notebook] = []


def start(doc: str, argv: Sequence[str] | None = None, name: str | None = None) -> Notebook:
    """Parse the arguments, take the output folder, set the style, print the question.

    A folder that holds anything but persona-sim figures, figures of this script
    without ``--overwrite``, or another writer ends the script with one line and exit
    code 2.
    """
    import contextlib
    import inspect

    from sim.outputs import new_folder, open_output
    from sim.params import ParameterError

    args = parse_args(doc, argv)
    if name is None:
        name = Path(inspect.stack()[1].filename).stem
    stack = contextlib.ExitStack()
    try:
        fresh = args.out is None
        out = new_folder("tutorial") if fresh else args.out
        output = stack.enter_context(open_output(out, "figures", "overwrite" if args.overwrite else "add",
                                                 command=" ".join([name, *(argv or sys.argv[1:])]), fresh=fresh))
        listed = (output.previous or {}).get("files") or {}
        if isinstance(listed, dict) and name in listed and not args.overwrite:
            raise ParameterError(f"output folder {str(out)!r} holds figures of {name}: allowed is --overwrite "
                                 "(replace them) or another --out")
    except ParameterError as err:
        stack.close()
        print(f"{name}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    set_style()
    print("Question: " + question_of(doc))
    book = Notebook(out=Path(out), quick=args.quick, workers=args.workers, root_seed=args.seed, name=name,
                    output=output, closing=stack)
    _OPEN.append(book)
    return book


def abandon() -> None:
    """Release the folders of scripts that failed before :meth:`Notebook.finish` (their
    figures stay staged, the folder's manifest unchanged)."""
    while _OPEN:
        book = _OPEN.pop()
        book.closing.close()


# ---------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------
def set_style() -> None:
    """seaborn's white grid, a notebook context a little smaller than its default; the Agg
    backend, except in a Jupyter kernel (the tutorial's notebook), whose inline plots stay."""
    import matplotlib

    if "ipykernel" not in sys.modules:
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
    no visible change for line art), its words recorded in the file
    (:func:`analysis.figures.png_bytes`)."""
    from analysis.figures import png_bytes as analysis_png_bytes

    return analysis_png_bytes(fig, dpi=DPI, palette=True)


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
