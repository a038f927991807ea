"""W1 at two commits, timed in alternation: is a change slower than what it replaced?

A restructuring promises "no slower". On a shared virtual machine the speed drifts by
more than a few per cent from minute to minute, so timing one commit and then the
other measures the drift as much as the change. This script checks both commits out
(``git worktree``, in a temporary folder), and then, round after round, times W1 in
memory (the sweep of benchmarks/w1.py: 101 x 26 x 20 at 10,000 documents, threads,
workers=2) once at each commit, in a fresh child process each, the order of the two
alternating from round to round. Each child warms its own numba cache with a tiny
sweep first, so compiling is not timed. Reported per commit: every wall time, the
best and the median; and the ratio of the medians and of the bests (second / first).

Run:  .venv/bin/python benchmarks/compare.py BEFORE AFTER [--rounds 5] [--quick]
e.g.  .venv/bin/python benchmarks/compare.py 782abc4 HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_average, machine, others_cores, timing_options, wait_quiet, write_figures  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
GRID = {"situational_awareness": "0:1:101", "planted_fraction": "0:0.25:26"}

_CHILD = """
import json, sys, time
from sim import Params
from sim.sweeps import plan_sweep, run_sweep
replicates = int(sys.argv[1])
run_sweep(plan_sweep(Params(n_documents=500), grid={"situational_awareness": "0:1:3"}, replicates=2, seed=0),
          executor="thread", workers=2, progress=False)  # warm the compile cache
plan = plan_sweep(Params(), grid=%r, replicates=replicates, seed=0)
t0 = time.perf_counter()
table = run_sweep(plan, executor="thread", workers=2, progress=False)
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "rows": len(table)}))
""" % GRID


def _checkout(rev: str, into: Path) -> tuple[str, Path]:
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    path = into / sha[:12]
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(path), sha],
                   check=True, capture_output=True)
    return sha, path


def _time(tree: Path, replicates: int, cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(cache)}
    before = others_cores(0.5)
    done = subprocess.run([sys.executable, "-c", _CHILD, str(replicates)], cwd=tree, env=env,
                          check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["others_cores_before"] = round(before, 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", help="the commit the change replaced (any git revision)")
    ap.add_argument("after", help="the commit with the change (any git revision)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, one timing of each commit per round (default 5)")
    timing_options(ap)
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    replicates = 2 if args.quick else 20
    walls: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="persona-compare-") as tmp:
        trees = [_checkout(rev, Path(tmp)) for rev in (args.before, args.after)]
        try:
            for r in range(args.rounds):
                order = trees if r % 2 == 0 else trees[::-1]
                for sha, tree in order:
                    quiet = wait_quiet(args.wait_quiet)
                    t = _time(tree, replicates, Path(tmp) / f"cache-{sha[:12]}")
                    walls.setdefault(sha, []).append(t["wall_s"])
                    print(f"round {r + 1}: {sha[:9]} {t['wall_s']:.3f} s ({t['rows']} rows; other processes "
                          f"{quiet['others_cores']} cores before the wait, {t['others_cores_before']} after)",
                          flush=True)
        finally:
            for _, tree in trees:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
    (a, _), (b, _) = trees
    summary = {
        sha[:9]: {"walls_s": [round(w, 3) for w in walls[sha]], "best_s": round(min(walls[sha]), 3),
                  "median_s": round(statistics.median(walls[sha]), 3)}
        for sha in (a, b)
    }
    ratio_median = statistics.median(walls[b]) / statistics.median(walls[a])
    ratio_best = min(walls[b]) / min(walls[a])
    print(f"{args.before} ({a[:9]}): best {summary[a[:9]]['best_s']} s, median {summary[a[:9]]['median_s']} s")
    print(f"{args.after} ({b[:9]}): best {summary[b[:9]]['best_s']} s, median {summary[b[:9]]['median_s']} s")
    print(f"after / before: median {ratio_median:.3f}, best {ratio_best:.3f}; load average {load_average()}")
    write_figures({"machine": machine(), "replicates": replicates, "rounds": args.rounds, "commits": summary,
                   "ratio_median": round(ratio_median, 4), "ratio_best": round(ratio_best, 4),
                   "finished": time.strftime("%Y-%m-%d %H:%M:%S")}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
