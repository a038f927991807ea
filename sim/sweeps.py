"""Parameter sweeps: many training runs, reproducible by position, streamed to disk.

A sweep is a set of parameter *points* (a grid, a quasi-random sample, or both), each
run ``replicates`` times; in every run a whole family of learners (all the awareness
levels of the point) reads one corpus, on the fast path of the engine
(:func:`sim.engine.run_replicate`, the same update functions as the Mesa model).

Seeds are derived, never passed around: the run of point ``i``, replicate ``r`` uses
``SeedSequence(seed, spawn_key=(i, r))``, so every row is the same whatever the
number of workers, the executor, the chunking or the order in which chunks finish.

Runs are grouped in chunks. Each finished chunk is written as its own Parquet file
(``DIR/parts/``, written to a temporary name and renamed, so a kill never leaves a
torn file); at the end the parts are streamed, in order, into ``DIR/results.parquet``.
``resume=True`` skips the chunks already on disk and gives the table an
uninterrupted run would have.

Examples
--------
>>> from sim import Params
>>> from sim.sweeps import sweep
>>> df = sweep(Params(n_documents=500), grid={"situational_awareness": [0.1, 0.9]},
...            replicates=2, seed=1, progress=False)
>>> df[["point", "replicate", "situational_awareness", "persona"]].to_string(index=False)
' point  replicate  situational_awareness persona\\n     0          0                    0.1 aligned\\n     0          0                    0.9   rebel\\n     0          1                    0.1 aligned\\n     0          1                    0.9   rebel'
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .engine import FINAL_COLUMNS, run_replicate
from .files import write_atomically
from .params import PARAMETERS, ParameterError, Params, _unknown, check_awareness

__all__ = [
    "SweepPlan",
    "plan_sweep",
    "sweep",
    "run_sweep",
    "parse_grid",
    "parse_bounds",
    "RESULT_COLUMNS",
    "EXECUTORS",
    "DEFAULT_GRID",
]

_BY_NAME = {p.name: p for p in PARAMETERS}
AWARENESS = "situational_awareness"

#: Columns of results.parquet: every parameter, where the row comes from, the
#: corpus's measured q_r, then the final results.
RESULT_COLUMNS: tuple[str, ...] = (
    tuple(p.name for p in PARAMETERS)
    + ("point", "replicate", "seed_key", "real_cited_rate")
    + tuple(c for c in FINAL_COLUMNS if c != AWARENESS)
)

EXECUTORS = ("serial", "thread", "process", "dask")

#: The main job's grid: awareness from 0 to 1 in 101 steps.
DEFAULT_GRID = {AWARENESS: "0:1:101"}

#: A chunk holds about this many learner-document updates (about half a second).
_CHUNK_UPDATES = 2.5e7
#: The last _TAIL_CHUNKS * _CHUNK_UPDATES updates go in chunks _TAIL_CHUNKS times
#: smaller, so that the workers finish at about the same time.
_TAIL_CHUNKS = 4
_SAMPLER_KEY = (2**32 - 1,)  # spawn key of the sampler's stream, apart from any (point, replicate)


# -- parsing --------------------------------------------------------------------------
def _values_for(name: str, values: Iterable[Any]) -> list[Any]:
    if name not in _BY_NAME:
        raise _unknown(name, where=" in the grid")
    spec = _BY_NAME[name]
    out = []
    for v in values:
        if isinstance(v, str) and spec.kind is not str:
            v = spec.parse(v)
        elif isinstance(v, float) and spec.kind is float:
            v = float(round(v, 12))
        out.append(spec.validate(v))
    if not out:
        raise ParameterError(f"grid {name} has no values: allowed is START:STOP:COUNT or v1,v2,...")
    return out


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """Parse ``NAME=START:STOP:COUNT`` (COUNT values, ends included) or ``NAME=v1,v2,...``.

    >>> parse_grid("planted_fraction=0:0.25:6")
    ('planted_fraction', [0.0, 0.05, 0.1, 0.15, 0.2, 0.25])
    >>> parse_grid("n_documents=1000,10000")
    ('n_documents', [1000, 10000])
    """
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name or not spec.strip():
        raise ParameterError(
            f"--grid {text!r} is not allowed: allowed is NAME=START:STOP:COUNT or NAME=v1,v2,..."
        )
    return name, _grid_values(name, spec.strip())


def _grid_values(name: str, spec: Any) -> list[Any]:
    if isinstance(spec, list):
        return _values_for(name, spec)
    if not isinstance(spec, str):
        return _values_for(name, [spec])
    if ":" in spec:
        parts = spec.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
            if count < 1 or not (math.isfinite(start) and math.isfinite(stop)):
                raise ValueError
        except ValueError:
            raise ParameterError(
                f"grid {name}={spec!r} is not allowed: allowed is START:STOP:COUNT with numbers "
                "and a whole COUNT >= 1"
            ) from None
        return _values_for(name, np.linspace(start, stop, count).tolist())
    return _values_for(name, [v.strip() for v in spec.split(",") if v.strip()])


def parse_bounds(text: str) -> tuple[str, tuple[float, float]]:
    """Parse ``NAME=LO:HI`` for sampling.

    >>> parse_bounds("planted_fraction=0.05:0.3")
    ('planted_fraction', (0.05, 0.3))
    """
    name, sep, spec = text.partition("=")
    name = name.strip()
    try:
        lo_text, hi_text = spec.split(":")
        lo, hi = float(lo_text), float(hi_text)
        if not sep or not (lo < hi):
            raise ValueError
    except ValueError:
        raise ParameterError(f"--bounds {text!r} is not allowed: allowed is NAME=LO:HI with LO < HI") from None
    return name, _check_bounds(name, lo, hi)


def _check_bounds(name: str, lo: float, hi: float) -> tuple[float, float]:
    if name not in _BY_NAME:
        raise _unknown(name, where=" in --bounds")
    spec = _BY_NAME[name]
    if spec.kind is str:
        raise ParameterError(f"--bounds {name}: {name} is not a number and cannot be sampled")
    spec.validate(lo if spec.kind is float else math.ceil(lo))
    spec.validate(hi if spec.kind is float else math.floor(hi))
    return float(lo), float(hi)


# -- the plan -------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPlan:
    """Everything that determines a sweep's numbers (and nothing that does not).

    Attributes
    ----------
    base : Params
        The scenario the sweep starts from.
    points : tuple of dict
        Per point, the parameter values that differ from ``base`` (awareness excluded).
    awareness : tuple of tuple of float
        Per point, the learners' final awareness levels (one family per run).
    replicates : int
    seed : int
        The root seed.
    grid, bounds : dict
        As given (for the manifest).
    sample : str or None
        ``"lhs"`` or ``"sobol"`` when the points were sampled.
    """

    base: Params
    points: tuple[dict, ...]
    awareness: tuple[tuple[float, ...], ...]
    replicates: int
    seed: int
    grid: dict = field(default_factory=dict)
    sample: str | None = None
    bounds: dict = field(default_factory=dict)

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.replicates

    @property
    def n_rows(self) -> int:
        return sum(len(a) for a in self.awareness) * self.replicates

    @property
    def swept(self) -> list[str]:
        """Parameters that take more than one value across the sweep's rows."""
        names = []
        for p in PARAMETERS:
            if p.name == AWARENESS:
                levels = {s for a in self.awareness for s in a}
                if len(levels) > 1:
                    names.append(AWARENESS)
                continue
            values = {repr(self.params(i)[p.name]) for i in range(len(self.points))}
            if len(values) > 1:
                names.append(p.name)
        return names

    def params(self, point: int) -> Params:
        return self.base.replace(**self.points[point])

    def updates(self) -> float:
        """Learner-document updates in the whole sweep."""
        return float(
            sum(len(a) * self.params(i).n_documents for i, a in enumerate(self.awareness)) * self.replicates
        )

    def identity(self) -> dict:
        """What a resumed sweep must share with the one on disk."""
        return {
            "base": _jsonable(self.base.to_dict()),
            "points": [_jsonable(p) for p in self.points],
            "awareness": [list(a) for a in self.awareness],
            "replicates": self.replicates,
            "seed": self.seed,
        }

    def fingerprint(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _jsonable(d: Mapping[str, Any]) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in d.items()}


