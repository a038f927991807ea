"""A sweep written to disk (sim.sweeps, ``out=``): the worker's Arrow table and Parquet
part are those ``DataFrame.to_parquet`` made of the chunk's frame, results.parquet is
written while the sweep runs (in chunk order, whatever order the chunks finish in), and
an interrupted or killed sweep leaves no unfinished results.parquet behind and resumes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sim.sweeps as sweep_module
from sim import Params
from sim.outputs import _LEFTOVER
from sim.sweeps import _chunks, _Results, _Store, _tasks, plan_sweep, run_chunk, run_part, run_sweep
from small_runs import Interrupted, stop_after_chunks

PLANS = {
    "informed": (dict(n_documents=400, batch_size=100), {"situational_awareness": "0:1:4", "planted_fraction": "0,0.2"}),
    "learning": (dict(n_documents=400, batch_size=100, learner_model="learning"), {"situational_awareness": "0:1:3"}),
    "lineages": (dict(n_documents=400, batch_size=100, generations=2, lab_policy="double_down"),
                 {"situational_awareness": "0:1:3"}),
    "trusted": (dict(n_documents=400, batch_size=100, citation_cue="trusted"), {"situational_awareness": "0.2,0.8"}),
}


def _plan(name: str, replicates: int = 2):
    params, grid = PLANS[name]
    return plan_sweep(Params(**params), grid=grid, replicates=replicates, seed=5)


@pytest.mark.parametrize("name", sorted(PLANS))
def test_run_part_is_what_to_parquet_made_of_the_chunk(name):
    """The table (schema, pandas metadata, nulls for NaN) and the part's bytes are those
    of ``run_chunk``'s frame through ``DataFrame.to_parquet``; the table back in pandas
    is that frame."""
    plan = _plan(name)
    for chunk in _chunks(plan, _tasks(plan))[:2]:
        frame = run_chunk(chunk)
        table, data = run_part(chunk)
        assert table.equals(pa.Table.from_pandas(frame, preserve_index=False), check_metadata=True)
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        assert data == buffer.getvalue()
        back = table.to_pandas()
        pd.testing.assert_frame_equal(back, frame)
        assert (back.dtypes == frame.dtypes).all()


@pytest.mark.parametrize("executor", ["serial", "thread"])
def test_results_parquet_is_the_table_in_memory(tmp_path, monkeypatch, executor):
    """Many small chunks: results.parquet holds the in-memory sweep's table, row for row,
    one row group per chunk; the parts are gone."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    plan = _plan("informed", replicates=3)
    in_memory = run_sweep(plan, executor=executor, workers=2, progress=False)
    df = run_sweep(plan, out=tmp_path / "s", executor=executor, workers=2, progress=False)
    pd.testing.assert_frame_equal(df, in_memory)
    read_back = pd.read_parquet(tmp_path / "s" / "results.parquet")
    pd.testing.assert_frame_equal(df, read_back)
    assert (df.dtypes == read_back.dtypes).all()
    written = pq.ParquetFile(tmp_path / "s" / "results.parquet")
    assert written.metadata.num_row_groups == len(_chunks(plan, _tasks(plan)))
    assert written.read().equals(pa.Table.from_pandas(in_memory, preserve_index=False), check_metadata=True)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [".persona-sim.lock", "manifest.json",
                                                                 "results.parquet"]


def test_results_keeps_chunk_order_whatever_order_they_finish_in(tmp_path):
    """Chunks handed over in reverse, with room for one waiting table: the others are read
    back from their parts, and the file is in chunk order."""
    plan = _plan("informed")
    chunks = _chunks(plan, _tasks(plan))[:5]
    store = _Store(tmp_path)
    store.parts.mkdir()
    parts = [run_part(c) for c in chunks]
    results = _Results(store, len(chunks), set(), waiting=1)
    for i in reversed(range(len(chunks))):
        store.write_part(i, parts[i][1], parts[i][0].num_rows)
        results.add(i, parts[i][0])
    results.finish()
    expected = pa.concat_tables([table for table, _ in parts])
    assert pq.read_table(store.results).equals(expected, check_metadata=True)
    assert not store.parts.exists() and not (tmp_path / _Results.NAME).exists()


def test_results_is_written_under_a_leftover_name():
    """A kill while results.parquet is being written leaves a file sim.outputs knows as
    persona-sim's (so a resume, or an overwrite, can clear it)."""
    assert _LEFTOVER.match(_Results.NAME)


def test_an_interrupt_leaves_no_unfinished_results_and_resumes(tmp_path, monkeypatch):
    """Interrupted after two chunks: the parts stay, no results file (finished or not);
    a kill's leftover of the unfinished file does not stop the resume, which gives the
    uninterrupted file, byte for byte."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    plan = _plan("informed")
    whole = tmp_path / "whole"
    run_sweep(plan, out=whole, executor="serial", progress=False)

    out = tmp_path / "s"
    with pytest.raises(Interrupted):
        run_sweep(plan, out=out, executor="serial", progress=False, on_chunk=stop_after_chunks(out, 2))
    assert len(list((out / "parts").glob("chunk-*.parquet"))) == 2
    assert not (out / "results.parquet").exists() and not (out / _Results.NAME).exists()
    (out / _Results.NAME).write_bytes(b"PAR1 torn")  # what a kill mid-sweep leaves

    ran = []
    run_sweep(plan, out=out, executor="serial", resume=True, progress=False, on_chunk=lambda i, f: ran.append(i))
    assert len(ran) == len(_chunks(plan, _tasks(plan))) - 2
    assert (out / "results.parquet").read_bytes() == (whole / "results.parquet").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == [".persona-sim.lock", "manifest.json", "results.parquet"]


def test_on_chunk_gets_the_chunks_frame(tmp_path, monkeypatch):
    """Written to disk or not, ``on_chunk`` gets each chunk's rows as run_chunk's frame."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    plan = _plan("learning")
    chunks = _chunks(plan, _tasks(plan))
    seen = {}
    run_sweep(plan, out=tmp_path / "s", executor="serial", progress=False,
              on_chunk=lambda i, frame: seen.__setitem__(i, frame))
    assert sorted(seen) == list(range(len(chunks)))
    for i, frame in seen.items():
        pd.testing.assert_frame_equal(frame, run_chunk(chunks[i]))


