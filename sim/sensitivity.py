"""Global sensitivity analysis of the threshold (issue 13; docs/model.md §11).

Which of the model's assumptions decide whether, and at what awareness, planting
backfires? Over a box of parameter values this module samples points with SALib
(Saltelli's extension of Sobol' sequences for Sobol' indices, or Morris
trajectories), evaluates the mean-field outputs at every point
(:mod:`sim.meanfield_batch`) and estimates the indices with their bootstrap
confidence intervals:

- Sobol' (Saltelli 2002; Saltelli et al. 2010, with Jansen's total-order
  estimator): the first-order index S1 (the share of the output's variance that a
  parameter explains alone) and the total-order index ST (alone and through its
  interactions); ``--samples N`` is the base sample size, so N (2D + 2) points with
  second-order terms;
- Morris (1991; Campolongo, Cariboni and Saltelli 2007): mu* (the mean absolute
  elementary effect) and sigma (their spread), from N trajectories of D + 1 points.

A factor is sampled uniformly between its bounds in its own unit: ``NAME=LO:HI``
(the parameter), ``NAME=log:LO:HI`` (its logarithm: rates that span decades) or
``NAME=auc:LO:HI`` / ``NAME=sad:LO:HI`` (a measured quantity, resolved by
:func:`sim.params.resolve_measured`; the samples record both). Whole-number
parameters are rounded. The indices are those of the sampled unit.

Seeds: the sampler draws from ``SeedSequence(seed, spawn_key=(2**32 - 2,))`` and the
bootstrap of output ``j`` from ``SeedSequence(seed, spawn_key=(2**32 - 3, j))``, apart
from the simulated runs' ``(point, replicate)`` keys of :mod:`sim.sweeps` (and from
its sampler's ``(2**32 - 1,)``), so the same seed gives the same ``indices.csv``.

Simulation (``simulate=True``): every sample point is also run through the sweep
engine (:func:`sim.sweeps.run_sweep`: executors, chunks on disk, ``--resume``), with
``replicates`` corpora per point, each read by learners at ``levels`` awareness
levels evenly spaced on [0, 1] and at ``at_awareness``. The simulated outputs are
``s_star_sim`` (the lowest awareness at which the share of rebels over replicates
reaches 1/2, linearly interpolated between levels; 1.0 where it never does, with
``threshold_exists_sim``) and ``p_rebel_at_sim`` (the share of rebels at
``at_awareness``). The folder is then a sweep's (kind ``sweep``: ``results.parquet``,
resumable, readable by ``persona-sim threshold``) that also holds the sensitivity
files.

References
----------
.. [1] A. Saltelli, "Making best use of model evaluations to compute sensitivity
   indices", Comput. Phys. Commun. 145 (2002) 280-297.
.. [2] A. Saltelli et al., "Variance based sensitivity analysis of model output.
   Design and estimator for the total sensitivity index", Comput. Phys. Commun.
   181 (2010) 259-270.
.. [3] M. D. Morris, "Factorial sampling plans for preliminary computational
   experiments", Technometrics 33 (1991) 161-174; F. Campolongo, J. Cariboni,
   A. Saltelli, Environ. Model. Softw. 22 (2007) 1509-1518.
.. [4] J. Herman and W. Usher, "SALib: An open-source Python library for
   sensitivity analysis", J. Open Source Softw. 2 (2017) 97.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .factors import DEFAULT_BOX, METHODS, OUTPUTS, SIMULATED_OUTPUTS, Factor, parse_factor
from .files import write_atomically
from .meanfield_batch import (CONSTANT_COLUMNS, KNOWN_PARAMETERS, MEAN_FIELD_LEARNER, check_mean_field_learner,
                              point_constants, thresholds_and_p_rebel)
from .outputs import open_output
from .params import PARAMETERS, PARAMETERS_BY_NAME, ParameterError, Params, _unknown, check_awareness
from .sweeps import SweepPlan, _jsonable, check_memory, estimate, run_sweep
from .version import __version__

__all__ = [
    "Factor",
    "parse_factor",
    "DEFAULT_BOX",
    "OUTPUTS",
    "SIMULATED_OUTPUTS",
    "METHODS",
    "SensitivityPlan",
    "plan_sensitivity",
    "sample",
    "evaluate",
    "analyse",
    "convergence",
    "run_sensitivity",
    "estimated_memory",
    "summary",
]

_BY_NAME = PARAMETERS_BY_NAME
#: Bootstrap resamples of the confidence intervals.
RESAMPLES = 100
#: Points per evaluation chunk (one step of the progress bar).
_CHUNK = 2048
#: Spawn keys of the sampler's and the bootstrap's streams, apart from the simulated
#: runs' (point, replicate) keys and the sweep sampler's (2**32 - 1,).
_SAMPLER_KEY = (2**32 - 2,)
_BOOTSTRAP_KEY = 2**32 - 3
#: Peak memory of the mean-field analysis, measured (benchmarks/README.md, "Global
#: sensitivity"): about 346 MiB at 18,432 points and 482 MiB at 294,912.
_BASE_BYTES = 340 * 2**20
_POINT_BYTES = 500


def estimated_memory(plan: "SensitivityPlan") -> float:
    """Estimated peak bytes of the mean-field analysis (per value of ``by``, the
    analyses run one after the other but their tables are kept)."""
    return _BASE_BYTES + _POINT_BYTES * plan.n_points * max(1, len(plan.choices()))


@dataclass(frozen=True)
class SensitivityPlan:
    """Everything that determines a sensitivity analysis's numbers."""

    base: Params
    factors: tuple[Factor, ...]
    method: str
    samples: int
    outputs: tuple[str, ...]
    at_awareness: float
    seed: int
    simulate: bool = False
    replicates: int = 10
    levels: int = 21
    by: str | None = None

    def problem(self) -> dict:
        """SALib's problem: the factors' names and sampler-space bounds."""
        return {"num_vars": len(self.factors), "names": [f.name for f in self.factors],
                "bounds": [f.sampler_bounds() for f in self.factors]}

    @property
    def n_points(self) -> int:
        d = len(self.factors)
        return self.samples * (2 * d + 2) if self.method == "sobol" else self.samples * (d + 1)

    def identity(self) -> dict:
        return {
            "method": self.method, "samples": self.samples, "seed": self.seed,
            "at_awareness": self.at_awareness, "outputs": list(self.outputs),
            "bounds": [f.text() for f in self.factors],
            "base": _jsonable(self.base.to_dict()),
            **({"simulate": {"replicates": self.replicates, "levels": self.levels}} if self.simulate else {}),
            **({"by": self.by, "choices": list(self.choices())} if self.by else {}),
        }

    def choices(self) -> tuple[str, ...]:
        """The values of the categorical parameter ``by`` (one analysis each)."""
        return tuple(_BY_NAME[self.by].choices or ()) if self.by else ()

    def for_choice(self, choice: str) -> "SensitivityPlan":
        """The analysis of one value of ``by``: its base scenario with that value."""
        return replace(self, base=self.base.replace(**{self.by: choice}), by=None)

    def awareness_levels(self) -> tuple[float, ...]:
        """The learners of every simulated run: ``levels`` evenly spaced on [0, 1] and
        ``at_awareness``."""
        grid = np.linspace(0.0, 1.0, self.levels).round(12).tolist()
        return tuple(sorted(set(grid) | {float(self.at_awareness)}))


