"""Where a W1-shaped sweep spends its time: kernel, corpus, pandas, threads.

1. cProfile of ``run_sweep(..., executor="serial")`` on W1's grid (101 awareness
   levels x 26 planted shares) with fewer replicates (default 4: 104 runs, 1.05e8
   updates, the same chunks of about 25 runs as W1). The compiled kernel call is
   invisible to cProfile, so its time is the own time (tottime) of
   ``sim.learner.read_corpus``, which does nothing else that is not itself profiled.
   Categories:

   - kernel: own time of ``sim.learner.read_corpus`` (the numba ``_read_corpus_kernel``);
   - corpus building: cumulative time of ``sim.corpus.build_corpus`` (its citation
     graph, ``_cite``, calls the numba ``_attach``);
   - per-run setup: the rest of ``sim.engine.run_replicate`` (q_r, constants, schedule,
     cues in reading order, the final columns);
   - result assembly (numpy/pandas): ``sim.sweeps.run_chunk`` minus its runs, plus the
     final ``pandas.concat``;
   - other: planning and everything else.

2. Threads: wall time of the same sweep with the serial executor, with one thread
   and with two threads (best of ``--repeats`` rounds, the three taking turns within
   a round), and the CPU time of the two-thread run: the pool's own overhead, and how
   far two threads are from halving the wall.

The machine is shared: before each timing the script waits (at most ``--wait-quiet``
seconds) for other processes to go quiet, and records the cores they used meanwhile.

Run:  /tmp/venv312/bin/python benchmarks/profile_sweep.py [--replicates 4] [--json OUT]
"""

from __future__ import annotations

import argparse
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Background, cpu_seconds, load_average, machine, profiled_sweep, wait_quiet, write_figures  # noqa: E402
from sim import Params  # noqa: E402
from sim.sweeps import plan_sweep, run_sweep  # noqa: E402

GRID = {"situational_awareness": "0:1:101", "planted_fraction": "0:0.25:26"}


def _find(stats: dict, file_end: str, name: str) -> tuple:
    for (file, _line, func), value in stats.items():
        if func == name and file.replace("\\", "/").endswith(file_end):
            return value  # (cc, nc, tottime, cumtime, callers)
    return (0, 0, 0.0, 0.0, {})


def profile(plan) -> dict:
    prof, wall = profiled_sweep(plan)
    st = pstats.Stats(prof).stats
    total = _find(st, "sim/sweeps.py", "run_sweep")[3]
    kernel = _find(st, "sim/learner.py", "read_corpus")[2]
    corpus = _find(st, "sim/corpus.py", "build_corpus")[3]
    cite = _find(st, "sim/corpus.py", "_cite")[2]
    replicate = _find(st, "sim/engine.py", "run_replicate")[3]
    chunk = _find(st, "sim/sweeps.py", "run_chunk")[3]
    concat = _find(st, "pandas/core/reshape/concat.py", "concat")[3]
    parts = {
        "kernel": kernel,
        "corpus_building": corpus,
        "per_run_setup": replicate - kernel - corpus,
        "result_assembly": chunk - replicate + concat,
    }
    parts["other"] = total - sum(parts.values())
    return {"profiled_wall_s": wall, "profiled_total_s": total, "seconds": parts,
            "share": {k: v / total for k, v in parts.items()}, "citation_graph_s": cite}


def timed_interleaved(plan, configs: dict, repeats: int, quiet_wait: float) -> dict:
    """Wall and CPU time of each (executor, workers) configuration, best of ``repeats``
    rounds; the configurations take turns within a round, so that a neighbour's load
    hits them alike."""
    best: dict = {}
    for _ in range(repeats):
        for name, (executor, workers) in configs.items():
            if quiet_wait > 0:
                wait_quiet(quiet_wait)
            load = load_average()
            c0, t0 = cpu_seconds(), time.perf_counter()
            with Background() as bg:
                run_sweep(plan, executor=executor, workers=workers, progress=False)
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            if name not in best or wall < best[name]["wall_s"]:
                best[name] = {"wall_s": wall, "cpu_s": cpu, "load_average": load, "others_cores": bg.others_cores}
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description="Profile a W1-shaped sweep.")
    ap.add_argument("--replicates", type=int, default=4, help="replicates per point (W1 has 20)")
    ap.add_argument("--repeats", type=int, default=2, help="repeats of each thread timing (best is kept)")
    ap.add_argument("--wait-quiet", type=float, default=3.0, metavar="SECONDS",
                    help="before each timing, wait at most this long for other processes to go quiet (0: do not)")
    ap.add_argument("--json", metavar="OUT", help="write the figures to this JSON file")
    args = ap.parse_args()

    run_sweep(plan_sweep(Params(n_documents=200), grid={"situational_awareness": "0:1:3"}, replicates=1, seed=0),
              executor="serial", progress=False)  # warm the compiled functions
    plan = plan_sweep(Params(), grid=GRID, replicates=args.replicates, seed=0)
    fig: dict = {"machine": machine(), "load_average_start": load_average(), "replicates": args.replicates,
                 "updates": plan.updates()}
    print(f"profile: W1 grid x {args.replicates} replicates = {plan.updates():.3g} updates; "
          f"load {fig['load_average_start']}", flush=True)

    if args.wait_quiet > 0:
        wait_quiet(args.wait_quiet)
    with Background() as bg:
        p = profile(plan)
    p["others_cores"] = bg.others_cores
    fig["profile_serial"] = p
    print(f"  cProfile, serial executor ({p['profiled_total_s']:.2f} s profiled; other processes "
          f"{p['others_cores']:.2f} cores meanwhile):")
    for k, v in p["seconds"].items():
        print(f"    {k:18s} {v:7.3f} s  {100 * p['share'][k]:5.1f} %  "
              f"({v / plan.updates() * 1e9:6.2f} ns per update)")
    print(f"    (of corpus building, the citation graph _cite: {p['citation_graph_s']:.3f} s)")

    t = timed_interleaved(plan, {"serial": ("serial", 1), "thread_1": ("thread", 1), "thread_2": ("thread", 2)},
                          args.repeats, args.wait_quiet)
    fig["threads"] = t
    s, t1, t2 = t["serial"]["wall_s"], t["thread_1"]["wall_s"], t["thread_2"]["wall_s"]
    fig["thread_pool_overhead"] = t1 / s - 1.0
    fig["speedup_2_threads"] = s / t2
    fig["parallel_efficiency_2_threads"] = s / (2 * t2)
    for k, v in t.items():
        print(f"  {k:9s} wall {v['wall_s']:.2f} s, CPU {v['cpu_s']:.2f} s, load before {v['load_average']}, "
              f"other processes {v['others_cores']:.2f} cores")
    print(f"  thread pool overhead (1 thread vs serial): {100 * fig['thread_pool_overhead']:+.1f} %; "
          f"2 threads: speed-up {fig['speedup_2_threads']:.2f}x, parallel efficiency "
          f"{100 * fig['parallel_efficiency_2_threads']:.0f} %")
    fig["load_average_end"] = load_average()
    write_figures(fig, args.json)


if __name__ == "__main__":
    main()
