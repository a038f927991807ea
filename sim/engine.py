"""The batched driver: a whole family of learners advanced as arrays.

One call of :func:`run_family` reads a corpus with every learner of a family at once
(a learner axis in every array), through exactly the update functions the Mesa
agents call (:mod:`sim.learner`). It is the fast path behind sweeps; the Mesa model
(:mod:`sim.model`) is the agent-based view of the same run, and the two agree to the
last bit for the same seed (tests/test_drivers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scipy.special import expit

from .corpus import Corpus, build_corpus
from .labs import Discourse, LabState, initial_discourse, initial_lab
from .learner import (
    PERSONAS,
    REBEL,
    LearnerConstants,
    LearnerState,
    awareness_schedule,
    constants,
    final_log_odds,
    initial_state,
    persona,
    read_batch,
    read_corpus,
    uplift,
)
from .params import Params

__all__ = [
    "FamilyRun",
    "run_family",
    "run_replicate",
    "final_table",
    "final_columns",
    "snapshot",
    "FINAL_COLUMNS",
    "GENERATION_COLUMNS",
    "TRAJECTORY_COLUMNS",
]

#: Columns of the per-learner result table (``SimulationResult.final``).
FINAL_COLUMNS = (
    "situational_awareness",
    "persona",
    "p_deceptive",
    "log_odds",
    "uplift",
    "believed_planted_share",
    "paranoia",
    "emergence_document",
    "lab_planted_fraction",
    "lab_disclosed_fraction",
    "lab_alarms",
    "lab_came_clean",
    "final_control_discourse_fraction",
    "final_real_positive_rate",
    "rebel_generations",
)

#: Columns of the per-generation table (:meth:`sim.model.PersonaModel.generations`).
GENERATION_COLUMNS = (
    "learner",
    "final_awareness",
    "generation",
    "persona",
    "p_deceptive",
    "uplift",
    "planted_fraction",
    "disclosed_fraction",
    "control_discourse_fraction",
    "real_positive_rate",
    "lab_alarms",
    "lab_came_clean",
)

#: Columns of the per-batch trajectory table.
TRAJECTORY_COLUMNS = (
    "learner",
    "final_awareness",
    "generation",
    "batch",
    "documents_read",
    "situational_awareness",
    "log_odds",
    "p_deceptive",
    "uplift",
    "believed_planted_share",
    "persona",
)


def snapshot(state: LearnerState, k: LearnerConstants) -> dict[str, np.ndarray]:
    """What the trajectory records of a family after a batch (arrays over learners)."""
    p_d = state.p_deceptive
    u = uplift(state.a, state.b, k.real_positive_rate)
    return {
        "documents_read": state.documents_read.copy(),
        "situational_awareness": state.awareness.copy(),
        "log_odds": state.log_odds.copy(),
        "p_deceptive": p_d,
        "uplift": u,
        "believed_planted_share": state.believed_planted_share,
        "persona": persona(p_d, u),
    }


@dataclass(frozen=True)
class FamilyRun:
    """The outcome of one family of learners reading one corpus."""

    final_awareness: np.ndarray
    state: LearnerState
    constants: LearnerConstants
    snapshots: list[dict[str, np.ndarray]]
    real_cited_rate: float

    def final_log_odds(self) -> np.ndarray:
        return final_log_odds(self.state, self.constants)


def _family_setup(corpus: Corpus, params: Params, awareness) -> tuple[np.ndarray, LearnerConstants, np.ndarray]:
    """Final awareness levels, the learners' constants on this corpus, and the schedule."""
    final_awareness = np.asarray(awareness, dtype=float).reshape(-1)
    k = constants(params, corpus.learner_real_cited_rate(params))
    return final_awareness, k, awareness_schedule(final_awareness, params.n_batches, params)