def plan_sensitivity(
    base: Params | None = None,
    factors: Sequence[Factor] | None = None,
    method: str = "sobol",
    samples: int = 1024,
    outputs: Sequence[str] | None = None,
    at_awareness: float = 0.4,
    seed: int = 0,
    simulate: bool = False,
    replicates: int = 10,
    levels: int = 21,
    by: str | None = None,
) -> SensitivityPlan:
    """Validate the settings (one-line ParameterError for each bad one)."""
    base = base if base is not None else Params()
    factors = tuple(factors) if factors else DEFAULT_BOX
    names = [f.name for f in factors]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ParameterError(f"--bounds names {twice} twice: allowed is one range per parameter")
    if len(factors) < 2:
        raise ParameterError("--bounds names one parameter: allowed is two or more (SALib's indices compare them)")
    if method not in METHODS:
        raise ParameterError(f"--method {method!r} is not allowed: allowed is sobol or morris")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or not 2 <= samples <= 2**20:
        raise ParameterError(f"--samples {samples!r} is not allowed: allowed is a whole number in [2, 1048576]")
    if method == "sobol" and samples & (samples - 1):
        raise ParameterError(f"--samples {samples} is not allowed with sobol: allowed is a power of 2 (e.g. 256, 1024)")
    mean_field = base.learner_model == MEAN_FIELD_LEARNER  # the learning learner is only simulated
    known = (OUTPUTS if mean_field else ()) + (SIMULATED_OUTPUTS if simulate else ())
    if by is not None and simulate:  # compared by simulation alone (not every value need have a mean field)
        known = SIMULATED_OUTPUTS
    outputs = tuple(outputs) if outputs else known
    for name in outputs:
        if name not in known:
            extra = f" ({', '.join(SIMULATED_OUTPUTS)} with --simulate)" if not simulate else ""
            raise ParameterError(f"--output {name!r} is not allowed: allowed are {', '.join(known)}{extra}")
    if simulate:
        if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or not 1 <= replicates <= 10**6:
            raise ParameterError(f"--replicates {replicates!r} is not allowed: allowed is a whole number in [1, 1000000]")
        if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 2 <= levels <= 1001:
            raise ParameterError(f"--levels {levels!r} is not allowed: allowed is a whole number in [2, 1001]")
    if len(set(outputs)) != len(outputs):
        raise ParameterError("--output names an output twice: allowed is each output once")
    try:
        at = check_awareness([at_awareness])[0]
    except ParameterError:
        raise ParameterError(f"--at-awareness {at_awareness!r} is not allowed: allowed is a number in [0, 1]") from None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"--seed {seed!r} is not allowed: allowed is a whole number >= 0")
    if not simulate:
        check_mean_field_learner(base)
    if by is not None:
        if by not in _BY_NAME:
            raise _unknown(by, where=" in --by")
        if by == "learner_model" and not simulate:
            raise ParameterError("--by learner_model is not allowed without --simulate: the learning learner has no "
                                 "mean field (docs/model.md §3.1); allowed is --by learner_model --simulate")
        if _BY_NAME[by].kind is not str:
            categorical = ", ".join(p.name for p in PARAMETERS if p.kind is str)
            raise ParameterError(f"--by {by} is not a categorical parameter: allowed is one of {categorical}")
    plan = SensitivityPlan(base, factors, method, int(samples), outputs, at, int(seed), bool(simulate),
                           int(replicates), int(levels), by)
    for choice in plan.choices():
        try:
            plan.for_choice(choice)
        except ParameterError as err:
            raise ParameterError(f"--by {by} = {choice}: {err}") from None
    # every corner of the box must be a valid configuration (joint checks: rho + eta <= 1, ...)
    for f in factors:
        for end in f.values_at_ends():
            try:
                base.replace(**{f.name: end if _BY_NAME[f.name].kind is float else int(round(end))})
            except ParameterError as err:
                raise ParameterError(f"--bounds {f.text()}: {err}") from None
    return plan


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def sample(plan: SensitivityPlan) -> tuple[np.ndarray, pd.DataFrame]:
    """The sampler's matrix (sampler space, for SALib's analysis) and the sample
    table: ``sample``, each factor's parameter value (and its measured unit), in the
    sampler's order."""
    problem = plan.problem()
    if plan.method == "sobol":
        from SALib.sample import sobol as sobol_sample

        x = sobol_sample.sample(problem, plan.samples, calc_second_order=True, seed=_rng(plan.seed, *_SAMPLER_KEY))
    else:
        from SALib.sample import morris as morris_sample

        x = morris_sample.sample(problem, plan.samples, num_levels=4, seed=_rng(plan.seed, *_SAMPLER_KEY))
    table = {"sample": np.arange(len(x), dtype=np.int64)}
    for j, f in enumerate(plan.factors):
        if f.unit_column:
            table[f.unit_column] = x[:, j]
        table[f.name] = f.values(x[:, j])
    return x, pd.DataFrame(table)


