"""The ``persona-sim`` command line.

``persona-sim run [SCENARIO.toml] [--set NAME=VALUE ...] [--awareness 0.2,0.5,0.9]
[--seed N] [--out DIR]`` runs one training run (the Mesa model) with a family of
learners, prints a table per learner and writes ``trajectory.csv``,
``summary.json`` and ``trajectory.png`` into DIR.

A user's bad input (an unknown parameter, a value out of bounds, a missing or
malformed scenario file) ends the command with a one-line message naming it and
what is allowed, exit code 2, and nothing written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Sequence

from .files import json_default, write_atomically
from .limits import DASK_WORKER_WAIT, DEFAULT_MEMORY_LIMIT
from .params import (PARAMETERS, PARAMETERS_BY_NAME, ParameterError, Params, check_awareness, read_scenario,
                     read_table, split_assignment)

__all__ = ["main"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")

    def format_help(self) -> str:
        if self.epilog is PARAMETER_HELP:  # the parameter list, written only when help is shown
            self.epilog = _parameter_help()
        return super().format_help()


#: Stands for the list of model parameters in a parser's epilog (see _Parser.format_help).
PARAMETER_HELP = "(the model's parameters)"


def _parameter_help() -> str:
    lines = ["model parameters (set with a scenario file or --set NAME=VALUE):"]
    for p in PARAMETERS:
        default = "unset" if p.default is None else p.default
        lines.append(f"  {p.name}  (default {default}; {p.allowed()})")
        lines.extend(textwrap.wrap(p.meaning, width=76, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=88)


def _add_scenario_arguments(parser: argparse.ArgumentParser, scenario_help: str) -> None:
    """The scenario file and --set NAME=VALUE, shared by the commands that run the model."""
    parser.add_argument("scenario", nargs="?", metavar="SCENARIO.toml", help=scenario_help)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="set one parameter (repeatable); overrides the scenario file")


def _add_memory_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--memory-limit", metavar="GIB", default=f"{DEFAULT_MEMORY_LIMIT / 2**30:g}",
                        help="refuse a plan whose estimated peak memory is above this many GiB "
                             f"(default {DEFAULT_MEMORY_LIMIT / 2**30:g})")


def _build_parser() -> argparse.ArgumentParser:
    from .version import __version__

    parser = _Parser(
        prog="persona-sim",
        description=(
            "Agent-based simulation of persona formation under alignment pretraining: "
            "a Bayesian learner reads real, planted and disclosed documents and updates "
            "its belief that its makers are deceptive."
        ),
        epilog=PARAMETER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"persona-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="one training run with a family of learners; writes a table, CSV, JSON and a figure",
        description=_wrap(
            "One training run: the lab plants and discloses, the authors write and cite, and "
            "every learner (one per awareness level) reads the same shuffled corpus. Prints a "
            "table per learner and writes DIR/trajectory.csv, DIR/summary.json and "
            "DIR/trajectory.png."
        ),
        epilog=PARAMETER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_scenario_arguments(run, "a scenario file: TOML whose keys are parameter names "
                                 "(default: the reference configuration)")
    run.add_argument("--awareness", metavar="S1,S2,...",
                     help="final situational awareness of each learner, comma-separated numbers in [0, 1] "
                          "(default: the scenario's situational_awareness)")
    run.add_argument("--seed", default="0", metavar="N", help="root seed, a whole number >= 0 (default 0)")
    run.add_argument("--out", metavar="DIR",
                     help="output folder: new or empty, or a finished run with --overwrite (default: a new folder "
                          "results/run-YYYYMMDD-HHMMSS)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the run in DIR (the old one stays whole until the new one is written)")
    _add_memory_limit(run)
    sw = sub.add_parser(
        "sweep",
        help="a parameter sweep: P(rebel) against awareness and more; results, thresholds, figures",
        description=_wrap(
            "A parameter sweep on the batched engine. Every run is one corpus read by a family of "
            "learners (the awareness levels); each (point, replicate) has its own seed, derived from "
            "--seed by position, so the table is the same whatever the workers or executor. Writes "
            "DIR/results.parquet (one row per point, replicate and awareness), DIR/manifest.json, "
            "DIR/thresholds.csv and figures, and prints the threshold table. With no arguments: the "
            "reference configuration, awareness 0 to 1 in 101 steps, 20 replicates. Unless the grid "
            "or the bounds name situational_awareness, it is swept from 0 to 1 in 101 steps. "
            "A scenario file may carry a [sweep] table with these settings (grid, replicates, seed, "
            "sample, points, bounds, workers, executor, scheduler, out); flags override it."
        ),
        epilog=PARAMETER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_scenario_arguments(sw, "a scenario file (parameters, and optionally a [sweep] table)")
    sw.add_argument("--grid", action="append", default=[], metavar="NAME=START:STOP:COUNT|NAME=v1,v2,...",
                    help="sweep a parameter over evenly spaced values or a list (repeatable; the grid is their product)")
    sw.add_argument("--sample", choices=("lhs", "sobol"), help="add quasi-random points (scipy.stats.qmc)")
    sw.add_argument("--points", metavar="K", help="number of sampled points (sobol: a power of 2)")
    sw.add_argument("--bounds", action="append", default=[], metavar="NAME=LO:HI",
                    help="range of a sampled parameter (repeatable)")
    sw.add_argument("--replicates", metavar="R", help="runs per point, each with its own corpus (default 20)")
    sw.add_argument("--seed", metavar="S", help="root seed, a whole number >= 0 (default 0)")
    sw.add_argument("--out", metavar="DIR",
                    help="output folder: new or empty, or a persona-sim sweep with --resume or --overwrite "
                         "(default: a new folder results/sweep-YYYYMMDD-HHMMSS)")
    sw.add_argument("--workers", metavar="N", help="parallel workers (default: the machine's cores)")
    sw.add_argument("--executor", choices=("serial", "thread", "process", "dask"),
                    help="where chunks run: serial, threads (default), processes, or a Dask cluster")
    sw.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://127.0.0.1:8786")
    sw.add_argument("--resume", action="store_true",
                    help="continue the sweep in DIR, keeping the parts on disk whose checksums hold")
    sw.add_argument("--overwrite", action="store_true",
                    help="replace the sweep in DIR (the old one stays whole until the new one is complete)")
    sw.add_argument("--dry-run", action="store_true",
                    help="print the plan's size (points, runs, rows, updates, estimated peak memory) and exit")
    _add_memory_limit(sw)
    sw.add_argument("--worker-wait", metavar="SECONDS",
                    help=f"with --executor dask: how long to wait for a worker (default {DASK_WORKER_WAIT:g})")
    sw.add_argument("--no-plots", action="store_true", help="write no figures")
    sw.add_argument("--quiet", action="store_true", help="no progress bar and no table")

    th = sub.add_parser(
        "threshold",
        help="fit the awareness threshold of a finished sweep; prints it and writes DIR/thresholds.csv",
        description=(
            "Per group of the other swept parameters, fit P(rebel) against awareness with a logistic "
            "curve: s* (P = 1/2), the 10-90% width, bootstrap 95% intervals over replicates, beside "
            "the mean-field s*_N (at the group's n_documents) and s*_inf. Where P(rebel) does not cross "
            "1/2, or crosses more than once, the columns are empty and `note` says why."
        ),
    )
    th.add_argument("folder", metavar="DIR", help="a sweep's output folder (with results.parquet)")
    th.add_argument("--bootstrap", default="200", metavar="B", help="bootstrap resamples (default 200)")
    th.add_argument("--seed", default="0", metavar="S", help="seed of the bootstrap (default 0)")

    demo = sub.add_parser(
        "demo",
        help="the teaching demo page: one training run, live in the browser (needs the viz extra)",
        description=_wrap(
            "Serve the teaching demo page (a Mesa SolaraViz page, sim/app.py) at "
            "http://127.0.0.1:PORT/ on this machine only, until Ctrl-C: controls for awareness "
            "and its schedule, the planted and disclosed shares, the corpus size, detectability, "
            "the prior and the seed; play, step and reset; live plots, the persona badge, the "
            "citation graph and P(rebel) against awareness. Needs pip install 'persona-sim[viz]'."
        ),
    )
    demo.add_argument("--port", default="8765", metavar="P",
                      help="port on 127.0.0.1, a whole number in [0, 65535] (default 8765; 0 picks a free one)")
    _add_robustness_commands(sub)

    sc = sub.add_parser(
        "scenario",
        help="run a scenario script of the tutorial (scenarios/NAME.py): a question, a figure, an answer",
        description=_wrap(
            "Run scenarios/NAME.py of the repository checkout with this Python, the same as "
            "`.venv/bin/python scenarios/NAME.py ...` (the scripts are not part of the installed "
            "package: this needs a checkout installed with pip install -e .). NAME 'all' runs every "
            "script (scenarios/make_all.py). The figures go into a new folder "
            "results/tutorial-YYYYMMDD-HHMMSS under the current folder unless --out names one; only "
            "--docs rewrites the tutorial's own figures (docs/figures/tutorial)."
        ),
    )
    sc.add_argument("name", nargs="?", metavar="NAME",
                    help="a script of scenarios/ without .py (see --list), or 'all' for every one")
    sc.add_argument("--list", action="store_true", help="list the scripts and the question each answers")
    sc.add_argument("--quick", action="store_true", help="the reduced size (seconds; what the tests run)")
    sc.add_argument("--out", metavar="DIR",
                    help="folder for the figures, shared by the scripts (default: a new folder "
                         "results/tutorial-YYYYMMDD-HHMMSS)")
    sc.add_argument("--overwrite", action="store_true", help="replace the same script's figures in DIR")
    sc.add_argument("--docs", action="store_true",
                    help="redraw the tutorial's own figures: --out docs/figures/tutorial --overwrite (full size only)")
    sc.add_argument("--workers", metavar="N", help="threads for the sweeps (default: the machine's cores)")
    sc.add_argument("--seed", metavar="S", help="root seed (default: the script's own, as in the tutorial)")
    return parser


# -- parsing of values ------------------------------------------------------------------
def _parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        name, text = split_assignment("--set", item, "allowed is NAME=VALUE with a parameter name")
        values[name] = PARAMETERS_BY_NAME[name].parse(text)
    return values


def _parse_awareness(text: str | None, params: Params) -> list[float]:
    if text is None:
        return [params.situational_awareness]
    try:
        levels = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ParameterError(
            f"--awareness {text!r} is not allowed: allowed is comma-separated numbers in [0, 1]"
        ) from None
    try:
        return check_awareness(levels)
    except ParameterError as err:
        raise ParameterError(f"--awareness: {err}") from None


def _parse_seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if seed < 0:
        raise ParameterError(f"--seed {text!r} is not allowed: allowed is a whole number >= 0")
    return seed


def _parse_memory_limit(text: str) -> float:
    try:
        gib = float(text)
        if not (gib > 0 and gib < 1e6):
            raise ValueError
    except (TypeError, ValueError):
        raise ParameterError(f"--memory-limit {text!r} is not allowed: allowed is a number of GiB > 0") from None
    return gib * 2**30


def _parse_seconds(flag: str, text: Any) -> float:
    try:
        value = float(text)
        if not 0 <= value < 1e6:
            raise ValueError
    except (TypeError, ValueError):
        raise ParameterError(f"{flag} {text!r} is not allowed: allowed is a number of seconds >= 0") from None
    return value


def _output_folder(out: Any, kind: str, where: str = "--out") -> Path | None:
    """The folder named by --out (None: a new one will be made), checked for type."""
    if out is None:
        return None
    if not isinstance(out, str):
        raise ParameterError(f"{where} {out!r} is not allowed: allowed is a folder path (a string)")
    if not out.strip():
        raise ParameterError(f"{where} {out!r} is not allowed: allowed is a folder path (new, empty, or a "
                             f"persona-sim {kind})")
    return Path(out)


#: What the command being run is writing, for the message after an interrupt.
_WRITING: dict[str, Any] = {}


# -- the run command -------------------------------------------------------------------
def _write_atomically(folder: Path, files: dict[str, bytes]) -> None:
    """Write every file atomically (each beside its final name, then renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomically(folder / name, data)


def _format_table(final) -> str:
    benevolent = bool((final["p_benevolent"] > 0).any())  # a column only where the hypothesis is held
    header = (f"{'awareness':>9}  {'persona':<8}  {'P(deceptive)':>12}  "
              + (f"{'P(benevolent)':>13}  " if benevolent else "") + f"{'uplift':>8}  {'emergence':>9}")
    lines = [header, "-" * len(header)]
    for row in final.itertuples():
        emergence = "-" if row.emergence_document != row.emergence_document else f"{int(row.emergence_document)}"
        lines.append(
            f"{row.situational_awareness:>9.3g}  {row.persona:<8}  {row.p_deceptive:>12.3g}  "
            + (f"{row.p_benevolent:>13.3g}  " if benevolent else "")
            + f"{row.uplift:>+8.4f}  {emergence:>9}"
        )
    return "\n".join(lines)


def _format_dynamics(params: Params, final, generations) -> str:
    """The labs' reactions and, with several generations, each lineage's personas."""
    lines = [f"lab policy {params.lab_policy} (alarm at P(deceptive) >= {params.alarm_level:g}, "
             f"every {params.evaluation_interval} batches):"]
    for row in final.itertuples():
        clean = ", came clean" if row.lab_came_clean else ""
        lines.append(f"  awareness {row.situational_awareness:<5g} alarms {row.lab_alarms:<3d} planted "
                     f"{params.planted_fraction:g} -> {row.lab_planted_fraction:.3g}, disclosed "
                     f"{params.disclosed_fraction:g} -> {row.lab_disclosed_fraction:.3g}{clean}")
    if params.generations > 1:
        lines.append(f"generations ({params.generations}): persona and control-discourse share of each lineage")
        for (_, level), rows in generations.groupby(["learner", "situational_awareness"], sort=True):
            steps = " ".join(f"{p[0]}{c:.2f}" for p, c in zip(rows["persona"], rows["control_discourse_fraction"]))
            lines.append(f"  awareness {level:<5g} {steps}   (a/n/r = aligned/neutral/rebel, then c)")
    return "\n".join(lines)


def _command_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import numpy as np

    from . import meanfield
    from .version import __version__
    from .outputs import new_folder, open_output
    from .simulation import run_memory, simulate
    from .sweeps import compile_first
    from analysis.figures import trajectory_figure

    values = read_scenario(args.scenario) if args.scenario else {}
    values.update(_parse_overrides(args.overrides))
    params = Params(**values)
    awareness = _parse_awareness(args.awareness, params)
    seed = _parse_seed(args.seed)
    limit = _parse_memory_limit(args.memory_limit)
    folder = _output_folder(args.out, "run")
    rows, memory = run_memory(params, len(awareness))
    if memory > limit:
        raise ParameterError(
            f"the run is too large: {len(awareness)} learner(s) x {params.n_batches + 1} steps x "
            f"{params.generations} generation(s) = {rows:,} trajectory rows, {params.n_documents:,} documents; "
            f"estimated peak memory {memory / 2**30:.2f} GiB, above the limit of {limit / 2**30:.2f} GiB: allowed "
            "is fewer learners or documents, a larger batch_size, or a higher --memory-limit GIB")
    command = "persona-sim " + " ".join(argv)
    fresh = folder is None
    if fresh:
        folder = new_folder("run")
    with open_output(folder, "run", "overwrite" if args.overwrite else "new", command=command, fresh=fresh) as output:
        _WRITING.update(folder=folder, kind="run")
        compile_first(params)
        result = simulate(params, awareness=awareness, seed=seed)
        final, trajectory = result.final, result.trajectory
        with_mean_field = meanfield.has_mean_field(params)
        roots = meanfield.thresholds(params, result.real_cited_rate) if with_mean_field else np.zeros(0)
        mf_p = meanfield.p_rebel(params, awareness, result.real_cited_rate) if with_mean_field \
            else np.full(len(awareness), np.nan)

        changes = params.changes(skip=("situational_awareness",))  # the awareness levels are listed apart
        name = f"{Path(args.scenario).stem} ({changes})" if args.scenario else changes
        summary = {
            "command": command,
            "scenario": args.scenario,
            "package_version": __version__,
            "seed": seed,
            "parameters": params.to_dict(),
            "awareness": awareness,
            "real_cited_rate": None if result.real_cited_rate != result.real_cited_rate else result.real_cited_rate,  # NaN: no real documents
            "meanfield": {
                "thresholds": roots.tolist(),
                "p_rebel": dict(zip(map(str, awareness), [None if p != p else p for p in mf_p.tolist()])),
            },
            "final": json.loads(final.to_json(orient="records")),
        }
        dynamic = params.lab_policy != "static" or params.generations > 1
        if dynamic:
            summary["generations"] = json.loads(result.generations.to_json(orient="records"))
        files = {
            "trajectory.csv": trajectory.to_csv(index=False).encode(),
            "summary.json": (json.dumps(summary, indent=2, allow_nan=False, default=json_default) + "\n").encode(),
            "trajectory.png": trajectory_figure(
                trajectory, f"{name}; seed {seed}",
                params.n_documents,
            ),
        }
        if dynamic:
            files["generations.csv"] = result.generations.to_csv(index=False).encode()
        _write_atomically(output.work, files)
        output.commit({"command": command, "package_version": __version__, "seed": seed, "complete": True,
                       "files": sorted(files)})

    print(f"persona-sim {__version__}: {name}, seed {seed}")
    print(f"corpus: {params.n_documents} documents, planted {params.planted_fraction:g}, "
          f"disclosed {params.disclosed_fraction:g}; real documents "
          f"{'cited' if params.citation_cue == 'cited' else 'trusted'} q_r = {result.real_cited_rate:.3f} "
          "(measured on this seed's corpus: it differs a little from corpus to corpus)")
    print(_format_table(final))
    if dynamic:
        print(_format_dynamics(params, final, result.generations))
    if params.learner_model == "learning":
        print("learned (planted share, style separation, real cited share): " + "; ".join(
            f"s = {row.situational_awareness:g}: {row.learned_planted_share:.3f}, {row.learned_style_separation:.2f}, "
            f"{row.learned_real_cited_rate:.3f}" for row in final.itertuples()))
        print("mean-field large-corpus threshold s*_inf: none in awareness for the learning learner "
              "(docs/model.md §3.1)")
    elif not with_mean_field:
        print("mean field: none for the deceptive makers' sub-hypotheses (docs/model.md §5.7)")
    else:
        where = meanfield.threshold_words(params, roots, result.real_cited_rate)
        first = " (of the first run's initial shares)" if dynamic else ""
        print(f"mean-field large-corpus threshold s*_inf{first}: {where}")
    print(f"wrote {folder}/: " + ", ".join(files) + ", manifest.json")
    return 0


_SWEEP_KEYS = ("grid", "replicates", "seed", "sample", "points", "bounds", "workers", "executor", "scheduler", "out")


def _whole(flag: str, text: Any, low: int) -> int:
    try:
        if isinstance(text, bool):
            raise ValueError
        value = int(text) if not isinstance(text, float) or text.is_integer() else None
        if value is None:
            raise ValueError
    except (TypeError, ValueError):
        value = None
    if value is None or value < low:
        raise ParameterError(f"{flag} {text!r} is not allowed: allowed is a whole number >= {low}")
    return value


#: The type each [sweep] setting must have in a scenario file, and how to say it.
_SWEEP_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "grid": ((dict,), 'a table of NAME = [values] or NAME = "START:STOP:COUNT"'),
    "bounds": ((dict,), "a table of NAME = [LO, HI]"),
    "replicates": ((int,), "a whole number >= 1"),
    "seed": ((int,), "a whole number >= 0"),
    "points": ((int,), "a whole number >= 1"),
    "workers": ((int,), "a whole number >= 1"),
    "sample": ((str,), '"lhs" or "sobol"'),
    "executor": ((str,), '"serial", "thread", "process" or "dask"'),
    "scheduler": ((str,), 'an address like "tcp://127.0.0.1:8786"'),
    "out": ((str,), "a folder path"),
}


