"""Workload W2 (issue 18 item 1): reacting labs and generations, timed against static labs.

W2 = lab_policy {static, double_down, come_clean} x situational_awareness 101 levels
(0..1) x planted_fraction {0.1, 0.15, 0.25} x 20 replicates, 10,000 documents, run as

    run_sweep(plan_sweep(Params(generations=G), grid={"lab_policy": "static,double_down,come_clean",
                                                    "situational_awareness": "0:1:101",
                                                    "planted_fraction": "0.1,0.15,0.25"},
                         replicates=20, seed=0),
              executor="thread", workers=2, progress=False)

with G = 1 and G = 4. In the same run of this script, the same grid with every lab
static ("all static": lab_policy=static, three times the replicates, so that it has as
many learner-runs as W2) with G = 1. Issue 18's targets: W2 with G = 1 within 3x the
wall time of all static, and W2 with G = 4 within 3x four times all static's; peak RSS
under 1 GiB.

Each configuration runs in a fresh child process (its peak RSS is its own); the child
first warms numba's cache with a tiny sweep of the same parameters (a reacting lab and
generations included, so the Mesa driver is imported and its code compiled before the
clock starts). A static lab in one generation runs on the batched engine
(``sim.engine``); a reacting lab or G > 1 gives every learner a Mesa run of its own
(``sim.simulation.run_replicate``), which is what W2 measures.

``--profile`` also runs one reacting-lab chunk under cProfile in this process and prints
where its time goes (the Mesa steps, the lab's reaction, corpus republishing).

Sizes: the full W2 (101 levels, 20 replicates) takes many minutes with a reacting lab
on a 2-core machine; ``--levels`` and ``--replicates`` shrink it (``--quick``: 11 levels,
2 replicates). The figures name the size they were measured at.

Run:  .venv/bin/python benchmarks/w2.py [--quick | --levels 21 --replicates 4] [--profile] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Background, cpu_seconds, load_average, machine, peak_rss_mib, profiled_sweep, wait_quiet, write_figures  # noqa: E402

POLICIES = "static,double_down,come_clean"
PLANTED = "0.1,0.15,0.25"
TARGET_RATIO = 3.0
TARGET_RSS_MIB = 1024.0


def grid(levels: int, policies: str = POLICIES) -> dict[str, str]:
    return {"lab_policy": policies, "situational_awareness": f"0:1:{levels}", "planted_fraction": PLANTED}


# ------------------------------------------------------------------------------------
# child: one configuration, timed in its own process
# ------------------------------------------------------------------------------------
def _child(spec: dict) -> dict:
    t0 = time.perf_counter()
    from sim import Params
    from sim.sweeps import plan_sweep, run_sweep

    import_s = time.perf_counter() - t0
    params = Params(n_documents=spec["n_documents"], generations=spec["generations"])
    t0 = time.perf_counter()
    # warm-up: the same kinds of run, tiny (numba's cache, the Mesa driver's imports)
    run_sweep(plan_sweep(params.replace(n_documents=200), grid=grid(2, spec["policies"]), replicates=1, seed=0),
              executor="serial", progress=False)
    warmup_s = time.perf_counter() - t0
    plan = plan_sweep(params, grid=grid(spec["levels"], spec["policies"]), replicates=spec["replicates"], seed=0)
    quiet = wait_quiet(spec["quiet_wait"]) if spec.get("quiet_wait") else None
    load = load_average()
    c0, t0 = cpu_seconds(), time.perf_counter()
    with Background() as bg:
        df = run_sweep(plan, executor="thread", workers=spec["workers"], progress=False)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    assert len(df) == plan.n_rows, (len(df), plan.n_rows)
    return {"import_s": import_s, "warmup_s": warmup_s, "wall_s": wall, "cpu_s": cpu, "rows": plan.n_rows,
            "runs": len(plan.points) * plan.replicates, "learner_runs": plan.n_rows,
            "updates": plan.updates(), "load_average": load, "others_cores": bg.others_cores,
            "wait_quiet": quiet, "peak_rss_mib": peak_rss_mib(),
            "rebel_share": float((df["persona"] == "rebel").mean())}


def run_child(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          env=os.environ.copy())
    if proc.returncode != 0:
        raise RuntimeError(f"child {spec} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------
# the profile of a reacting lab's runs
# ------------------------------------------------------------------------------------
def profile(levels: int, replicates: int, generations: int, top: int = 22) -> dict:
    """cProfile of the double_down part of W2 at this size, serial, in this process."""
    import io
    import pstats

    from sim import Params
    from sim.sweeps import plan_sweep, run_sweep

    params = Params(generations=generations)
    g = {"lab_policy": "double_down", "situational_awareness": f"0:1:{levels}", "planted_fraction": PLANTED}
    run_sweep(plan_sweep(params.replace(n_documents=200), grid=g, replicates=1), executor="serial", progress=False)
    plan = plan_sweep(params, grid=g, replicates=replicates, seed=0)
    prof, wall = profiled_sweep(plan)
    stats = pstats.Stats(prof)
    total = stats.total_tt
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    # the named stages' cumulative share of the profiled time
    named = {}
    for (path, _, name), (_, _, _, cum, _) in stats.stats.items():
        short = f"{Path(path).parent.name}/{Path(path).name}:{name}"
        # the sweeps' driver of reacting labs and generations (sim.engine.run_lineages) and its stages
        for key in ("sim/engine.py:run_lineages", "sim/engine.py:_read_batches", "sim/engine.py:_evaluate",
                    "sim/engine.py:_start_generation", "sim/corpus.py:write_documents", "sim/labs.py:react",
                    "sim/learners.py:read_corpus_for", "sim/engine.py:_columns"):
            if short == key:
                named[key] = max(named.get(key, 0.0), cum)
    return {"levels": levels, "replicates": replicates, "generations": generations, "learner_runs": plan.n_rows,
            "wall_s": wall, "profiled_s": total, "ms_per_learner_run": wall / plan.n_rows * 1e3,
            "cumulative_s": named, "text": out.getvalue()}


# ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="11 awareness levels and 2 replicates")
    ap.add_argument("--levels", type=int, default=None, help="awareness levels (default 101; --quick 11)")
    ap.add_argument("--replicates", type=int, default=None, help="replicates (default 20; --quick 2)")
    ap.add_argument("--n-documents", type=int, default=10_000, help="documents per corpus (default 10,000)")
    ap.add_argument("--workers", type=int, default=2, help="threads of the sweep (default 2)")
    ap.add_argument("--no-four", action="store_true", help="leave out W2 with four generations")
    ap.add_argument("--profile", action="store_true", help="also profile the double_down runs (serial, cProfile)")
    ap.add_argument("--wait-quiet", type=float, default=3.0, metavar="SECONDS",
                    help="before each timing wait at most this long for other processes to go quiet (0: do not)")
    ap.add_argument("--json", metavar="OUT", help="write the figures to this JSON file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    levels = args.levels or (11 if args.quick else 101)
    replicates = args.replicates or (2 if args.quick else 20)
    if levels < 2 or replicates < 1 or args.workers < 1:
        ap.error("--levels must be at least 2, --replicates and --workers at least 1")
    say = lambda *a: print(*a, flush=True)  # noqa: E731
    fig: dict = {"machine": machine(), "load_average_start": load_average(), "workload": {
        "grid": grid(levels), "replicates": replicates, "n_documents": args.n_documents, "seed": 0,
        "executor": "thread", "workers": args.workers, "full_size": levels == 101 and replicates == 20}}
    say(f"W2 at {levels} awareness levels x {replicates} replicates x 3 policies x 3 planted shares, "
        f"{args.n_documents} documents; {fig['machine']['cpu_model']}, nproc {fig['machine']['nproc']}, "
        f"load {fig['load_average_start']}")
    base = {"levels": levels, "replicates": replicates, "n_documents": args.n_documents, "workers": args.workers,
            "quiet_wait": args.wait_quiet}
    configs = {"all_static_g1": {**base, "policies": "static", "replicates": 3 * replicates, "generations": 1},
               "w2_g1": {**base, "policies": POLICIES, "generations": 1}}
    if not args.no_four:
        configs["w2_g4"] = {**base, "policies": POLICIES, "generations": 4}
    for name, spec in configs.items():
        res = run_child(spec)
        fig[name] = res
        say(f"  {name:14s} wall {res['wall_s']:8.2f} s  CPU {res['cpu_s']:8.2f} s  {res['learner_runs']} learner-runs "
            f"({res['wall_s'] / res['learner_runs'] * 1e3:.2f} ms each)  peak RSS {res['peak_rss_mib']:.0f} MiB  "
            f"load {res['load_average']}, others {res['others_cores']:.2f} cores")
    static = fig["all_static_g1"]["wall_s"]
    fig["ratio_g1"] = fig["w2_g1"]["wall_s"] / static
    say(f"  W2 (G=1) / all static: {fig['ratio_g1']:.1f}x (target <= {TARGET_RATIO:.0f}x)")
    if "w2_g4" in fig:
        fig["ratio_g4"] = fig["w2_g4"]["wall_s"] / (4 * static)
        say(f"  W2 (G=4) / (4 x all static): {fig['ratio_g4']:.1f}x (target <= {TARGET_RATIO:.0f}x)")
    peak = max(fig[k]["peak_rss_mib"] for k in configs)
    fig["targets"] = {"ratio_g1": {"target": f"<= {TARGET_RATIO}", "measured": fig["ratio_g1"],
                                   "met": fig["ratio_g1"] <= TARGET_RATIO},
                      "peak_rss_mib": {"target": f"<= {TARGET_RSS_MIB:.0f}", "measured": peak,
                                       "met": peak <= TARGET_RSS_MIB}}
    if "ratio_g4" in fig:
        fig["targets"]["ratio_g4"] = {"target": f"<= {TARGET_RATIO}", "measured": fig["ratio_g4"],
                                      "met": fig["ratio_g4"] <= TARGET_RATIO}
    say(f"  peak RSS {peak:.0f} MiB (target <= {TARGET_RSS_MIB:.0f})")
    if args.profile:
        for generations in (1, 4) if not args.no_four else (1,):
            p = profile(levels, replicates, generations)
            fig[f"profile_double_down_g{generations}"] = {k: v for k, v in p.items() if k != "text"}
            say(f"\n  profile, double_down only, G={generations}, serial: {p['wall_s']:.2f} s for "
                f"{p['learner_runs']} learner-runs ({p['ms_per_learner_run']:.1f} ms each); cumulative:")
            for key, cum in sorted(p["cumulative_s"].items(), key=lambda kv: -kv[1]):
                say(f"    {key:40s} {cum:7.2f} s  ({cum / p['profiled_s'] * 100:5.1f}% of the profiled time)")
            say(p["text"])
    fig["load_average_end"] = load_average()
    say(f"  load average at the end: {fig['load_average_end']}")
    write_figures(fig, args.json, say)


if __name__ == "__main__":
    main()