def evaluate(plan: SensitivityPlan, table: pd.DataFrame, progress: bool = False) -> pd.DataFrame:
    """The mean-field outputs at every sample point (:mod:`sim.meanfield_batch`),
    as columns ``s_star_inf``, ``threshold_exists``, ``p_rebel_at``."""
    from tqdm import tqdm

    names = [f.name for f in plan.factors]
    n_points = len(table)
    results = {k: np.empty(n_points) for k in OUTPUTS}
    general = (plan.base.sa_start is not None or plan.base.lab_policy != "static" or plan.base.generations > 1
               or any(p.name not in KNOWN_PARAMETERS for p in PARAMETERS))  # a parameter the kernel does not know
    bar = tqdm(total=n_points, unit="point", desc="mean field", disable=not progress, leave=False)
    try:
        for start in range(0, n_points, _CHUNK):
            chunk = table[names].iloc[start : start + _CHUNK].to_dict("records")
            points = []
            for values in chunk:
                try:
                    params = plan.base.replace(**_jsonable(values))
                except ParameterError as err:
                    raise ParameterError(f"sample point {values}: {err}") from None
                points.append(params)
            if general:
                out = thresholds_and_p_rebel(points, plan.at_awareness)
            else:
                rows = [point_constants(params) for params in points]
                out = thresholds_and_p_rebel(np.array(rows).reshape(-1, len(CONSTANT_COLUMNS)), plan.at_awareness)
            for k in OUTPUTS:
                results[k][start : start + len(chunk)] = out[k]
            bar.update(len(chunk))
    finally:
        bar.close()
    frame = pd.DataFrame(results)
    frame["threshold_exists"] = frame["threshold_exists"].astype(np.int64)
    return frame