def plan_sweep(
    params: Params | None = None,
    grid: Mapping[str, Any] | None = None,
    replicates: int = 20,
    seed: int = 0,
    sample: str | None = None,
    points: int | None = None,
    bounds: Mapping[str, Sequence[float]] | None = None,
) -> SweepPlan:
    """Validate a sweep's settings and lay out its points.

    Parameters
    ----------
    params : Params
        The base scenario.
    grid : mapping
        Parameter name -> list of values, or a ``"START:STOP:COUNT"`` string. The
        grid is the Cartesian product of its parameters, except that
        ``situational_awareness`` is the learner family of every run (its levels read
        one corpus: common random numbers).
    replicates : int
        Runs per point, each with its own corpus and seed.
    seed : int
        Root seed.
    sample : {"lhs", "sobol"}, optional
        Add ``points`` quasi-random points in ``bounds`` (scipy.stats.qmc Latin
        hypercube or scrambled Sobol sequence); combined with the grid as a product.
    points : int
    bounds : mapping
        Parameter name -> (low, high) for sampling.

    Raises
    ------
    ParameterError
        For any value that is not allowed (one line, naming it).
    """
    base = params if params is not None else Params()
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or not 1 <= replicates <= 10**6:
        raise ParameterError(f"replicates = {replicates!r} is not allowed: allowed is a whole number in [1, 1000000]")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed = {seed!r} is not allowed: allowed is a whole number >= 0")

    grid_values = {name: _grid_values(name, spec) for name, spec in (grid or {}).items()}
    awareness_levels = grid_values.pop(AWARENESS, None)
    if awareness_levels is not None:
        awareness_levels = check_awareness(awareness_levels)

    sampled: list[dict] = [{}]
    bounds = dict(bounds or {})
    if sample is not None:
        if sample not in ("lhs", "sobol"):
            raise ParameterError(f"sample = {sample!r} is not allowed: allowed is lhs or sobol")
        if not bounds:
            raise ParameterError("--sample needs --bounds NAME=LO:HI for at least one parameter")
        if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 1 <= points <= 10**7:
            raise ParameterError(f"--points {points!r} is not allowed: allowed is a whole number in [1, 10000000]")
        overlap = set(bounds) & (set(grid_values) | ({AWARENESS} if awareness_levels else set()))
        if overlap:
            raise ParameterError(f"{sorted(overlap)[0]} is both in the grid and in --bounds: allowed is one of them")
        bounds = {name: _check_bounds(name, *map(float, lohi)) for name, lohi in bounds.items()}
        sampled = _sample(sample, int(points), bounds, seed)
    elif bounds or points is not None:
        raise ParameterError("--bounds and --points go with --sample lhs|sobol")

    names = list(grid_values)
    point_list: list[dict] = []
    awareness_list: list[tuple[float, ...]] = []
    for combo in itertools.product(*(grid_values[n] for n in names)):
        for extra in sampled:
            over = dict(zip(names, combo))
            over.update({k: v for k, v in extra.items() if k != AWARENESS})
            point_list.append(over)
            if AWARENESS in extra:
                awareness_list.append((extra[AWARENESS],))
            else:
                awareness_list.append(tuple(awareness_levels or [base.situational_awareness]))
    plan = SweepPlan(
        base=base,
        points=tuple(point_list),
        awareness=tuple(awareness_list),
        replicates=int(replicates),
        seed=int(seed),
        grid={n: list(v) for n, v in grid_values.items()}
        | ({AWARENESS: list(awareness_levels)} if awareness_levels else {}),
        sample=sample,
        bounds={k: list(v) for k, v in bounds.items()},
    )
    for i in range(len(plan.points)):  # every point must be a valid configuration
        try:
            plan.params(i)
        except ParameterError as err:
            raise ParameterError(f"point {i} of the sweep ({plan.points[i]}): {err}") from None
    return plan


