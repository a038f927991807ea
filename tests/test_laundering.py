"""Citation laundering and the graph-aware ("trusted") cue (sim.corpus).

What is checked: laundered documents are cited only by planted ones, and laundering 0
draws exactly the plain corpus; the cited shares follow their closed forms; the trusted
cue never fires on a planted document and equals networkx's TrustRank support; the
learner reads the chosen cue; laundering defeats the plain cue and not the graph-aware
one.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sim import Params, sweep
from sim.corpus import PLANTED, REAL, build_corpus, expected_planted_cited_rate, expected_real_cited_rate
from small_runs import SMALL


# -- laundering ------------------------------------------------------------------------
@pytest.mark.parametrize("laundering", [0.0, 0.5, 1.0])
def test_nothing_but_planted_documents_cites_a_planted_document(laundering):
    c = build_corpus(Params(laundering=laundering, planted_fraction=0.3, n_documents=4000), seed=3)
    into_planted = c.kind[c.cite_target] == PLANTED
    assert np.all(c.kind[c.cite_source[into_planted]] == PLANTED)
    assert np.all(c.cite_source > c.cite_target)  # citations point back in time
    # and each document cites distinct documents
    pairs = c.cite_source * c.n_documents + c.cite_target
    assert np.unique(pairs).size == pairs.size
    if laundering == 0:
        assert not into_planted.any()
    else:
        assert into_planted.any()


def test_laundering_zero_draws_exactly_the_plain_corpus():
    """L = 0 takes no extra draw: the corpus is the reference model's, bit for bit."""
    plain = build_corpus(Params(n_documents=3000), seed=9)
    zero = build_corpus(Params(n_documents=3000, laundering=0.0, citation_cue="trusted"), seed=9)
    assert_array_equal(plain.cite_source, zero.cite_source)
    assert_array_equal(plain.cite_target, zero.cite_target)
    assert_array_equal(plain.reading_order, zero.reading_order)


@pytest.mark.parametrize("laundering", [0.25, 0.5, 1.0])
def test_cited_shares_follow_the_closed_forms(laundering):
    p = Params(laundering=laundering, n_documents=40_000)
    c = build_corpus(p, seed=1)
    planted_cited = float(c.cited[c.kind == PLANTED].mean())
    assert planted_cited == pytest.approx(expected_planted_cited_rate(p), abs=0.03)
    assert c.real_cited_rate == pytest.approx(expected_real_cited_rate(p), abs=0.02)



# -- the graph-aware cue ---------------------------------------------------------------
def test_trusted_cue_never_fires_on_a_planted_document_and_matches_networkx_trustrank():
    p = Params(laundering=1.0, citation_cue="trusted", planted_fraction=0.3, n_documents=3000)
    c = build_corpus(p, seed=2)
    assert not c.trusted[c.kind == PLANTED].any()
    assert c.planted_cited_rate == 0.0
    assert c.cited[c.kind == PLANTED].mean() > 0.4  # ... while the plain cue fires on many
    assert np.all(c.trusted[c.anchor_flags])
    assert np.all(c.kind[c.anchor_flags] == REAL)
    assert_array_equal(c.trust_scores() > 0, c.trusted)
    # by definition: trusted = anchors plus everything an anchor reaches by citations
    import networkx as nx

    g = c.graph()
    reach = set(np.flatnonzero(c.anchor_flags).tolist())
    for a in list(reach):
        reach |= nx.descendants(g, a)
    assert_array_equal(np.isin(np.arange(c.n_documents), sorted(reach)), c.trusted)


def test_the_learner_reads_the_chosen_cue():
    p = Params(citation_cue="trusted", **SMALL)
    c = build_corpus(p, seed=0)
    cues = c.in_reading_order()
    assert_array_equal(cues.cited, c.trusted[c.reading_order])
    assert c.learner_real_cited_rate(p) == pytest.approx(c.real_cited_rate)
    assert c.real_cited_rate == c.trusted[c.kind == REAL].mean()
    assert c.real_cited_rate < c.cited[c.kind == REAL].mean()  # the anchors' reach is smaller than "cited"


def test_laundering_defeats_the_plain_cue_and_not_the_graph_aware_one():
    """At high awareness the plain cue catches planting, full laundering hides it, and
    the graph-aware cue catches it again."""
    base = dict(n_documents=4000)
    share = {}
    for name, extra in {"plain": {}, "laundered": {"laundering": 1.0},
                        "laundered, trusted": {"laundering": 1.0, "citation_cue": "trusted"}}.items():
        df = sweep(Params(**base, **extra), grid={"situational_awareness": [0.9]}, replicates=6, seed=3,
                   progress=False)
        share[name] = float((df["persona"] == "rebel").mean())
    assert share["plain"] == 1.0
    assert share["laundered"] == 0.0
    assert share["laundered, trusted"] == 1.0
