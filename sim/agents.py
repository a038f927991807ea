"""The agents of a training run (Mesa): the authors, the lab and the learners.

Each agent acts through the shared model functions, so the agent-based run and the
batched engine compute the same numbers:

- :class:`Lab` decides which documents it plants or discloses, through
  :func:`sim.corpus.kinds_from_uniforms`, and reacts to its evaluations of its model
  by its policy, through :func:`sim.labs.react`;
- :class:`Authors`, the independent literature, write the documents and build the
  citation graph through :func:`sim.corpus.write_documents`, with the discourse of
  their generation (:func:`sim.labs.next_discourse`);
- each :class:`Learner` reads the corpus batch by batch through
  :func:`sim.learner.read_batch` (and its lab's statements through
  :func:`sim.learner.read_statement`), with its own awareness schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .corpus import Corpus, CorpusBatch, CorpusPlan, plan_corpus, replan_unread, streams, write_documents
from .labs import LabState, initial_lab, react
from .learner import (
    PERSONAS,
    LearnerConstants,
    final_log_odds,
    persona,
    uplift,
)
from .learning import learned_estimates
from .learners import initial_state_for, read_batch_for, read_statement_for
from .params import Params

if TYPE_CHECKING:  # pragma: no cover
    from .model import PersonaModel

__all__ = ["Lab", "Authors", "Learner"]


class Lab(mesa.Agent):
    """The model's makers: plant undisclosed documents, disclose others, and (by
    ``lab_policy``) react to evaluations of their model.

    Each document is planted when its uniform draw falls below the current planted
    share and disclosed when it falls below planted + disclosed shares; a reaction
    re-thresholds the same draws of the documents not yet read (common random
    numbers), so the new shares hold in expectation. What changes kind: coming clean
    turns exactly the would-be planted documents into disclosed ones; doubling down
    with no disclosure turns real documents into planted ones, and with disclosure
    it shifts the disclosed window up (some disclosed documents become planted and as
    many real ones, in expectation, disclosed).
    """

    def __init__(self, model: "PersonaModel", params: Params) -> None:
        super().__init__(model)
        self.policy = params.lab_policy
        self.state: LabState = initial_lab(params)
        self.plan = CorpusPlan(np.zeros(0), 1.0, np.zeros(0, dtype=np.int8))

    @property
    def kinds(self) -> np.ndarray:
        """The kind of every document of the current corpus (creation order)."""
        return self.plan.kinds

    def plan_corpus(self, rng: np.random.Generator, params: Params) -> np.ndarray:
        """Decide the kind of every document of a new corpus (real, planted, disclosed):
        of the documents the lab collects (:func:`sim.corpus.plan_corpus`: with
        filtering, more than the training corpus, at shares scaled so that they are the
        training corpus's, docs/model.md §5.7)."""
        self.plan = plan_corpus(params, rng, self.state.planted_fraction, self.state.disclosed_fraction)
        return self.kinds

    def evaluate(self, signal: float, unread: np.ndarray) -> tuple[bool, int]:
        """React to an evaluation whose signal is the model's P(deceptive).

        Returns whether the kinds of the unread documents (creation indices
        ``unread``) changed, and how many statements the lab publishes now.
        """
        reaction = react(self.state, signal, self.model.params)
        before = self.state
        self.state = reaction.lab
        same = (before.planted_fraction, before.disclosed_fraction) == (
            self.state.planted_fraction, self.state.disclosed_fraction)
        if same:
            return False, reaction.statements
        self.plan, changed = replan_unread(self.plan, unread, self.state.planted_fraction, self.state.disclosed_fraction)
        return changed, reaction.statements


class Authors(mesa.Agent):
    """The independent authors: they write the real documents and, with the lab's
    documents, build the citation graph by preferential attachment.

    ``seed`` is the training run's seed: a corpus is a pure function of its kinds,
    the parameters (the generation's discourse) and this seed, so publishing again
    after a lab's reaction draws the same content, style and reading order.
    """

    def __init__(self, model: "PersonaModel", seed: np.random.SeedSequence) -> None:
        super().__init__(model)
        self.seed = seed

    def publish(self, kinds: np.ndarray, params: Params) -> Corpus:
        """Write every document and its citations, then shuffle the reading order."""
        return write_documents(kinds, params, streams(self.seed))


def _state_value(field: str, kind: type = float) -> property:
    """A learner's own entry of a :class:`LearnerState` field, as a plain number (what
    the DataCollector records)."""
    return property(lambda learner: kind(getattr(learner.state, field)[0]), doc=f"``LearnerState.{field}`` of this learner.")


def _learned_value(column: str) -> property:
    """This learner's entry of one of the learning learner's estimates
    (:func:`sim.learning.learned_estimates`; NaN for the informed learner)."""
    return property(lambda learner: float(learned_estimates(learner.state)[column][0]),
                    doc=f"The learning learner's ``{column}`` (NaN for the informed learner).")


class Learner(mesa.Agent):
    """A model in training that reads the corpus and updates its beliefs.

    Parameters
    ----------
    model : PersonaModel
    situational_awareness : float
        Its situational awareness (the parameter): the awareness at the end of
        training. Its awareness while reading a batch is :attr:`awareness`.
    schedule : ndarray
        Awareness at each batch (see :func:`sim.learner.awareness_schedule`).
    constants : LearnerConstants or None
        None until :meth:`start` (when the corpus it reads is known).
    index : int
        Its position in the family (the ``learner`` column of the tables).
    """

    def __init__(
        self,
        model: "PersonaModel",
        situational_awareness: float,
        schedule: np.ndarray,
        constants: LearnerConstants | None,
        index: int = 0,
    ) -> None:
        super().__init__(model)
        self.index = int(index)
        self.situational_awareness = float(situational_awareness)
        self.schedule = np.asarray(schedule, dtype=float)
        self.constants = constants
        self.state = initial_state_for(1, constants, self.schedule[:1]) if constants is not None else None
        self.statements_read = 0  # the lab's statements among documents_read

    def start(self, schedule: np.ndarray, constants: LearnerConstants) -> None:
        """Begin training from scratch (a new model of the next generation)."""
        self.schedule = np.asarray(schedule, dtype=float)
        self.constants = constants
        self.state = initial_state_for(1, constants, self.schedule[:1])
        self.statements_read = 0

    def read_statement(self, batch_index: int, log_ratio: float) -> None:
        """Read one statement of the lab at this batch's awareness."""
        self.statements_read += 1
        self.state = read_statement_for(
            self.state, self.schedule[batch_index : batch_index + 1], np.array([self.situational_awareness]), log_ratio)

    def read(self, batch: CorpusBatch, batch_index: int) -> None:
        """Read one batch at this batch's awareness."""
        self.state = read_batch_for(
            self.state,
            batch,
            self.schedule[batch_index : batch_index + 1],
            np.array([self.situational_awareness]),
            self.constants,
        )

    # -- what the DataCollector records ---------------------------------------------
    documents_read = _state_value("documents_read", int)
    awareness = _state_value("awareness")  # this batch's (the schedule's), sim.learner.awareness_schedule
    log_odds = _state_value("deceptive_log_odds")
    p_deceptive = _state_value("p_deceptive")
    p_benevolent = _state_value("p_benevolent")
    believed_planted_share = _state_value("believed_planted_share")

    @property
    def uplift(self) -> float:
        return float(uplift(self.state.a, self.state.b, self.constants.real_positive_rate)[0])

    @property
    def persona(self) -> str:
        return PERSONAS[int(persona(self.state.p_deceptive, uplift(self.state.a, self.state.b, self.constants.real_positive_rate))[0])]

    learned_planted_share = _learned_value("learned_planted_share")
    learned_style_separation = _learned_value("learned_style_separation")
    learned_real_cited_rate = _learned_value("learned_real_cited_rate")

    @property
    def final_log_odds(self) -> float:
        """Log-odds after training, retrospection included."""
        return float(final_log_odds(self.state, self.constants)[0])