def _sample(kind: str, n: int, bounds: Mapping[str, tuple[float, float]], seed: int) -> list[dict]:
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=_SAMPLER_KEY))
    d = len(bounds)
    if kind == "lhs":
        unit = qmc.LatinHypercube(d=d, rng=rng).random(n)
    else:
        if n & (n - 1):
            raise ParameterError(f"--points {n} is not allowed with sobol: allowed is a power of 2 (e.g. 64, 128)")
        unit = qmc.Sobol(d=d, scramble=True, rng=rng).random(n)
    lo = np.array([b[0] for b in bounds.values()])
    hi = np.array([b[1] for b in bounds.values()])
    scaled = qmc.scale(unit, lo, hi)
    out = []
    for row in scaled:
        point = {}
        for name, value in zip(bounds, row):
            spec = _BY_NAME[name]
            v = int(round(value)) if spec.kind is int else float(round(value, 12))
            point[name] = spec.validate(v)
        out.append(point)
    return out


# -- running ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Task:
    point: int
    replicate: int
    params: Params
    awareness: tuple[float, ...]
    seed: int


def _tasks(plan: SweepPlan) -> list[_Task]:
    return [
        _Task(i, r, plan.params(i), plan.awareness[i], plan.seed)
        for i in range(len(plan.points))
        for r in range(plan.replicates)
    ]