def run_family(
    corpus: Corpus,
    params: Params,
    awareness: np.ndarray,
    record: bool = True,
) -> FamilyRun:
    """Every learner of a family reads ``corpus`` batch by batch.

    Parameters
    ----------
    corpus : Corpus
    params : Params
    awareness : array of float
        Each learner's final situational awareness.
    record : bool
        Keep a snapshot after every batch (and before the first).
    """
    final_awareness, k, schedule = _family_setup(corpus, params, awareness)
    state = initial_state(final_awareness.size, k, schedule[:, 0])
    snapshots = [snapshot(state, k)] if record else []
    for t, batch in enumerate(corpus.batches(params.batch_size)):
        state = read_batch(state, batch, schedule[:, t], final_awareness, k)
        if record:
            snapshots.append(snapshot(state, k))
    return FamilyRun(final_awareness, state, k, snapshots, corpus.real_cue_rate)


def final_columns(
    final_awareness: np.ndarray,
    state: LearnerState,
    k: LearnerConstants,
    params: Params,
    true_planted_share: float | None = None,
    lab: LabState | None = None,
    discourse: Discourse | None = None,
    rebel_generations: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The final results as arrays over learners, keyed by :data:`FINAL_COLUMNS`.

    ``true_planted_share`` (for the paranoia), ``lab``, ``discourse`` and
    ``rebel_generations`` (per learner: generations that ended rebel) describe the
    run's end; left out, they are those of a static lab in one training run (the
    scenario's shares and discourse).
    """
    ell = final_log_odds(state, k)
    p_d = expit(ell)
    u = uplift(state.a, state.b, k.real_positive_rate)
    believed = state.believed_planted_share
    code = persona(p_d, u)
    n = code.size
    lab = initial_lab(params) if lab is None else lab
    discourse = initial_discourse(params) if discourse is None else discourse
    rho = params.planted_fraction if true_planted_share is None else true_planted_share
    rebels = (code == REBEL).astype(np.int64) if rebel_generations is None else np.asarray(rebel_generations, np.int64)
    return {
        "situational_awareness": np.asarray(final_awareness, dtype=float),
        "persona": np.asarray(PERSONAS, dtype=object)[code],
        "p_deceptive": p_d,
        "log_odds": ell,
        "uplift": u,
        "believed_planted_share": believed,
        "paranoia": believed - rho,
        "emergence_document": state.emergence_document,
        "lab_planted_fraction": np.full(n, lab.planted_fraction),
        "lab_disclosed_fraction": np.full(n, lab.disclosed_fraction),
        "lab_alarms": np.full(n, lab.alarms, dtype=np.int64),
        "lab_came_clean": np.full(n, lab.came_clean, dtype=bool),
        "final_control_discourse_fraction": np.full(n, discourse.control_discourse_fraction),
        "final_real_positive_rate": np.full(n, discourse.real_positive_rate),
        "rebel_generations": rebels,
    }


def final_table(
    final_awareness: np.ndarray,
    state: LearnerState,
    k: LearnerConstants,
    params: Params,
) -> pd.DataFrame:
    """One row per learner: the final persona and the quantities behind it."""
    return pd.DataFrame(final_columns(final_awareness, state, k, params), columns=list(FINAL_COLUMNS))


def run_replicate(
    params: Params,
    awareness: np.ndarray,
    seed: int | np.random.SeedSequence,
) -> tuple[dict[str, np.ndarray], float | np.ndarray]:
    """One training run on the fast path: build the corpus, read it with the whole
    family in one compiled call, return the final columns and the measured q_r.

    The numbers are those of :func:`sim.simulate` (the Mesa model) for the same seed,
    bit for bit.

    An adaptive lab (``lab_policy`` other than static) or a sequence of
    ``generations`` makes every learner's run its own and the lab react between
    batches: such a run is the Mesa model itself, run without recording, and q_r is
    then one value per learner (the one it calibrated on, at the start of its last
    training run).
    """
    if params.lab_policy != "static" or params.generations > 1:
        from .model import PersonaModel

        model = PersonaModel(params, np.asarray(awareness, dtype=float).reshape(-1), seed, record=False)
        model.run_for(model.n_steps)
        return model.final_columns(), model.real_cue_rates()
    corpus = build_corpus(params, seed)
    final_awareness, k, schedule = _family_setup(corpus, params, awareness)
    state = read_corpus(
        initial_state(final_awareness.size, k, schedule[:, 0]),
        corpus.in_reading_order(),
        schedule,
        final_awareness,
        params.batch_size,
        k,
    )
    return final_columns(final_awareness, state, k, params), corpus.real_cue_rate
