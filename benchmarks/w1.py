"""Workload W1: the main sweep, timed.

W1 = awareness 101 levels (0..1) x planted_fraction 26 levels (0..0.25) x 20
replicates x n_documents 10,000 = 5.252e8 learner-document updates, run as

    run_sweep(plan_sweep(Params(), grid={"situational_awareness": "0:1:101",
                                         "planted_fraction": "0:0.25:26"},
                         replicates=20, seed=0),
              executor="thread", workers=2, progress=False)

What is measured (each sweep configuration in a fresh child process, so that its
peak RSS is its own and nothing is shared between configurations):

1. compile: the first call of a tiny sweep with an empty numba cache (a temporary
   ``NUMBA_CACHE_DIR``: every compiled function is compiled), and with the cache as
   it is (normally warm: the functions are loaded from disk);
2. W1 in memory, workers=2 (threads): wall time (best of ``--repeats``), updates per
   second, process CPU time, peak RSS;
3. W1 with ``out=`` a temporary folder (chunk Parquet parts + results.parquet), once;
4. W1 in memory with workers=1 (thread scaling);
5. in this process, single thread, ``time.process_time``: the kernel alone
   (``sim.learner.read_corpus`` on one default corpus with 101 learners) in CPU ns per
   learner-document update, and corpus building (``sim.corpus.build_corpus``) in ns
   per document and per update (one corpus serves the 101 learners of a run).

Every child warms the numba cache with a tiny sweep before it times anything. The
machine is shared: before each timing the script waits (at most ``--wait-quiet``
seconds, default 3) for other processes to use less than 0.3 cores, and it records
the cores other processes used during each timing (from /proc/stat) with the load
average.

Run:  /tmp/venv312/bin/python benchmarks/w1.py [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Background, cpu_seconds, load_average, machine, peak_rss_mib, wait_quiet, write_figures  # noqa: E402

GRID = {"situational_awareness": "0:1:101", "planted_fraction": "0:0.25:26"}
TARGET_WALL_S = 6.0
TARGET_RSS_MIB = 1024.0


# ------------------------------------------------------------------------------------
# child: one sweep configuration, timed in its own process
# ------------------------------------------------------------------------------------
def _child(spec: dict) -> dict:
    t0 = time.perf_counter()
    from sim import Params
    from sim.sweeps import plan_sweep, run_sweep

    import_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    run_sweep(plan_sweep(Params(n_documents=200), grid={"situational_awareness": "0:1:3"}, replicates=1, seed=0),
              executor="serial", progress=False)
    first_call_s = time.perf_counter() - t0
    out = {"import_s": import_s, "first_call_s": first_call_s, "rss_after_warmup_mib": peak_rss_mib()}
    if spec.get("warmup_only"):
        return out

    plan = plan_sweep(Params(n_documents=spec["n_documents"], **spec.get("set", {})), grid=GRID,
                      replicates=spec["replicates"], seed=0)
    runs = []
    for _ in range(spec["repeats"]):
        quiet = wait_quiet(spec["quiet_wait"]) if spec.get("quiet_wait") else None
        load = load_average()
        with tempfile.TemporaryDirectory(prefix="w1-") as tmp:
            out_dir = Path(tmp) / "sweep" if spec["parquet"] else None
            finished: list[float] = []
            c0, t0 = cpu_seconds(), time.perf_counter()
            with Background() as bg:
                df = run_sweep(plan, out=out_dir, executor="thread", workers=spec["workers"], progress=False,
                               on_chunk=lambda i, frame: finished.append(time.perf_counter() - t0))
            wall = time.perf_counter() - t0
            cpu = cpu_seconds() - c0
            parquet_mib = (out_dir / "results.parquet").stat().st_size / 2**20 if out_dir else None
        assert len(df) == plan.n_rows, (len(df), plan.n_rows)
        rebel = float((df["persona"] == "rebel").mean())
        del df
        runs.append({"wall_s": wall, "cpu_s": cpu, "load_average": load, "parquet_mib": parquet_mib,
                     "rebel_share": rebel, "others_cores": bg.others_cores, "steal_cores": bg.steal_cores,
                     "chunks_finished_s": finished, "wait_quiet": quiet})
    out.update(updates=plan.updates(), rows=plan.n_rows, runs=runs, peak_rss_mib=peak_rss_mib())
    return out


def run_child(spec: dict, env: dict | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {spec} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------
# in-process, single-thread: the kernel and corpus building
# ------------------------------------------------------------------------------------
def kernel_and_corpus(repeats: int) -> dict:
    import numpy as np

    from sim import Params
    from sim.corpus import build_corpus
    from sim.learner import awareness_schedule, learner_constants, initial_state, read_corpus

    p = Params()
    awareness = np.linspace(0.0, 1.0, 101)
    schedule = awareness_schedule(awareness, p.n_batches, p)
    # warm both paths
    c = build_corpus(p.replace(n_documents=200), 0)
    constants = learner_constants(p, c.learner_real_cited_rate(p))

    from sim.learning import initial_state as learning_initial_state
    from sim.learning import learning_constants
    from sim.learning import read_corpus as learning_read_corpus

    learning = learning_constants(p)
    kernel, corpus, learning_kernel = math.inf, math.inf, math.inf
    for r in range(repeats):
        seed = np.random.SeedSequence(0, spawn_key=(15, r))  # W1's point 15 (rho = 0.15)
        t = time.process_time()
        c = build_corpus(p, seed)
        corpus = min(corpus, time.process_time() - t)
        constants = learner_constants(p, c.learner_real_cited_rate(p))
        cues = c.in_reading_order()
        read_corpus(initial_state(awareness.size, constants, schedule[:, 0]), cues, schedule, awareness, p.batch_size, constants)
        t = time.process_time()
        read_corpus(initial_state(awareness.size, constants, schedule[:, 0]), cues, schedule, awareness, p.batch_size, constants)
        kernel = min(kernel, time.process_time() - t)
        learning_read_corpus(learning_initial_state(awareness.size, learning, schedule[:, 0]), cues, schedule, awareness,
                             p.batch_size, learning)
        t = time.process_time()
        learning_read_corpus(learning_initial_state(awareness.size, learning, schedule[:, 0]), cues, schedule, awareness,
                             p.batch_size, learning)
        learning_kernel = min(learning_kernel, time.process_time() - t)
    updates = awareness.size * p.n_documents
    return {
        "kernel_cpu_ns_per_update": kernel / updates * 1e9,
        "learning_kernel_cpu_ns_per_update": learning_kernel / updates * 1e9,
        "corpus_cpu_ms": corpus * 1e3,
        "corpus_cpu_ns_per_document": corpus / p.n_documents * 1e9,
        "corpus_cpu_ns_per_update": corpus / updates * 1e9,
    }


# ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description="Workload W1: the main sweep, timed.")
    ap.add_argument("--quick", action="store_true", help="2 replicates instead of 20, one repeat of each")
    ap.add_argument("--json", metavar="OUT", help="write the figures to this JSON file")
    ap.add_argument("--repeats", type=int, default=None, help="repeats of the in-memory workers=2 run (default 3)")
    ap.add_argument("--wait-quiet", type=float, default=3.0, metavar="SECONDS",
                    help="before each timing, wait at most this long for other processes to go quiet (default 3; "
                         "0: do not wait)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="also time W1 with these parameters (repeatable; e.g. learner_model=learning), in the same "
                         "run as the default W1, and report the ratio of their wall times")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return

    replicates = 2 if args.quick else 20
    repeats = args.repeats or (1 if args.quick else 3)
    spec = {"n_documents": 10_000, "replicates": replicates, "workers": 2, "parquet": False, "repeats": repeats,
            "quiet_wait": args.wait_quiet}
    fig: dict = {"machine": machine(), "load_average_start": load_average(), "workload": {
        "grid": GRID, "replicates": replicates, "n_documents": 10_000, "seed": 0, "executor": "thread"}}
    say = lambda *a: print(*a, flush=True)  # noqa: E731
    say(f"W1{' (quick)' if args.quick else ''}: {fig['machine']['cpu_model']}, nproc {fig['machine']['nproc']}, "
        f"load {fig['load_average_start']}")

    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        cold = run_child({"warmup_only": True}, env={"NUMBA_CACHE_DIR": cache})
    warm = run_child({"warmup_only": True})
    fig["compile"] = {"cold_first_call_s": cold["first_call_s"], "warm_first_call_s": warm["first_call_s"],
                      "import_s": warm["import_s"], "rss_after_warmup_mib": warm["rss_after_warmup_mib"]}
    say(f"  first call (tiny sweep): cold numba cache {cold['first_call_s']:.2f} s (compiles), "
        f"warm cache {warm['first_call_s']:.2f} s; import sim {warm['import_s']:.2f} s")

    def best_load(res: dict) -> list:
        return min(res["runs"], key=lambda r: r["wall_s"])["load_average"]

    def summarise(name: str, res: dict) -> dict:
        best = min(res["runs"], key=lambda r: r["wall_s"])
        s = {"updates": res["updates"], "rows": res["rows"], "best_wall_s": best["wall_s"],
             "updates_per_s": res["updates"] / best["wall_s"], "cpu_s_of_best": best["cpu_s"],
             "walls_s": [r["wall_s"] for r in res["runs"]], "load_averages": [r["load_average"] for r in res["runs"]],
             "others_cores": [r["others_cores"] for r in res["runs"]],
             "others_cores_of_best": best["others_cores"], "steal_cores_of_best": best["steal_cores"],
             "peak_rss_mib": res["peak_rss_mib"], "rss_after_warmup_mib": res["rss_after_warmup_mib"],
             "rebel_share": best["rebel_share"]}
        fin = best["chunks_finished_s"]
        s["chunks"] = len(fin)
        s["tail_after_second_last_chunk_s"] = fin[-1] - fin[-2] if len(fin) > 1 else None
        s["wait_quiet_of_best"] = best["wait_quiet"]
        if best["parquet_mib"] is not None:
            s["parquet_mib"] = best["parquet_mib"]
        say(f"  {name}: best wall {s['best_wall_s']:.2f} s of {len(s['walls_s'])} "
            f"({', '.join(f'{w:.2f}' for w in s['walls_s'])}), {s['updates_per_s']:.3g} updates/s, "
            f"CPU {s['cpu_s_of_best']:.2f} s, peak RSS {s['peak_rss_mib']:.0f} MiB; load before {best_load(res)}, "
            f"other processes used {s['others_cores_of_best']:.2f} cores meanwhile; {s['chunks']} chunks, the last "
            f"finished {s['tail_after_second_last_chunk_s']:.2f} s after the one before")
        return s

    wq = args.wait_quiet
    fig["w1_memory_workers2"] = summarise("in memory, workers=2", run_child(spec))
    if args.set:
        from sim.params import PARAMETERS

        kinds = {p.name: p for p in PARAMETERS}
        settings = {}
        for item in args.set:
            name, _, value = item.partition("=")
            if name not in kinds:
                ap.error(f"--set {item}: unknown parameter {name!r}")
            settings[name] = kinds[name].parse(value)
        fig["w1_set"] = settings
        fig["w1_set_memory_workers2"] = summarise(f"with {', '.join(args.set)}, in memory, workers=2",
                                                  run_child({**spec, "set": settings}))
        fig["w1_set_wall_ratio"] = (fig["w1_set_memory_workers2"]["best_wall_s"]
                                    / fig["w1_memory_workers2"]["best_wall_s"])
        say(f"  with {', '.join(args.set)}: {fig['w1_set_wall_ratio']:.2f}x the default W1's best wall time")
    fig["w1_parquet_workers2"] = summarise("out=DIR (Parquet), workers=2", run_child({**spec, "parquet": True,
                                                                                       "repeats": 1}))
    fig["w1_memory_workers1"] = summarise("in memory, workers=1", run_child({**spec, "workers": 1, "repeats": 1}))
    fig["thread_speedup_2_over_1"] = (fig["w1_memory_workers1"]["best_wall_s"]
                                      / fig["w1_memory_workers2"]["best_wall_s"])
    say(f"  thread scaling: workers=2 is {fig['thread_speedup_2_over_1']:.2f}x workers=1")

    kc_quiet = wait_quiet(wq) if wq > 0 else None
    with Background() as bg:
        kc = kernel_and_corpus(repeats=3)
    kc["others_cores"] = bg.others_cores
    kc["wait_quiet"] = kc_quiet
    fig["single_thread"] = kc
    say(f"  kernel read_corpus (101 learners, 1 thread): {kc['kernel_cpu_ns_per_update']:.1f} CPU ns/update "
        f"(the learning learner's, sim.learning.read_corpus: {kc['learning_kernel_cpu_ns_per_update']:.1f}); "
        f"build_corpus: {kc['corpus_cpu_ms']:.2f} ms = {kc['corpus_cpu_ns_per_document']:.0f} ns/document "
        f"= {kc['corpus_cpu_ns_per_update']:.2f} ns/update; other processes {kc['others_cores']:.2f} cores")
    fig["load_average_end"] = load_average()

    m = fig["w1_memory_workers2"]
    fig["targets"] = {
        "w1_wall_s": {"target": f"<= {TARGET_WALL_S}", "measured": m["best_wall_s"],
                      "met": (m["best_wall_s"] <= TARGET_WALL_S) if not args.quick else None},
        "peak_rss_mib": {"target": f"<= {TARGET_RSS_MIB:.0f}",
                         "measured": max(m["peak_rss_mib"], fig["w1_parquet_workers2"]["peak_rss_mib"]),
                         "met": max(m["peak_rss_mib"], fig["w1_parquet_workers2"]["peak_rss_mib"]) <= TARGET_RSS_MIB},
    }
    if args.quick:
        say("  (quick run: the 6 s target applies to the full W1 only)")
    else:
        say(f"  targets: W1 wall {m['best_wall_s']:.2f} s <= {TARGET_WALL_S} s: "
            f"{'met' if fig['targets']['w1_wall_s']['met'] else 'NOT met'}; peak RSS "
            f"{fig['targets']['peak_rss_mib']['measured']:.0f} MiB <= 1024 MiB: "
            f"{'met' if fig['targets']['peak_rss_mib']['met'] else 'NOT met'}")
    say(f"  load average at the end: {fig['load_average_end']}")
    write_figures(fig, args.json, say)


if __name__ == "__main__":
    main()