def analyse(plan: SensitivityPlan, x: np.ndarray, outputs: pd.DataFrame, n: int | None = None) -> pd.DataFrame:
    """The indices of every output: Sobol' (``S1, S1_conf, ST, ST_conf``) or Morris
    (``mu_star, mu_star_conf, sigma``), one row per (output, parameter).

    ``n`` uses only the first ``n`` base samples of a Sobol' design (its first
    ``n (2D + 2)`` rows, themselves a Saltelli design): for :func:`convergence`.
    An output that is constant over the points has no variance to share out: its
    indices are NaN.
    """
    import warnings

    problem = plan.problem()
    rows = []
    for j, name in enumerate(plan.outputs):
        y = outputs[name].to_numpy(dtype=float)
        xs = x
        if n is not None:
            rows_n = n * (2 * len(plan.factors) + 2)
            y, xs = y[:rows_n], x[:rows_n]
        constant = bool(np.all(y == y[0]))
        seed = int(np.random.SeedSequence(plan.seed, spawn_key=(_BOOTSTRAP_KEY, j)).generate_state(1)[0])
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            if plan.method == "sobol":
                from SALib.analyze import sobol as sobol_analyze

                if constant:
                    res = {k: [np.nan] * len(plan.factors) for k in ("S1", "S1_conf", "ST", "ST_conf")}
                else:
                    # S1 and ST need only the rows A, AB_i and B of each block of the second-order
                    # design (A, AB_1..AB_D, BA_1..BA_D, B): ST and its interval as from the whole
                    # design (to rounding; S1 moved by at most 1.4e-4 on the default box), at a
                    # seventh of the time, without the second-order terms
                    d = len(plan.factors)
                    blocks = y.reshape(-1, 2 * d + 2)
                    first = np.concatenate([blocks[:, : d + 1], blocks[:, -1:]], axis=1).reshape(-1)
                    res = sobol_analyze.analyze(problem, first, calc_second_order=False, num_resamples=RESAMPLES,
                                                conf_level=0.95, seed=seed)
                for i, f in enumerate(plan.factors):
                    rows.append({"output": name, "parameter": f.name, "S1": float(res["S1"][i]),
                                 "S1_conf": float(res["S1_conf"][i]), "ST": float(res["ST"][i]),
                                 "ST_conf": float(res["ST_conf"][i])})
            else:
                from SALib.analyze import morris as morris_analyze

                res = morris_analyze.analyze(problem, xs, y, num_resamples=RESAMPLES, conf_level=0.95,
                                             num_levels=4, seed=seed)
                for i, f in enumerate(plan.factors):
                    rows.append({"output": name, "parameter": f.name, "mu_star": float(res["mu_star"][i]),
                                 "mu_star_conf": float(res["mu_star_conf"][i]), "sigma": float(res["sigma"][i])})
    return pd.DataFrame(rows)


