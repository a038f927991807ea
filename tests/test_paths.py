"""The learner's two readers on the same inputs: the general path and the fast path.

Both call the same scalar rules (:mod:`sim.rules`); they differ only in performance
code. The fast path (sim.learner._read_corpus_fast_kernel) computes exp(-|log Lambda|)
by plain arithmetic (``_exp_neg``, relative error below 1e-13, |log Lambda| held at 60)
instead of ``math.exp``, folds its running products into log-sums every 16 documents
at [1e-100, 1e100] instead of at every document at [1e-150, 1e150], and finds
emergence from the products' peaks instead of testing every document. In exact
arithmetic the two are equal; in floating point they are not bit-equal, because the
exponential differs in its last bits and the products are rounded at different
points.

The tolerance stated and held here: every per-document term (a document's log ratio,
its belief p_hat, its weight 1 - p_hat) differs by at most about 1e-13 (the fast
exponential's relative error bound, on terms of size at most about 1 or on a ratio
whose logarithm is taken; the folds are exact up to one rounding of a logarithm), and
each running sum adds one term per document, rounded each time to half an ulp of its
magnitude in each path. So after N documents the log-odds (as read and retrospective),
the self-model counts a and b and the sum of p_hat differ by at most
``N * (1e-13 + 2**-52 * |sum|)`` in absolute value. (Observed on 10,000-document
corpora: at most about 3e-15 per document, 8e-14 relative; the rounding of the sums
dominates when they grow large, as the sum of p_hat of an unaware learner reading
2,679 one-document batches, 2.8e-10 on 683.) The emergence document and the count of documents read are equal. Which
path runs is a function of the parameters alone (``_fast_path``), so a given run is
always computed by the same path, and its numbers are reproducible to the bit.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from sim import Params
from sim.corpus import build_corpus
from sim.learner import _fast_path, _read_corpus_on, awareness_schedule, learner_constants, initial_state

#: Difference allowed per document read, beyond the rounding of the sums (see the
#: module docstring).
PER_DOCUMENT = 1e-13
EPS = 2.0**-52

LEVELS = np.linspace(0.0, 1.0, 11)


def _both_paths(params: Params, seed: int):
    corpus = build_corpus(params, seed)
    constants = learner_constants(params, corpus.learner_real_cited_rate(params))
    if not _fast_path(constants):
        return None
    schedule = awareness_schedule(LEVELS, params.n_batches, params)
    cues = corpus.in_reading_order()
    return tuple(
        _read_corpus_on(fast, initial_state(LEVELS.size, constants, schedule[:, 0]), cues, schedule, LEVELS,
                        params.batch_size, constants)
        for fast in (True, False)
    )


@st.composite
def fast_path_params(draw) -> Params:
    """Parameters over their ranges, within the fast path's domain (planting rates in
    [1e-6, 1 - 1e-6], one document's |log ratio| at most 18)."""
    schedule = draw(st.sampled_from(["constant", "linear", "logistic"]))
    planted = draw(st.floats(0.0, 0.6))
    return Params(
        n_documents=draw(st.integers(1, 5000)),
        batch_size=draw(st.integers(1, 400)),
        planted_fraction=planted,
        disclosed_fraction=draw(st.floats(0.0, 1.0 - planted)) * draw(st.sampled_from([0.0, 0.2])),
        synthetic_detectability=draw(st.floats(0.0, 4.0)),
        candid_plant_rate=10 ** draw(st.floats(-6.0, -0.5)),
        deceptive_plant_rate=draw(st.floats(0.01, 0.999)),
        prior_deceptive=draw(st.floats(0.001, 0.999)),
        control_discourse_fraction=draw(st.floats(0.0, 1.0)),
        control_likelihood_ratio=10 ** draw(st.floats(-2.0, 2.0)),
        disclosure_likelihood_ratio=10 ** draw(st.floats(-2.0, 2.0)),
        retrospection=draw(st.sampled_from([0.0, 0.5, 1.0])),
        laundering=draw(st.sampled_from([0.0, 0.5])),
        citation_cue=draw(st.sampled_from(["cited", "trusted"])),
        sa_start=None if schedule == "constant" else draw(st.floats(0.0, 1.0)),
        awareness_schedule=schedule,
    )


@given(fast_path_params(), st.integers(0, 2**32 - 1))
def test_fast_and_general_paths_agree_within_the_stated_tolerance(params, seed):
    paths = _both_paths(params, seed)
    assume(paths is not None)
    fast, general = paths
    n = params.n_documents
    for name in ("log_odds", "retro_log_odds", "a", "b", "believed_planted_sum"):
        x, y = getattr(fast, name), getattr(general, name)
        tol = n * (PER_DOCUMENT + EPS * np.maximum(np.abs(x), np.abs(y)))
        assert np.all(np.abs(x - y) <= tol), (name, np.abs(x - y).max(), tol.min())
    np.testing.assert_array_equal(fast.emergence_document, general.emergence_document)
    np.testing.assert_array_equal(fast.documents_read, general.documents_read)


def test_on_a_default_corpus_the_paths_agree_to_rounding():
    """The default configuration (10,000 documents): within 1e-13 relative, not bit-equal."""
    fast, general = _both_paths(Params(), 0)
    np.testing.assert_allclose(fast.log_odds, general.log_odds, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(fast.emergence_document, general.emergence_document)
