"""Peak memory of a large sweep's assembly and analysis: the whole table in memory, or streamed.

``persona-sim sweep`` ends with the threshold fit and the figures. Reading the whole
``results.parquet`` for them (``pd.read_parquet``: some fifty columns, every
parameter a column) costs about 1.3 GB at 101 awareness levels x 26 planted shares x
400 replicates (1.05 M rows); :func:`analysis.read_sweep` streams the file in record
batches of the columns the analysis needs into per-group counts and sums, and the
fit and the figures work on those. This script measures the peak RSS and the wall
time of either, each in a fresh child process whose resource usage is its own
(``os.wait4``: ``ru_maxrss`` of that child alone, CPU time of that child alone).

Subcommands
-----------
``cli``
    The command line end to end, as a user runs it::

        persona-sim sweep --grid situational_awareness=0:1:101 --grid planted_fraction=0:0.25:26
                          --replicates 400 --set n_documents=10000 --out DIR --quiet

    (figures too, unless ``--no-plots``; ``--replicates 1600`` for 4x the rows). It
    runs ``python -m sim.cli`` of this checkout, or of ``--checkout DIR`` (another
    checkout, put first on ``PYTHONPATH``: e.g. the code before the streaming
    analysis, for the "before" figure). The sweep's results stay in ``--out``.
``analysis``
    The analysis stage alone on an existing ``results.parquet``: in one child per
    path, read + threshold fit (``n_boot`` 200, seed 0) + figures, as the command
    line does:

    - ``stream``: ``data = read_sweep(path, swept)``, ``fit_thresholds(data)``,
      ``make_figures(data, table, out)``;
    - ``frame``: ``pd.read_parquet(path)`` and the same calls on the DataFrame
      (this code; the DataFrame is reduced to the same compact form);
    - ``old``: ``pd.read_parquet(path)``, ``fit_thresholds(df, swept=...)``,
      ``make_figures(df, table, out, swept=...)`` of the analysis package at git
      revision ``--old-ref`` (default: the commit before the streaming analysis),
      taken from this repository with ``git show`` into a temporary folder;
    - ``imports``: import what the others import and read nothing (the floor).

    ``swept`` comes from the folder's ``manifest.json`` when it is there. The parent
    then compares ``thresholds.csv`` and the PNG files of every path with those of the
    first, byte for byte.
``synth``
    A bigger ``results.parquet`` from a real one without running the sweep: each
    point's runs are written ``--times`` times in a row, replicate numbers shifted
    by the replicate count each time (and ``seed_key`` rewritten to match), in row
    groups as big as the input's first (or ``--row-group-rows``). The table has the
    schema, the row order (point by point, replicate by replicate) and the row-group
    layout of a sweep with ``--times`` times the replicates; its numbers repeat the
    input's. ``--times 1 --row-group-rows N`` rewrites a table in row groups of N
    rows (the footer's size in memory grows with the number of row groups).

Run (from the repository root)::

    .venv/bin/python benchmarks/memory.py cli --replicates 400 --out /tmp/sweep400 --json benchmarks/results/memory_cli.json
    .venv/bin/python benchmarks/memory.py synth /tmp/sweep400/results.parquet --times 4 --out /tmp/sweep1600
    .venv/bin/python benchmarks/memory.py analysis /tmp/sweep400 --paths old,stream --json benchmarks/results/memory_400.json
    .venv/bin/python benchmarks/memory.py analysis /tmp/sweep1600 --paths old,stream --json benchmarks/results/memory_1600.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, load_average, machine, wait_quiet, write_figures  # noqa: E402

GRID = ("situational_awareness=0:1:101", "planted_fraction=0:0.25:26")
TARGET_RSS_MIB = 1024.0
#: The last commit whose analysis read the whole table (pandas groupby on the DataFrame).
OLD_REF = "782abc4"
PATHS = ("imports", "old", "frame", "stream")


# ------------------------------------------------------------------------------------
# a child process, measured on its own
# ------------------------------------------------------------------------------------
def measure(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run ``argv``; its wall time, CPU time, peak RSS (of it alone) and exit code.

    ``os.wait4`` returns the resource usage of that one child (with its own waited-for
    children), unlike ``RUSAGE_CHILDREN``, which keeps the largest peak of every child
    so far."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **(env or {})},
                                cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024.0,
            "exit_code": proc.returncode, "stderr_tail": stderr[-2000:]}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------------
# child: one analysis path
# ------------------------------------------------------------------------------------
def _child(spec: dict) -> None:
    stages: dict = {}
    t0 = time.perf_counter()
    if spec.get("old_root"):
        sys.path.insert(0, spec["old_root"])  # the old analysis package shadows this one
    import pandas as pd

    import analysis
    import matplotlib.backends.backend_agg  # noqa: F401  (imported by the figures anyway)
    import seaborn  # noqa: F401

    stages["import_s"] = time.perf_counter() - t0
    stages["rss_after_import_mib"] = _rss_mib()
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    path, swept, kind = spec["results"], spec["swept"], spec["path"]
    report = {"path": kind, "analysis_module": analysis.__file__, "stages": stages}
    if kind != "imports":
        t0 = time.perf_counter()
        if kind == "stream":
            data = analysis.read_sweep(path, swept=swept)
            report["rows"] = data.n_rows
            report["compact_mib"] = data.nbytes / 2**20
            report["columns_read"] = list(data.columns_read)
        else:
            data = pd.read_parquet(path)
            report["rows"] = len(data)
        stages["read_s"] = time.perf_counter() - t0
        stages["rss_after_read_mib"] = _rss_mib()
        t0 = time.perf_counter()
        table = analysis.fit_thresholds(data, swept=swept if kind != "stream" else None, n_boot=200, seed=0)
        stages["fit_s"] = time.perf_counter() - t0
        stages["rss_after_fit_mib"] = _rss_mib()
        (out / "thresholds.csv").write_bytes(table.to_csv(index=False).encode())
        if spec["plots"]:
            t0 = time.perf_counter()
            written = analysis.make_figures(data, table, out, swept=swept if kind != "stream" else None)
            stages["figures_s"] = time.perf_counter() - t0
            stages["rss_after_figures_mib"] = _rss_mib()
            report["figures"] = [p.name for p in written]
    Path(spec["report"]).write_text(json.dumps(report))


def _old_package(ref: str, root: Path) -> Path:
    """The analysis package at git revision ``ref``, written under ``root``."""
    package = root / "analysis"
    package.mkdir(parents=True)
    for name in ("__init__.py", "thresholds.py", "figures.py"):
        text = subprocess.run(["git", "show", f"{ref}:analysis/{name}"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout
        (package / name).write_text(text)
    return root


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.suffix in (".csv", ".png")}


def analysis_stage(args: argparse.Namespace, say) -> dict:
    folder = Path(args.results)
    results = folder / "results.parquet" if folder.is_dir() else folder
    manifest = results.parent / "manifest.json"
    swept = None
    if manifest.is_file():
        swept = [n for n in json.loads(manifest.read_text()).get("swept", []) if n != "situational_awareness"]
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(results).metadata
    fig: dict = {"results": str(results), "rows": meta.num_rows, "columns": meta.num_columns,
                 "row_groups": meta.num_row_groups, "file_mib": results.stat().st_size / 2**20, "swept": swept,
                 "plots": not args.no_plots, "runs": {}}
    say(f"analysis of {results}: {meta.num_rows:,} rows x {meta.num_columns} columns, {meta.num_row_groups} row "
        f"groups, {fig['file_mib']:.0f} MiB; swept {swept}")
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        raise SystemExit(f"--paths: unknown {unknown}: allowed are {', '.join(PATHS)}")
    with tempfile.TemporaryDirectory(prefix="memory-") as tmp:
        tmp = Path(tmp)
        old_root = _old_package(args.old_ref, tmp / "old") if "old" in paths else None
        if old_root is not None:
            fig["old_ref"] = args.old_ref
        outputs = {}
        for kind in paths:
            for repeat in range(args.repeats):
                quiet = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
                out = tmp / f"{kind}-{repeat}"
                spec = {"path": kind, "results": str(results), "swept": swept, "out": str(out),
                        "report": str(tmp / f"{kind}-{repeat}.json"), "plots": not args.no_plots,
                        "old_root": str(old_root) if kind == "old" else None}
                load = load_average()
                run = measure([sys.executable, __file__, "--child", json.dumps(spec)], cwd=REPO)
                if run["exit_code"] != 0:
                    raise RuntimeError(f"{kind} failed:\n{run['stderr_tail']}")
                run.update(json.loads(Path(spec["report"]).read_text()), load_average=load, wait_quiet=quiet)
                fig["runs"].setdefault(kind, []).append(run)
                outputs.setdefault(kind, out)
                st = run["stages"]
                say(f"  {kind:8s} peak RSS {run['peak_rss_mib']:7.0f} MiB, wall {run['wall_s']:6.1f} s (import "
                    f"{st['import_s']:.1f}" + (f", read {st['read_s']:.1f}, fit {st['fit_s']:.1f}" if "read_s" in st
                                               else "")
                    + (f", figures {st['figures_s']:.1f}" if "figures_s" in st else "") + " s)"
                    + (f"; compact form {run['compact_mib']:.0f} MiB" if "compact_mib" in run else "")
                    + f"; load before {load}")
        reference = next((k for k in paths if k != "imports"), None)
        if reference is not None:
            ref = _digests(outputs[reference])
            fig["identical_to"] = reference
            fig["identical"] = {}
            for kind in paths:
                if kind in ("imports", reference):
                    continue
                mine = _digests(outputs[kind])
                same = {name: mine.get(name) == digest for name, digest in ref.items()}
                same_names = sorted(mine) == sorted(ref)
                fig["identical"][kind] = {"files": same, "same_file_names": same_names}
                say(f"  {kind} vs {reference}: " + ", ".join(f"{n} {'identical' if s else 'DIFFERENT'}"
                                                            for n, s in same.items())
                    + ("" if same_names else f" (files differ: {sorted(mine)} vs {sorted(ref)})"))
    return fig


# ------------------------------------------------------------------------------------
# the command line end to end
# ------------------------------------------------------------------------------------
def cli(args: argparse.Namespace, say) -> dict:
    out = Path(args.out)
    argv = [sys.executable, "-m", "sim.cli", "sweep"]
    for g in GRID:
        argv += ["--grid", g]
    argv += ["--replicates", str(args.replicates), "--set", "n_documents=10000", "--out", str(out), "--quiet"]
    if args.no_plots:
        argv.append("--no-plots")
    checkout = Path(args.checkout).resolve() if args.checkout else REPO
    env = {"PYTHONPATH": str(checkout) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    quiet = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    load = load_average()
    say(f"cli: {' '.join(argv[2:])} (checkout {checkout}); load {load}")
    run = measure(argv, env=env, cwd=checkout)
    if run["exit_code"] != 0:
        raise RuntimeError(f"persona-sim sweep failed:\n{run['stderr_tail']}")
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(out / "results.parquet").metadata.num_rows
    manifest = json.loads((out / "manifest.json").read_text())
    fig = {"argv": argv[2:], "checkout": str(checkout), "rows": rows, "load_average": load, "wait_quiet": quiet,
           "sweep_s": manifest.get("seconds"), **run,
           "files": sorted(p.name for p in out.iterdir() if p.is_file())}
    say(f"  {rows:,} rows: peak RSS {run['peak_rss_mib']:.0f} MiB, wall {run['wall_s']:.1f} s (the sweep itself "
        f"{fig['sweep_s']} s by the manifest), CPU {run['cpu_s']:.1f} s; wrote {', '.join(fig['files'])}")
    return fig


# ------------------------------------------------------------------------------------
# a bigger table from a real one
# ------------------------------------------------------------------------------------
def synth(args: argparse.Namespace, say) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = Path(args.results)
    source = source / "results.parquet" if source.is_dir() else source
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pf = pq.ParquetFile(source)
    meta = pf.metadata
    group_rows = args.row_group_rows or meta.row_group(0).num_rows
    # which row groups hold which points (runs are in point order, then replicate order)
    spans: dict[int, list[int]] = {}
    replicates = 0
    for g in range(meta.num_row_groups):
        t = pf.read_row_group(g, columns=["point", "replicate"])
        for p in pc.unique(t["point"]).to_pylist():
            spans.setdefault(p, []).append(g)
        replicates = max(replicates, pc.max(t["replicate"]).as_py() + 1)
    seed = pf.read_row_group(0, columns=["seed_key"])["seed_key"][0].as_py().split("/")[0]
    tmp = out / ".results.parquet.tmp"
    writer = pq.ParquetWriter(tmp, pf.schema_arrow)
    buffer: list = []
    buffered = 0
    written = 0

    def flush(final: bool) -> None:
        nonlocal buffer, buffered, written
        if not buffer:
            return
        table = pa.concat_tables(buffer)
        cut = len(table) if final else (len(table) // group_rows) * group_rows
        for start in range(0, cut, group_rows):
            writer.write_table(table.slice(start, min(group_rows, cut - start)))
        written += cut
        rest = table.slice(cut)
        buffer, buffered = ([rest], len(rest)) if len(rest) else ([], 0)

    for point in sorted(spans):
        pieces = []
        for g in spans[point]:
            t = pf.read_row_group(g)
            pieces.append(t.filter(pc.equal(t["point"], point)))
        rows = pa.concat_tables(pieces)
        for copy in range(args.times):
            rep = pc.add(rows["replicate"], pa.scalar(copy * replicates, pa.int64()))
            key = pc.binary_join_element_wise(seed, pc.cast(rows["point"], pa.string()), pc.cast(rep, pa.string()),
                                              "/")
            t = rows.set_column(rows.schema.get_field_index("replicate"), "replicate", rep)
            t = t.set_column(t.schema.get_field_index("seed_key"), "seed_key",
                             pc.cast(key, t.schema.field("seed_key").type))
            buffer.append(t)
            buffered += len(t)
            if buffered >= 8 * group_rows:
                flush(final=False)
    flush(final=True)
    writer.close()
    os.replace(tmp, out / "results.parquet")
    if (source.parent / "manifest.json").is_file():
        manifest = json.loads((source.parent / "manifest.json").read_text())
        manifest.update(replicates=replicates * args.times, n_rows=written,
                        synthesized=f"benchmarks/memory.py synth {source} --times {args.times}")
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    fig = {"source": str(source), "times": args.times, "replicates": replicates * args.times, "rows": written,
           "row_groups": pq.ParquetFile(out / "results.parquet").metadata.num_row_groups,
           "file_mib": (out / "results.parquet").stat().st_size / 2**20}
    say(f"synth: {written:,} rows ({args.times} x {meta.num_rows:,}), {replicates * args.times} replicates, "
        f"{fig['row_groups']} row groups, {fig['file_mib']:.0f} MiB -> {out / 'results.parquet'}")
    return fig


# ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description="Peak memory of a large sweep's analysis: whole table or streamed.")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="command")
    c = sub.add_parser("cli", help="persona-sim sweep end to end (101 x 26 x R at 10,000 documents)")
    c.add_argument("--replicates", type=int, default=400, help="replicates (default 400: 1.05 M rows; 1600: 4x)")
    c.add_argument("--out", required=True, metavar="DIR", help="the sweep's folder (kept)")
    c.add_argument("--checkout", metavar="DIR", help="run the persona-sim of this checkout (default: this one)")
    a = sub.add_parser("analysis", help="the analysis stage alone on an existing results.parquet")
    a.add_argument("results", metavar="PATH", help="results.parquet or its sweep folder")
    a.add_argument("--paths", default="imports,old,stream", help=f"comma-separated among {', '.join(PATHS)} "
                                                                  "(default imports,old,stream)")
    a.add_argument("--old-ref", default=OLD_REF, help=f"git revision of the old analysis (default {OLD_REF})")
    a.add_argument("--repeats", type=int, default=1, help="runs of each path (default 1)")
    s = sub.add_parser("synth", help="a results.parquet with TIMES x the replicates, from a real one")
    s.add_argument("results", metavar="PATH", help="results.parquet or its sweep folder")
    s.add_argument("--times", type=int, default=4)
    s.add_argument("--row-group-rows", type=int, metavar="N",
                   help="rows per row group (default: as many as the input's first row group)")
    s.add_argument("--out", required=True, metavar="DIR")
    for p in (c, a):
        p.add_argument("--no-plots", action="store_true", help="no figures")
        p.add_argument("--wait-quiet", type=float, default=3.0, metavar="SECONDS",
                       help="wait at most this long for other processes to go quiet before each run (default 3)")
    for p in (c, a, s):
        p.add_argument("--json", metavar="OUT", help="write the figures to this JSON file")
    args = ap.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    if args.command is None:
        ap.error("a subcommand is needed: cli, analysis or synth")
    say = lambda *x: print(*x, flush=True)  # noqa: E731
    fig: dict = {"machine": machine(), "load_average_start": load_average(), "command": args.command}
    if args.command == "cli":
        fig["cli"] = cli(args, say)
        peak = fig["cli"]["peak_rss_mib"]
    elif args.command == "analysis":
        fig["analysis"] = analysis_stage(args, say)
        peak = max((r["peak_rss_mib"] for r in fig["analysis"]["runs"].get("stream", [])), default=None)
    else:
        fig["synth"] = synth(args, say)
        peak = None
    if peak is not None:
        fig["target"] = {"peak_rss_mib": f"<= {TARGET_RSS_MIB:.0f}", "measured": peak, "met": peak <= TARGET_RSS_MIB}
        say(f"  peak RSS {peak:.0f} MiB <= {TARGET_RSS_MIB:.0f} MiB: {'met' if peak <= TARGET_RSS_MIB else 'NOT met'}")
    fig["load_average_end"] = load_average()
    write_figures(fig, args.json, say)


if __name__ == "__main__":
    main()