def convergence(plan: SensitivityPlan, x: np.ndarray, outputs: pd.DataFrame) -> pd.DataFrame:
    """Sobol' indices on the first n base samples, n = N/16, N/8, ..., N (at least
    16): how the estimates settle as N grows. Columns ``n`` and those of
    :func:`analyse`."""
    if plan.method != "sobol":
        return pd.DataFrame()
    sizes = sorted({max(16, plan.samples >> k) for k in range(5)} | {plan.samples})
    sizes = [n for n in sizes if n <= plan.samples]
    parts = [analyse(plan, x, outputs, n=n).assign(n=n) for n in sizes]
    frame = pd.concat(parts, ignore_index=True)
    return frame[["n", *[c for c in frame.columns if c != "n"]]]


def _manifest(plan: SensitivityPlan, command: str | None, files: list[str], timings: dict) -> dict:
    return {
        "command": command,
        "package_version": __version__,
        "complete": True,
        **plan.identity(),
        "bounds_resolved": {f.name: list(f.values_at_ends()) for f in plan.factors},
        "n_points": plan.n_points,
        "seconds": timings,
        "files": files,
    }


def simulation_plan(plan: SensitivityPlan, table: pd.DataFrame):
    """The sweep that simulates every sample point (:class:`sim.sweeps.SweepPlan`):
    point ``i`` is sample ``i``, with ``plan.replicates`` runs seeded by
    ``SeedSequence(plan.seed, spawn_key=(i, r))`` as in any sweep."""
    names = [f.name for f in plan.factors]
    points = tuple(_jsonable(row)
                   for row in table[names].to_dict("records"))
    levels = plan.awareness_levels()
    return SweepPlan(base=plan.base, points=points, awareness=tuple(levels for _ in points),
                     replicates=plan.replicates, seed=plan.seed, sample=plan.method,
                     bounds={f.name: [f.low, f.high] for f in plan.factors})


def simulated_outputs(results_path: Path, n_points: int, levels: Sequence[float], at_awareness: float) -> pd.DataFrame:
    """``s_star_sim``, ``threshold_exists_sim`` and ``p_rebel_at_sim`` per point from a
    simulation sweep's ``results.parquet`` (read in record batches of three columns)."""
    import pyarrow.parquet as pq

    index = {float(s): k for k, s in enumerate(levels)}
    rebels = np.zeros((n_points, len(levels)))
    runs = np.zeros((n_points, len(levels)))
    reader = pq.ParquetFile(results_path)
    for batch in reader.iter_batches(columns=["point", "situational_awareness", "persona"], batch_size=1 << 18):
        point = batch.column(0).to_numpy()
        level = np.array([index[float(v)] for v in batch.column(1).to_numpy()])
        rebel = np.asarray(batch.column(2).to_pylist(), dtype=object) == "rebel"
        np.add.at(runs, (point, level), 1.0)
        np.add.at(rebels, (point, level), rebel.astype(float))
    share = rebels / np.maximum(runs, 1.0)
    s = np.asarray(levels, dtype=float)
    s_star = np.ones(n_points)
    exists = np.zeros(n_points, dtype=np.int64)
    for i in range(n_points):
        above = np.flatnonzero(share[i] >= 0.5)
        if above.size:
            k = int(above[0])
            exists[i] = 1
            if k == 0:
                s_star[i] = s[0]
            else:
                lo, hi = share[i, k - 1], share[i, k]
                s_star[i] = s[k - 1] + (0.5 - lo) / (hi - lo) * (s[k] - s[k - 1])
    return pd.DataFrame({"s_star_sim": s_star, "threshold_exists_sim": exists,
                         "p_rebel_at_sim": share[:, index[float(at_awareness)]]})


