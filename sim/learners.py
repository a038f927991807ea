"""The two learners behind one interface: ``learner_model = "informed"`` (:mod:`sim.learner`,
docs/model.md §3) and ``"learning"`` (:mod:`sim.learning`, docs/model.md §3.1).

Both drivers (the Mesa agents and the batched engine) call these functions; each
passes through to the chosen learner's own function, chosen by the type of the
constants (:func:`constants_for` makes them from ``params.learner_model``), so the
informed learner's arithmetic is exactly that of :mod:`sim.learner`.
"""

from __future__ import annotations

import numpy as np

from . import corpus, learner, learning
from .corpus import Corpus, CorpusBatch
from .params import Params

__all__ = ["constants_for", "initial_state_for", "read_batch_for", "read_corpus_for", "read_statement_for",
           "kernels_cached"]


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


def kernels_cached(params: Params) -> bool:
    """Whether numba's on-disk cache already holds the compiled kernels a run of
    ``params`` needs: the corpus builder's (and TrustRank's pass for the graph-aware
    cue) and its learner's reader (the learning learner's, or the informed learner's
    fast or general path, :func:`sim.learner._fast_path`). False on a machine's first
    run or after the source changed: the run then starts by compiling, for some
    seconds. Read from each kernel's cache index for the present source files; where
    numba's cache internals are not those this was written for, True (so nothing is
    announced)."""
    if params.learner_model == "learning":
        reader = learning._learn_corpus_kernel
    elif learner._fast_path(learner.learner_constants(params, 0.5)):  # the path does not depend on q_r
        reader = learner._read_corpus_fast_kernel
    else:
        reader = learner._read_corpus_kernel
    kernels = [reader, corpus._attach, corpus._draw, corpus._in_order]
    if params.citation_cue == "trusted":
        kernels.append(corpus._trust_pass)
    try:
        return all(kernel._cache._cache_file._load_index() for kernel in kernels)
    except Exception:  # noqa: BLE001 - numba's private cache API moved: assume it is warm
        return True
