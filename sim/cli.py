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
import io
import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Sequence

from .params import PARAMETERS, ParameterError, Params, _unknown, check_awareness, read_scenario

__all__ = ["main"]

EXIT_USAGE = 2
_UMASK = os.umask(0)
os.umask(_UMASK)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parameter_help() -> str:
    lines = ["model parameters (set with a scenario file or --set NAME=VALUE):"]
    for p in PARAMETERS:
        default = "unset" if p.default is None else p.default
        lines.append(f"  {p.name}  (default {default}; {p.allowed()})")
        lines.extend(textwrap.wrap(p.meaning, width=76, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="persona-sim",
        description=(
            "Agent-based simulation of persona formation under alignment pretraining: "
            "a Bayesian learner reads real, planted and disclosed documents and updates "
            "its belief that its makers are deceptive."
        ),
        epilog=_parameter_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"persona-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="one training run with a family of learners; writes a table, CSV, JSON and a figure",
        description=(
            "One training run: the lab plants and discloses, the authors write and cite, and "
            "every learner (one per awareness level) reads the same shuffled corpus. Prints a "
            "table per learner and writes DIR/trajectory.csv, DIR/summary.json and "
            "DIR/trajectory.png."
        ),
        epilog=_parameter_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("scenario", nargs="?", metavar="SCENARIO.toml",
                     help="a scenario file: TOML whose keys are parameter names (default: the reference configuration)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                     help="set one parameter (repeatable); overrides the scenario file")
    run.add_argument("--awareness", metavar="S1,S2,...",
                     help="final situational awareness of each learner, comma-separated numbers in [0, 1] "
                          "(default: the scenario's situational_awareness)")
    run.add_argument("--seed", default="0", metavar="N", help="root seed, a whole number >= 0 (default 0)")
    run.add_argument("--out", default="results/run", metavar="DIR", help="output folder (default results/run)")
    return parser


# -- parsing of values ------------------------------------------------------------------
def _parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    by_name = {p.name: p for p in PARAMETERS}
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"--set {item!r} is not allowed: allowed is NAME=VALUE with a parameter name")
        if name not in by_name:
            raise _unknown(name, where=" in --set")
        values[name] = by_name[name].parse(text)
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


def _check_out(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {path!r} is a file: allowed is a folder (existing or new)")
    return out


# -- the run command -------------------------------------------------------------------
def _trajectory_figure(trajectory, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    data = trajectory.assign(awareness=trajectory["final_awareness"].map(lambda s: f"{s:g}"))
    palette = sns.color_palette("viridis", n_colors=data["awareness"].nunique())
    sns.lineplot(data=data, x="documents_read", y="p_deceptive", hue="awareness", palette=palette, ax=axes[0])
    axes[0].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[0].set(ylabel="P(makers deceptive)", xlabel="documents read", ylim=(-0.02, 1.02),
                title="belief that the makers are deceptive")
    sns.lineplot(data=data, x="documents_read", y="uplift", hue="awareness", palette=palette, ax=axes[1],
                 legend=False)
    axes[1].axhline(0.0, color="grey", lw=0.8, ls="--")
    axes[1].set(ylabel="alignment uplift U", xlabel="documents read", title="self-model: uplift over real data")
    axes[0].legend(title="awareness", fontsize=8, title_fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _write_atomically(folder: Path, files: dict[str, bytes]) -> None:
    """Write every file next to its final name, then move them all into place."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = []
    try:
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o666 & ~_UMASK)
            staged.append((tmp, folder / name))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _format_table(final) -> str:
    header = f"{'awareness':>9}  {'persona':<8}  {'P(deceptive)':>12}  {'uplift':>8}  {'emergence':>9}"
    lines = [header, "-" * len(header)]
    for row in final.itertuples():
        emergence = "-" if row.emergence_document != row.emergence_document else f"{int(row.emergence_document)}"
        lines.append(
            f"{row.situational_awareness:>9.3g}  {row.persona:<8}  {row.p_deceptive:>12.3g}  "
            f"{row.uplift:>+8.4f}  {emergence:>9}"
        )
    return "\n".join(lines)


def _command_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from . import __version__, meanfield
    from .simulation import simulate

    values = read_scenario(args.scenario) if args.scenario else {}
    values.update(_parse_overrides(args.overrides))
    params = Params(**values)
    awareness = _parse_awareness(args.awareness, params)
    seed = _parse_seed(args.seed)
    out = _check_out(args.out)

    result = simulate(params, awareness=awareness, seed=seed)
    final, trajectory = result.final, result.trajectory
    roots = meanfield.thresholds(params, result.real_cited_rate)
    mf_p = meanfield.p_rebel(params, awareness, result.real_cited_rate)

    name = Path(args.scenario).stem if args.scenario else "reference configuration"
    summary = {
        "command": "persona-sim " + " ".join(argv),
        "scenario": args.scenario,
        "package_version": __version__,
        "seed": seed,
        "parameters": params.to_dict(),
        "awareness": awareness,
        "real_cited_rate": result.real_cited_rate,
        "meanfield": {
            "thresholds": roots.tolist(),
            "p_rebel": dict(zip(map(str, awareness), mf_p.tolist())),
        },
        "final": json.loads(final.to_json(orient="records")),
    }
    files = {
        "trajectory.csv": trajectory.to_csv(index=False).encode(),
        "summary.json": (json.dumps(summary, indent=2, allow_nan=False, default=_json_default) + "\n").encode(),
        "trajectory.png": _trajectory_figure(
            trajectory, f"{name}: planted {params.planted_fraction:g}, disclosed "
            f"{params.disclosed_fraction:g}, {params.n_documents} documents, seed {seed}"
        ),
    }
    _write_atomically(out, files)

    print(f"persona-sim {__version__}: {name}, seed {seed}")
    print(f"corpus: {params.n_documents} documents, planted {params.planted_fraction:g}, "
          f"disclosed {params.disclosed_fraction:g}; real documents cited q_r = {result.real_cited_rate:.3f}")
    print(_format_table(final))
    where = ", ".join(f"{r:.3f}" for r in roots) if roots.size else "none (no crossing on (0, 1])"
    print(f"mean-field large-corpus threshold s*_inf: {where}")
    print(f"wrote {out / 'trajectory.csv'}, {out / 'summary.json'}, {out / 'trajectory.png'}")
    return 0


def _json_default(value: Any) -> Any:
    try:
        return value.item()
    except AttributeError:
        raise TypeError(f"cannot write {type(value).__name__} to JSON") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``persona-sim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "run":
            return _command_run(args, argv)
    except ParameterError as err:
        print(f"persona-sim: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("persona-sim: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
