"""Speed of ``persona-sim sensitivity`` (issue 13, item 7): Sobol' with 1,024 base
samples over the 8 parameters of the default box (18,432 points), mean-field
outputs, on this machine's cores.

Two measurements, each in a fresh child process (its own peak RSS, ``os.wait4``):

- ``stages``: the stages of the analysis in one process, timed one by one: imports,
  numba's compile (or cache load) of the kernel, SALib's sampling, building the
  per-point constants (a validated ``Params`` per point and its q_r), the compiled
  kernel (thresholds and P(rebel) at every point, in parallel over points), SALib's
  analysis with bootstrap intervals (the 3 outputs, and the convergence table at
  N = 64 ... 1,024), the figures;
- ``cli``: ``persona-sim sensitivity --samples 1024 --out DIR --quiet`` end to end,
  wall time and peak RSS, with ``--workers 1`` and ``--workers 2``.

Run (from the repository root)::

    .venv/bin/python benchmarks/sensitivity.py --json benchmarks/results/sensitivity.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, load_average, machine  # noqa: E402


def stages(samples: int) -> dict:
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd

    from sim.meanfield_batch import CONSTANT_COLUMNS, _kernel, point_constants
    from sim.sensitivity import analyse, convergence, plan_sensitivity, sample
    import SALib.analyze.sobol  # noqa: F401
    import SALib.sample.sobol  # noqa: F401

    out = {"imports": time.perf_counter() - t0}
    t = time.perf_counter()
    from sim import Params

    _kernel(point_constants(Params())[None, :], 0.4, 100)
    out["compile_or_cache_load"] = time.perf_counter() - t
    plan = plan_sensitivity(samples=samples, seed=0)
    t = time.perf_counter()
    x, table = sample(plan)
    out["sample"] = time.perf_counter() - t
    t = time.perf_counter()
    names = [f.name for f in plan.factors]
    rows = [point_constants(plan.base.replace(**{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}))
            for r in table[names].to_dict("records")]
    constants = np.array(rows).reshape(-1, len(CONSTANT_COLUMNS))
    out["constants"] = time.perf_counter() - t
    t = time.perf_counter()
    raw = _kernel(constants, plan.at_awareness, 100)
    out["kernel"] = time.perf_counter() - t
    results = pd.DataFrame({"s_star_inf": raw[:, 0], "threshold_exists": raw[:, 1], "p_rebel_at": raw[:, 2]})
    t = time.perf_counter()
    indices = analyse(plan, x, results)
    out["analyse"] = time.perf_counter() - t
    t = time.perf_counter()
    conv = convergence(plan, x, results)
    out["convergence"] = time.perf_counter() - t
    t = time.perf_counter()
    from analysis.sensitivity import sensitivity_figures

    with tempfile.TemporaryDirectory() as folder:
        sensitivity_figures(Path(folder), pd.concat([table, results], axis=1), indices, conv)
    out["figures"] = time.perf_counter() - t
    out["points"] = len(table)
    out["total"] = sum(v for k, v in out.items() if k != "points")
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def _child(argv: list[str], env: dict | None = None) -> dict:
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    stdout, stderr = proc.communicate()
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {stderr.decode()[-2000:]}")
    return {"wall_s": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "stdout": stdout.decode()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--stage", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stages(args.samples)))
        return
    report = {"machine": machine(), "load_before": load_average(), "samples": args.samples}
    child = _child([sys.executable, __file__, "--stage", "--samples", str(args.samples)])
    report["stages"] = json.loads(child["stdout"])
    report["stages_process"] = {k: v for k, v in child.items() if k != "stdout"}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            run = _child([sys.executable, "-m", "sim.cli", "sensitivity", "--samples", str(args.samples),
                          "--workers", str(workers), "--out", str(Path(folder) / "s"), "--quiet"])
            manifest = json.loads((Path(folder) / "s" / "manifest.json").read_text())
        report[f"cli_workers_{workers}"] = {**{k: v for k, v in run.items() if k != "stdout"},
                                            "stages_s": manifest["seconds"], "points": manifest["n_points"]}
    report["load_after"] = load_average()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
