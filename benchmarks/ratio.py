"""Engine / naive Mesa speed ratio, the two timed in alternation in one process.

The VM's single-core speed drifts by up to 2x from minute to minute, so a ratio of
two figures measured minutes apart (``w1.py``, then ``naive_mesa.py``) moves with the
drift. Here every round times, back to back,

1. the naive baseline (``naive_mesa.py``'s subset through ``mesa.batch_run``: 20 runs
   x 10,000 documents = 2e5 updates, about 0.25 s),
2. W1 (``w1.py``'s sweep, ``run_sweep(..., executor="thread", workers=2)``, 5.25e8
   updates, about 2 s),
3. the naive baseline again,

and the round's ratio is W1's updates per second over the naive's (both naive
timings pooled: updates / total wall), so that a drift within a round hits both
sides about alike. Reported: every round's ratio, their median, minimum and maximum,
and the updates per second of each side.

Before each round the script waits (at most ``--wait-quiet`` seconds) for other
processes to go quiet, and it records the cores they used during the round.

Run:  .venv/bin/python benchmarks/ratio.py [--rounds 7] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Background, load_average, machine, wait_quiet, write_figures  # noqa: E402
from naive_mesa import GRID as NAIVE_GRID, N_DOCUMENTS, TARGET_RATIO, run_batch  # noqa: E402
from sim import Params  # noqa: E402
from sim.corpus import build_corpus  # noqa: E402
from sim.sweeps import plan_sweep, run_sweep  # noqa: E402
from w1 import GRID as W1_GRID  # noqa: E402


def time_naive(parameters: dict, updates: int) -> float:
    t = time.perf_counter()
    rows = run_batch(parameters)
    wall = time.perf_counter() - t
    assert len(rows) * N_DOCUMENTS == updates and all(r["documents_read"] == N_DOCUMENTS for r in rows)
    return wall


def time_engine(plan) -> float:
    t = time.perf_counter()
    df = run_sweep(plan, executor="thread", workers=2, progress=False)
    wall = time.perf_counter() - t
    assert len(df) == plan.n_rows
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description="Engine W1 / naive Mesa ratio, timed in alternation.")
    ap.add_argument("--rounds", type=int, default=7, help="rounds (naive, W1, naive) (default 7)")
    ap.add_argument("--quick", action="store_true", help="W1 with 2 replicates instead of 20, 3 rounds")
    ap.add_argument("--wait-quiet", type=float, default=3.0, metavar="SECONDS",
                    help="before each round, wait at most this long for other processes to go quiet (0: do not)")
    ap.add_argument("--json", metavar="OUT", help="write the figures to this JSON file")
    args = ap.parse_args()
    rounds = 3 if args.quick and args.rounds == 7 else args.rounds

    replicates = 2 if args.quick else 20
    plan = plan_sweep(Params(), grid=W1_GRID, replicates=replicates, seed=0)
    naive_parameters = {**NAIVE_GRID, "n_documents": N_DOCUMENTS}
    naive_updates = math.prod(len(v) for v in NAIVE_GRID.values()) * N_DOCUMENTS
    engine_updates = plan.updates()

    # warm both sides: the compiled functions (numba cache), Mesa's imports
    run_sweep(plan_sweep(Params(n_documents=200), grid={"situational_awareness": "0:1:3"}, replicates=1, seed=0),
              executor="serial", progress=False)
    build_corpus(Params(n_documents=200), 0)
    run_batch({**naive_parameters, "situational_awareness": [0.5], "planted_fraction": [0.15], "replicate": [0]})

    fig: dict = {"machine": machine(), "load_average_start": load_average(), "w1_grid": W1_GRID,
                 "w1_replicates": replicates, "engine_updates": engine_updates, "naive_grid": NAIVE_GRID,
                 "naive_updates": naive_updates, "rounds": []}
    say = lambda *a: print(*a, flush=True)  # noqa: E731
    say(f"engine W1{' (quick: 2 replicates)' if args.quick else ''} ({engine_updates:.3g} updates) against the naive "
        f"Mesa baseline ({naive_updates:.3g} updates), {rounds} rounds of naive, W1, naive; "
        f"load {fig['load_average_start']}")
    for r in range(rounds):
        quiet = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
        load = load_average()
        gc.collect()
        with Background() as bg:
            naive_1 = time_naive(naive_parameters, naive_updates)
            engine = time_engine(plan)
            naive_2 = time_naive(naive_parameters, naive_updates)
        engine_ups = engine_updates / engine
        naive_ups = 2 * naive_updates / (naive_1 + naive_2)
        row = {"engine_wall_s": engine, "engine_updates_per_s": engine_ups, "naive_walls_s": [naive_1, naive_2],
               "naive_updates_per_s": naive_ups, "ratio": engine_ups / naive_ups, "load_average": load,
               "others_cores": bg.others_cores, "wait_quiet": quiet}
        fig["rounds"].append(row)
        say(f"  round {r + 1}: W1 {engine:.2f} s = {engine_ups:.3g} updates/s; naive {naive_1:.3f} s and "
            f"{naive_2:.3f} s = {naive_ups:.3g} updates/s; ratio {row['ratio']:.0f}x "
            f"(load {load[0]}, other processes {bg.others_cores:.2f} cores)")

    ratios = [row["ratio"] for row in fig["rounds"]]
    engine_all = [row["engine_updates_per_s"] for row in fig["rounds"]]
    naive_all = [row["naive_updates_per_s"] for row in fig["rounds"]]
    fig["summary"] = {
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "engine_updates_per_s_median": statistics.median(engine_all), "engine_updates_per_s_best": max(engine_all),
        "engine_wall_s_best": engine_updates / max(engine_all),
        "engine_wall_s_median": engine_updates / statistics.median(engine_all),
        "naive_updates_per_s_median": statistics.median(naive_all), "naive_updates_per_s_best": max(naive_all),
        "ratio_of_bests": max(engine_all) / max(naive_all),
        "target": TARGET_RATIO, "rounds_meeting_target": sum(x >= TARGET_RATIO for x in ratios),
    }
    s = fig["summary"]
    say(f"  ratio per round: median {s['ratio_median']:.0f}x, min {s['ratio_min']:.0f}x, max {s['ratio_max']:.0f}x "
        f"({s['rounds_meeting_target']}/{rounds} rounds >= {TARGET_RATIO:.0f}x); best engine / best naive "
        f"{s['ratio_of_bests']:.0f}x")
    say(f"  engine W1: best {s['engine_wall_s_best']:.2f} s ({s['engine_updates_per_s_best']:.3g} updates/s), median "
        f"{s['engine_wall_s_median']:.2f} s; naive: best {s['naive_updates_per_s_best']:.3g} updates/s, median "
        f"{s['naive_updates_per_s_median']:.3g}")
    fig["load_average_end"] = load_average()
    write_figures(fig, args.json, say)


if __name__ == "__main__":
    main()
