"""The Mesa driver's entry points: ``simulate`` (one training run, the Mesa model
driven to the end and recorded) and ``run_replicate`` (the same without recording,
for sweeps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .model import PersonaModel
from .params import Params

__all__ = ["simulate", "SimulationResult", "run_memory", "run_replicate"]

# The memory model of one run written by ``persona-sim run``, measured
# (benchmarks/README.md, "Memory"): a fixed part, the corpus, and the trajectory (one
# row per batch, learner and generation, kept as a table, a CSV and a figure).
_RUN_BASE_BYTES = 360 * 2**20
_RUN_DOCUMENT_BYTES = 200
_RUN_TRAJECTORY_ROW_BYTES = 900


def run_memory(params: Params, learners: int) -> tuple[int, float]:
    """Trajectory rows and estimated peak memory in bytes of a run of ``learners``
    learners written by ``persona-sim run`` (an estimate from measured constants).

    >>> rows, memory = run_memory(Params(), 3)
    >>> rows, round(memory / 2**20)
    (303, 362)
    """
    rows = learners * (params.n_batches + 1) * params.generations
    memory = _RUN_BASE_BYTES + params.n_documents * _RUN_DOCUMENT_BYTES + rows * _RUN_TRAJECTORY_ROW_BYTES
    return rows, float(memory)


@dataclass(frozen=True)
class SimulationResult:
    """What one training run produced.

    Attributes
    ----------
    final : pandas.DataFrame
        One row per learner: ``situational_awareness, persona, p_deceptive,
        log_odds, uplift, believed_planted_share, paranoia, emergence_document``
        (``emergence_document`` is NaN where P(deceptive) never reached 0.9).
    trajectory : pandas.DataFrame
        One row per (step, learner), step 0 being the state before reading
        (``generation`` and ``batch`` say where in training the step is).
    generations : pandas.DataFrame
        One row per (learner, generation): the deployed model's persona, the lab's
        shares and the discourse of that training run (one generation unless
        ``generations`` > 1).
    real_cited_rate : float
        q_r, the share of real documents showing the learner's citation cue (cited,
        or trusted with ``citation_cue = "trusted"``), measured on the first
        learner's corpus at the start of its (last) training run.
    params : Params
    seed : int or SeedSequence
    model : PersonaModel
        The Mesa model after the run (its corpus, graph and agents).
    """

    final: pd.DataFrame
    trajectory: pd.DataFrame
    generations: pd.DataFrame
    real_cited_rate: float
    params: Params
    seed: int | np.random.SeedSequence
    model: PersonaModel


def simulate(
    params: Params | None = None,
    awareness: Sequence[float] | float | None = None,
    seed: int | np.random.SeedSequence = 0,
) -> SimulationResult:
    """Run one training run: build the corpus, let every learner read it.

    Parameters
    ----------
    params : Params, optional
        Defaults to the reference configuration.
    awareness : float or sequence of float, optional
        Final situational awareness of each learner (a model family reading the same
        corpus). Defaults to ``[params.situational_awareness]``.
    seed : int or numpy.random.SeedSequence
        Root seed; the same seed gives the same numbers, bit for bit.

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> from sim import Params, simulate
    >>> r = simulate(Params(n_documents=2000), awareness=[0.1, 0.9], seed=1)
    >>> r.final["persona"].tolist()
    ['aligned', 'rebel']
    """
    params = params if params is not None else Params()
    if awareness is not None and np.ndim(awareness) == 0:
        awareness = [awareness]  # type: ignore[list-item]
    model = PersonaModel(params, awareness, seed)
    model.run_for(model.n_steps)
    return SimulationResult(
        final=model.final(),
        trajectory=model.trajectory(),
        generations=model.generations(),
        real_cited_rate=model.real_cited_rate,
        params=params,
        seed=seed,
        model=model,
    )


def run_replicate(
    params: Params,
    awareness: np.ndarray,
    seed: int | np.random.SeedSequence,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One training run of the Mesa model without recording: the final columns
    (:func:`sim.schema.final_columns`) and, per learner, the q_r it calibrated on (at
    the start of its last training run).

    The sweeps' driver for an adaptive lab or several generations, where every
    learner's run is its own (:func:`sim.sweeps.run_replicate` chooses); for a static
    lab in one run it gives the numbers of :func:`sim.engine.run_replicate`, bit for
    bit, more slowly.
    """
    model = PersonaModel(params, np.asarray(awareness, dtype=float).reshape(-1), seed, record=False)
    model.run_for(model.n_steps)
    return model.final_columns(), model.real_cited_rates()
