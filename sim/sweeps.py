"""Parameter sweeps: many training runs, reproducible by position, streamed to disk.

A sweep is a set of parameter *points* (a grid, a quasi-random sample, or both), each
run ``replicates`` times; in every run a whole family of learners (all the awareness
levels of the point) reads one corpus. The driver of a run is chosen here
(:func:`run_replicate`): the batched engine's fast path (:mod:`sim.engine`) for a
static lab in one training run, the Mesa model (:mod:`sim.simulation`) for a lab that
reacts or several generations; the two drivers never call each other.

Seeds are derived, never passed around: the run of point ``i``, replicate ``r`` uses
``SeedSequence(seed, spawn_key=(i, r))``, so every row is the same whatever the
number of workers, the executor, the chunking or the order in which chunks finish.

Runs are grouped in chunks. Each finished chunk is written as its own Parquet file
(``DIR/parts/``, written to a temporary name and renamed, so a kill never leaves a
torn file; the worker that ran the chunk encodes it) and appended, in chunk order, to
``DIR/results.parquet`` while the sweep runs (under a temporary name until the last
chunk is in); at the end the parts are deleted.
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

import functools
import hashlib
import inspect
import itertools
import json
import math
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import engine
from .files import write_atomically
from .learners import kernels_cached
from .limits import DASK_WORKER_WAIT, DEFAULT_MEMORY_LIMIT, MAX_GRID_VALUES
from .outputs import PARTS, SWEEP_FILES, open_output
from .params import PARAMETERS, PARAMETERS_BY_NAME, ParameterError, Params, _unknown, check_awareness
from .schema import FINAL_COLUMNS
from .version import __version__

if TYPE_CHECKING:  # pandas loads where a table is made in memory: a sweep to disk never needs it
    import pandas as pd

__all__ = [
    "SweepPlan",
    "PlanSize",
    "plan_sweep",
    "estimate",
    "check_memory",
    "sweep",
    "run_sweep",
    "parse_grid",
    "parse_bounds",
    "RESULT_COLUMNS",
    "EXECUTORS",
    "DEFAULT_GRID",
    "DEFAULT_MEMORY_LIMIT",
]

_BY_NAME = PARAMETERS_BY_NAME
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
    syntax = "allowed is START:STOP:COUNT (COUNT evenly spaced values, both ends included) or v1,v2,..."
    if isinstance(spec, list):
        if len(spec) > MAX_GRID_VALUES:
            raise ParameterError(f"grid {name} has {len(spec):,} values: allowed is at most {MAX_GRID_VALUES:,}")
        return _values_for(name, spec)
    if isinstance(spec, (dict, bool)) or not isinstance(spec, (str, int, float)):
        raise ParameterError(f"grid {name} = {spec!r} is not allowed: {syntax}")
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
        if count == 1 and start != stop:
            raise ParameterError(
                f"grid {name}={spec!r} is not allowed: COUNT 1 cannot include both ends {parts[0]} and "
                f"{parts[1]}: allowed is COUNT >= 2, or START:START:1 (or a single value) for one value")
        if count > MAX_GRID_VALUES:
            raise ParameterError(f"grid {name}={spec!r} has {count:,} values: allowed is a COUNT of at most "
                                 f"{MAX_GRID_VALUES:,}")
        return _values_for(name, np.linspace(start, stop, count).tolist())
    items = [v.strip() for v in spec.split(",") if v.strip()]
    if len(items) > MAX_GRID_VALUES:
        raise ParameterError(f"grid {name} has {len(items):,} values: allowed is at most {MAX_GRID_VALUES:,}")
    try:
        return _values_for(name, items)
    except ParameterError as err:
        if name not in _BY_NAME:
            raise
        raise ParameterError(f"grid {name}={spec!r} is not allowed ({str(err).rstrip('.')}): {syntax}") from None


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


# -- sizing -----------------------------------------------------------------------------
# The memory model of a sweep, measured (benchmarks/README.md, "Memory"): a fixed
# part (the interpreter, numba, pandas, pyarrow and the chunks in flight), a part per
# point and per run (the plan and its tasks), a part per row (the streamed analysis
# keeps a few numbers per row; a table returned in memory keeps every column), and
# the corpus of each run in flight (its documents and the family's per-document work).
_BASE_BYTES = 420 * 2**20
_POINT_BYTES = 2_500
_POINT_LEVEL_BYTES = 25
_RUN_BYTES = 300
_ROW_BYTES_STREAMED = 64
_ROW_BYTES_IN_MEMORY = 900
_DOCUMENT_BYTES = 170
_DOCUMENT_LEARNER_BYTES = 1


@dataclass(frozen=True)
class PlanSize:
    """What a sweep will hold and need, estimated before anything is laid out.

    ``memory`` is the estimated peak resident memory in bytes (the model above:
    measured constants, an estimate, not a bound).
    """

    points: int
    runs: int
    rows: int
    updates: float
    memory: float
    in_memory: bool = False

    def __str__(self) -> str:
        kept = "the table returned in memory" if self.in_memory else "the table streamed to disk"
        return (f"{self.points:,} point(s) x {self.runs // max(self.points, 1):,} replicate(s) = {self.runs:,} runs, "
                f"{self.rows:,} rows, {self.updates:.3g} learner-document updates; estimated peak memory "
                f"{_gib(self.memory)} ({kept})")


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _size(base: Params, grid_values: Mapping[str, list], levels: int, n_sampled: int,
          bounds: Mapping[str, Sequence[float]], replicates: int, in_memory: bool, workers: int = 2) -> PlanSize:
    points = n_sampled
    for values in grid_values.values():
        points *= len(values)
    runs = points * replicates
    rows = runs * levels

    def spread(name: str) -> tuple[float, float]:
        if name in grid_values:
            values = [float(v) for v in grid_values[name]]
            return sum(values) / len(values), max(values)
        if name in bounds:
            lo, hi = map(float, bounds[name])
            return (lo + hi) / 2, hi
        return float(base[name]), float(base[name])

    mean_docs, max_docs = spread("n_documents")
    mean_gen, _ = spread("generations")
    memory = _memory(points, runs, rows, levels, max_docs, in_memory, workers)
    return PlanSize(points, runs, rows, float(rows * mean_docs * mean_gen), memory, in_memory)


def _memory(points: int, runs: int, rows: int, levels: int, max_docs: float, in_memory: bool, workers: int) -> float:
    in_flight = min(runs, 2 * max(workers, 1))
    return float(_BASE_BYTES + points * (_POINT_BYTES + _POINT_LEVEL_BYTES * levels) + runs * _RUN_BYTES
                 + rows * (_ROW_BYTES_IN_MEMORY if in_memory else _ROW_BYTES_STREAMED)
                 + in_flight * max_docs * (_DOCUMENT_BYTES + _DOCUMENT_LEARNER_BYTES * levels))


def estimate(plan: "SweepPlan", in_memory: bool = False, workers: int = 2) -> PlanSize:
    """The size of a planned sweep (see :class:`PlanSize`): with ``in_memory`` the
    whole table is kept in memory (``sweep(out=None)``), else it is streamed to disk
    and analysed from there (the command line)."""
    max_docs = max((plan.params(i).n_documents for i in range(len(plan.points))), default=plan.base.n_documents)
    levels = max((len(a) for a in plan.awareness), default=1)
    memory = _memory(len(plan.points), plan.n_runs, plan.n_rows, levels, max_docs, in_memory, workers)
    return PlanSize(len(plan.points), plan.n_runs, plan.n_rows, plan.updates(), memory, in_memory)


def check_memory(size: PlanSize, limit: float | None = DEFAULT_MEMORY_LIMIT, flag: str = "--memory-limit") -> None:
    """Refuse a plan whose estimated peak memory is above ``limit`` (bytes; None: no limit)."""
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        raise ParameterError(f"{flag} {limit!r} is not allowed: allowed is a positive size")
    if size.memory > limit:
        raise ParameterError(f"the plan is too large: {size}, above the limit of {_gib(limit)}: allowed is a "
                             f"smaller plan, or a higher limit with {flag} GIB")


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
            values = {repr(point[p.name]) if p.name in point else base for point in self.points
                      for base in (repr(self.base[p.name]),)}
            if len(values) > 1:
                names.append(p.name)
        return names

    @functools.cached_property
    def _point_params(self) -> tuple[Params, ...]:
        return tuple(self.base.replace(**point) for point in self.points)

    def params(self, point: int) -> Params:
        """The parameters of point ``point`` (one object per point, made once)."""
        return self._point_params[point]

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
    memory_limit: float | None = DEFAULT_MEMORY_LIMIT,
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
    memory_limit : float or None
        Refuse (before laying anything out) a plan whose estimated peak memory, with
        its table streamed to disk, is above this many bytes (:func:`estimate`;
        None: no limit).

    Raises
    ------
    ParameterError
        For any value that is not allowed (one line, naming it), and for a plan above
        ``memory_limit`` (with its estimate).
    """
    base = params if params is not None else Params()
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or not 1 <= replicates <= 10**6:
        raise ParameterError(f"replicates = {replicates!r} is not allowed: allowed is a whole number in [1, 1000000]")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed = {seed!r} is not allowed: allowed is a whole number >= 0")

    if grid is not None and not isinstance(grid, Mapping):
        raise ParameterError(f"grid = {grid!r} is not allowed: allowed is a mapping of parameter names to "
                             "values or \"START:STOP:COUNT\"")
    if bounds is not None and not isinstance(bounds, Mapping):
        raise ParameterError(f"bounds = {bounds!r} is not allowed: allowed is a mapping of parameter names to (LO, HI)")
    for name, lohi in (bounds or {}).items():
        if isinstance(lohi, (str, bytes)) or not isinstance(lohi, Sequence) or len(lohi) != 2:
            raise ParameterError(f"bounds {name} = {lohi!r} is not allowed: allowed is (LO, HI) with LO < HI")
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
        bounds = {name: _check_bounds(name, *_floats(name, lohi)) for name, lohi in bounds.items()}
    elif bounds or points is not None:
        raise ParameterError("--bounds and --points go with --sample lhs|sobol")
    if memory_limit is not None:
        levels = 1 if AWARENESS in bounds else len(awareness_levels or [0])
        size = _size(base, grid_values, levels, int(points) if sample is not None else 1, bounds, int(replicates),
                     in_memory=False)
        check_memory(size, memory_limit)
    if sample is not None:
        sampled = _sample(sample, int(points), bounds, seed)

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


