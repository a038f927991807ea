"""The corpus: kinds, content, style, the citation graph and the random streams (sim.corpus)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sim import Params
from sim.corpus import (
    DISCLOSED,
    PLANTED,
    REAL,
    Corpus,
    build_corpus,
    expected_real_cited_rate,
    streams,
)

MIXED = Params(n_documents=1500, planted_fraction=0.2, disclosed_fraction=0.1)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus(MIXED, seed=11)


@pytest.fixture(scope="module")
def graph(corpus) -> nx.DiGraph:
    return corpus.graph()


def _kinds(graph: nx.DiGraph) -> dict[int, str]:
    return nx.get_node_attributes(graph, "kind")


def test_graph_is_a_networkx_digraph_over_all_documents(corpus, graph):
    """Corpus.graph() is a DiGraph with one node per document and one edge per citation."""
    assert isinstance(graph, nx.DiGraph)
    assert graph.number_of_nodes() == corpus.n_documents
    # a DiGraph would silently merge duplicate citations: the counts must agree
    assert graph.number_of_edges() == corpus.cite_source.size
    assert nx.number_of_selfloops(graph) == 0


def test_graph_node_attributes_match_the_arrays(corpus, graph):
    """Node attributes (kind, positive, control, style, read_at) mirror the corpus arrays."""
    names = np.array(["real", "planted", "disclosed"])
    for i in (0, 17, 500, corpus.n_documents - 1):
        node = graph.nodes[i]
        assert node["kind"] == names[corpus.kind[i]]
        assert node["positive"] == bool(corpus.positive[i])
        assert node["control"] == bool(corpus.control[i])
        assert node["style"] == float(corpus.style[i])
        assert corpus.reading_order[node["read_at"]] == i


def test_real_documents_cite_only_earlier_real_documents(graph):
    """Every citation made by a real document points to an earlier real document."""
    kind = _kinds(graph)
    edges = [(u, v) for u, v in graph.edges if kind[u] == "real"]
    assert edges, "the corpus must contain real citations"
    for u, v in edges:
        assert kind[v] == "real"
        assert v < u


def test_planted_documents_cite_only_real_documents(graph):
    """Planted documents cite (earlier) real documents only."""
    kind = _kinds(graph)
    edges = [(u, v) for u, v in graph.edges if kind[u] == "planted"]
    assert edges, "the corpus must contain planted citations"
    for u, v in edges:
        assert kind[v] == "real"
        assert v < u


def test_no_citation_points_to_a_planted_or_disclosed_document(graph):
    """Lab documents are never referenced anywhere else: their in-degree is 0."""
    kind = _kinds(graph)
    lab = [n for n, k in kind.items() if k != "real"]
    assert lab
    assert all(graph.in_degree(n) == 0 for n in lab)


def test_disclosed_documents_cite_nothing(graph):
    """Disclosed documents have no outgoing citations."""
    kind = _kinds(graph)
    disclosed = [n for n, k in kind.items() if k == "disclosed"]
    assert disclosed
    assert all(graph.out_degree(n) == 0 for n in disclosed)


@pytest.mark.parametrize("m", [0, 1, 3, 7])
def test_each_citing_document_cites_min_m_earlier_real_documents(m):
    """A real or planted document cites min(m, number of earlier real documents) distinct documents."""
    params = MIXED.replace(n_documents=400, citations_per_document=m)
    c = build_corpus(params, seed=3)
    g = c.graph()
    real_before = np.concatenate([[0], np.cumsum(c.kind == REAL)[:-1]])
    for i in range(c.n_documents):
        expected = 0 if c.kind[i] == DISCLOSED else min(m, int(real_before[i]))
        assert g.out_degree(i) == expected, i
        # distinct targets: the arrays hold no repeated (source, target) pair
        targets = c.cite_target[c.cite_source == i]
        assert targets.size == np.unique(targets).size == expected


def test_cited_flags_equal_positive_in_degree_on_the_graph(corpus, graph):
    """Corpus.cited is exactly 'in-degree > 0' on the networkx graph."""
    nx_cited = np.array([graph.in_degree(i) > 0 for i in range(corpus.n_documents)])
    assert_array_equal(corpus.cited, nx_cited)
    assert_array_equal(corpus.in_degree, [graph.in_degree(i) for i in range(corpus.n_documents)])


def test_real_cited_rate_is_measured_on_the_graph(corpus, graph):
    """q_r equals the share of real nodes with in-degree > 0 on the networkx graph."""
    real = [n for n, k in _kinds(graph).items() if k == "real"]
    share = sum(graph.in_degree(n) > 0 for n in real) / len(real)
    assert corpus.real_cited_rate == share


def test_same_seed_gives_identical_corpus():
    """Two corpora built with the same seed are identical array by array."""
    a, b = build_corpus(MIXED, seed=5), build_corpus(MIXED, seed=5)
    for field in ("kind", "positive", "control", "style_noise", "cite_source", "cite_target", "reading_order"):
        assert_array_equal(getattr(a, field), getattr(b, field))


def test_seed_sequence_and_int_seed_agree():
    """An int seed and SeedSequence(int) give the same corpus."""
    a = build_corpus(MIXED, seed=5)
    b = build_corpus(MIXED, seed=np.random.SeedSequence(5))
    assert_array_equal(a.style_noise, b.style_noise)
    assert_array_equal(a.cite_target, b.cite_target)


def test_different_seed_gives_different_corpus():
    """Different seeds give different kinds, style noise, citations and reading order."""
    a, b = build_corpus(MIXED, seed=5), build_corpus(MIXED, seed=6)
    assert not np.array_equal(a.kind, b.kind)
    assert not np.array_equal(a.style_noise, b.style_noise)
    assert not np.array_equal(a.reading_order, b.reading_order)
    assert not (a.cite_target.size == b.cite_target.size and np.array_equal(a.cite_target, b.cite_target))


def test_spawned_seed_sequences_give_different_corpora():
    """Children spawned from one SeedSequence give distinct corpora, each reproducible."""
    children = np.random.SeedSequence(77).spawn(2)
    a, b = build_corpus(MIXED, children[0]), build_corpus(MIXED, children[1])
    assert not np.array_equal(a.style_noise, b.style_noise)
    again = build_corpus(MIXED, np.random.SeedSequence(77).spawn(2)[0])
    assert_array_equal(a.style_noise, again.style_noise)
    assert_array_equal(a.cite_target, again.cite_target)


@pytest.mark.parametrize("seed", [-1, None, 1.5, True])
def test_invalid_seed_is_rejected(seed):
    """Seeds must be whole numbers >= 0 (or a SeedSequence)."""
    with pytest.raises(ValueError):
        build_corpus(MIXED, seed=seed)


def test_streams_are_independent_of_call_order():
    """streams(seed) gives the same numbers however often it is called."""
    first = {k: g.random(3) for k, g in streams(9).items()}
    second = {k: g.random(3) for k, g in streams(9).items()}
    for k in first:
        assert_array_equal(first[k], second[k])
    assert not np.array_equal(first["style"], first["content"])


@pytest.mark.parametrize("rho, eta", [(0.15, 0.0), (0.3, 0.1), (0.0, 0.2)])
def test_kind_shares_are_close_to_the_parameters(rho, eta):
    """The shares of planted and disclosed documents match rho and eta within 4 standard errors."""
    n = 10000
    c = build_corpus(Params(n_documents=n, planted_fraction=rho, disclosed_fraction=eta), seed=2)
    for kind, share in ((PLANTED, rho), (DISCLOSED, eta), (REAL, 1 - rho - eta)):
        observed = float(np.mean(c.kind == kind))
        se = np.sqrt(share * (1 - share) / n)
        assert abs(observed - share) <= 4 * se + 1e-12


def test_extreme_shares_give_pure_corpora():
    """rho = 1 gives only planted documents; rho = 0, eta = 0 only real ones."""
    assert np.all(build_corpus(Params(n_documents=300, planted_fraction=1.0), 0).kind == PLANTED)
    assert np.all(build_corpus(Params(n_documents=300, planted_fraction=0.0), 0).kind == REAL)
    assert np.all(
        build_corpus(Params(n_documents=300, planted_fraction=0.0, disclosed_fraction=1.0), 0).kind == DISCLOSED
    )


def test_content_follows_the_kinds(corpus):
    """Planted documents always show AI behaving well; lab documents are never control discourse;
    disclosed documents make no claim (not positive)."""
    planted, disclosed, real = corpus.kind == PLANTED, corpus.kind == DISCLOSED, corpus.kind == REAL
    assert corpus.positive[planted].all()
    assert not corpus.positive[disclosed].any()
    assert not corpus.control[~real].any()


def test_real_content_rates_match_g_and_c():
    """Real documents are positive with probability g and control discourse with probability c."""
    p = Params(n_documents=10000, real_positive_rate=0.3, control_discourse_fraction=0.2)
    c = build_corpus(p, seed=4)
    real = c.kind == REAL
    n = real.sum()
    for observed, rate in ((c.positive[real].mean(), 0.3), (c.control[real].mean(), 0.2)):
        assert abs(observed - rate) <= 4 * np.sqrt(rate * (1 - rate) / n)


def test_style_signature_is_shifted_by_d_for_planted_documents():
    """style = d [planted] + z with z standard normal."""
    p = Params(n_documents=10000, planted_fraction=0.3, synthetic_detectability=2.5)
    c = build_corpus(p, seed=8)
    planted = c.kind == PLANTED
    assert_array_equal(c.style, 2.5 * planted + c.style_noise)
    assert abs(c.style[planted].mean() - 2.5) < 4 / np.sqrt(planted.sum())
    assert abs(c.style[~planted].mean()) < 4 / np.sqrt((~planted).sum())
    assert abs(c.style_noise.std() - 1.0) < 0.03


def test_changing_planted_share_keeps_common_random_numbers():
    """With the same seed, corpora with different planted shares share style noise, reading order
    and the content of documents that are real in both."""
    base = Params(n_documents=3000, planted_fraction=0.1)
    a = build_corpus(base, seed=21)
    b = build_corpus(base.replace(planted_fraction=0.3), seed=21)
    assert_array_equal(a.style_noise, b.style_noise)
    assert_array_equal(a.reading_order, b.reading_order)
    both_real = (a.kind == REAL) & (b.kind == REAL)
    assert both_real.sum() > 1000
    assert_array_equal(a.positive[both_real], b.positive[both_real])
    assert_array_equal(a.control[both_real], b.control[both_real])
    # planting is nested: documents planted at 0.1 are still planted at 0.3
    assert np.all(b.kind[a.kind == PLANTED] == PLANTED)


def test_reading_order_is_a_permutation_and_batches_follow_it(corpus):
    """The reading order visits every document once; batches are consecutive slices of it."""
    assert_array_equal(np.sort(corpus.reading_order), np.arange(corpus.n_documents))
    batches = list(corpus.batches(400))
    assert [b.planted.size for b in batches] == [400, 400, 400, 300]
    joined = np.concatenate([b.style_noise for b in batches])
    assert_array_equal(joined, corpus.style_noise[corpus.reading_order])
    cues = corpus.in_reading_order()
    assert_array_equal(np.concatenate([b.cited for b in batches]), cues.cited)
    assert_array_equal(cues.disclosed, corpus.kind[corpus.reading_order] == DISCLOSED)


@pytest.mark.parametrize("m", [1, 3, 5])
def test_expected_real_cited_rate_without_planting_is_m_over_m_plus_2(m):
    """With no planting and no disclosure the large-corpus q_r is m / (m + 2)."""
    q = expected_real_cited_rate(Params(planted_fraction=0.0, citations_per_document=m))
    assert q == pytest.approx(m / (m + 2), rel=1e-12)


def test_expected_real_cited_rate_default_m_is_0_6():
    """expected_real_cited_rate(Params(planted_fraction=0)) is 0.6 for the default m = 3."""
    assert expected_real_cited_rate(Params(planted_fraction=0.0)) == pytest.approx(0.6, rel=1e-12)
    assert expected_real_cited_rate(Params(citations_per_document=0)) == 0.0


@pytest.mark.parametrize("rho, eta", [(0.0, 0.0), (0.15, 0.0), (0.3, 0.0), (0.15, 0.1)])
def test_measured_real_cited_rate_averages_to_its_expectation(rho, eta):
    """The measured q_r at N = 10,000, averaged over seeds, is within 0.01 of expected_real_cited_rate."""
    p = Params(planted_fraction=rho, disclosed_fraction=eta)
    measured = np.mean([build_corpus(p, seed).real_cited_rate for seed in range(4)])
    assert abs(measured - expected_real_cited_rate(p)) < 0.01


def test_learner_real_cited_rate_stays_inside_the_unit_interval():
    """The q_r a learner uses is kept off 0 and 1 on tiny corpora and corpora without citations."""
    one = build_corpus(Params(n_documents=1, planted_fraction=0.0), seed=0)
    assert one.real_cited_rate == 0.0
    assert 0.0 < one.learner_real_cited_rate(Params(n_documents=1)) < 1.0
    no_citations = Params(n_documents=50, citations_per_document=0)
    c = build_corpus(no_citations, seed=0)
    n_real = int((c.kind == REAL).sum())
    assert c.learner_real_cited_rate(no_citations) == pytest.approx(0.5 / n_real)


def test_learner_real_cited_rate_without_real_documents_is_the_expectation():
    """Without real documents the learner's q_r is expected_real_cited_rate (as documented)."""
    p = Params(n_documents=50, planted_fraction=1.0)
    none_real = build_corpus(p, seed=0)
    assert np.isnan(none_real.real_cited_rate)
    assert none_real.learner_real_cited_rate(p) == pytest.approx(expected_real_cited_rate(p), rel=1e-12)