def _write_tables(work: Path, samples: pd.DataFrame, indices: pd.DataFrame, conv: pd.DataFrame) -> list[str]:
    """``samples.parquet``, ``indices.csv`` and ``convergence.csv``, each atomically."""
    import io

    buffer = io.BytesIO()
    samples.to_parquet(buffer, index=False)
    files = {"samples.parquet": buffer.getvalue(), "indices.csv": indices.to_csv(index=False).encode()}
    if not conv.empty:
        files["convergence.csv"] = conv.to_csv(index=False).encode()
    for name, data in files.items():
        write_atomically(work / name, data)
    return sorted(files)


def run_sensitivity(
    plan: SensitivityPlan,
    out: str | Path,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
    fresh: bool = False,
    finish: Callable[[Path, pd.DataFrame, pd.DataFrame, pd.DataFrame], list[str]] | None = None,
    resume: bool = False,
    workers: int | None = None,
    executor: str = "thread",
    scheduler: str | None = None,
    memory_limit: float | None = None,
) -> dict[str, Any]:
    """Sample, evaluate, analyse and write ``samples.parquet``, ``indices.csv``,
    ``convergence.csv`` (Sobol'), ``manifest.json`` into ``out`` (through
    :func:`sim.outputs.open_output`, kind ``sensitivity``); ``finish(work, samples,
    indices, convergence)`` may add files (the command line's figures) before the
    commit and returns their names.

    With ``plan.simulate`` the points are also simulated through
    :func:`sim.sweeps.run_sweep` (``workers``, ``executor``, ``scheduler``,
    ``resume``, ``overwrite`` as for a sweep; ``memory_limit`` in bytes), into ``out``
    as a sweep folder that also receives the sensitivity files.

    With ``plan.by`` (a categorical parameter) the analysis is made once per value
    of it, on the same sample design, and the tables are stacked with a column
    named after it.

    Returns the tables and timings: ``samples``, ``indices``, ``convergence``,
    ``seconds``.
    """
    if memory_limit is not None and estimated_memory(plan) > memory_limit:
        raise ParameterError(
            f"the analysis is too large: {plan.n_points:,} points"
            + (f" x {len(plan.choices())} values of {plan.by}" if plan.by else "")
            + f", estimated peak memory {estimated_memory(plan) / 2**30:.2f} GiB, above the limit of "
            f"{memory_limit / 2**30:.2f} GiB: allowed is fewer --samples or a higher --memory-limit GIB")
    timings: dict[str, float] = {}
    state: dict[str, Any] = {}

    def prepare() -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
        t = time.perf_counter()
        x, table = sample(plan)
        timings["sample"] = time.perf_counter() - t
        t = time.perf_counter()
        if plan.base.learner_model == MEAN_FIELD_LEARNER:
            results = evaluate(plan, table, progress=progress)
        else:  # no mean field for this learner: its outputs come from simulation alone
            results = pd.DataFrame(index=table.index)
        timings["evaluate"] = time.perf_counter() - t
        return x, table, results

    def write(work: Path, x, table, results) -> list[str]:
        samples = pd.concat([table, results[[c for c in results.columns if c in plan.outputs]]], axis=1)
        samples["seed_key"] = [f"{plan.seed}/{i}" for i in range(len(samples))]
        t = time.perf_counter()
        indices = analyse(plan, x, results)
        conv = convergence(plan, x, results)
        timings["analyse"] = time.perf_counter() - t
        written = _write_tables(work, samples, indices, conv)
        if finish is not None:
            t = time.perf_counter()
            written += finish(work, samples, indices, conv)
            timings["figures"] = time.perf_counter() - t
        state.update(samples=samples, indices=indices, convergence=conv)
        return written

    if not plan.simulate and plan.by:
        with open_output(out, "sensitivity", "overwrite" if overwrite else "new", command=command,
                         fresh=fresh) as output:
            x, table = sample(plan)  # one design for every value (it depends on the factors and the seed)
            samples, indices, conv = _per_choice(
                plan, x, table, lambda k, sub: (evaluate(sub, table, progress=progress), 0))
            written = _write_tables(output.work, samples, indices, conv)
            if finish is not None:
                written += finish(output.work, samples, indices, conv)
            state.update(samples=samples, indices=indices, convergence=conv)
            output.commit(_manifest(plan, command, sorted(written), {}))
        return {**state, "seconds": timings}

    if not plan.simulate:
        with open_output(out, "sensitivity", "overwrite" if overwrite else "new", command=command,
                         fresh=fresh) as output:
            x, table, results = prepare()
            written = write(output.work, x, table, results)
            output.commit(_manifest(plan, command, sorted(written), {k: round(v, 3) for k, v in timings.items()}))
        return {**state, "seconds": timings}

    if plan.by:
        return _simulate_by(plan, out, overwrite, progress, command, fresh, finish, resume, workers, executor,
                            scheduler, memory_limit)
    x, table, results = prepare()
    sweep_plan = simulation_plan(plan, table)
    if memory_limit is not None:
        check_memory(estimate(sweep_plan, workers=workers or (os.cpu_count() or 1)), memory_limit)

    def analyse_simulation(work: Path, manifest: dict) -> list[str]:
        t = time.perf_counter()
        simulated = simulated_outputs(work / "results.parquet", len(table), plan.awareness_levels(), plan.at_awareness)
        timings["simulate"] = time.perf_counter() - t0 - timings.get("sample", 0.0) - timings.get("evaluate", 0.0)
        timings["read_simulation"] = time.perf_counter() - t
        written = write(work, x, table, pd.concat([results, simulated], axis=1))
        return _finish_simulated(work, manifest, plan, command, timings, written)

    t0 = time.perf_counter() - timings["sample"] - timings["evaluate"]
    run_sweep(sweep_plan, out=out, workers=workers, executor=executor, scheduler=scheduler, resume=resume,
              overwrite=overwrite, progress=progress, command=command, finish=analyse_simulation, fresh=fresh)
    return {**state, "seconds": timings}