def _floats(name: str, lohi: Sequence[Any]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in lohi)
    except (TypeError, ValueError):
        raise ParameterError(f"bounds {name} = {list(lohi)!r} is not allowed: allowed is two numbers LO < HI") from None
    if not lo < hi:
        raise ParameterError(f"bounds {name} = {list(lohi)!r} is not allowed: allowed is two numbers LO < HI")
    return lo, hi


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
    tasks = []
    for i in range(len(plan.points)):
        params = plan.params(i)  # one object per point, shared by its replicates
        tasks.extend(_Task(i, r, params, plan.awareness[i], plan.seed) for r in range(plan.replicates))
    return tasks


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


def run_replicate(
    params: Params,
    awareness: np.ndarray,
    seed: int | np.random.SeedSequence,
) -> tuple[dict[str, np.ndarray], float | np.ndarray]:
    """One training run of a sweep, on the driver that fits it: the final columns
    (:data:`sim.schema.FINAL_COLUMNS`) and the measured q_r.

    A static lab in one training run has the batched engine's fast path
    (:func:`sim.engine.run_replicate`: one corpus read by the whole family in one
    compiled call). An adaptive lab (``lab_policy`` other than static) or a sequence of
    ``generations`` makes every learner's lineage its own and the lab react between
    batches: the engine then carries the learners whose labs agree together and splits
    them where their labs part (:func:`sim.engine.run_lineages`), and q_r is one value
    per learner. Either way the numbers are those of :func:`sim.simulate` (the Mesa
    model) for the same seed, bit for bit (tests/test_drivers.py).
    """
    if params.lab_policy != "static" or params.generations > 1:
        return engine.run_lineages(params, awareness, seed)
    return engine.run_replicate(params, awareness, seed)


