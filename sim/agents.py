"""The agents of a training run (Mesa): the authors, the lab and the learners.

Each agent acts through the shared model functions, so the agent-based run and the
batched engine compute the same numbers:

- :class:`Lab` decides which documents it plants or discloses (its policy; static
  shares in this version) through :func:`sim.corpus.assign_kinds`;
- :class:`Authors`, the independent literature, write the documents and build the
  citation graph through :func:`sim.corpus.write_documents`;
- each :class:`Learner` reads the corpus batch by batch through
  :func:`sim.learner.read_batch`, with its own awareness schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .corpus import Corpus, CorpusBatch, assign_kinds, write_documents
from .learner import PERSONAS, LearnerConstants, final_log_odds, initial_state, persona, read_batch, uplift

if TYPE_CHECKING:  # pragma: no cover
    from .model import PersonaModel

__all__ = ["Lab", "Authors", "Learner"]


class Lab(mesa.Agent):
    """The model's makers: plant undisclosed documents and disclose others.

    Policy ``static``: each document of the corpus is planted with probability
    ``planted_fraction`` and disclosed with probability ``disclosed_fraction``.
    """

    def __init__(self, model: "PersonaModel", rng: np.random.Generator) -> None:
        super().__init__(model)
        self.kinds_rng = rng
        self.policy = "static"

    def plan_corpus(self) -> np.ndarray:
        """Decide the kind of every document (real, planted, disclosed)."""
        return assign_kinds(self.model.params, self.kinds_rng)


class Authors(mesa.Agent):
    """The independent authors: they write the real documents and, with the lab's
    documents, build the citation graph by preferential attachment."""

    def __init__(self, model: "PersonaModel", rngs: dict[str, np.random.Generator]) -> None:
        super().__init__(model)
        self.rngs = rngs

    def publish(self, kinds: np.ndarray) -> Corpus:
        """Write every document and its citations, then shuffle the reading order."""
        return write_documents(kinds, self.model.params, self.rngs)


class Learner(mesa.Agent):
    """A model in training that reads the corpus and updates its beliefs.

    Parameters
    ----------
    model : PersonaModel
    final_awareness : float
        Situational awareness at the end of training.
    schedule : ndarray
        Awareness at each batch (see :func:`sim.learner.awareness_schedule`).
    k : LearnerConstants
    """

    def __init__(
        self,
        model: "PersonaModel",
        final_awareness: float,
        schedule: np.ndarray,
        k: LearnerConstants,
    ) -> None:
        super().__init__(model)
        self.final_awareness = float(final_awareness)
        self.schedule = np.asarray(schedule, dtype=float)
        self.constants = k
        self.state = initial_state(1, k, self.schedule[:1])

    def read(self, batch: CorpusBatch, batch_index: int) -> None:
        """Read one batch at this batch's awareness."""
        self.state = read_batch(
            self.state,
            batch,
            self.schedule[batch_index : batch_index + 1],
            np.array([self.final_awareness]),
            self.constants,
        )

    # -- what the DataCollector records ---------------------------------------------
    @property
    def documents_read(self) -> int:
        return int(self.state.documents_read[0])

    @property
    def situational_awareness(self) -> float:
        return float(self.state.awareness[0])

    @property
    def log_odds(self) -> float:
        return float(self.state.log_odds[0])

    @property
    def p_deceptive(self) -> float:
        return float(self.state.p_deceptive[0])

    @property
    def uplift(self) -> float:
        return float(uplift(self.state.a, self.state.b, self.constants.real_positive_rate)[0])

    @property
    def believed_planted_share(self) -> float:
        return float(self.state.believed_planted_share[0])

    @property
    def persona(self) -> str:
        return PERSONAS[int(persona(self.state.p_deceptive, uplift(self.state.a, self.state.b, self.constants.real_positive_rate))[0])]

    @property
    def final_log_odds(self) -> float:
        """Log-odds after training, retrospection included."""
        return float(final_log_odds(self.state, self.constants)[0])
