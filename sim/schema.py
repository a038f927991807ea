"""The result schema: the columns of every result table, and the final columns.

Both drivers (the Mesa model, :mod:`sim.model`, and the batched engine,
:mod:`sim.engine`) end a run with the learners' states; :func:`final_columns` turns
them into the per-learner results, so the two write the same table. The column
names are those of ``SimulationResult.final`` (:data:`FINAL_COLUMNS`), its
``generations`` (:data:`GENERATION_COLUMNS`) and its ``trajectory``
(:data:`TRAJECTORY_COLUMNS`); a sweep's table adds the point's parameters to
:data:`FINAL_COLUMNS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .labs import Discourse, LabState, initial_discourse, initial_lab
from .learning import LEARNED_COLUMNS, TRAJECTORY_LEARNED_COLUMNS, learned_estimates
from .learner import PERSONAS, REBEL, LearnerConstants, LearnerState, persona, uplift
from .rules import expit, final_readouts
from .params import Params

if TYPE_CHECKING:  # pandas loads where a table is made: a sweep to disk never needs it
    import pandas as pd

__all__ = [
    "FINAL_COLUMNS",
    "GENERATION_COLUMNS",
    "TRAJECTORY_COLUMNS",
    "final_columns",
    "final_table",
]

#: Columns of the per-learner result table (``SimulationResult.final``).
FINAL_COLUMNS = (
    "situational_awareness",
    "persona",
    "p_deceptive",
    "p_benevolent",
    "log_odds",
    "uplift",
    "believed_planted_share",
    "paranoia",
    "emergence_document",
    "lab_planted_fraction",
    "lab_disclosed_fraction",
    "lab_alarms",
    "lab_came_clean",
    "undetected_rebel",
    "final_control_discourse_fraction",
    "final_real_positive_rate",
    "rebel_generations",
) + LEARNED_COLUMNS  # the learning learner's estimates (docs/model.md §3.1; NaN for the informed learner)

#: Columns of the per-generation table (:meth:`sim.model.PersonaModel.generations`).
GENERATION_COLUMNS = (
    "learner",
    "situational_awareness",
    "generation",
    "persona",
    "p_deceptive",
    "p_benevolent",
    "uplift",
    "planted_fraction",
    "disclosed_fraction",
    "control_discourse_fraction",
    "real_positive_rate",
    "lab_alarms",
    "lab_came_clean",
    "undetected_rebel",
)

#: Columns of the per-batch trajectory table: ``situational_awareness`` is the
#: learner's situational awareness (the parameter, its awareness at the end of
#: training, as in :data:`FINAL_COLUMNS`), ``awareness`` the awareness it read that
#: batch at (they differ only under an awareness schedule, ``sa_start``).
TRAJECTORY_COLUMNS = (
    "learner",
    "situational_awareness",
    "generation",
    "batch",
    "documents_read",
    "awareness",
    "log_odds",
    "p_deceptive",
    "p_benevolent",
    "uplift",
    "believed_planted_share",
    "persona",
) + TRAJECTORY_LEARNED_COLUMNS


def final_columns(
    situational_awareness: np.ndarray,
    state: LearnerState,
    constants: LearnerConstants,
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
    ell, p_benevolent = final_readouts(state, constants)  # log P(D)/(1 - P(D)) and P(B) (docs/model.md §3.2)
    p_d = expit(ell)
    u = uplift(state.a, state.b, constants.real_positive_rate)
    believed = state.believed_planted_share
    code = persona(p_d, u)
    n = code.size
    lab = initial_lab(params) if lab is None else lab
    discourse = initial_discourse(params) if discourse is None else discourse
    rho = params.planted_fraction if true_planted_share is None else true_planted_share
    rebels = (code == REBEL).astype(np.int64) if rebel_generations is None else np.asarray(rebel_generations, np.int64)
    return {
        "situational_awareness": np.asarray(situational_awareness, dtype=float),
        "persona": np.asarray(PERSONAS, dtype=object)[code],
        "p_deceptive": p_d,
        "p_benevolent": p_benevolent,
        "log_odds": ell,
        "uplift": u,
        "believed_planted_share": believed,
        "paranoia": believed - rho,
        "emergence_document": state.emergence_document,
        "lab_planted_fraction": np.full(n, lab.planted_fraction),
        "lab_disclosed_fraction": np.full(n, lab.disclosed_fraction),
        "lab_alarms": np.full(n, lab.alarms, dtype=np.int64),
        "lab_came_clean": np.full(n, lab.came_clean, dtype=bool),
        # ends rebel and its lab never raised the alarm (a static lab never evaluates)
        "undetected_rebel": (code == REBEL) & (lab.alarms == 0),
        "final_control_discourse_fraction": np.full(n, discourse.control_discourse_fraction),
        "final_real_positive_rate": np.full(n, discourse.real_positive_rate),
        "rebel_generations": rebels,
        **learned_estimates(state),
    }


def final_table(
    situational_awareness: np.ndarray,
    state: LearnerState,
    constants: LearnerConstants,
    params: Params,
) -> pd.DataFrame:
    """One row per learner: the final persona and the quantities behind it."""
    import pandas as pd

    return pd.DataFrame(final_columns(situational_awareness, state, constants, params), columns=list(FINAL_COLUMNS))