def run_chunk(tasks: Sequence[_Task]) -> pd.DataFrame:
    """Run the replicates of one chunk; one row per (run, learner), in task order.

    A pure function of its argument (picklable), so that any executor can run it.
    """
    import pandas as pd

    columns = _chunk_columns(tasks)
    for name in _STRING_COLUMNS:
        columns[name] = _strings(columns[name])
    return _normalise(pd.DataFrame(columns, columns=list(RESULT_COLUMNS)))


def run_part(tasks: Sequence[_Task]) -> tuple[Any, bytes]:
    """Run the replicates of one chunk for a sweep written to disk: the chunk's rows as
    an Arrow table (the table :func:`run_chunk`'s frame gives, schema and pandas
    metadata included) and that table encoded as the chunk's Parquet part.

    Both are made here, in the worker: pyarrow builds and encodes without holding the
    GIL, so the sweep's main thread has only files to write (and the table to append
    to results.parquet). A pure function of its argument (picklable), like
    :func:`run_chunk`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = _chunk_columns(tasks)
    schema = _result_schema(tuple(str if name in _STRING_COLUMNS else columns[name].dtype for name in RESULT_COLUMNS))
    table = pa.Table.from_arrays([_arrow_array(columns[f.name], f.type) for f in schema], schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")  # what DataFrame.to_parquet wrote
    return table, sink.getvalue().to_pybytes()


def _arrow_array(values: np.ndarray, kind):
    """One column as an Arrow array of type ``kind`` (large_string, bool, or the
    column's own numeric type), NaN and None as null: what ``pa.array(values,
    type=kind, from_pandas=True)`` makes, which DataFrame.to_parquet stores.

    Made from the column's buffers (``pa.Array.from_buffers``) because ``pa.array``
    imports pandas to ask whether its argument is pandas' (a third of a second of every
    sweep's start, issue 18); tests/test_sweep_output.py compares the two."""
    import pyarrow as pa

    n = len(values)
    if pa.types.is_large_string(kind):
        valid = np.fromiter((v is not None for v in values), dtype=bool, count=n)
        encoded = [v.encode() if v is not None else b"" for v in values]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=offsets[1:])
        data = [pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    elif pa.types.is_boolean(kind):
        valid = None
        data = [pa.py_buffer(np.packbits(np.asarray(values, dtype=bool), bitorder="little"))]
    else:
        values = np.ascontiguousarray(values)
        valid = ~np.isnan(values) if values.dtype.kind == "f" else None
        data = [pa.py_buffer(values)]
    if valid is None or valid.all():
        return pa.Array.from_buffers(kind, n, [None, *data], null_count=0)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(kind, n, [bitmap, *data], null_count=int(n - np.count_nonzero(valid)))


#: The string columns of a result table (every other column is a number or a bool).
_STRING_COLUMNS = tuple(p.name for p in PARAMETERS if p.kind is str) + ("seed_key", "persona")


def _chunk_columns(tasks: Sequence[_Task]) -> dict[str, np.ndarray]:
    """The columns of one chunk's rows, every number in its final dtype, the strings
    (:data:`_STRING_COLUMNS`) as object arrays."""
    results: dict[str, list] = {c: [] for c in FINAL_COLUMNS}
    cited_rates, counts = [], []
    for task in tasks:
        seed = np.random.SeedSequence(task.seed, spawn_key=(task.point, task.replicate))
        final, real_cited_rate = run_replicate(task.params, np.asarray(task.awareness), seed)
        for c in FINAL_COLUMNS:
            results[c].append(final[c])
        cited_rates.append(real_cited_rate)
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
            columns[p.name] = np.repeat(np.asarray(values, dtype=object), repeat)
        else:
            per_task = np.asarray([np.nan if v is None else v for v in values])
            columns[p.name] = np.repeat(per_task.astype(np.int64 if p.kind is int else np.float64), repeat)
    columns["point"] = np.repeat(np.asarray([t.point for t in tasks], dtype=np.int64), repeat)
    columns["replicate"] = np.repeat(np.asarray([t.replicate for t in tasks], dtype=np.int64), repeat)
    columns["seed_key"] = np.repeat(
        np.asarray([f"{t.seed}/{t.point}/{t.replicate}" for t in tasks], dtype=object), repeat)
    columns["real_cited_rate"] = np.concatenate(
        [np.broadcast_to(np.asarray(q, dtype=float), (n,)) for q, n in zip(cited_rates, counts)])
    for c in FINAL_COLUMNS:
        if c != AWARENESS:
            columns[c] = np.concatenate(results[c])
    return columns


@functools.cache
def _result_schema(kinds: tuple):
    """The Arrow schema ``DataFrame.to_parquet`` gives :func:`run_chunk`'s frame when
    its columns have these dtypes (``str`` or a numpy dtype, in the order of
    :data:`RESULT_COLUMNS`), its pandas metadata included, made without importing
    pandas (a third of a second of every sweep's start, issue 18): the fields are
    those pyarrow makes of the frame's dtypes and the metadata the JSON pyarrow writes
    for them (``pyarrow.pandas_compat.construct_metadata``, with pandas 3's string
    dtype). tests/test_sweep_output.py compares both with ``pa.Schema.from_pandas``."""
    import pyarrow as pa
    from importlib.metadata import version

    fields, columns = [], []
    for name, kind in zip(RESULT_COLUMNS, kinds):
        if kind is str:
            arrow, pandas_type, numpy_type = pa.large_string(), "object", "str"
        else:
            dtype = np.dtype(kind)
            arrow, pandas_type, numpy_type = pa.from_numpy_dtype(dtype), dtype.name, dtype.name
        fields.append(pa.field(name, arrow))
        columns.append({"name": name, "field_name": name, "pandas_type": pandas_type, "numpy_type": numpy_type,
                        "metadata": None})
    metadata = {"index_columns": [], "column_indexes": [], "columns": columns, "attributes": {},
                "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": version("pandas")}
    return pa.schema(fields, metadata={b"pandas": json.dumps(metadata).encode("utf8")})


def _strings(values: np.ndarray):
    """A column of Python strings as pandas' string dtype (what ``astype(str)`` gives)."""
    import pandas as pd

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


@functools.cache
def _str_dtype():
    """pandas' string dtype (what ``astype(str)`` gives)."""
    import pandas as pd

    return pd.Series([""], dtype=object).astype(str).dtype


def _is_str(dtype) -> bool:
    return dtype == _str_dtype()


def _watch_parent(parent: int) -> None:
    """In a worker process: exit when the sweep's process is gone (even after SIGKILL,
    which no handler sees), checked twice a second."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="persona-sim-parent-watch", daemon=True).start()


def _make_executor(executor: str, workers: int, scheduler: Any, worker_wait: float = DASK_WORKER_WAIT):
    if executor == "serial":
        return None
    if executor == "thread":
        return ThreadPoolExecutor(max_workers=workers)
    if executor == "process":
        import multiprocessing

        before = {child.pid for child in multiprocessing.active_children()}
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_watch_parent, initargs=(os.getpid(),))
        pool._persona_sim_children_before = before  # what _stop must leave alone
        return pool
    if executor == "dask":
        try:
            from dask.distributed import Client
        except ImportError:
            raise ParameterError(
                "--executor dask needs dask.distributed: allowed after pip install 'persona-sim[dist]'"
            ) from None
        if not scheduler:
            raise ParameterError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        if not isinstance(scheduler, str):
            raise ParameterError(f"--scheduler {scheduler!r} is not allowed: allowed is an address like "
                                 "tcp://127.0.0.1:8786")
        try:
            client = Client(scheduler, timeout="10s")
        except Exception as err:  # noqa: BLE001 - dask raises OSError, TimeoutError, ValueError, ...
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ParameterError(f"--scheduler {scheduler!r} cannot be reached ({reason}): allowed is the address "
                                 "of a running dask.distributed scheduler, like tcp://127.0.0.1:8786") from None
        try:
            client.wait_for_workers(1, timeout=worker_wait)
        except Exception:  # noqa: BLE001 - dask's TimeoutError
            client.close()
            raise ParameterError(f"--scheduler {scheduler!r} has no worker: none joined within {worker_wait:g} s "
                                 "(--worker-wait): allowed is a scheduler with at least one worker") from None
        return _DaskExecutor(client)
    raise ParameterError(f"--executor {executor!r} is not allowed: allowed is one of {', '.join(EXECUTORS)}")


class _DaskExecutor(Executor):
    """A dask.distributed Client as a concurrent.futures Executor. Shutting it down
    cancels this sweep's futures (when not waiting) and closes the client; the
    cluster, which is the user's, is never shut down."""

    def __init__(self, client) -> None:
        self.client = client
        self.executor = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self.executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.executor.shutdown(wait=wait and not cancel_futures)
        self.client.close()


def _stop(pool: Executor | None, interrupted: bool) -> None:
    """Shut the sweep's workers down: wait for them after a normal end; after an
    interrupt, cancel what has not started and end the worker processes now."""
    if pool is None:
        return
    if not interrupted:
        pool.shutdown(wait=True)
        return
    if isinstance(pool, ProcessPoolExecutor):
        import multiprocessing

        # the pool's workers, and any child it was starting when the signal came (not
        # yet in its table, but joined at exit by multiprocessing all the same)
        before = getattr(pool, "_persona_sim_children_before", set())
        processes = {p.pid: p for p in (getattr(pool, "_processes", None) or {}).values()}
        processes.update({p.pid: p for p in multiprocessing.active_children() if p.pid not in before})
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
        # A worker ended while sending its result leaves the pool's reader thread
        # waiting for the rest of the message, and the interpreter joins that thread at
        # exit. With the workers gone, closing this process's copy of the pipe's writing
        # end gives the reader an end of file: it marks the pool broken and ends.
        writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass
        pool.shutdown(wait=False, cancel_futures=True)
        manager = getattr(pool, "_executor_manager_thread", None)
        if manager is not None:
            manager.join(5)
    else:  # threads finish the chunk they are on (under a second); dask cancels
        pool.shutdown(wait=False, cancel_futures=True)


# -- the folder -------------------------------------------------------------------------
class _Store:
    """The on-disk side of a sweep in its output folder: manifest, chunk parts with
    their checksums, the assembled table."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.parts = work / PARTS
        self.results = work / "results.parquet"

    def part(self, chunk: int) -> Path:
        return self.parts / f"chunk-{chunk:06d}.parquet"

    def record(self, chunk: int) -> Path:
        return self.parts / f"chunk-{chunk:06d}.sha256"

    def verified(self, chunks: list[list[_Task]]) -> set[int]:
        """The chunks whose part is on disk whole: its record exists, names the rows the
        plan gives that chunk, and the file's SHA-256 is the one recorded. Any other
        part (torn, short, zero bytes, without a record) is deleted and recomputed."""
        if not self.parts.is_dir():
            return set()
        good = set()
        for i, chunk in enumerate(chunks):
            part, record = self.part(i), self.record(i)
            if not part.is_file() and not record.is_file():
                continue
            try:
                expected = json.loads(record.read_text())
                ok = (expected["rows"] == sum(len(t.awareness) for t in chunk)
                      and expected["sha256"] == _sha256(part))
            except (OSError, ValueError, KeyError, TypeError):
                ok = False
            if ok:
                good.add(i)
            else:
                for path in (part, record):
                    if path.exists():
                        path.unlink()
        return good

    def write_part(self, chunk: int, data: bytes, rows: int) -> None:
        """The part (``data``, its Parquet bytes) first, to a temporary name and then
        renamed, its record after it: a part without a record is never trusted."""
        final = self.part(chunk)
        tmp = final.with_name(f".{final.name}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, final)
        digest = hashlib.sha256(data).hexdigest()
        write_atomically(self.record(chunk), json.dumps({"rows": rows, "sha256": digest}).encode())

    def clear_leftovers(self) -> None:
        for leftover in self.parts.glob(".chunk-*"):
            leftover.unlink()

    def remove_parts(self, n_chunks: int) -> None:
        """Delete the parts and their records (and nothing else in ``parts/``)."""
        for i in range(n_chunks):
            for path in (self.part(i), self.record(i)):
                if path.exists():
                    path.unlink()
        try:
            self.parts.rmdir()
        except OSError:  # a user's file in parts/ keeps the folder
            pass


class _Results:
    """results.parquet, written while the sweep runs: each chunk's table is appended
    (one row group per chunk, in chunk order) as soon as the chunks before it are in,
    so nothing is read back or encoded again at the end.

    The file is written under a leftover's name (``.results.parquet.writing.part``,
    see :mod:`sim.outputs`) and renamed by :meth:`finish`; :meth:`abandon` deletes it.
    A chunk that finishes early waits in memory (at most ``waiting`` of them; any
    more, and the chunks resumed from disk, are read from their parts when their turn
    comes). With ``keep`` (a list), every table written is appended to it.
    """

    NAME = ".results.parquet.writing.part"

    def __init__(self, store: _Store, n_chunks: int, on_disk: set[int], waiting: int, keep: list | None = None) -> None:
        self.store = store
        self.keep = keep
        self.n_chunks = n_chunks
        self.on_disk = set(on_disk)
        self.waiting: dict[int, Any] = {}
        self.max_waiting = max(waiting, 1)
        self.next = 0
        self.writer = None
        self.tmp = store.work / self.NAME

    def add(self, chunk: int, table) -> None:
        if chunk != self.next and len(self.waiting) >= self.max_waiting:
            self.on_disk.add(chunk)  # its part is written: read it back when its turn comes
        else:
            self.waiting[chunk] = table
        self._append()

    def _append(self) -> None:
        import pyarrow.parquet as pq

        while self.next < self.n_chunks and (self.next in self.waiting or self.next in self.on_disk):
            table = self.waiting.pop(self.next, None)
            if table is None:
                table = pq.read_table(self.store.part(self.next))
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.tmp, table.schema)
            self.writer.write_table(table)
            if self.keep is not None:
                self.keep.append(table)
            self.next += 1

    def finish(self) -> None:
        """Close the file, rename it results.parquet, delete the parts."""
        self._append()  # the resumed chunks, when no chunk was left to run
        if self.next != self.n_chunks:  # pragma: no cover - every chunk was run or resumed
            raise RuntimeError(f"results.parquet: chunk {self.next} of {self.n_chunks} is missing")
        self.writer.close()
        self.writer = None
        os.replace(self.tmp, self.store.results)
        self.store.remove_parts(self.n_chunks)

    def abandon(self) -> None:
        """After an error or an interrupt: close and delete the unfinished file (the
        parts stay, for a resume)."""
        try:
            if self.writer is not None:
                self.writer.close()
        except Exception:  # noqa: BLE001 - the error being handled is the one to report
            pass
        self.writer = None
        if self.tmp.exists():
            self.tmp.unlink()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(plan: SweepPlan, n_chunks: int, command: str | None) -> dict:
    return {
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
        "parts": "parts/chunk-NNNNNN.parquet, each with parts/chunk-NNNNNN.sha256 (rows and SHA-256)",
        "complete": False,
        "files": [],
    }


def _resume_match(plan: SweepPlan) -> Callable[[dict], bool]:
    fingerprint = plan.fingerprint()
    return lambda manifest: manifest.get("fingerprint") == fingerprint


# -- running a sweep --------------------------------------------------------------------
def _check_run_settings(executor: str, workers: int | None) -> int:
    if executor not in EXECUTORS:
        raise ParameterError(f"--executor {executor!r} is not allowed: allowed is one of {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))):
        raise ParameterError(f"--workers {workers!r} is not allowed: allowed is a whole number >= 1")
    workers = int(workers) if workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ParameterError(f"--workers {workers} is not allowed: allowed is a whole number >= 1")
    return 1 if executor == "serial" else workers


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
    overwrite: bool = False,
    worker_wait: float = DASK_WORKER_WAIT,
    finish: Callable[[Path, dict], list[str]] | None = None,
    fresh: bool = False,
) -> pd.DataFrame | Path:
    """Run a planned sweep; return its table (and write it when ``out`` is given).

    Parameters
    ----------
    plan : SweepPlan
    out : path, optional
        Folder for ``results.parquet`` and ``manifest.json`` (see
        :mod:`sim.outputs`: one writer at a time; a folder holding anything else, or a
        finished sweep, is refused unless ``resume`` or ``overwrite``); None keeps
        everything in memory.
    workers : int, optional
        Parallel workers (threads, processes or Dask tasks in flight); default the
        machine's cores.
    executor : {"serial", "thread", "process", "dask"}
        ``thread`` (default) runs chunks on threads: the compiled updates release
        the GIL. ``dask`` sends them to the dask.distributed scheduler at
        ``scheduler`` (waiting up to ``worker_wait`` seconds for a worker).
    resume : bool
        Keep the chunks already in ``out`` whose checksums hold (the plan must be the
        same); recompute the others.
    overwrite : bool
        Replace the sweep in ``out``; the old one stays whole until the new one is
        complete.
    progress : bool
        A tqdm bar with ETA on stderr.
    finish : callable, optional
        With ``out``: called as ``finish(work, manifest)`` once the table is written
        (the workers stopped), to add files to the output before it is committed (the
        command line's thresholds and figures, written into ``work``); it returns
        their names, and may add entries to ``manifest`` (the mean field's columns).
        The sweep's folder is then returned, not its table.
    fresh : bool
        ``out`` was just made for this sweep (:func:`sim.outputs.new_folder`).
    """
    workers = _check_run_settings(executor, workers)
    if resume and overwrite:
        raise ParameterError("--resume and --overwrite are not allowed together: allowed is one of them")
    if out is None:
        pool = _make_executor(executor, workers, scheduler, worker_wait)  # validates before anything runs
        return _with_pool(pool, lambda: execute(plan, None, pool, workers, progress, on_chunk))
    mode = "resume" if resume else "overwrite" if overwrite else "new"
    pool = _make_executor(executor, workers, scheduler, worker_wait)  # validates before anything is written

    # without finish the table is returned: kept chunk by chunk as it is written, not read back
    tables: list | None = [] if finish is None else None

    def job() -> Path:
        with open_output(out, "sweep", mode, _resume_match(plan), command, fresh=fresh) as output:
            manifest = execute(plan, output, pool, workers, progress, on_chunk, command, tables=tables)
            if finish is not None:
                _stop(pool, interrupted=False)  # the workers are not needed to analyse the table
                output.write_manifest({**manifest, "files": list(SWEEP_FILES)})  # what finish may write
                written = finish(output.work, manifest)  # may add entries to the manifest
                manifest = {**manifest, "files": ["results.parquet", *written]}
            output.commit(manifest)
            return output.folder

    folder = _with_pool(pool, job)
    if finish is not None:
        return folder
    if tables:  # this call wrote (or resumed) results.parquet: its table is in memory
        import pyarrow as pa

        return pa.concat_tables(tables).to_pandas()  # what pd.read_parquet does once it has read the table
    import pandas as pd

    return pd.read_parquet(folder / "results.parquet")


def _with_pool(pool, job):
    """Run ``job`` and shut ``pool`` down after it; on an interrupt (Ctrl-C, SIGTERM)
    or an error, end the sweep's workers at once."""
    try:
        result = job()
    except BaseException:
        _stop(pool, interrupted=True)
        raise
    _stop(pool, interrupted=False)
    return result


def execute(plan: SweepPlan, output, pool, workers: int, progress: bool = True,
            on_chunk: Callable[[int, pd.DataFrame], None] | None = None, command: str | None = None,
            tables: list | None = None):
    """Run the plan's chunks on ``pool`` (None: here, one after the other).

    With ``output`` (an :class:`sim.outputs.Output` held by the caller) each finished
    chunk is written to ``output.work/parts`` with its checksum and appended, in chunk
    order, to ``results.parquet`` (see :class:`_Results`), and the manifest (``complete``, ``files``) is
    returned for the caller to commit; a resumed output keeps its verified parts. With
    no output the table is returned. With ``tables`` (a list) and an output, the
    Arrow table of every chunk written to results.parquet is appended to it, in order.
    """
    tasks = _tasks(plan)
    chunks = _chunks(plan, tasks)
    n_chunks = len(chunks)
    if output is None:
        import pandas as pd

        frames: dict[int, pd.DataFrame] = {}
        _run_chunks(chunks, range(n_chunks), pool, workers, progress, plan,
                    lambda i, frame: frames.__setitem__(i, frame), on_chunk)
        ordered = [frames[i] for i in range(n_chunks)]
        return pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame(columns=list(RESULT_COLUMNS))

    store = _Store(output.work)
    current = output.current
    if current is not None:
        if current.get("complete") and store.results.is_file():
            if progress:
                print(f"persona-sim: {output.folder / 'results.parquet'} is complete; nothing to run", file=sys.stderr)
            return current
        if current.get("n_chunks", n_chunks) != n_chunks:
            raise ParameterError(
                f"--resume: {str(output.folder)!r} was cut into {current.get('n_chunks')} chunks, this persona-sim "
                f"cuts the sweep into {n_chunks} (another version): allowed is a new --out")
    manifest = _manifest(plan, n_chunks, command if current is None else current.get("command", command))
    store.parts.mkdir(parents=True, exist_ok=True)
    store.clear_leftovers()
    done = store.verified(chunks) if current is not None else set()
    output.write_manifest(manifest)

    started = time.perf_counter()
    todo = [i for i in range(n_chunks) if i not in done]
    results = _Results(store, n_chunks, done, waiting=4 * workers, keep=tables)

    def keep(i: int, part: tuple[Any, bytes]) -> None:
        table, data = part
        store.write_part(i, data, table.num_rows)  # the part on disk first: a resume can use it
        results.add(i, table)

    try:
        _run_chunks(chunks, todo, pool, workers, progress, plan, keep, on_chunk,
                    initial=sum(len(chunks[i]) for i in done), work=run_part, frame=lambda part: part[0].to_pandas())
        results.finish()
    except BaseException:
        results.abandon()
        raise
    manifest.update(complete=True, seconds=round(time.perf_counter() - started, 3), files=["results.parquet"])
    output.write_manifest(manifest)
    return manifest


def _run_chunks(chunks, todo, pool, workers, progress, plan, keep, on_chunk, initial: int = 0,
                work: Callable = run_chunk, frame: Callable | None = None) -> None:
    """Run ``work`` (:func:`run_chunk`, or :func:`run_part` for a sweep written to
    disk) on the chunks ``todo``; hand each result to ``keep`` in the main thread, then
    to ``on_chunk`` as a frame (``frame(result)``; the result itself when None)."""
    if progress and todo and (pool is None or isinstance(pool, (ThreadPoolExecutor, ProcessPoolExecutor))):
        compile_first(chunks[todo[0]][0].params)
    bar = _progress_bar(plan, initial, progress)

    def finish(i: int, result) -> None:
        keep(i, result)
        if on_chunk is not None:
            on_chunk(i, result if frame is None else frame(result))
        if bar is not None:
            bar.update(len(chunks[i]))

    try:
        if pool is None:
            for i in todo:
                finish(i, work(chunks[i]))
        else:
            _run_bounded(pool, chunks, todo, finish, in_flight=2 * workers, work=work)
    finally:
        if bar is not None:
            bar.close()


def _run_bounded(pool: Executor, chunks, todo, finish, in_flight: int, work: Callable = run_chunk) -> None:
    """Submit chunks with at most ``in_flight`` outstanding, so memory stays bounded."""
    pending: dict[Future, int] = {}
    queue = iter(todo)
    for i in itertools.islice(queue, in_flight):
        pending[pool.submit(work, chunks[i])] = i
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            i = pending.pop(future)
            finish(i, future.result())
            nxt = next(queue, None)
            if nxt is not None:
                pending[pool.submit(work, chunks[nxt])] = nxt


def compile_first(params: Params) -> float | None:
    """Compile the kernels a run of ``params`` needs, saying so, when numba's cache
    does not hold them yet (:func:`sim.learners.kernels_cached`: a machine's first run,
    or the first after an upgrade); return the seconds it took, or None when the cache
    was warm. It runs one small replicate of the same configuration (the same driver
    and path, 300 documents), so that a progress bar started after it moves from the
    first run on; worker processes then load the kernels from the cache. A line on
    standard error announces the wait before it starts, another its length."""
    if kernels_cached(params):
        return None
    print("persona-sim: compiling the model's kernels to machine code (first run only: numba caches them; "
          "about 5-30 s) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    small = params.replace(n_documents=min(params.n_documents, 300), batch_size=min(params.batch_size, 100))
    run_replicate(small, np.array([0.5]), np.random.SeedSequence(0))
    seconds = time.perf_counter() - started
    print(f"persona-sim: compiled in {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds


def _progress_bar(plan: SweepPlan, initial: int, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

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
    **settings: Any,
) -> pd.DataFrame:
    """Run a parameter sweep and return its tidy table: :func:`plan_sweep` then
    :func:`run_sweep` in one call.

    ``params``, ``grid``, ``replicates``, ``seed`` and the other keywords of
    :func:`plan_sweep` (``sample``, ``points``, ``bounds``, ``memory_limit``) lay the
    sweep out; the rest are :func:`run_sweep`'s (``out``, ``workers``, ``executor``,
    ``scheduler``, ``resume``, ``progress``, ``overwrite``, ...).

    One row per (point, replicate, awareness level): every parameter, ``point``,
    ``replicate``, ``seed_key``, ``real_cited_rate`` (q_r of that run's corpus) and
    the final results (``persona, p_deceptive, log_odds, uplift,
    believed_planted_share, paranoia, emergence_document``). See
    :func:`plan_sweep` for the settings (and ``memory_limit``, in bytes) and
    :func:`run_sweep` for how it runs and what ``out``, ``resume`` and ``overwrite``
    do with a folder. The whole table is returned in memory, so its size counts
    against ``memory_limit`` too.

    Examples
    --------
    >>> from sim import Params, sweep
    >>> df = sweep(Params(n_documents=2000), grid={"situational_awareness": "0.2:0.8:3",
    ...            "planted_fraction": [0.0, 0.25]}, replicates=3, seed=7, progress=False)
    >>> df.groupby(["planted_fraction", "situational_awareness"])["persona"].apply(
    ...     lambda p: (p == "rebel").mean()).tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """
    layout_names = inspect.signature(plan_sweep).parameters
    layout = {name: value for name, value in settings.items() if name in layout_names}
    plan = plan_sweep(params, grid, replicates, seed, **layout)
    check_memory(estimate(plan, in_memory=True), layout.get("memory_limit", DEFAULT_MEMORY_LIMIT))
    return run_sweep(plan, **{name: value for name, value in settings.items() if name not in layout_names})
