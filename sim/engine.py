"""The batched driver: a whole family of learners advanced as arrays.

One call of :func:`run_family` reads a corpus with every learner of a family at once
(a learner axis in every array), through exactly the update functions the Mesa
agents call (:mod:`sim.rules`, through the compiled readers of :mod:`sim.learner`). It is the fast path behind sweeps; the Mesa model
(:mod:`sim.model`) is the agent-based view of the same run, and the two agree to the
last bit for the same seed (tests/test_drivers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .corpus import Corpus, build_corpus
from .learners import constants_for, initial_state_for, read_batch_for, read_corpus_for
from .learning import TRAJECTORY_LEARNED_COLUMNS, learned_estimates
from .rules import LearnerConstants, LearnerState, awareness_schedule, final_log_odds
from .rules import persona, uplift
from .params import Params
from .schema import FINAL_COLUMNS, GENERATION_COLUMNS, TRAJECTORY_COLUMNS, final_columns, final_table

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

# final_columns, final_table and the column tables live in sim.schema (both drivers
# write them); they are imported here, their old home, so that sim.engine's names stay.


def snapshot(state: LearnerState, constants: LearnerConstants) -> dict[str, np.ndarray]:
    """What the trajectory records of a family after a batch (arrays over learners)."""
    p_d = state.p_deceptive
    u = uplift(state.a, state.b, constants.real_positive_rate)
    return {
        "documents_read": state.documents_read.copy(),
        "awareness": state.awareness.copy(),
        "log_odds": np.array(state.deceptive_log_odds, dtype=float),  # a copy
        "p_deceptive": p_d,
        "p_benevolent": state.p_benevolent,
        "uplift": u,
        "believed_planted_share": state.believed_planted_share,
        "persona": persona(p_d, u),
        **{c: v for c, v in learned_estimates(state).items() if c in TRAJECTORY_LEARNED_COLUMNS},
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
    constants = constants_for(params, corpus)
    return final_awareness, constants, awareness_schedule(final_awareness, params.n_batches, params)


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
    final_awareness, constants, schedule = _family_setup(corpus, params, awareness)
    state = initial_state_for(final_awareness.size, constants, schedule[:, 0])
    snapshots = [snapshot(state, constants)] if record else []
    for t, batch in enumerate(corpus.batches(params.batch_size)):
        state = read_batch_for(state, batch, schedule[:, t], final_awareness, constants)
        if record:
            snapshots.append(snapshot(state, constants))
    return FamilyRun(final_awareness, state, constants, snapshots, corpus.real_cited_rate)


def run_replicate(
    params: Params,
    awareness: np.ndarray,
    seed: int | np.random.SeedSequence,
) -> tuple[dict[str, np.ndarray], float | np.ndarray]:
    """One training run on the fast path: build the corpus, read it with the whole
    family in one compiled call, return the final columns and the measured q_r.

    The numbers are those of :func:`sim.simulate` (the Mesa model) for the same seed,
    bit for bit.

    Only a static lab in one training run has a fast path: an adaptive lab
    (``lab_policy`` other than static) or a sequence of ``generations`` makes every
    learner's run its own and the lab react between batches, which is the Mesa
    model's work; :func:`sim.sweeps.run_replicate` chooses the driver.
    """
    if params.lab_policy != "static" or params.generations > 1:
        raise ValueError(
            f"the batched engine runs a static lab in one training run (lab_policy={params.lab_policy!r}, "
            f"generations={params.generations}): use sim.sweeps.run_replicate, which chooses the driver"
        )
    corpus = build_corpus(params, seed)
    final_awareness, constants, schedule = _family_setup(corpus, params, awareness)
    state = read_corpus_for(
        initial_state_for(final_awareness.size, constants, schedule[:, 0]),
        corpus.in_reading_order(),
        schedule,
        final_awareness,
        params.batch_size,
        constants,
    )
    return final_columns(final_awareness, state, constants, params), corpus.real_cited_rate
