"""The two learners behind one interface: ``learner_model = "informed"`` (:mod:`sim.learner`,
docs/model.md §3) and ``"learning"`` (:mod:`sim.learning`, docs/model.md §3.1).

Both drivers (the Mesa agents and the batched engine) call these functions; each
passes through to the chosen learner's own function, chosen by the type of the
constants (:func:`constants_for` makes them from ``params.learner_model``), so the
informed learner's arithmetic is exactly that of :mod:`sim.learner`.
"""

from __future__ import annotations

import numpy as np

from . import learner, learning
from .corpus import Corpus, CorpusBatch
from .params import Params

__all__ = ["constants_for", "initial_state_for", "read_batch_for", "read_corpus_for", "read_statement_for"]


def constants_for(params: Params, corpus: Corpus):
    """The constants of the learner ``params.learner_model`` reading ``corpus``: the
    informed learner's take the corpus's measured q_r; the learning learner's nothing
    from the corpus."""
    if params.learner_model == "learning":
        return learning.learning_constants(params)
    return learner.learner_constants(params, corpus.learner_real_cited_rate(params))


def _learning(constants) -> bool:
    return isinstance(constants, learning.LearningConstants)


def initial_state_for(n_learners: int, constants, awareness: np.ndarray | None = None):
    """:func:`sim.learner.initial_state` or :func:`sim.learning.initial_state`."""
    initial = learning.initial_state if _learning(constants) else learner.initial_state
    return initial(n_learners, constants, awareness)


def read_batch_for(state, batch: CorpusBatch, awareness, final_awareness, constants):
    """:func:`sim.learner.read_batch` or :func:`sim.learning.read_batch`."""
    reader = learning.read_batch if _learning(constants) else learner.read_batch
    return reader(state, batch, awareness, final_awareness, constants)


def read_corpus_for(state, cues: CorpusBatch, schedule, final_awareness, batch_size: int, constants):
    """:func:`sim.learner.read_corpus` or :func:`sim.learning.read_corpus`."""
    reader = learning.read_corpus if _learning(constants) else learner.read_corpus
    return reader(state, cues, schedule, final_awareness, batch_size, constants)


def read_statement_for(state, awareness, final_awareness, log_statement_ratio: float):
    """:func:`sim.learner.read_statement` or :func:`sim.learning.read_statement` (by the state's type)."""
    reader = learning.read_statement if isinstance(state, learning.LearningState) else learner.read_statement
    return reader(state, awareness, final_awareness, log_statement_ratio)