def _finish_simulated(work: Path, manifest: dict, plan: SensitivityPlan, command: str | None, timings: dict,
                      written: list[str]) -> list[str]:
    """The end of a simulated analysis, inside its sweep's folder: ``sensitivity.json``
    (the analysis's manifest) and the files to list, those written and what later
    commands added to a resumed, finished folder (discover's boxes, thresholds.csv)."""
    text = json.dumps(_manifest(plan, command, [], {k: round(v, 3) for k, v in timings.items()}),
                      indent=2, allow_nan=False) + "\n"
    write_atomically(work / "sensitivity.json", text.encode())
    written = written + ["sensitivity.json"]
    kept = [f for f in manifest.get("files") or [] if f != "results.parquet" and f not in written
            and (work / f).is_file()]
    return written + kept


def _per_choice(plan: SensitivityPlan, x: np.ndarray, table: pd.DataFrame,
                outputs_of: Callable[[int, SensitivityPlan], tuple[pd.DataFrame, int]]):
    """One analysis per value of ``plan.by`` on the same design: ``outputs_of(k, sub)``
    gives the ``k``-th value's outputs and the point number its first sample has (its
    seed key). Returns the samples, indices and convergence tables, stacked, each
    with a ``plan.by`` column."""
    parts = []
    for k, choice in enumerate(plan.choices()):
        sub = plan.for_choice(choice)
        results, first = outputs_of(k, sub)
        samples = pd.concat([table, results[list(sub.outputs)]], axis=1)
        samples.insert(1, plan.by, choice)
        samples["seed_key"] = [f"{plan.seed}/{first + i}" for i in range(len(samples))]
        indices = analyse(sub, x, results)
        indices.insert(0, plan.by, choice)
        conv = convergence(sub, x, results)
        if not conv.empty:
            conv.insert(0, plan.by, choice)
        parts.append((samples, indices, conv))
    return tuple(pd.concat([p[k] for p in parts], ignore_index=True) for k in range(3))