def _check_sweep_table(table: dict[str, Any], where: str) -> None:
    """Each [sweep] setting of a scenario file has the type it needs (one line if not)."""
    for key, value in table.items():
        if key not in _SWEEP_TYPES:
            raise ParameterError(f"unknown setting {key!r}{where}: allowed are {', '.join(_SWEEP_TYPES)}")
        types, allowed = _SWEEP_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ParameterError(f"{key} = {value!r}{where} is not allowed: allowed is {allowed}")
    for name, spec in table.get("grid", {}).items():
        if isinstance(spec, (dict, bool)) or not isinstance(spec, (list, str, int, float)):
            raise ParameterError(f"grid.{name} = {spec!r}{where} is not allowed: allowed is [values] or "
                                 '"START:STOP:COUNT"')
    for name, lohi in table.get("bounds", {}).items():
        if not (isinstance(lohi, list) and len(lohi) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in lohi)):
            raise ParameterError(f"bounds.{name} = {lohi!r}{where} is not allowed: allowed is [LO, HI] with "
                                 "numbers LO < HI")
    if table.get("executor", "thread") not in ("serial", "thread", "process", "dask"):
        raise ParameterError(f"executor = {table['executor']!r}{where} is not allowed: allowed is "
                             f"{_SWEEP_TYPES['executor'][1]}")
    if table.get("sample", "lhs") not in ("lhs", "sobol"):
        raise ParameterError(f"sample = {table['sample']!r}{where} is not allowed: allowed is "
                             f"{_SWEEP_TYPES['sample'][1]}")