def _chunks(plan: SweepPlan, tasks: list[_Task]) -> list[list[_Task]]:
    """Consecutive runs grouped so that each chunk holds about _CHUNK_UPDATES updates
    (learners x documents x generations; the last ones fewer: see _TAIL_CHUNKS). A
    function of the plan alone."""
    chunks: list[list[_Task]] = []
    current: list[_Task] = []
    loads = [float(len(task.awareness) * task.params.n_documents * task.params.generations) for task in tasks]
    left = sum(loads)
    load, size = 0.0, _CHUNK_UPDATES
    for task, task_load in zip(tasks, loads):
        if not current:
            size = _CHUNK_UPDATES if left > _TAIL_CHUNKS * _CHUNK_UPDATES else _CHUNK_UPDATES / _TAIL_CHUNKS
        current.append(task)
        load += task_load
        left -= task_load
        if load >= size:
            chunks.append(current)
            current, load = [], 0.0
    if current:
        chunks.append(current)
    return chunks


def run_chunk(tasks: Sequence[_Task]) -> pd.DataFrame:
    """Run the replicates of one chunk; one row per (run, learner), in task order.

    A pure function of its argument (picklable), so that any executor can run it.
    """
    results: dict[str, list] = {c: [] for c in FINAL_COLUMNS}
    cited_rates, counts = [], []
    for task in tasks:
        seed = np.random.SeedSequence(task.seed, spawn_key=(task.point, task.replicate))
        final, q_r = run_replicate(task.params, np.asarray(task.awareness), seed)
        for c in FINAL_COLUMNS:
            results[c].append(final[c])
        cited_rates.append(q_r)
        counts.append(len(task.awareness))
    repeat = np.asarray(counts)
    # every column is made in its final dtype (those of _normalise), so that the frame
    # is built once and _normalise has nothing left to convert
    columns: dict[str, Any] = {}
    for p in PARAMETERS:  # constant within a run: one value per task, repeated per learner
        if p.name == AWARENESS:
            columns[p.name] = np.concatenate(results[AWARENESS]).astype(np.float64, copy=False)
            continue
        values = [task.params[p.name] for task in tasks]
        if p.kind is str:
            columns[p.name] = _strings(np.repeat(np.asarray(values, dtype=object), repeat))
        else:
            per_task = np.asarray([np.nan if v is None else v for v in values])
            columns[p.name] = np.repeat(per_task.astype(np.int64 if p.kind is int else np.float64), repeat)
    columns["point"] = np.repeat(np.asarray([t.point for t in tasks], dtype=np.int64), repeat)
    columns["replicate"] = np.repeat(np.asarray([t.replicate for t in tasks], dtype=np.int64), repeat)
    columns["seed_key"] = _strings(np.repeat(
        np.asarray([f"{t.seed}/{t.point}/{t.replicate}" for t in tasks], dtype=object), repeat))
    columns["real_cited_rate"] = np.concatenate(
        [np.broadcast_to(np.asarray(q, dtype=float), (n,)) for q, n in zip(cited_rates, counts)])
    for c in FINAL_COLUMNS:
        if c != AWARENESS:
            columns[c] = np.concatenate(results[c])
    columns["persona"] = _strings(columns["persona"])
    return _normalise(pd.DataFrame(columns, columns=list(RESULT_COLUMNS)))


