"""What a user waits for: the command line, timed as whole processes.

Each command runs as its own process (``persona-sim`` from the environment this
script runs in), timed from start to exit by the wall clock, with the process's peak
RSS from ``os.wait4``. Every command runs ``--repeats`` times (default 3), after one
untimed run that warms numba's cache and the operating system's file cache; the
median and the best are reported. ``--first`` adds the default ``persona-sim sweep``
with an empty numba cache (``NUMBA_CACHE_DIR`` a new temporary folder), which is what
a new user's first run compiles.

The commands (W1 is benchmarks/w1.py's workload, 101 x 26 x 20 at 10,000 documents):

- ``persona-sim --help`` and every command's ``--help`` (run, sweep, threshold, demo,
  sensitivity, discover, scenario);
- ``persona-sim sweep`` (the README's main job: 101 awareness levels x 20 replicates),
  with its figures;
- W1 through the CLI, ``--no-plots``, and the engine's own W1 (in this process,
  ``run_sweep`` on threads, workers=2) for the ratio;
- ``persona-sim threshold`` on W1's folder;
- the floors under them (what any command that runs the model pays before it does
  anything, each a whole process): the interpreter alone, ``import numpy``, ``import
  numba``, one cached run of the model (numba's first call: its typing and lowering
  machinery, then the kernels from the cache), and importing matplotlib's Figure and
  Agg canvas, each ending with ``os._exit`` as ``persona-sim`` does (no interpreter
  teardown, :func:`sim.cli.console`); and drawing the main job's figures in process, warm (the second of two
  calls). Issue 18's targets are weighed against these in benchmarks/README.md.

Run:  .venv/bin/python benchmarks/cli.py [--repeats 3] [--first] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_average, machine, timing_options, wait_quiet, write_figures  # noqa: E402

BIN = Path(sys.executable).parent / "persona-sim"
W1_GRID = ["--grid", "situational_awareness=0:1:101", "--grid", "planted_fraction=0:0.25:26"]


def run_process(argv: list[str], env: dict | None = None, cwd: str | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process, which must exit 0."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}: {stderr.strip()[-400:]}")
    return wall, usage.ru_maxrss / 1024


def engine_w1(replicates: int) -> float:
    """The engine's own W1 in this process (threads, workers=2), after a warm-up."""
    from sim import Params
    from sim.sweeps import plan_sweep, run_sweep

    grid = {"situational_awareness": "0:1:101", "planted_fraction": "0:0.25:26"}
    run_sweep(plan_sweep(Params(n_documents=500), grid={"situational_awareness": "0:1:3"}, replicates=2),
              executor="thread", workers=2, progress=False)
    plan = plan_sweep(Params(), grid=grid, replicates=replicates, seed=0)
    started = time.perf_counter()
    run_sweep(plan, executor="thread", workers=2, progress=False)
    return time.perf_counter() - started