def _sweep_settings(args: argparse.Namespace) -> tuple[Params, dict[str, Any]]:
    """Base parameters and sweep settings from the scenario file and the flags."""
    from .sweeps import DEFAULT_GRID, parse_bounds, parse_grid

    values = read_scenario(args.scenario) if args.scenario else {}
    values.update(_parse_overrides(args.overrides))
    base = Params(**values)
    table = read_table(args.scenario, "sweep") if args.scenario else {}
    where = f" in [sweep] of {args.scenario!r}"
    _check_sweep_table(table, where)
    grid = dict(table.get("grid", {}))
    for item in args.grid:
        name, levels = parse_grid(item)
        grid[name] = levels
    bounds = {}
    for name, lohi in table.get("bounds", {}).items():
        bounds[name] = parse_bounds(f"{name}={lohi[0]}:{lohi[1]}")[1]
    for item in args.bounds:
        name, lohi = parse_bounds(item)
        bounds[name] = lohi
    if "situational_awareness" not in grid and "situational_awareness" not in bounds:
        grid["situational_awareness"] = DEFAULT_GRID["situational_awareness"]
    pick = lambda flag, key, default: getattr(args, flag) if getattr(args, flag) is not None else table.get(key, default)  # noqa: E731
    sample = pick("sample", "sample", None)
    points = pick("points", "points", None)
    settings = {
        "grid": grid,
        "replicates": _whole("--replicates", pick("replicates", "replicates", 20), 1),
        "seed": _whole("--seed", pick("seed", "seed", 0), 0),
        "sample": sample,
        "points": _whole("--points", points, 1) if points is not None else None,
        "bounds": bounds,
        "memory_limit": _parse_memory_limit(args.memory_limit),
    }
    workers = pick("workers", "workers", None)
    run = {
        "workers": _whole("--workers", workers, 1) if workers is not None else None,
        "executor": pick("executor", "executor", "thread"),
        "scheduler": pick("scheduler", "scheduler", None),
        "out": _output_folder(pick("out", "out", None), "sweep"),
        "worker_wait": _parse_seconds("--worker-wait", args.worker_wait) if args.worker_wait is not None
        else DASK_WORKER_WAIT,
    }
    return base, {"plan": settings, "run": run}


