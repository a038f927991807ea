"""Faults: what the tool promises when things go wrong (README, "Guarantees").

Concurrent writers, kills mid-sweep with every executor, corrupt and short parts,
folders that hold something else, and the bad inputs of the reliability audit: each
ends with one line and an exit code, loses nothing and leaves nothing half-written.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

import sim.sweeps as sweep_module
from sim import Params, ParameterError
from sim.cli import main
from sim.sweeps import plan_sweep, run_sweep

CLI = [sys.executable, "-m", "sim.cli"]

# A sweep of about a dozen chunks that takes seconds: long enough to be killed mid-way.
LONG = ["sweep", "--set", "n_documents=5000", "--grid", "situational_awareness=0:1:51",
        "--grid", "planted_fraction=0.15,0.25", "--replicates", "500", "--seed", "3", "--no-plots", "--quiet"]
LONG_PLAN = dict(grid={"situational_awareness": "0:1:51", "planted_fraction": [0.15, 0.25]}, replicates=500, seed=3)

# A small sweep for the folder rules.
SMALL = ["sweep", "--set", "n_documents=1000", "--grid", "situational_awareness=0.3:0.9:4", "--replicates", "2",
         "--no-plots", "--quiet"]


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def one_line_error(capsys, code: int, named: str | None = None) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("persona-sim: error: "), err
    assert "Traceback" not in err
    if named is not None:
        assert named in err, err
    return err


@pytest.fixture(scope="module")
def long_reference():
    """The long sweep's table, uninterrupted (threads, in memory)."""
    return run_sweep(plan_sweep(Params(n_documents=5000), **LONG_PLAN), progress=False)