def _simulate_by(plan: SensitivityPlan, out, overwrite, progress, command, fresh, finish, resume, workers, executor,
                 scheduler, memory_limit) -> dict[str, Any]:
    """``--by NAME --simulate``: every value of ``NAME`` simulated on the same sample
    design in one sweep (point ``k n + i`` is sample ``i`` at the ``k``-th value), then
    one analysis per value of the simulated outputs, stacked with a ``NAME`` column as
    the mean-field ``--by`` does. This is how learners without a mean field (the
    learning learner) are compared with the others."""
    t0 = time.perf_counter()
    x, table = sample(plan)
    choices = plan.choices()
    one = simulation_plan(plan, table)
    points = tuple({**point, plan.by: choice} for choice in choices for point in one.points)
    sweep_plan = replace(one, points=points, awareness=tuple(one.awareness[0] for _ in points))
    if memory_limit is not None:
        check_memory(estimate(sweep_plan, workers=workers or (os.cpu_count() or 1)), memory_limit)
    state: dict[str, Any] = {}
    timings = {"sample": time.perf_counter() - t0}

    def analyse_simulation(work: Path, manifest: dict) -> list[str]:
        n = len(table)
        simulated = simulated_outputs(work / "results.parquet", n * len(choices), plan.awareness_levels(),
                                      plan.at_awareness)
        samples, indices, conv = _per_choice(
            plan, x, table, lambda k, sub: (simulated.iloc[k * n:(k + 1) * n].reset_index(drop=True), k * n))
        written = _write_tables(work, samples, indices, conv)
        if finish is not None:
            written += finish(work, samples, indices, conv)
        timings["total"] = time.perf_counter() - t0
        state.update(samples=samples, indices=indices, convergence=conv)
        return _finish_simulated(work, manifest, plan, command, timings, written)

    run_sweep(sweep_plan, out=out, workers=workers, executor=executor, scheduler=scheduler, resume=resume,
              overwrite=overwrite, progress=progress, command=command, finish=analyse_simulation, fresh=fresh)
    return {**state, "seconds": timings}


def summary(samples: pd.DataFrame, simulated: bool = False) -> dict[str, float]:
    """The distribution of the threshold over the box: the share of points without
    a threshold, and the median and 5th-95th percentiles of the threshold where one
    exists; the share of points where P(rebel) at ``at_awareness`` exceeds 1/2.

    Of the mean-field outputs (``s_star_inf``, ``threshold_exists``, ``p_rebel_at``),
    or with ``simulated`` of the simulated ones (``s_star_sim``, ...), under the same keys.
    """
    s_star, exists_column, at = SIMULATED_OUTPUTS if simulated else OUTPUTS
    out: dict[str, float] = {"points": float(len(samples))}
    if exists_column in samples:
        exists = samples[exists_column].to_numpy() == 1
        out["share_without_threshold"] = float(1.0 - exists.mean())
        if s_star in samples and exists.any():
            s = samples[s_star].to_numpy()[exists]
            out.update(s_star_p05=float(np.quantile(s, 0.05)), s_star_median=float(np.median(s)),
                       s_star_p95=float(np.quantile(s, 0.95)))
    if at in samples:
        out["share_rebel_at"] = float((samples[at].to_numpy() > 0.5).mean())
    return out