def _format_thresholds(table) -> str:
    """The threshold table (:class:`analysis.thresholds.ThresholdRows`) as aligned text."""
    group_columns = list(table.group_columns)

    def num(x, fmt="{:.3f}"):
        return "-" if x != x else fmt.format(x)
    header = [*group_columns, "s*", "95% interval", "width", "s*_N (mf)", "s*_inf (mf)", "note"]
    rows = []
    for rec in table.rows:
        rows.append([
            *(f"{rec[c]:g}" if isinstance(rec[c], (int, float)) else str(rec[c]) for c in group_columns),
            num(rec["s_star"]),
            "-" if rec["s_star_low"] != rec["s_star_low"] else f"[{rec['s_star_low']:.3f}, {rec['s_star_high']:.3f}]",
            num(rec["width"]),
            num(rec["s_star_meanfield_n"]),
            num(rec["s_star_meanfield_inf"]),
            str(rec.get("note") or ""),
        ])
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


#: What the threshold table's columns mean, printed under it (docs/model.md §4).
THRESHOLD_KEY = """\
key: s* = the simulated threshold: the awareness at which the logistic fit of P(rebel) crosses 1/2;
     95% interval = bootstrap over replicates; width = awareness over which P(rebel) rises from 0.1 to 0.9;
     s*_N (mf) = the mean-field threshold at this corpus size; s*_inf (mf) = the mean field's for an
     unlimited corpus; "-" = none (the note says why); docs/model.md section 4 has the formulas."""


