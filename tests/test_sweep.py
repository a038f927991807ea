"""Sweeps: the batched engine, seeds by position, executors, streaming output and resume."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sim.sweeps as sweep_module
from sim import PARAMETERS, Params, ParameterError, simulate
from sim.sweeps import RESULT_COLUMNS, parse_grid, plan_sweep, run_sweep

from small_runs import Interrupted, stop_after_chunks

SMALL = Params(n_documents=1500, batch_size=50)
GRID = {"situational_awareness": "0.3:0.9:4", "planted_fraction": [0.1, 0.25]}


def small_plan(**kw):
    return plan_sweep(SMALL, grid=kw.pop("grid", GRID), replicates=kw.pop("replicates", 3), seed=kw.pop("seed", 11), **kw)


@pytest.fixture(scope="module")
def reference_table():
    """The small sweep, run serially in memory: the table every other way must equal."""
    return run_sweep(small_plan(), executor="serial", progress=False)


def test_table_is_tidy_with_every_parameter_and_result(reference_table):
    """One row per (point, replicate, awareness), with every parameter, the seed key, q_r and the results."""
    df = reference_table
    assert list(df.columns) == list(RESULT_COLUMNS)
    assert len(df) == 2 * 3 * 4
    assert {p.name for p in PARAMETERS} <= set(df.columns)
    assert not df.duplicated(["point", "replicate", "situational_awareness"]).any()
    assert set(df["seed_key"]) == {f"11/{i}/{r}" for i in range(2) for r in range(3)}
    assert df["real_cited_rate"].between(0, 1).all()
    assert set(df["persona"]) <= {"aligned", "neutral", "rebel"}
    assert sorted(df["planted_fraction"].unique()) == [0.1, 0.25]


def test_engine_rows_equal_the_mesa_model_for_the_same_seed(reference_table):
    """Each sweep row equals the Mesa model's result for SeedSequence(seed, (point, replicate)), bit for bit."""
    plan = small_plan()
    for point, replicate in [(0, 0), (1, 2)]:
        params = plan.params(point)
        mesa = simulate(params, list(plan.awareness[point]),
                        seed=np.random.SeedSequence(11, spawn_key=(point, replicate)))
        rows = reference_table[(reference_table.point == point) & (reference_table.replicate == replicate)]
        for column in ["log_odds", "uplift", "believed_planted_share", "p_deceptive"]:
            assert np.array_equal(rows[column].to_numpy(), mesa.final[column].to_numpy()), column
        assert np.array_equal(rows["emergence_document"].to_numpy(), mesa.final["emergence_document"].to_numpy(),
                              equal_nan=True)
        assert rows["persona"].tolist() == mesa.final["persona"].tolist()
        assert rows["real_cited_rate"].iloc[0] == mesa.real_cited_rate


def test_awareness_levels_of_a_replicate_share_one_corpus(reference_table):
    """All awareness levels of one (point, replicate) read the same corpus (common random numbers)."""
    q = reference_table.groupby(["point", "replicate"])["real_cited_rate"].nunique()
    assert (q == 1).all()


@pytest.mark.parametrize("executor,workers", [("serial", 1), ("thread", 1), ("thread", 2), ("process", 2)])
def test_same_table_whatever_the_executor_and_workers(reference_table, executor, workers):
    """Serial, threads and processes with 1 or 2 workers give the identical table."""
    df = run_sweep(small_plan(), executor=executor, workers=workers, progress=False)
    pd.testing.assert_frame_equal(df, reference_table)


def test_a_reacting_lab_whose_model_hides_gives_one_table_whatever_the_executor():
    """Concealment draws from each run's own stream: serial, threads and processes agree."""
    plan = plan_sweep(SMALL.replace(lab_policy="come_clean"), grid={"situational_awareness": "0.6:1:3",
                                                                   "concealment": [0.0, 1.0]}, replicates=2, seed=5)
    serial = run_sweep(plan, executor="serial", progress=False)
    for executor in ("thread", "process"):
        pd.testing.assert_frame_equal(run_sweep(plan, executor=executor, workers=2, progress=False), serial)
    assert serial["undetected_rebel"].dtype == bool