def test_resume_with_every_part_on_disk_runs_nothing(tmp_path, monkeypatch):
    """Stopped after its last part was written but before results.parquet was in place:
    the resume runs no chunk and writes the file from the parts."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    plan = _plan("lineages")
    n_chunks = len(_chunks(plan, _tasks(plan)))
    whole = tmp_path / "whole"
    run_sweep(plan, out=whole, executor="serial", progress=False)
    out = tmp_path / "s"
    with pytest.raises(Interrupted):
        run_sweep(plan, out=out, executor="serial", progress=False, on_chunk=stop_after_chunks(out, n_chunks))
    assert len(list((out / "parts").glob("chunk-*.parquet"))) == n_chunks
    assert not (out / "results.parquet").exists() and not (out / _Results.NAME).exists()
    ran = []
    df = run_sweep(plan, out=out, resume=True, progress=False, on_chunk=lambda i, f: ran.append(i))
    assert ran == []
    assert (out / "results.parquet").read_bytes() == (whole / "results.parquet").read_bytes()
    pd.testing.assert_frame_equal(df, pd.read_parquet(whole / "results.parquet"))
    assert not (out / "parts").exists()


def test_a_failing_chunk_leaves_the_parts_before_it_and_no_results(tmp_path, monkeypatch):
    """An error in a chunk (here the third) ends the sweep with that error; the unfinished
    results.parquet is deleted, the parts written before stay for a resume."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    plan = _plan("informed")
    real = sweep_module.run_part
    calls = []

    def failing(tasks):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk on fire")
        return real(tasks)

    monkeypatch.setattr(sweep_module, "run_part", failing)
    out = tmp_path / "s"
    with pytest.raises(OSError, match="disk on fire"):
        run_sweep(plan, out=out, executor="serial", progress=False)
    assert len(list((out / "parts").glob("chunk-*.parquet"))) == 2
    assert not (out / "results.parquet").exists() and not (out / _Results.NAME).exists()
    monkeypatch.setattr(sweep_module, "run_part", real)
    df = run_sweep(plan, out=out, resume=True, progress=False)
    pd.testing.assert_frame_equal(df, run_sweep(plan, progress=False))


def test_an_overwrite_of_a_killed_sweep_leaves_none_of_its_files(tmp_path, monkeypatch):
    """A sweep killed mid-way (its parts and its unfinished results.parquet on disk),
    then overwritten: the folder holds the new sweep and nothing of the killed one."""
    monkeypatch.setattr(sweep_module, "_CHUNK_UPDATES", 1.0)
    plan = _plan("informed")
    out = tmp_path / "s"
    with pytest.raises(Interrupted):
        run_sweep(plan, out=out, executor="serial", progress=False, on_chunk=stop_after_chunks(out, 2))
    (out / _Results.NAME).write_bytes(b"PAR1 torn")  # what a kill mid-sweep leaves
    df = run_sweep(plan, out=out, overwrite=True, progress=False)
    pd.testing.assert_frame_equal(df, run_sweep(plan, progress=False))
    assert sorted(p.name for p in out.iterdir()) == [".persona-sim.lock", "manifest.json", "results.parquet"]


@pytest.mark.parametrize("values, kind", [
    (np.array([0.5, np.nan, -1e300, np.inf, -0.0, np.nan, 3.0, 1.0, 2.0]), pa.float64()),
    (np.array([0.5, 2.0]), pa.float64()),
    (np.array([], dtype=float), pa.float64()),
    (np.array([1, -2, 2**62], dtype=np.int64), pa.int64()),
    (np.array([True, False, True, True, False, False, True, False, True, True]), pa.bool_()),
    (np.array(["static", None, "", "ünïcode ✓", "0/1/2", None, "x" * 300], dtype=object), pa.large_string()),
    (np.array(["a", "b"], dtype=object), pa.large_string()),
])
def test_arrow_arrays_are_what_pa_array_makes(values, kind):
    """A result column made from its buffers (without pandas) is ``pa.array(...,
    from_pandas=True)``'s: the same values, nulls where NaN or None, and the same
    Parquet bytes."""
    ours = sweep_module._arrow_array(values, kind)
    theirs = pa.array(values, type=kind, from_pandas=True)
    assert ours.type == theirs.type and ours.null_count == theirs.null_count
    assert ours.equals(theirs)
    encoded = []
    for array in (ours, theirs):
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"c": array}), sink, compression="snappy")
        encoded.append(sink.getvalue().to_pybytes())
    assert encoded[0] == encoded[1]