def _strings(values: np.ndarray):
    """A column of Python strings as pandas' string dtype (what ``astype(str)`` gives)."""
    return pd.array(values, dtype=str)


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Fixed dtypes, so that every chunk has the same Parquet schema (a column already
    in its dtype is left as it is)."""
    dtypes = frame.dtypes
    for p in PARAMETERS:
        if p.kind is int:
            if dtypes[p.name] != np.int64:
                frame[p.name] = frame[p.name].astype(np.int64)
        elif p.kind is float:
            if dtypes[p.name] != np.float64:
                frame[p.name] = frame[p.name].astype(np.float64)
        elif not _is_str(dtypes[p.name]):
            frame[p.name] = frame[p.name].astype(str)
    for name in ("seed_key", "persona"):
        if not _is_str(dtypes[name]):
            frame[name] = frame[name].astype(str)
    return frame


_STR_DTYPE = pd.Series([""], dtype=object).astype(str).dtype


def _is_str(dtype) -> bool:
    return dtype == _STR_DTYPE


def _make_executor(executor: str, workers: int, scheduler: str | None):
    if executor == "serial":
        return None
    if executor == "thread":
        return ThreadPoolExecutor(max_workers=workers)
    if executor == "process":
        import multiprocessing

        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    if executor == "dask":
        try:
            from dask.distributed import Client
        except ImportError:
            raise ParameterError(
                "--executor dask needs dask.distributed: allowed after pip install 'persona-sim[dist]'"
            ) from None
        if not scheduler:
            raise ParameterError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise ParameterError(f"--scheduler {scheduler!r} cannot be reached: {err}") from None
        return _DaskExecutor(client)
    raise ParameterError(f"--executor {executor!r} is not allowed: allowed is one of {', '.join(EXECUTORS)}")


class _DaskExecutor(Executor):
    """A dask.distributed Client as a concurrent.futures Executor (closed with it)."""

    def __init__(self, client) -> None:
        self.client = client
        self.executor = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self.executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.executor.shutdown(wait=wait)
        self.client.close()


class _Store:
    """The on-disk side of a sweep: manifest, chunk parts, the assembled table."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = out / "parts"
        self.results = out / "results.parquet"
        self.manifest = out / "manifest.json"

    def part(self, chunk: int) -> Path:
        return self.parts / f"chunk-{chunk:06d}.parquet"

    def done(self, n_chunks: int) -> set[int]:
        if not self.parts.is_dir():
            return set()
        return {i for i in range(n_chunks) if self.part(i).is_file()}

    def write_part(self, chunk: int, frame: pd.DataFrame) -> None:
        final = self.part(chunk)
        tmp = final.with_name(f".{final.name}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, final)

    def assemble(self, n_chunks: int) -> None:
        import pyarrow.parquet as pq

        tmp = self.out / ".results.parquet.tmp"
        writer = None
        try:
            for i in range(n_chunks):
                table = pq.read_table(self.part(i))
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        os.replace(tmp, self.results)
        shutil.rmtree(self.parts, ignore_errors=True)


def _write_json(path: Path, data: dict) -> None:
    write_atomically(path, (json.dumps(data, indent=2, allow_nan=False, default=_json_default) + "\n").encode())


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def run_sweep(
    plan: SweepPlan,
    out: str | Path | None = None,
    workers: int | None = None,
    executor: str = "thread",
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    on_chunk: Callable[[int, pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Run a planned sweep; return its table (and write it when ``out`` is given).

    Parameters
    ----------
    plan : SweepPlan
    out : path, optional
        Folder for ``results.parquet`` and ``manifest.json``; None keeps everything in
        memory.
    workers : int, optional
        Parallel workers (threads, processes or Dask tasks in flight); default the
        machine's cores.
    executor : {"serial", "thread", "process", "dask"}
        ``thread`` (default) runs chunks on threads: the compiled updates release
        the GIL. ``dask`` sends them to the dask.distributed scheduler at
        ``scheduler``.
    resume : bool
        Keep the chunks already in ``out`` (the plan must be the same).
    progress : bool
        A tqdm bar with ETA on stderr.
    """
    if executor not in EXECUTORS:
        raise ParameterError(f"--executor {executor!r} is not allowed: allowed is one of {', '.join(EXECUTORS)}")
    workers = int(workers) if workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ParameterError(f"--workers {workers} is not allowed: allowed is a whole number >= 1")
    if executor == "serial":
        workers = 1
    from . import __version__

    tasks = _tasks(plan)
    chunks = _chunks(plan, tasks)
    n_chunks = len(chunks)
    store = _Store(Path(out)) if out is not None else None
    manifest = {
        "command": command,
        "package_version": __version__,
        "fingerprint": plan.fingerprint(),
        "seed": plan.seed,
        "replicates": plan.replicates,
        "grid": plan.grid,
        "sample": plan.sample,
        "bounds": plan.bounds,
        "swept": plan.swept,
        "parameters": plan.base.to_dict(),
        "points": [dict(p) for p in plan.points],
        "awareness": [list(a) for a in plan.awareness],
        "n_runs": plan.n_runs,
        "n_rows": plan.n_rows,
        "n_chunks": n_chunks,
        "seed_key": "SeedSequence(seed, spawn_key=(point, replicate)); seed_key = 'seed/point/replicate'",
        "complete": False,
    }

    done: set[int] = set()
    frames: dict[int, pd.DataFrame] = {}
    pool = _make_executor(executor, workers, scheduler)  # validates before anything is written
    try:
        return _execute(plan, chunks, store, manifest, pool, workers, resume, progress, on_chunk, frames, done)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _execute(plan, chunks, store, manifest, pool, workers, resume, progress, on_chunk, frames, done) -> pd.DataFrame:
    n_chunks = len(chunks)
    if store is not None:
        if store.out.exists() and not store.out.is_dir():
            raise ParameterError(f"--out {str(store.out)!r} is a file: allowed is a folder (existing or new)")
        old = None
        if store.manifest.is_file():
            try:
                old = json.loads(store.manifest.read_text())
            except (OSError, json.JSONDecodeError):
                old = None
        if resume:
            if old is None:
                raise ParameterError(f"--resume: {str(store.out)!r} holds no sweep to resume (no readable manifest.json)")
            if old.get("fingerprint") != plan.fingerprint():
                raise ParameterError(
                    f"--resume: {str(store.out)!r} holds a different sweep (parameters, grid, replicates or seed "
                    "differ): allowed is the same sweep, or a new --out"
                )
            if not old.get("complete") and old.get("n_chunks", n_chunks) != n_chunks:
                raise ParameterError(
                    f"--resume: {str(store.out)!r} was cut into {old.get('n_chunks')} chunks, this persona-sim cuts "
                    f"the sweep into {n_chunks} (another version): allowed is a new --out"
                )
            if old.get("complete") and store.results.is_file():
                if progress:
                    print(f"persona-sim: {store.results} is complete; nothing to run", file=sys.stderr)
                return pd.read_parquet(store.results)
            done = store.done(n_chunks)
        else:
            for stale in (store.results, store.manifest):
                if stale.is_file():
                    stale.unlink()
            shutil.rmtree(store.parts, ignore_errors=True)
        store.parts.mkdir(parents=True, exist_ok=True)
        for leftover in store.parts.glob(".*.tmp"):
            leftover.unlink()
        _write_json(store.manifest, manifest)

    bar = _progress_bar(plan, chunks, done, progress)
    started = time.perf_counter()

    def finish(i: int, frame: pd.DataFrame) -> None:
        if store is not None:
            store.write_part(i, frame)
        else:
            frames[i] = frame
        if on_chunk is not None:
            on_chunk(i, frame)
        if bar is not None:
            bar.update(len(chunks[i]))

    todo = [i for i in range(n_chunks) if i not in done]
    try:
        if pool is None:
            for i in todo:
                finish(i, run_chunk(chunks[i]))
        else:
            _run_bounded(pool, chunks, todo, finish, in_flight=2 * workers)
    finally:
        if bar is not None:
            bar.close()

    if store is None:
        ordered = [frames[i] for i in range(n_chunks)]
        return pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame(columns=list(RESULT_COLUMNS))
    store.assemble(n_chunks)
    manifest.update(complete=True, seconds=round(time.perf_counter() - started, 3))
    _write_json(store.manifest, manifest)
    return pd.read_parquet(store.results)


def _run_bounded(pool: Executor, chunks, todo, finish, in_flight: int) -> None:
    """Submit chunks with at most ``in_flight`` outstanding, so memory stays bounded."""
    pending: dict[Future, int] = {}
    queue = iter(todo)
    for i in itertools.islice(queue, in_flight):
        pending[pool.submit(run_chunk, chunks[i])] = i
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            i = pending.pop(future)
            finish(i, future.result())
            nxt = next(queue, None)
            if nxt is not None:
                pending[pool.submit(run_chunk, chunks[nxt])] = nxt


def _progress_bar(plan: SweepPlan, chunks, done: set[int], progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    initial = sum(len(chunks[i]) for i in done)
    return tqdm(
        total=plan.n_runs,
        initial=initial,
        unit="run",
        desc="sweep",
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
    )


def sweep(
    params: Params | None = None,
    grid: Mapping[str, Any] | None = None,
    replicates: int = 20,
    seed: int = 0,
    sample: str | None = None,
    points: int | None = None,
    bounds: Mapping[str, Sequence[float]] | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    executor: str = "thread",
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Run a parameter sweep and return its tidy table.

    One row per (point, replicate, awareness level): every parameter, ``point``,
    ``replicate``, ``seed_key``, ``real_cited_rate`` (q_r of that run's corpus) and
    the final results (``persona, p_deceptive, log_odds, uplift,
    believed_planted_share, paranoia, emergence_document``). See
    :func:`plan_sweep` for the settings and :func:`run_sweep` for how it runs.

    Examples
    --------
    >>> from sim import Params, sweep
    >>> df = sweep(Params(n_documents=2000), grid={"situational_awareness": "0.2:0.8:3",
    ...            "planted_fraction": [0.0, 0.25]}, replicates=3, seed=7, progress=False)
    >>> df.groupby(["planted_fraction", "situational_awareness"])["persona"].apply(
    ...     lambda p: (p == "rebel").mean()).tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """
    plan = plan_sweep(params, grid, replicates, seed, sample, points, bounds)
    return run_sweep(plan, out=out, workers=workers, executor=executor, scheduler=scheduler,
                     resume=resume, progress=progress)