def test_same_table_whatever_the_chunking(reference_table, monkeypatch):
    """Chunks of one run each (and any completion order) give the identical table."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    plan = small_plan()
    assert len(sweep_module._chunks(plan, sweep_module._tasks(plan))) == plan.n_runs
    df = run_sweep(plan, executor="thread", workers=2, progress=False)
    pd.testing.assert_frame_equal(df, reference_table)


def test_same_table_on_a_dask_cluster(reference_table, tmp_path):
    """A LocalCluster on 127.0.0.1 gives the identical table (chunks sent as Dask tasks)."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        df = run_sweep(small_plan(), out=tmp_path / "dask", executor="dask", scheduler=cluster.scheduler_address,
                       workers=2, progress=False)
    pd.testing.assert_frame_equal(df, reference_table)


def test_different_seeds_give_different_tables(reference_table):
    """Another root seed changes the numbers."""
    other = run_sweep(small_plan(seed=12), executor="serial", progress=False)
    assert not np.array_equal(other["log_odds"].to_numpy(), reference_table["log_odds"].to_numpy())


def test_writes_results_and_manifest(tmp_path, reference_table):
    """results.parquet holds the table, manifest.json the plan; no parts or temporary files remain."""
    out = tmp_path / "sweep"
    df = run_sweep(small_plan(), out=out, progress=False, command="persona-sim sweep test")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), reference_table)
    pd.testing.assert_frame_equal(df, reference_table)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert manifest["seed"] == 11 and manifest["replicates"] == 3
    assert manifest["grid"]["planted_fraction"] == [0.1, 0.25]
    assert manifest["swept"] == ["planted_fraction", "situational_awareness"]
    assert manifest["command"] == "persona-sim sweep test"
    assert manifest["package_version"]
    assert sorted(p.name for p in out.iterdir()) == [".persona-sim.lock", "manifest.json", "results.parquet"]
    assert manifest["kind"] == "sweep" and manifest["files"] == ["results.parquet"]



def test_resume_after_a_kill_gives_the_uninterrupted_table(tmp_path, monkeypatch, reference_table):
    """A sweep stopped after two chunks, resumed, equals the uninterrupted table and reruns nothing kept."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    out = tmp_path / "sweep"

    stop_after_two = stop_after_chunks(out, 2)

    with pytest.raises(Interrupted):
        run_sweep(small_plan(), out=out, executor="serial", progress=False, on_chunk=stop_after_two)
    kept = sorted(p.name for p in (out / "parts").glob("chunk-*.parquet"))
    assert len(kept) == 2 and not (out / "results.parquet").exists()
    (out / "parts" / ".chunk-000005.parquet.tmp").write_bytes(b"torn")  # what a kill mid-write leaves

    ran = []
    df = run_sweep(small_plan(), out=out, executor="serial", resume=True, progress=False,
                   on_chunk=lambda i, frame: ran.append(i))
    pd.testing.assert_frame_equal(df, reference_table)
    assert sorted(ran) == [i for i in range(small_plan().n_runs) if f"chunk-{i:06d}.parquet" not in kept]
    assert not (out / "parts").exists()


def test_resume_of_a_complete_sweep_runs_nothing(tmp_path, reference_table):
    """Resuming a finished sweep returns its table without running a chunk."""
    out = tmp_path / "sweep"
    run_sweep(small_plan(), out=out, progress=False)
    ran = []
    df = run_sweep(small_plan(), out=out, resume=True, progress=False, on_chunk=lambda i, f: ran.append(i))
    assert ran == []
    pd.testing.assert_frame_equal(df, reference_table)


def test_resume_refuses_a_different_sweep(tmp_path):
    """--resume into a folder holding another sweep is an error, and the folder is left alone."""
    out = tmp_path / "sweep"
    run_sweep(small_plan(), out=out, progress=False)
    before = (out / "results.parquet").read_bytes()
    with pytest.raises(ParameterError, match="different sweep"):
        run_sweep(small_plan(replicates=4), out=out, resume=True, progress=False)
    with pytest.raises(ParameterError, match="no sweep to resume"):
        run_sweep(small_plan(), out=tmp_path / "empty", resume=True, progress=False)
    assert (out / "results.parquet").read_bytes() == before


def test_progress_bar_on_stderr_and_silent_when_quiet(capsys):
    """A tqdm bar with a rate and ETA goes to stderr; progress=False prints nothing."""
    run_sweep(small_plan(), progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "run" in captured.err and "6/6" in captured.err
    run_sweep(small_plan(), progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_grid_parsing():
    """START:STOP:COUNT includes both ends; lists are validated against the parameter's bounds."""
    assert parse_grid("situational_awareness=0:1:5") == ("situational_awareness", [0.0, 0.25, 0.5, 0.75, 1.0])
    assert parse_grid("citations_per_document=1,3") == ("citations_per_document", [1, 3])
    for bad, named in [("planted_fraction=0:2:3", "planted_fraction"), ("nosuch=1,2", "nosuch"),
                       ("planted_fraction=0:1", "START:STOP:COUNT"), ("n_documents=1.5,2", "n_documents"),
                       ("planted_fraction", "NAME=")]:
        with pytest.raises(ParameterError, match=named):
            parse_grid(bad)