def drawing_time(folder: Path, repeats: int) -> list[float]:
    """Seconds of ``make_figures`` on the main job's folder, in this process, each
    after a first call that imports and warms everything."""
    import json

    from analysis import make_figures, read_sweep
    from analysis.thresholds import MeanFieldColumns, fit_threshold_rows

    manifest = json.loads((folder / "manifest.json").read_text())
    data = read_sweep(folder / "results.parquet", swept=[n for n in manifest["swept"] if n != "situational_awareness"])
    table = fit_threshold_rows(data, meanfield_columns=MeanFieldColumns(manifest.get("meanfield")))
    import analysis.figures

    if not hasattr(analysis.figures, "_frame"):  # a commit before 9cdb671 drew from the DataFrame
        table = table.to_frame()
    with tempfile.TemporaryDirectory(prefix="persona-draw-") as out:
        make_figures(data, table, out)
        walls = []
        for _ in range(repeats):
            started = time.perf_counter()
            make_figures(data, table, out)
            walls.append(time.perf_counter() - started)
    return walls


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each command (default 3)")
    ap.add_argument("--first", action="store_true", help="also the main job with an empty numba cache")
    ap.add_argument("--bin", type=Path, default=BIN, metavar="PATH",
                    help="the persona-sim executable to time (default: the one beside this python; another "
                         "commit's: a script that runs its sim.cli, with PYTHONPATH set to its checkout)")
    timing_options(ap)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if not args.bin.exists():
        ap.error(f"--bin {args.bin} is missing: allowed is an existing persona-sim executable (by default the one "
                 "beside this python: run this with the python of the environment persona-sim is installed in)")
    bin_ = str(args.bin)
    replicates = "2" if args.quick else "20"
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="persona-cli-") as tmp:
        w1_out = Path(tmp) / "w1"
        commands = {
            "persona-sim --help": [bin_, "--help"],
            **{f"persona-sim {c} --help": [bin_, c, "--help"]
               for c in ("run", "sweep", "threshold", "demo", "sensitivity", "discover", "scenario")},
            "persona-sim sweep (main job)": [bin_, "sweep", "--out", "{out}", "--overwrite"],
            "W1 through the CLI (--no-plots)": [bin_, "sweep", *W1_GRID, "--replicates", replicates,
                                                "--no-plots", "--quiet", "--out", "{out}", "--overwrite"],
        }
        for name, command in commands.items():
            out = str(Path(tmp) / "out")
            argv_ = [a.replace("{out}", out) for a in command]
            run_process(argv_, cwd=tmp)  # untimed: warm caches
            walls, peaks = [], []
            for _ in range(args.repeats):
                wait_quiet(args.wait_quiet)
                wall, peak = run_process(argv_, cwd=tmp)
                walls.append(wall)
                peaks.append(peak)
            figures[name] = {"walls_s": [round(w, 3) for w in walls], "median_s": round(statistics.median(walls), 3),
                             "best_s": round(min(walls), 3), "peak_rss_mib": round(max(peaks), 1)}
            print(f"{name:40s} median {statistics.median(walls):7.3f} s  best {min(walls):7.3f} s  "
                  f"peak RSS {max(peaks):6.0f} MiB", flush=True)
        # persona-sim threshold on W1's folder
        run_process([bin_, "sweep", *W1_GRID, "--replicates", replicates, "--no-plots", "--quiet",
                     "--out", str(w1_out)], cwd=tmp)
        walls = []
        for _ in range(args.repeats):
            wait_quiet(args.wait_quiet)
            walls.append(run_process([bin_, "threshold", str(w1_out)], cwd=tmp)[0])
        figures["persona-sim threshold (W1's folder)"] = {"median_s": round(statistics.median(walls), 3),
                                                          "best_s": round(min(walls), 3)}
        print(f"{'persona-sim threshold (W1 folder)':40s} median {statistics.median(walls):7.3f} s  "
              f"best {min(walls):7.3f} s", flush=True)
        floors = {
            "python, nothing imported": "pass",
            "import numpy": "import numpy",
            "import numba": "import numba",
            "one cached run of the model (numba's first call)": (
                "import numpy as np\nfrom sim import Params\nfrom sim.sweeps import run_replicate\n"
                "run_replicate(Params(n_documents=300, batch_size=100), np.array([0.5]), np.random.SeedSequence(0))"),
            "import matplotlib's Figure and Agg canvas": "import matplotlib.figure, matplotlib.backends.backend_agg",
        }
        for name, code in floors.items():
            code += "\nimport os\nos._exit(0)"  # no teardown: the console script skips it (sim.cli.console)
            run_process([sys.executable, "-c", code], cwd=tmp)
            walls = []
            for _ in range(args.repeats):
                wait_quiet(args.wait_quiet)
                walls.append(run_process([sys.executable, "-c", code], cwd=tmp)[0])
            figures[f"floor: {name}"] = {"median_s": round(statistics.median(walls), 3), "best_s": round(min(walls), 3)}
            print(f"{'floor: ' + name:40s} median {statistics.median(walls):7.3f} s  best {min(walls):7.3f} s",
                  flush=True)
        main_job = Path(tmp) / "main-job"
        run_process([bin_, "sweep", "--no-plots", "--quiet", "--out", str(main_job)], cwd=tmp)
        draw = drawing_time(main_job, args.repeats)
        figures["drawing the main job's figures (in process, warm)"] = {"median_s": round(statistics.median(draw), 3),
                                                                        "best_s": round(min(draw), 3)}
        print(f"{'drawing the main job figures (warm)':40s} median {statistics.median(draw):7.3f} s  "
              f"best {min(draw):7.3f} s", flush=True)
        engine = [engine_w1(int(replicates)) for _ in range(args.repeats)]
        cli_w1 = figures["W1 through the CLI (--no-plots)"]["median_s"]
        figures["engine W1 (in process)"] = {"median_s": round(statistics.median(engine), 3),
                                             "best_s": round(min(engine), 3)}
        figures["W1: CLI / engine (medians)"] = round(cli_w1 / statistics.median(engine), 3)
        print(f"{'engine W1 (in process)':40s} median {statistics.median(engine):7.3f} s  "
              f"best {min(engine):7.3f} s;  CLI / engine {cli_w1 / statistics.median(engine):.2f}", flush=True)
        if args.first:
            cache = Path(tmp) / "empty-numba-cache"
            cache.mkdir()
            env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
            wall, peak = run_process([bin_, "sweep", "--out", str(Path(tmp) / "first")], env=env, cwd=tmp)
            figures["persona-sim sweep, empty numba cache"] = {"wall_s": round(wall, 3), "peak_rss_mib": round(peak, 1)}
            print(f"{'persona-sim sweep, empty numba cache':40s} {wall:7.3f} s  peak RSS {peak:6.0f} MiB")
            shutil.rmtree(cache, ignore_errors=True)
    write_figures({"machine": machine(), "load_average_end": load_average(), "repeats": args.repeats,
                   "replicates": int(replicates), "commands": figures}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