#: The command line with Ctrl-C's default restored: a shell starts a background job (``cmd &``)
#: with SIGINT ignored, its children inherit that, and a Python started so never raises
#: KeyboardInterrupt (as it should: a background job is not interrupted by Ctrl-C). The
#: signal tests send SIGINT as a terminal's Ctrl-C would, so their child starts with the
#: default handler whatever started the tests (seen: `bash .ci/run &`).
INTERRUPTIBLE_CLI = [sys.executable, "-c",
                     "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                     "sys.argv[0] = 'persona-sim'; runpy.run_module('sim.cli', run_name='__main__')"]


def start(args, cwd=None) -> subprocess.Popen:
    return subprocess.Popen([*INTERRUPTIBLE_CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd)


def wait_for_parts(folder: Path, proc: subprocess.Popen, n: int = 1, timeout: float = 120) -> None:
    """Until ``n`` chunk parts (with their records) are on disk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list(folder.glob("**/parts/chunk-*.sha256"))) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended before writing a part: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("no part written in time")


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def assert_gone(processes: list[psutil.Process], within: float = 10.0) -> None:
    """Every one of ``processes`` has ended (or is a zombie awaiting its reaper) within ``within`` s."""
    _, alive = psutil.wait_procs(processes, timeout=within)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"still running after {within} s: {[(p.pid, p.cmdline()) for p in alive]}"


# -- one writer per folder ---------------------------------------------------------------
def test_a_second_writer_is_refused_at_once_naming_the_folder_and_the_holder(tmp_path, capsys):
    """Sweep B into the folder sweep A is writing: one line naming the folder and A's process; A is untouched."""
    out = tmp_path / "ci"
    a = start([*LONG, "--executor", "serial", "--out", str(out)])
    try:
        wait_for_parts(out, a)
        code = main([*SMALL, "--seed", "1", "--out", str(out)])
        err = one_line_error(capsys, code, str(out))
        assert f"pid {a.pid}" in err and "in use" in err
    finally:
        a.send_signal(signal.SIGTERM)
        a.wait(60)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["replicates"] == 500


def test_a_stale_lock_from_a_killed_sweep_does_not_block_resume(tmp_path, long_reference):
    """SIGKILL leaves the lock file; the kernel released its lock, so --resume runs and gives the whole table."""
    out = tmp_path / "k"
    a = start([*LONG, "--executor", "serial", "--out", str(out)])
    wait_for_parts(out, a)
    a.kill()
    a.wait(30)
    assert (out / ".persona-sim.lock").exists()
    done = subprocess.run([*CLI, *LONG, "--out", str(out), "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), long_reference)


# -- a command never deletes what it did not write ----------------------------------------
def test_a_folder_holding_a_users_file_is_refused_and_the_file_kept(tmp_path, capsys):
    """A folder with anything persona-sim did not write is refused, with or without --overwrite."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    for extra in ([], ["--overwrite"]):
        one_line_error(capsys, main([*SMALL, "--out", str(out), *extra]), "notes.txt")
        one_line_error(capsys, main(["run", "--set", "n_documents=500", "--out", str(out), *extra]), "notes.txt")
    assert visible(out) == ["notes.txt"] and (out / "notes.txt").read_text() == "keep me"


def test_a_users_file_in_parts_survives_resume_and_blocks_overwrite(tmp_path, capsys, monkeypatch):
    """parts/important.txt in an unfinished sweep: --overwrite is refused, --resume finishes and keeps the file."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    out = tmp_path / "s"

    class Stop(Exception):
        pass

    def stop(i, frame):
        raise Stop

    plan = plan_sweep(Params(n_documents=1000), grid={"situational_awareness": "0.3:0.9:4"}, replicates=3, seed=2)
    with pytest.raises(Stop):
        run_sweep(plan, out=out, executor="serial", progress=False, on_chunk=stop)
    (out / "parts" / "important.txt").write_text("mine")
    with pytest.raises(ParameterError, match="important.txt"):
        run_sweep(plan, out=out, overwrite=True, progress=False)
    with pytest.raises(ParameterError, match="important.txt"):
        run_sweep(plan, out=out, progress=False)
    df = run_sweep(plan, out=out, resume=True, progress=False)
    assert len(df) == 4 * 3
    assert (out / "parts" / "important.txt").read_text() == "mine"
    assert [p.name for p in (out / "parts").iterdir()] == ["important.txt"]


def test_a_new_sweep_refuses_a_finished_one_and_overwrite_replaces_it_whole(tmp_path, capsys):
    """A finished sweep is refused without --resume or --overwrite; an overwrite of a 2-D sweep by a 1-D one
    leaves no phase diagram of the old shape."""
    out = tmp_path / "sw"
    two_d = [*SMALL[:-2], "--grid", "planted_fraction=0.15,0.3", "--quiet"]
    assert main([*two_d, "--out", str(out)]) == 0
    assert "phase_diagram.png" in visible(out)
    before = (out / "results.parquet").read_bytes()
    one_line_error(capsys, main([*SMALL, "--out", str(out)]), "finished sweep")
    assert (out / "results.parquet").read_bytes() == before
    assert main([*SMALL[:-2], "--quiet", "--out", str(out), "--overwrite"]) == 0
    names = visible(out)
    assert "phase_diagram.png" not in names and {"results.parquet", "p_rebel.png", "thresholds.csv"} <= set(names)
    assert not (out / ".persona-sim-next").exists()
    assert len(pd.read_parquet(out / "results.parquet")) == 4 * 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == set(names) - {"manifest.json"}


def test_an_interrupted_overwrite_keeps_the_old_sweep_whole_and_resumes(tmp_path, long_reference):
    """Killing an --overwrite mid-way leaves the old output as it was; --resume then completes the new one."""
    out = tmp_path / "ow"
    assert main([*SMALL, "--out", str(out)]) == 0
    old = {name: (out / name).read_bytes() for name in visible(out)}
    b = start([*LONG, "--out", str(out), "--overwrite"])
    wait_for_parts(out, b)
    b.send_signal(signal.SIGTERM)
    assert b.wait(60) == 143
    assert {name: (out / name).read_bytes() for name in visible(out)} == old
    assert (out / ".persona-sim-next" / "manifest.json").is_file()
    done = subprocess.run([*CLI, *LONG, "--out", str(out), "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), long_reference)
    assert not (out / ".persona-sim-next").exists()


def test_without_out_each_command_writes_a_new_folder_and_prints_it(tmp_path):
    """The main job run twice keeps both outputs: each run without --out gets a folder of its own."""
    for command in (SMALL, ["run", "--set", "n_documents=500"]):
        first = subprocess.run([*CLI, *[a for a in command if a != "--quiet"]], capture_output=True, text=True,
                               cwd=tmp_path, timeout=300)
        second = subprocess.run([*CLI, *[a for a in command if a != "--quiet"]], capture_output=True, text=True,
                                cwd=tmp_path, timeout=300)
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    folders = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert len([f for f in folders if f.startswith("sweep-")]) == 2
    assert len([f for f in folders if f.startswith("run-")]) == 2
    for name in folders:
        assert name in first.stdout + second.stdout or (tmp_path / "results" / name / "manifest.json").is_file()


def test_a_finished_run_is_refused_and_overwrite_replaces_it(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "--set", "n_documents=500", "--out", str(out)]) == 0
    one_line_error(capsys, main(["run", "--set", "n_documents=500", "--out", str(out)]), "finished run")
    assert main(["run", "--set", "n_documents=500", "--set", "generations=2", "--out", str(out), "--overwrite"]) == 0
    assert "generations.csv" in visible(out)
    assert main(["run", "--set", "n_documents=500", "--out", str(out), "--overwrite"]) == 0
    assert "generations.csv" not in visible(out)  # a file of the old run, listed in its manifest, is gone


def test_a_run_folder_is_not_a_sweep_folder(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "--set", "n_documents=500", "--out", str(out)]) == 0
    one_line_error(capsys, main([*SMALL, "--out", str(out), "--overwrite"]), "persona-sim run")


# -- signals ------------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ["serial", "thread", "process"])
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_sweep_and_its_workers_and_leaves_it_resumable(tmp_path, long_reference, executor,
                                                                            sig, code):
    """SIGINT/SIGTERM: exit 130/143 with one line, no worker outlives the sweep by 10 s, --resume completes it."""
    out = tmp_path / "sig"
    proc = start([*LONG, "--executor", executor, "--workers", "2", "--out", str(out)])
    wait_for_parts(out, proc)
    workers = descendants(proc.pid)
    proc.send_signal(sig)
    assert proc.wait(60) == code
    err = proc.stderr.read()
    assert err.count("\n") == 1 and "resumable" in err and "Traceback" not in err, err
    assert_gone(workers)
    done = subprocess.run([*CLI, *LONG, "--out", str(out), "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), long_reference)


def test_sigkill_of_the_parent_ends_the_worker_processes(tmp_path):
    """No handler sees SIGKILL: the worker processes notice their parent is gone and exit within 10 s."""
    out = tmp_path / "kill"
    proc = start([*LONG, "--executor", "process", "--workers", "2", "--out", str(out)])
    wait_for_parts(out, proc)
    workers = descendants(proc.pid)
    assert workers
    proc.kill()
    proc.wait(30)
    assert_gone(workers)


def test_a_signal_on_a_dask_cluster_cancels_the_sweep_and_leaves_the_cluster_up(tmp_path):
    """On the user's cluster, SIGTERM cancels the sweep's tasks and never shuts the cluster down."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        out = tmp_path / "dask"
        proc = start([*LONG, "--executor", "dask", "--scheduler", cluster.scheduler_address, "--out", str(out)])
        wait_for_parts(out, proc, timeout=180)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 143
        assert "resumable" in proc.stderr.read()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and client.processing() and any(client.processing().values()):
            time.sleep(0.2)
        assert not any(client.processing().values()), "the sweep's tasks were not cancelled"
        assert len(client.scheduler_info()["workers"]) == 1  # the cluster is still up
        assert client.submit(sum, [1, 2]).result(timeout=30) == 3


def test_a_dask_scheduler_without_workers_is_one_line_after_the_declared_wait(tmp_path, capsys):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        code = main([*SMALL, "--executor", "dask", "--scheduler", cluster.scheduler_address, "--worker-wait", "1",
                     "--out", str(tmp_path / "o")])
        err = one_line_error(capsys, code, cluster.scheduler_address)
    assert "no worker" in err and "1 s" in err
    assert not (tmp_path / "o").exists()


# -- resume trusts nothing -----------------------------------------------------------------
@pytest.mark.parametrize("damage", ["zero bytes", "short", "no record", "wrong record", "foreign part"])
def test_resume_recomputes_a_bad_part(tmp_path, monkeypatch, damage):
    """A zero-byte, short or unrecorded part is recomputed on --resume; the table equals an uninterrupted one."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    plan = plan_sweep(Params(n_documents=1000), grid={"situational_awareness": "0.3:0.9:4"}, replicates=4, seed=8)
    reference = run_sweep(plan, executor="serial", progress=False)
    out = tmp_path / "p"

    class Stop(Exception):
        pass

    def stop_after_three(i, frame):
        if len(list((out / "parts").glob("chunk-*.sha256"))) >= 3:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(plan, out=out, executor="serial", progress=False, on_chunk=stop_after_three)
    part, record = out / "parts" / "chunk-000001.parquet", out / "parts" / "chunk-000001.sha256"
    if damage == "zero bytes":
        part.write_bytes(b"")
    elif damage == "short":
        pd.read_parquet(part).iloc[:-1].to_parquet(part, index=False)
    elif damage == "no record":
        record.unlink()
    elif damage == "wrong record":
        record.write_text(json.dumps({"rows": 3, "sha256": "0" * 64}))
    else:  # another sweep's part of the same name
        pd.read_parquet(part).assign(log_odds=0.0).to_parquet(part, index=False)
    ran = []
    df = run_sweep(plan, out=out, executor="serial", resume=True, progress=False, on_chunk=lambda i, f: ran.append(i))
    pd.testing.assert_frame_equal(df, reference)
    assert 1 in ran and 0 not in ran and 2 not in ran
    assert not list(out.glob(".results.parquet*")) and not (out / "parts").exists()


# -- bad input: one line, exit 2, nothing written -------------------------------------------
SCENARIO_TABLES = [
    ('grid = "foo"', "grid"),
    ("grid = [1, 2]", "grid"),
    ("bounds = 5", "bounds"),
    ("out = 5", "out"),
    ("scheduler = 5", "scheduler"),
    ("replicates = \"many\"", "replicates"),
    ("executor = \"gpu\"", "executor"),
    ("[sweep.grid]\nplanted_fraction = {a = 1}", "planted_fraction"),
    ("[sweep.bounds]\nplanted_fraction = [\"a\", 2]", "planted_fraction"),
]


@pytest.mark.parametrize("text,named", SCENARIO_TABLES)
def test_a_sweep_table_of_the_wrong_type_is_one_line(tmp_path, capsys, text, named):
    scenario = tmp_path / "s.toml"
    body = text if text.startswith("[") else f"[sweep]\n{text}"
    scenario.write_text(f"n_documents = 500\n\n{body}\n")
    code = main(["sweep", str(scenario), "--out", str(tmp_path / "o"), "--quiet"])
    one_line_error(capsys, code, named)
    assert not (tmp_path / "o").exists()


def unwritable_outs(tmp_path: Path) -> list[str]:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return ["/proc/x", str(a_file / "sub"), str(a_file), ""]


@pytest.mark.parametrize("command", [["run", "--set", "n_documents=500"], SMALL])
def test_an_unwritable_out_is_one_line(tmp_path, capsys, command):
    for out in unwritable_outs(tmp_path):
        one_line_error(capsys, main([*command, "--out", out]), "--out" if out in ("", str(tmp_path / "a_file"))
                       else out)
    assert visible(tmp_path) == ["a_file"]


BAD_SWEEP_FLAGS = [
    (["--executor", "dask", "--scheduler", "not an address"], "not an address"),
    (["--grid", "planted_fraction=0:0.3:1"], "COUNT"),
    (["--grid", "situational_awareness=0-1-11"], "START:STOP:COUNT"),
    (["--grid", "planted_fraction=0:0.3:100000000"], "100,000,000"),
    (["--sample", "lhs", "--points", "10000000", "--bounds", "planted_fraction=0:0.3"], "estimated peak memory"),
    (["--grid", "planted_fraction=0:0.3:1000000", "--replicates", "20"], "estimated peak memory"),
    (["--memory-limit", "0"], "--memory-limit"),
    (["--worker-wait", "-1"], "--worker-wait"),
    (["--resume", "--overwrite"], "--overwrite"),
]


@pytest.mark.parametrize("args,named", BAD_SWEEP_FLAGS)
def test_bad_sweep_flags_are_one_line(tmp_path, capsys, args, named):
    code = main([*SMALL, *args, "--out", str(tmp_path / "o")])
    one_line_error(capsys, code, named)
    assert not (tmp_path / "o").exists()


def test_a_run_too_large_for_memory_is_refused_with_its_estimate(tmp_path, capsys):
    levels = ",".join(str(i / 100) for i in range(101))
    code = main(["run", "--set", "n_documents=10000000", "--awareness", levels, "--out", str(tmp_path / "o")])
    err = one_line_error(capsys, code, "estimated peak memory")
    assert "10,000,000 documents" in err
    assert not (tmp_path / "o").exists()


def test_dry_run_prints_the_estimate_and_writes_nothing(tmp_path, capsys):
    """--dry-run: rows, runs and memory of the 4.2 M-row benchmark, which the default limit admits."""
    code = main(["sweep", "--grid", "situational_awareness=0:1:101", "--grid", "planted_fraction=0:0.25:26",
                 "--replicates", "1600", "--dry-run", "--out", str(tmp_path / "o")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "41,600 runs" in printed and "4,201,600 rows" in printed and "GiB" in printed
    assert not (tmp_path / "o").exists()


def finished(tmp_path: Path) -> Path:
    out = tmp_path / "done"
    assert main([*SMALL, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("damage,named", [
    ("corrupt parquet", "results.parquet"),
    ("corrupt manifest", "manifest.json"),
    ("columns missing", "persona"),
    ("zero rows", "no rows"),
])
def test_threshold_on_a_damaged_sweep_is_one_line(tmp_path, capsys, damage, named):
    out = finished(tmp_path)
    results = out / "results.parquet"
    if damage == "corrupt parquet":
        results.write_bytes(b"PAR1 not really")
    elif damage == "corrupt manifest":
        (out / "manifest.json").write_text("{ not json")
    elif damage == "columns missing":
        pd.read_parquet(results).drop(columns=["persona"]).to_parquet(results, index=False)
    else:
        pd.read_parquet(results).iloc[:0].to_parquet(results, index=False)
    before = (out / "thresholds.csv").read_bytes()
    one_line_error(capsys, main(["threshold", str(out)]), named)
    assert (out / "thresholds.csv").read_bytes() == before