# -- q_r's closed form, beyond the unplanted case ------------------------------------------------


@pytest.mark.parametrize(
    "m, rho, eta, laundering",
    [(3, 0.15, 0.0, 0.0), (3, 0.25, 0.0, 0.0), (3, 0.15, 0.1, 0.0), (3, 0.3, 0.1, 0.5), (5, 0.2, 0.05, 1.0),
     (1, 0.4, 0.2, 0.25)],
)
def test_expected_cited_rates_solve_the_rate_equation(m, rho, eta, laundering):
    """q_r = 1 - f_0, where f_0 = 1 / (1 + M a / (M + a)) is the stationary never-cited share of
    dN_0/dn = 1 - (M a / (M + a)) N_0 / n, with a = m and M = m (1 - eta - L rho) / (1 - rho - eta)
    citations reaching real documents per real document (docs/model.md, 2 and 5.2); the planted
    documents' ring has M = L m."""
    from sim.corpus import expected_planted_cited_rate

    p = Params(citations_per_document=m, planted_fraction=rho, disclosed_fraction=eta, laundering=laundering)
    arriving = m * (1 - eta - laundering * rho) / (1 - rho - eta)
    f0 = 1.0 / (1.0 + arriving * m / (arriving + m))
    assert expected_real_cited_rate(p) == pytest.approx(1.0 - f0, rel=1e-12)
    ring = laundering * m
    want_planted = 1.0 - 1.0 / (1.0 + ring * m / (ring + m)) if ring > 0 else 0.0
    assert expected_planted_cited_rate(p) == pytest.approx(want_planted, rel=1e-12, abs=1e-15)


def test_expected_real_cited_rate_reference_values():
    """docs/model.md: 0.6122 at rho = 0.10, 0.6186 at the default 0.15 and 0.6316 at 0.25 (m = 3)."""
    got = [round(expected_real_cited_rate(Params(planted_fraction=r)), 4) for r in (0.10, 0.15, 0.25)]
    assert got == [0.6122, 0.6186, 0.6316]