def test_every_point_is_validated_before_running():
    """A grid point that breaks a joint rule (planted + disclosed > 1) is refused up front."""
    with pytest.raises(ParameterError, match="point"):
        plan_sweep(Params(disclosed_fraction=0.5), grid={"planted_fraction": [0.2, 0.7]})


@pytest.mark.parametrize("kind,n", [("lhs", 10), ("sobol", 8)])
def test_sampled_points_lie_in_bounds_and_are_reproducible(kind, n):
    """LHS and Sobol points (scipy.stats.qmc) stay in their bounds and depend only on the seed."""
    bounds = {"planted_fraction": (0.05, 0.3), "n_documents": (500, 2000)}
    a = plan_sweep(SMALL, grid={"situational_awareness": [0.5, 0.9]}, sample=kind, points=n, bounds=bounds, seed=3)
    b = plan_sweep(SMALL, grid={"situational_awareness": [0.5, 0.9]}, sample=kind, points=n, bounds=bounds, seed=3)
    c = plan_sweep(SMALL, grid={"situational_awareness": [0.5, 0.9]}, sample=kind, points=n, bounds=bounds, seed=4)
    assert a.points == b.points and a.points != c.points
    assert len(a.points) == n
    rho = np.array([p["planted_fraction"] for p in a.points])
    docs = np.array([p["n_documents"] for p in a.points])
    assert ((rho >= 0.05) & (rho <= 0.3)).all() and ((docs >= 500) & (docs <= 2000)).all()
    assert all(isinstance(d, int) for d in docs.tolist())
    if kind == "lhs":  # one point in each of the n strata of every dimension
        assert sorted(np.floor((rho - 0.05) / 0.25 * n).astype(int).tolist()) == list(range(n))


def test_sampled_awareness_gives_one_learner_per_point():
    """Sampling situational_awareness makes it a per-point value, not a family."""
    plan = plan_sweep(SMALL, sample="lhs", points=5, bounds={"situational_awareness": (0.2, 0.8)})
    assert all(len(a) == 1 for a in plan.awareness)
    assert len({a[0] for a in plan.awareness}) == 5


def test_sampling_settings_are_checked():
    """Sobol wants a power of 2, sampling wants bounds, and bounds want sampling."""
    with pytest.raises(ParameterError, match="power of 2"):
        plan_sweep(SMALL, sample="sobol", points=10, bounds={"planted_fraction": (0.1, 0.2)})
    with pytest.raises(ParameterError, match="bounds"):
        plan_sweep(SMALL, sample="lhs", points=10)
    with pytest.raises(ParameterError, match="--sample"):
        plan_sweep(SMALL, bounds={"planted_fraction": (0.1, 0.2)})
    with pytest.raises(ParameterError, match="planted_fraction"):
        plan_sweep(SMALL, sample="lhs", points=4, bounds={"planted_fraction": (0.1, 1.5)})


def test_memory_stays_bounded_on_a_long_sweep(tmp_path):
    """A sweep of 400 runs streams to disk with a peak RSS far below 1 GiB."""
    code = (
        "import resource, sys\n"
        "from sim import Params\n"
        "from sim.sweeps import plan_sweep, run_sweep\n"
        "plan = plan_sweep(Params(n_documents=2000), grid={'situational_awareness': '0:1:51',"
        " 'planted_fraction': '0:0.3:20'}, replicates=20)\n"
        f"run_sweep(plan, out=r'{tmp_path / 'big'}', workers=2, progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    peak_kib = int(proc.stdout.strip().splitlines()[-1])
    assert peak_kib < 1024 * 1024
    assert len(pd.read_parquet(tmp_path / "big" / "results.parquet")) == 51 * 20 * 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
