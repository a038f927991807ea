"""The small run size shared by the lab, model, laundering and driver tests (a plain dict of Params fields)."""

from __future__ import annotations

SMALL = dict(n_documents=2000, batch_size=100)


def assert_drivers_agree(params, levels, seed) -> None:
    """The Mesa model (``sim.simulate``) and the batched engine (``run_family`` on the same
    corpus) give the same final table, column by column, bit for bit."""
    import numpy as np
    from numpy.testing import assert_array_equal

    from sim import simulate
    from sim.engine import final_table, run_family
    from sim.schema import FINAL_COLUMNS

    result = simulate(params, levels, seed=seed)
    run = run_family(result.model.corpus, params, np.array(levels))
    engine = final_table(run.final_awareness, run.state, run.constants, params)
    for column in FINAL_COLUMNS:
        assert_array_equal(result.final[column].to_numpy(), engine[column].to_numpy(), err_msg=column)


def assert_reacting_runs_agree(params, levels, seed) -> None:
    """A run whose every learner has a run of its own (a reacting lab, generations): the sweeps'
    ``run_replicate`` and ``sim.simulate`` give the same final table, bit for bit."""
    import numpy as np
    from numpy.testing import assert_array_equal

    from sim import simulate
    from sim.schema import FINAL_COLUMNS
    from sim.simulation import run_replicate

    columns, _ = run_replicate(params, np.array(levels), seed)
    result = simulate(params, levels, seed=seed)
    for column in FINAL_COLUMNS:
        assert_array_equal(np.asarray(columns[column]), result.final[column].to_numpy(), err_msg=column)


def assert_cli_refuses(tmp_path, assignment: str, name: str) -> None:
    """``persona-sim run --set assignment`` exits 2 with one line naming ``name``, no
    traceback, and writes nothing."""
    import subprocess
    import sys

    out = tmp_path / "o"
    run = subprocess.run([sys.executable, "-m", "sim.cli", "run", "--set", assignment, "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and name in run.stderr and "Traceback" not in run.stderr
    assert not out.exists()


class Interrupted(Exception):
    """What a test raises to stop a sweep part-way (as a kill would)."""


def stop_after_chunks(out, n: int):
    """An ``on_chunk`` callback that interrupts a sweep writing into ``out`` once ``n``
    chunks are kept there."""
    def stop(i, frame):
        if len(list((out / "parts").glob("chunk-*.parquet"))) >= n:
            raise Interrupted
    return stop
