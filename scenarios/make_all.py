"""Regenerate every figure of the tutorial (docs/tutorial.md) with one command.

    .venv/bin/python scenarios/make_all.py [NAME ...] [--out DIR | --docs] [--overwrite] [--quick]
                                           [--workers N] [--seed S]

(or ``persona-sim scenario all ...``). Without ``--out`` the figures go into a new
folder ``results/tutorial-YYYYMMDD-HHMMSS`` (printed), so the tutorial's own figures
(``docs/figures/tutorial``) are never touched by accident; ``--docs`` redraws those (the
same as ``--out docs/figures/tutorial --overwrite``, at the full size only).

Runs every scenario script of this folder (each ``scenarios/*.py`` except this file
and ``_common.py``; a new script is picked up automatically), one after the other in
this process, passing ``--out`` and the other options on. Each prints its question
and its answer; at the end this prints the files written. NAME runs only the named
scripts (``corpus_size`` or ``corpus_size.py``). With ``--quick`` (or
``PERSONA_SIM_QUICK=1``) every script runs at its reduced size. A script that fails
is reported and the others still run; the exit code is then 1.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as nb  # noqa: E402

#: The tutorial's order; scripts not listed here run after these, alphabetically.
ORDER = (
    "planting_backfires",
    "constitution",
    "disclosure",
    "corpus_size",
    "growing_awareness",
    "control_discourse",
    "benevolent_makers",
    "learner_assumptions",
    "learning_the_cue",
    "lab_policies",
    "laundering",
    "generations",
    "concealment",
    "robustness",
    "holes",
)


def scripts() -> list[Path]:
    """The scenario scripts, in the tutorial's order."""
    found = {p.stem: p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != Path(__file__).name}
    ordered = [found.pop(name) for name in ORDER if name in found]
    return ordered + [found[name] for name in sorted(found)]


def load(path: Path):
    """Import a script as a module (its ``if __name__ == "__main__"`` block does not run)."""
    spec = importlib.util.spec_from_file_location(f"scenario_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = nb.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="run only these scripts")
    nb.add_output_arguments(parser)
    args = nb.resolve_output_arguments(parser, parser.parse_args(argv))

    todo = scripts()
    if args.names:
        wanted = {Path(n).stem for n in args.names}
        unknown = wanted - {p.stem for p in todo}
        if unknown:
            parser.error(f"no scenario script named {', '.join(sorted(unknown))}: allowed are "
                         + ", ".join(p.stem for p in todo))
        todo = [p for p in todo if p.stem in wanted]

    if args.out is None:
        from sim.outputs import new_folder
        from sim.params import ParameterError

        try:
            args.out = new_folder("tutorial")
        except ParameterError as err:
            parser.exit(2, f"{parser.prog}: error: {err}\n")
    passed = ["--out", str(args.out)] + (["--overwrite"] if args.overwrite else [])
    if args.quick:
        passed.append("--quick")
    if args.workers is not None:
        passed += ["--workers", str(args.workers)]
    if args.seed is not None:
        passed += ["--seed", str(args.seed)]

    started = time.perf_counter()
    written: list[tuple[str, Path]] = []
    failed: list[str] = []
    timings: list[tuple[str, float]] = []
    for path in todo:
        print(f"\n=== {path.name} ===", flush=True)
        t0 = time.perf_counter()
        try:
            files = load(path).main(passed)
        except Exception:  # report, and go on with the next script
            traceback.print_exc()
            failed.append(path.name)
            continue
        finally:
            nb.abandon()
            timings.append((path.name, time.perf_counter() - t0))
        written += [(path.name, Path(f)) for f in files or []]
        sys.stdout.flush()

    print(f"\n=== wrote {len(written)} files into {args.out} in {time.perf_counter() - started:.0f} s ===")
    for name, f in written:
        print(f"{nb.shown(f)}  ({f.stat().st_size / 1024:.0f} KB, {name})")
    print("times: " + ", ".join(f"{name} {t:.1f} s" for name, t in timings))
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