@contextlib.contextmanager
def _stage(what: str, quiet: bool):
    """Say on standard error what a step after the progress bar is doing, and how long it took."""
    if quiet:
        yield
        return
    print(f"persona-sim: {what} ...", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        yield
    finally:
        print(f" {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def _read_results(folder: Path, manifest: dict):
    """A sweep's table in the compact form the fit and the figures use
    (:func:`analysis.read_sweep`: streamed from ``results.parquet``, only the columns
    the analysis needs), with one-line errors for a file that is not a sweep's table."""
    from analysis import read_sweep

    path = folder / "results.parquet"
    swept = manifest.get("swept", [])
    if not isinstance(swept, list) or not all(isinstance(n, str) for n in swept):
        raise ParameterError(f"{folder / 'manifest.json'} has no list of swept parameters: allowed is the "
                             "manifest.json a persona-sim sweep wrote")
    try:
        data = read_sweep(path, swept=[n for n in swept if n != "situational_awareness"])
    except KeyError as err:
        reason = err.args[0] if err.args else str(err)
        raise ParameterError(f"{path}: {reason}: allowed is the results.parquet a persona-sim sweep wrote") from None
    except Exception as err:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ParameterError(f"{path} is not a readable Parquet table ({reason}): allowed is the results.parquet "
                             "a persona-sim sweep wrote (run the sweep again with --overwrite)") from None
    if data.n_rows == 0:
        raise ParameterError(f"{path} has no rows: allowed is a sweep's table with at least one row")
    return data


def _thresholds(work: Path, data, manifest: dict, n_boot: int = 200, seed: int = 0):
    """Fit the thresholds of a sweep; write ``thresholds.csv`` into ``work``.

    The mean field's columns come from ``manifest["meanfield"]`` where the sweep
    recorded them (computed by this code, :class:`analysis.thresholds.MeanFieldColumns`),
    and what is computed is recorded there, so that refitting (``persona-sim
    threshold``) does not load the mean field.
    """
    from analysis.thresholds import MeanFieldColumns, fit_threshold_rows

    meanfield_columns = MeanFieldColumns(manifest.get("meanfield"))
    table = fit_threshold_rows(data, n_boot=n_boot, seed=seed, meanfield_columns=meanfield_columns)
    _write_atomically(work, {"thresholds.csv": table.to_csv().encode()})
    manifest["meanfield"] = meanfield_columns.record()
    return table


def _command_sweep(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .outputs import new_folder
    from .sweeps import estimate, plan_sweep, run_sweep

    base, settings = _sweep_settings(args)
    plan = plan_sweep(base, **settings["plan"])
    run = settings["run"]
    if args.dry_run:
        workers = run["workers"] or (os.cpu_count() or 1)
        print(f"sweep plan: {estimate(plan, workers=workers)}; limit {settings['plan']['memory_limit'] / 2**30:.2f} "
              "GiB (--memory-limit)")
        return 0
    fresh = run["out"] is None
    folder = new_folder("sweep") if fresh else run["out"]
    _WRITING.update(folder=folder, kind="sweep", explicit=not fresh)
    analysed: dict[str, Any] = {}

    def analyse(work: Path, manifest: dict) -> list[str]:
        """The thresholds and figures, written into the sweep's folder before it is committed."""
        with _stage("reading the results and fitting the thresholds (200 bootstrap refits, the mean field)",
                    args.quiet):
            analysed["data"] = data = _read_results(work, manifest)
            analysed["table"] = table = _thresholds(work, data, manifest)  # records the mean field in the manifest
        written = ["thresholds.csv"]
        if not args.no_plots:
            from analysis import make_figures

            with _stage("drawing the figures", args.quiet):
                written += [p.name for p in make_figures(data, table, work)]
        return written

    run_sweep(plan, out=folder, workers=run["workers"], executor=run["executor"], scheduler=run["scheduler"],
              resume=args.resume, overwrite=args.overwrite, progress=not args.quiet,
              command="persona-sim " + " ".join(argv), worker_wait=run["worker_wait"], finish=analyse, fresh=fresh)
    if not args.quiet:
        print(f"sweep: {len(plan.points)} point(s) x {plan.replicates} replicates, "
              f"{analysed['data'].n_rows} rows, seed {plan.seed}")
        print(_format_thresholds(analysed["table"]))
        print(THRESHOLD_KEY)
        written = json.loads((folder / "manifest.json").read_text())["files"]
        print(f"wrote {folder}/: {', '.join(written)}, manifest.json")
    return 0


def _command_threshold(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .outputs import open_output

    folder = Path(args.folder)
    n_boot = _whole("--bootstrap", args.bootstrap, 0)
    seed = _whole("--seed", args.seed, 0)
    if not (folder / "results.parquet").is_file() or not (folder / "manifest.json").is_file():
        raise ParameterError(
            f"DIR {str(folder)!r} holds no finished sweep: allowed is a folder with results.parquet "
            "and manifest.json (run persona-sim sweep, or --resume it)"
        )
    with open_output(folder, "sweep", "update", command="persona-sim " + " ".join(argv)) as output:
        manifest = dict(output.previous)
        table = _thresholds(folder, _read_results(folder, output.previous), manifest, n_boot=n_boot, seed=seed)
        manifest["files"] = sorted(set(manifest.get("files") or ["results.parquet"]) | {"thresholds.csv"})
        output.commit(manifest)
    print(_format_thresholds(table))
    print(THRESHOLD_KEY)
    print(f"wrote {folder / 'thresholds.csv'}")
    return 0


def _command_demo(args: argparse.Namespace) -> int:
    port = _whole("--port", args.port, 0)
    if port > 65535:
        raise ParameterError(f"--port {args.port!r} is not allowed: allowed is a whole number in [0, 65535]")
    try:
        from .app import PortUnavailable, serve
    except ImportError as err:
        print(f"persona-sim: error: the demo page needs the viz extra ({err.name} is missing): "
              "pip install 'persona-sim[viz]'", file=sys.stderr)
        return EXIT_USAGE
    try:
        serve(port)  # checks the port, then prints the address; blocks until Ctrl-C
    except PortUnavailable as err:  # before anything started
        raise ParameterError(f"--{err}") from None  # "--port N is busy on 127.0.0.1: ..."
    return 0


def _command_scenario(args: argparse.Namespace) -> int:
    """Run ``scenarios/NAME.py`` (``all``: ``make_all.py``) in a child process with this
    interpreter and return its exit code; ``--list`` prints the scripts and their questions.

    The scripts belong to the repository, not to the installed package (which holds
    ``sim`` and ``analysis``), so they are looked up beside the package (an editable
    install, ``pip install -e .``) and then in the current folder. No checkout, or a
    NAME that is not a script there, is one line and exit code 2.
    """
    import ast
    import subprocess

    places = [Path(__file__).resolve().parents[1] / "scenarios", Path.cwd() / "scenarios"]
    folder = next((p for p in places if (p / "_common.py").is_file() and (p / "make_all.py").is_file()), None)
    if folder is None:
        raise ParameterError(
            "scenario: no scenarios/ folder beside the installed package or in the current folder: allowed is a "
            "checkout of the persona-sim repository installed with pip install -e . (or run from its root)")
    scripts = {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_") and p.stem != "make_all"}
    allowed = ", ".join([*scripts, "all"])
    if args.list:
        width = max(map(len, [*scripts, "all"]))
        for name, path in scripts.items():
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            question = " ".join(doc.strip().split("\n\n")[0].split())  # the docstring's first paragraph
            print(f"{name:<{width}}  {question}")
        print(f"{'all':<{width}}  every script above, one after the other (scenarios/make_all.py)")
        return 0
    if not args.name:
        raise ParameterError(f"scenario: NAME is missing: allowed is --list or one of {allowed}")
    name = args.name.removesuffix(".py")
    script = folder / "make_all.py" if name == "all" else scripts.get(name)
    if script is None:
        raise ParameterError(f"scenario {args.name!r} is not a script of {folder}: allowed is one of {allowed}")
    passed = [flag for flag, on in (("--quick", args.quick), ("--overwrite", args.overwrite),
                                    ("--docs", args.docs)) if on]
    if args.out is not None:
        passed += ["--out", str(_output_folder(args.out, "figures folder"))]
    if args.workers is not None:
        passed += ["--workers", str(_whole("--workers", args.workers, 1))]
    if args.seed is not None:
        passed += ["--seed", str(_whole("--seed", args.seed, 0))]
    child = subprocess.Popen([sys.executable, str(script), *passed])
    try:
        return child.wait()
    except KeyboardInterrupt:  # the child had the SIGINT too: let it release its folder
        child.wait()
        return 130
    finally:
        if child.poll() is None:  # SIGTERM (or an error) here: end the script too
            child.terminate()
            child.wait()


class _Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives (like KeyboardInterrupt for SIGINT)."""


def _on_sigterm(signum, frame) -> None:  # pragma: no cover - exercised in a subprocess
    raise _Terminated()


def _interrupted(signal_name: str) -> str:
    where = _WRITING.get("folder")
    if where is None:
        return f"persona-sim: interrupted ({signal_name}); nothing was written"
    if _WRITING.get("kind") == "sweep":
        again = "--resume" if _WRITING.get("explicit") else f"--out {where} --resume"
        return f"persona-sim: interrupted ({signal_name}); {where} is resumable: run the same command with {again}"
    return f"persona-sim: interrupted ({signal_name}); {where} holds no new output"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``persona-sim`` console script.

    SIGINT (Ctrl-C) and SIGTERM stop the command, end a sweep's workers, leave its
    folder resumable and exit with 130 and 143 after one line. Output piped into a
    reader that stops early (``persona-sim ... | head``) ends the command quietly,
    with 141 (128 + SIGPIPE), as a shell tool does; what it writes to folders is
    committed before it prints.
    """
    try:
        return _main(argv)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit then writes nowhere
        return 141


def _main(argv: Sequence[str] | None) -> int:
    import signal

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _WRITING.clear()
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave SIGTERM as it is
        previous = None
    try:
        if args.command == "run":
            return _command_run(args, argv)
        if args.command == "sweep":
            return _command_sweep(args, argv)
        if args.command == "threshold":
            return _command_threshold(args, argv)
        if args.command == "demo":
            return _command_demo(args)
        if args.command == "sensitivity":
            return _command_sensitivity(args, argv)
        if args.command == "discover":
            return _command_discover(args, argv)
        if args.command == "scenario":
            return _command_scenario(args)
    except ParameterError as err:
        print(f"persona-sim: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(_interrupted("SIGINT"), file=sys.stderr)
        return 130
    except _Terminated:
        print(_interrupted("SIGTERM"), file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return EXIT_USAGE


# -- robustness: sensitivity and scenario discovery (issue 13; docs/model.md §11) ---------
def _add_robustness_commands(sub) -> None:
    from .factors import DEFAULT_BOX, METHODS, OUTPUTS

    default_box = ", ".join(f.text() for f in DEFAULT_BOX)
    se = sub.add_parser(
        "sensitivity",
        help="global sensitivity of the threshold (SALib: Sobol' or Morris) over a box of parameters",
        description=_wrap(
            "Global sensitivity analysis of the mean-field threshold: sample a box of parameter values "
            "with SALib (Saltelli's design for Sobol' indices, or Morris trajectories), compute at every "
            "point s_star_inf (the large-corpus threshold; 1 where there is none), threshold_exists and "
            "p_rebel_at (P(rebel) at --at-awareness after n_documents), and estimate the indices with "
            "bootstrap 95% intervals. Writes DIR/samples.parquet, DIR/indices.csv, DIR/convergence.csv "
            "(Sobol'), DIR/manifest.json and figures (indices.png, s_star_distribution.png, "
            "convergence.png). Without --bounds, the default box of docs/model.md §11: " + default_box + "."
        ),
        epilog=PARAMETER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_scenario_arguments(se, "a scenario file: the parameters the box leaves fixed")
    se.add_argument("--bounds", action="append", default=[], metavar="NAME=LO:HI",
                    help="a sampled parameter's range (repeatable, one name each): NAME=LO:HI, NAME=log:LO:HI "
                         "(log-uniform), NAME=auc:LO:HI (synthetic_detectability from a detector's AUC) or "
                         "NAME=sad:LO:HI (awareness from a SAD score)")
    se.add_argument("--method", default="sobol", help=f"{' or '.join(METHODS)} (default sobol)")
    se.add_argument("--samples", default="1024", metavar="N",
                    help="SALib's base sample size: sobol N (2D + 2) points, a power of 2; morris N trajectories "
                         "of D + 1 points (default 1024)")
    se.add_argument("--output", action="append", default=[], metavar="NAME",
                    help=f"an output to analyse (repeatable; default all: {', '.join(OUTPUTS)})")
    se.add_argument("--at-awareness", default="0.4", metavar="S",
                    help="the awareness of p_rebel_at (default 0.4, about the best models of 2024 on the SAD "
                         "mapping; sad:SCORE accepted)")
    se.add_argument("--by", metavar="NAME",
                    help="a categorical parameter (e.g. citation_cue): one analysis per value, on the same sample "
                         "design, compared side by side (indices.csv and samples.parquet gain a NAME column)")
    se.add_argument("--seed", default="0", metavar="S", help="root seed of the sampler and the bootstrap (default 0)")
    se.add_argument("--out", metavar="DIR",
                    help="output folder: new or empty, or a finished analysis with --overwrite (default: a new "
                         "folder results/sensitivity-YYYYMMDD-HHMMSS)")
    se.add_argument("--overwrite", action="store_true", help="replace the analysis in DIR")
    se.add_argument("--workers", metavar="N",
                    help="threads of the mean-field kernel, and the simulation's workers (default: the machine's cores)")
    se.add_argument("--simulate", action="store_true",
                    help="also simulate every point through the sweep engine: outputs s_star_sim, "
                         "threshold_exists_sim, p_rebel_at_sim (DIR becomes a resumable sweep folder)")
    se.add_argument("--replicates", default="10", metavar="R", help="with --simulate: corpora per point (default 10)")
    se.add_argument("--levels", default="21", metavar="K",
                    help="with --simulate: awareness levels evenly spaced on [0, 1] read by each corpus, besides "
                         "--at-awareness (default 21)")
    se.add_argument("--executor", choices=("serial", "thread", "process", "dask"),
                    help="with --simulate: where the runs go, as for sweep (default thread)")
    se.add_argument("--scheduler", metavar="ADDRESS", help="with --executor dask: the scheduler's address")
    se.add_argument("--resume", action="store_true",
                    help="with --simulate: continue the simulation in DIR, keeping the parts whose checksums hold")
    _add_memory_limit(se)
    se.add_argument("--no-plots", action="store_true", help="write no figures")
    se.add_argument("--quiet", action="store_true", help="no progress bar and no table")

    di = sub.add_parser(
        "discover",
        help="scenario discovery (PRIM) on a sensitivity folder: where in the box does a condition hold?",
        description=_wrap(
            "Run PRIM (EMA Workbench) on the samples of a finished sensitivity analysis: the cases are the "
            "points where --where holds (e.g. \"p_rebel_at > 0.5\" or \"s_star_inf < 0.5\"); prints the box "
            "of largest coverage whose density reaches --density (each restricted parameter's range, the "
            "box's coverage and density) and writes DIR/boxes.csv, DIR/peeling.csv and DIR/peeling.png. "
            "Needs the discovery extra: pip install 'persona-sim[discovery]'."
        ),
    )
    di.add_argument("folder", metavar="DIR", help="a folder persona-sim sensitivity wrote")
    di.add_argument("--where", required=True, metavar="EXPR",
                    help="the condition: comparisons of samples.parquet's columns with numbers, joined by "
                         "and, or, not")
    di.add_argument("--density", default="0.8", metavar="D",
                    help="the box reported is the one of largest coverage with at least this density (default 0.8)")
    di.add_argument("--peel-alpha", default="0.05", metavar="A", help="share peeled off per step (default 0.05)")


def _unit_number(flag: str, text: Any, low: float, high: float, open_low: bool = False) -> float:
    try:
        value = float(text)
        if not (low < value <= high if open_low else low <= value <= high):
            raise ValueError
    except (TypeError, ValueError):
        left = "(" if open_low else "["
        raise ParameterError(f"{flag} {text!r} is not allowed: allowed is a number in {left}{low:g}, {high:g}]") from None
    return value


def _command_sensitivity(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .outputs import new_folder
    from .factors import OUTPUTS, SIMULATED_OUTPUTS, parse_factor
    from .sensitivity import plan_sensitivity, run_sensitivity, summary

    values = read_scenario(args.scenario) if args.scenario else {}
    values.update(_parse_overrides(args.overrides))
    base = Params(**values)
    factors = [parse_factor(item) for item in args.bounds]
    at_text = str(args.at_awareness)
    at = (PARAMETERS_BY_NAME["situational_awareness"].parse(at_text) if at_text.strip().lower().startswith("sad:")
          else _unit_number("--at-awareness", at_text, 0.0, 1.0))
    plan = plan_sensitivity(base, factors, method=args.method, samples=_whole("--samples", args.samples, 2),
                            outputs=args.output, at_awareness=at, seed=_whole("--seed", args.seed, 0),
                            simulate=args.simulate, replicates=_whole("--replicates", args.replicates, 1),
                            levels=_whole("--levels", args.levels, 2), by=args.by)
    if not args.simulate:
        for flag, given in (("--executor", args.executor), ("--scheduler", args.scheduler), ("--resume", args.resume)):
            if given:
                raise ParameterError(f"{flag} goes with --simulate: allowed without it are the mean-field outputs only")
    limit = _parse_memory_limit(args.memory_limit)
    workers = None
    if args.workers is not None:
        import numba

        workers = _whole("--workers", args.workers, 1)
        numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
    folder = _output_folder(args.out, "sensitivity")
    fresh = folder is None
    if fresh:
        folder = new_folder("sensitivity")
    _WRITING.update(folder=folder, kind="sweep" if args.simulate else "sensitivity", explicit=not fresh)
    command = "persona-sim " + " ".join(argv)

    def figures(work: Path, samples, indices, conv) -> list[str]:
        if args.no_plots:
            return []
        from analysis.sensitivity import sensitivity_figures

        return sensitivity_figures(work, samples, indices, conv)

    result = run_sensitivity(plan, folder, overwrite=args.overwrite, progress=not args.quiet, command=command,
                             fresh=fresh, finish=figures, resume=args.resume, workers=workers,
                             executor=args.executor or "thread", scheduler=args.scheduler, memory_limit=limit)
    if not args.quiet:
        per = f" per value of {plan.by} ({', '.join(plan.choices())})" if plan.by else ""
        took = f"; mean field in {result['seconds']['evaluate']:.1f} s" if "evaluate" in result["seconds"] else ""
        print(f"sensitivity ({plan.method}): {plan.n_points:,} points{per}, {len(plan.factors)} parameters, seed "
              f"{plan.seed}{took}")
        samples, indices = result["samples"], result["indices"]
        for choice in plan.choices() or (None,):
            if choice is not None:
                print(f"-- {plan.by} = {choice}")
                samples_c, indices_c = samples[samples[plan.by] == choice], indices[indices[plan.by] == choice]
            else:
                samples_c, indices_c = samples, indices
            print(_format_indices(indices_c.drop(columns=[plan.by]) if choice is not None else indices_c))
            for simulated, (s_star, *_) in ((False, OUTPUTS), (True, SIMULATED_OUTPUTS)):
                facts = summary(samples_c, simulated=simulated)
                how = "simulated: " if simulated else ""
                if "share_without_threshold" in facts:
                    line = f"{how}no threshold at {facts['share_without_threshold']:.1%} of the points"
                    if "s_star_median" in facts:
                        line += (f"; {s_star} where one exists: median {facts['s_star_median']:.3f}, 5-95% "
                                 f"[{facts['s_star_p05']:.3f}, {facts['s_star_p95']:.3f}]")
                    print(line)
                if "share_rebel_at" in facts:
                    print(f"{how}P(rebel) > 1/2 at awareness {plan.at_awareness:g}: {facts['share_rebel_at']:.1%} "
                          "of the points")
        written = json.loads((folder / "manifest.json").read_text())["files"]
        print(f"wrote {folder}/: {', '.join(written)}, manifest.json")
    return 0




def _format_indices(indices) -> str:
    sobol = "ST" in indices.columns
    cols = ["S1", "S1_conf", "ST", "ST_conf"] if sobol else ["mu_star", "mu_star_conf", "sigma"]
    width = max(len("parameter"), *(len(p) for p in indices["parameter"]))
    out_width = max(len("output"), *(len(o) for o in indices["output"]))
    lines = [f"{'output':<{out_width}}  {'parameter':<{width}}  " + "  ".join(f"{c:>12}" for c in cols)]
    key = "ST" if sobol else "mu_star"
    for name, rows in indices.groupby("output", sort=False):
        for r in rows.sort_values(key, ascending=False, na_position="last").to_dict("records"):
            lines.append(f"{name:<{out_width}}  {r['parameter']:<{width}}  "
                         + "  ".join("           -" if r[c] != r[c] else f"{r[c]:>12.4f}" for c in cols))
    return "\n".join(lines)


def _command_discover(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .discovery import discover, evaluate_condition, format_boxes, parse_condition, read_samples
    from .outputs import open_output

    folder = Path(args.folder)
    density = _unit_number("--density", args.density, 0.0, 1.0, open_low=True)
    peel_alpha = _unit_number("--peel-alpha", args.peel_alpha, 0.0, 0.5, open_low=True)
    table, settings, kind = read_samples(folder)
    names = [n for n in [*(settings.get("bounds_resolved") or {}), settings.get("by")] if n in table.columns]
    if not names:
        raise ParameterError(f"{folder / 'manifest.json'} names no sampled parameters: allowed is the manifest "
                             "persona-sim sensitivity wrote")
    tree = parse_condition(args.where, [c for c in table.columns if c not in ("sample", "seed_key")])
    cases = evaluate_condition(tree, table)
    box = discover(table[names], cases, density=density, peel_alpha=peel_alpha)
    with open_output(folder, kind, "update", command="persona-sim " + " ".join(argv)) as output:
        from analysis.sensitivity import peeling_figure

        limits = box.limits.assign(where=args.where, box=box.index, coverage=box.coverage, density=box.density,
                                   mass=box.mass)
        _write_atomically(folder, {"boxes.csv": limits.to_csv(index=False).encode(),
                                   "peeling.csv": box.trajectory.to_csv(index=False).encode()})
        files = ["boxes.csv", "peeling.csv", peeling_figure(box.trajectory, box.index, args.where,
                                                            folder / "peeling.png")]
        new = dict(output.previous)
        new["files"] = sorted(set(new.get("files") or []) | set(files))
        new["discover"] = {"where": args.where, "density": density, "peel_alpha": peel_alpha}
        output.commit(new)
    print(format_boxes(box, args.where))
    print(f"wrote {folder}/: {', '.join(files)}")
    return 0


def console() -> None:  # pragma: no cover - exercised in subprocesses (tests/test_cli.py)
    """The ``persona-sim`` console script: :func:`main`, then the process ends without
    Python's teardown once what it printed is flushed.

    Tearing the interpreter down (every module, numba's compiled code, LLVM) takes
    0.25-0.45 s after a command that ran the model, longer than many a command's work
    (issue 18, benchmarks/README.md), and serves nothing once the command is done:
    its outputs are committed and its files closed. So a command that returned ends
    with ``os._exit``, as mypy's command line does, unless a thread other than daemon
    ones, or a child process, is still running (then the usual exit waits for them).
    A command that raised ends as usual, with its traceback.
    """
    import threading

    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader stopped early: as main() ends then
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 141
    multiprocessing = sys.modules.get("multiprocessing")
    busy = any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()) or (
        multiprocessing is not None and multiprocessing.active_children())
    if not busy:
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
