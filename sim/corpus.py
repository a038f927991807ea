"""The corpus: real, planted and disclosed documents, their cues and the citation graph.

The corpus is a snapshot (``shared/MODEL.md``, "The corpus"): it is built first, in
creation order, and then read in a shuffled order. Document ``i`` is the ``i``-th
document created. Each document has

- a kind: real (independent authors), planted (the lab, undisclosed) or disclosed
  (the lab, labelled as its own), drawn independently with probabilities
  ``1 - rho - eta``, ``rho`` and ``eta``;
- content: whether it shows AI behaving well (real: with probability ``g``; planted:
  always) and, for real documents, whether it is AI-control discourse (probability
  ``c``);
- a style signature ``d * [planted] + z`` with ``z ~ N(0, 1)`` (the learner perceives
  ``s * d * [planted] + z``, see :func:`sim.learner.perceive`);
- a citation status: cited by at least one other document, or not.

Citations follow Price's model of preferential attachment (Price 1976; Barabási and
Albert 1999): each real document cites ``m`` distinct earlier real documents, each
chosen with probability proportional to its in-degree plus ``m``; each planted
document also cites ``m`` real documents the same way; nothing cites a planted or a
disclosed document ("never referenced anywhere else"). The share of real documents
that end up cited, ``q_r``, is measured on the graph; :func:`expected_real_cited_rate`
gives its large-corpus value.

Every random draw comes from its own stream, spawned from one ``SeedSequence``
(:func:`streams`), so that changing one mechanism leaves the others' numbers alone:
two corpora with the same seed and different planted shares share their style noise,
content draws and reading order (common random numbers).

References
----------
.. [1] D. de S. Price, "A general theory of bibliometric and other cumulative
   advantage processes", J. Am. Soc. Inf. Sci. 27 (1976) 292-306.
.. [2] A.-L. Barabási and R. Albert, "Emergence of scaling in random networks",
   Science 286 (1999) 509-512.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, NamedTuple

import networkx as nx
import numpy as np
from numba import njit

from .params import Params

__all__ = [
    "REAL",
    "PLANTED",
    "DISCLOSED",
    "KIND_NAMES",
    "Corpus",
    "CorpusBatch",
    "streams",
    "assign_kinds",
    "write_documents",
    "build_corpus",
    "expected_real_cited_rate",
]

REAL, PLANTED, DISCLOSED = 0, 1, 2
KIND_NAMES = ("real", "planted", "disclosed")

#: The random mechanisms, each with its own child of the run's SeedSequence.
MECHANISMS = ("kinds", "content", "style", "citations", "reading_order")


def _as_seed_sequence(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        raise ValueError("seed must be given (an int >= 0 or a numpy SeedSequence)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r} is not allowed: allowed is a whole number >= 0")
    return np.random.SeedSequence(int(seed))


def streams(seed: int | np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """One independent numpy Generator per random mechanism of a run.

    The children are keyed by position (``spawn_key + (k,)``), not spawned
    statefully, so the same seed always gives the same streams, however often and
    wherever this is called.

    Examples
    --------
    >>> g = streams(7)
    >>> sorted(g)
    ['citations', 'content', 'kinds', 'reading_order', 'style']
    >>> float(g['style'].standard_normal()) == float(streams(7)['style'].standard_normal())
    True
    """
    root = _as_seed_sequence(seed)
    return {
        name: np.random.default_rng(
            np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (k,))
        )
        for k, name in enumerate(MECHANISMS)
    }


class CorpusBatch(NamedTuple):
    """The cues of one batch of documents, in reading order (arrays of one length)."""

    style_noise: np.ndarray  # z, float
    planted: np.ndarray  # bool
    disclosed: np.ndarray  # bool
    cited: np.ndarray  # bool
    positive: np.ndarray  # bool: shows AI behaving well
    control: np.ndarray  # bool: AI-control discourse


@dataclass(frozen=True, eq=False)
class Corpus:
    """A built corpus. Arrays are indexed by document (creation order).

    Attributes
    ----------
    kind : ndarray of int8
        ``REAL``, ``PLANTED`` or ``DISCLOSED``.
    positive, control : ndarray of bool
        Shows AI behaving well; is AI-control discourse (real documents only).
    style_noise : ndarray of float
        ``z``; the style signature is ``synthetic_detectability * planted + z``.
    cite_source, cite_target : ndarray of int
        The citation edges: document ``cite_source[k]`` cites ``cite_target[k]``.
    reading_order : ndarray of int
        The documents in the order the learners read them.
    synthetic_detectability : float
        ``d``, kept to report the style signature.
    """

    kind: np.ndarray
    positive: np.ndarray
    control: np.ndarray
    style_noise: np.ndarray
    cite_source: np.ndarray
    cite_target: np.ndarray
    reading_order: np.ndarray
    synthetic_detectability: float

    @property
    def n_documents(self) -> int:
        return int(self.kind.size)

    @property
    def style(self) -> np.ndarray:
        """The synthetic-style signature: real ~ N(0, 1), planted ~ N(d, 1)."""
        return self.synthetic_detectability * (self.kind == PLANTED) + self.style_noise

    @cached_property
    def in_degree(self) -> np.ndarray:
        """Citations each document receives."""
        degree = np.bincount(self.cite_target, minlength=self.n_documents)
        degree.flags.writeable = False
        return degree

    @cached_property
    def cited(self) -> np.ndarray:
        """Whether each document is cited by at least one other document."""
        flags = self.in_degree > 0
        flags.flags.writeable = False
        return flags

    @cached_property
    def _real_counts(self) -> tuple[int, int]:
        """Real documents, and those of them that are cited."""
        real = self.kind == REAL
        return int(np.count_nonzero(real)), int(np.count_nonzero(self.cited & real))

    @property
    def real_cited_rate(self) -> float:
        """q_r: the share of real documents that are cited (NaN without real documents)."""
        n_real, n_cited = self._real_counts
        if n_real == 0:
            return float("nan")
        return n_cited / n_real  # the mean of the real documents' flags, to the last bit

    def learner_real_cited_rate(self, params: Params) -> float:
        """The q_r a learner uses: the measured share, kept off 0 and 1.

        The measured share is clipped to ``[1/(2 n_real), 1 - 1/(2 n_real)]`` so
        that the citation log-likelihood stays finite on tiny corpora; without real
        documents the large-corpus expectation stands in (kept inside [1e-6, 1 - 1e-6]).
        """
        n_real = self._real_counts[0]
        if n_real == 0:
            return float(np.clip(expected_real_cited_rate(params), 1e-6, 1.0 - 1e-6))
        half = 0.5 / n_real
        return float(np.clip(self.real_cited_rate, half, 1.0 - half))

    def graph(self) -> nx.DiGraph:
        """The citation graph as a networkx DiGraph (an edge u -> v: u cites v).

        Node attributes: ``kind`` (``"real"``, ``"planted"``, ``"disclosed"``),
        ``positive``, ``control``, ``style`` and ``read_at`` (position in the
        reading order).
        """
        g = nx.DiGraph()
        style = self.style
        read_at = np.empty_like(self.reading_order)
        read_at[self.reading_order] = np.arange(self.n_documents)
        for i in range(self.n_documents):
            g.add_node(
                i,
                kind=KIND_NAMES[self.kind[i]],
                positive=bool(self.positive[i]),
                control=bool(self.control[i]),
                style=float(style[i]),
                read_at=int(read_at[i]),
            )
        g.add_edges_from(zip(self.cite_source.tolist(), self.cite_target.tolist()))
        return g

    def in_reading_order(self) -> CorpusBatch:
        """All cues, in reading order."""
        return CorpusBatch(*_in_order(np.ascontiguousarray(self.reading_order, dtype=np.int64),
                                      np.ascontiguousarray(self.kind, dtype=np.int8),
                                      np.ascontiguousarray(self.style_noise, dtype=np.float64),
                                      np.ascontiguousarray(self.cited, dtype=np.bool_),
                                      np.ascontiguousarray(self.positive, dtype=np.bool_),
                                      np.ascontiguousarray(self.control, dtype=np.bool_)))

    def batches(self, batch_size: int) -> Iterator[CorpusBatch]:
        """The cues batch by batch, in reading order (the last batch may be short)."""
        cues = self.in_reading_order()
        for start in range(0, self.n_documents, batch_size):
            yield CorpusBatch(*(a[start : start + batch_size] for a in cues))


@njit(nogil=True, cache=True)
def _in_order(order, kind, style_noise, cited, positive, control):
    """The cues of :meth:`Corpus.in_reading_order` in one pass (fields of CorpusBatch)."""
    n = order.size
    style_o = np.empty(n)
    planted_o = np.empty(n, dtype=np.bool_)
    disclosed_o = np.empty(n, dtype=np.bool_)
    cited_o = np.empty(n, dtype=np.bool_)
    positive_o = np.empty(n, dtype=np.bool_)
    control_o = np.empty(n, dtype=np.bool_)
    for i in range(n):
        d = order[i]
        style_o[i] = style_noise[d]
        planted_o[i] = kind[d] == PLANTED
        disclosed_o[i] = kind[d] == DISCLOSED
        cited_o[i] = cited[d]
        positive_o[i] = positive[d]
        control_o[i] = control[d]
    return style_o, planted_o, disclosed_o, cited_o, positive_o, control_o


def assign_kinds(params: Params, rng: np.random.Generator) -> np.ndarray:
    """The lab's static policy: each document is planted with probability rho,
    disclosed with probability eta, real otherwise (independently)."""
    u = rng.random(params.n_documents)
    kind = np.full(params.n_documents, REAL, dtype=np.int8)
    kind[u < params.planted_fraction + params.disclosed_fraction] = DISCLOSED
    kind[u < params.planted_fraction] = PLANTED
    return kind


_UNIFORM_BLOCK = 1 << 20


@njit(nogil=True, cache=True)
def _attach(kind, m, uniforms, u_next, pool, pool_size, n_real, start, sources, targets, n_edges):
    """Preferential attachment by the 'repeated nodes' list, from document ``start`` on.

    A real document appears in ``pool`` ``m`` times plus once per citation it has
    received, so a uniform draw from the pool picks it with probability proportional
    to in-degree + m (Price's model with attractiveness m). Each real or planted
    document cites min(m, real documents so far) distinct real documents, drawn
    with rejection of repeats; then the cited documents enter the pool once more and
    a real citing document enters it m times.

    Returns where it stopped (``start`` of the next call, ``kind.size`` when done)
    and the updated counters; it stops early when ``uniforms`` runs out.
    """
    chosen = np.empty(max(m, 1), dtype=np.int64)
    i = start
    while i < kind.size:
        k = kind[i]
        if k == 2:  # DISCLOSED: cites nothing
            i += 1
            continue
        want = min(m, n_real)
        n_chosen = 0
        n = pool_size
        while n_chosen < want:
            if u_next == uniforms.size:
                return i, u_next, pool_size, n_real, n_edges
            j = pool[int(uniforms[u_next] * n)]
            u_next += 1
            repeat = False
            for c in range(n_chosen):
                if chosen[c] == j:
                    repeat = True
                    break
            if not repeat:
                chosen[n_chosen] = j
                n_chosen += 1
        for c in range(n_chosen):
            pool[pool_size] = chosen[c]
            pool_size += 1
            sources[n_edges] = i
            targets[n_edges] = chosen[c]
            n_edges += 1
        if k == 0:  # REAL: enters the pool with weight m
            for _ in range(m):
                pool[pool_size] = i
                pool_size += 1
            n_real += 1
        i += 1
    return i, u_next, pool_size, n_real, n_edges


def _cite(kind: np.ndarray, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The citation edges (source cites target) of a corpus, in creation order."""
    n = kind.size
    if m == 0 or n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    citing = int((kind != DISCLOSED).sum())
    n_real = int((kind == REAL).sum())
    pool = np.empty(m * n_real + m * citing, dtype=np.int64)
    sources = np.empty(m * citing, dtype=np.int64)
    targets = np.empty(m * citing, dtype=np.int64)
    # about what the draws need (m per citing document, plus a few repeats redrawn);
    # running out only means drawing the next block from the same stream
    block = min(max(64, m * citing + m * citing // 8), _UNIFORM_BLOCK)
    kind = np.ascontiguousarray(kind, dtype=np.int8)
    state = (0, 0, 0, 0)  # start, pool_size, n_real, n_edges
    while state[0] < n:
        uniforms = rng.random(block)
        start, _, pool_size, reals, edges = _attach(
            kind, m, uniforms, 0, pool, state[1], state[2], state[0], sources, targets, state[3]
        )
        state = (start, pool_size, reals, edges)
    return sources[: state[3]].copy(), targets[: state[3]].copy()


def write_documents(
    kind: np.ndarray,
    params: Params,
    rngs: dict[str, np.random.Generator],
) -> Corpus:
    """The authors write the documents and cite, in creation order.

    Real documents cite earlier real documents by preferential attachment, planted
    documents cite real ones, disclosed documents cite nothing, and nobody cites a
    planted or disclosed document. Content and style are drawn for every position
    (whatever its kind) so that the streams stay aligned across planted shares.
    """
    n = kind.size
    content = rngs["content"]
    real = kind == REAL
    positive = np.where(real, content.random(n) < params.real_positive_rate, kind == PLANTED)
    control = real & (content.random(n) < params.control_discourse_fraction)
    style_noise = rngs["style"].standard_normal(n)

    cite_source, cite_target = _cite(kind, params.citations_per_document, rngs["citations"])
    reading_order = rngs["reading_order"].permutation(n)
    return Corpus(
        kind=kind,
        positive=positive,
        control=control,
        style_noise=style_noise,
        cite_source=cite_source,
        cite_target=cite_target,
        reading_order=reading_order,
        synthetic_detectability=params.synthetic_detectability,
    )


def build_corpus(params: Params, seed: int | np.random.SeedSequence) -> Corpus:
    """Build the corpus of one training run (the lab assigns kinds, authors write).

    Examples
    --------
    >>> from sim import Params
    >>> c = build_corpus(Params(n_documents=2000), seed=1)
    >>> c.n_documents, round(c.real_cited_rate, 1)
    (2000, 0.6)
    """
    rngs = streams(seed)
    return write_documents(assign_kinds(params, rngs["kinds"]), params, rngs)


def expected_real_cited_rate(params: Params) -> float:
    """Large-corpus share of real documents that are cited, q_r.

    In Price's model with attractiveness ``a`` and ``M`` citations arriving per new
    node, the stationary share of nodes never cited is ``(M + a) / (M + a + M a)``
    (rate equation for the in-degree-0 class). Here ``a = m`` and, since planted
    documents cite real ones too, ``M = m (1 - eta) / (1 - rho - eta)`` citations
    arrive per real document. With no planting this is ``m / (m + 2)``: 0.6 for the
    default ``m = 3``.

    >>> round(expected_real_cited_rate(Params(planted_fraction=0.0)), 6)
    0.6
    """
    m = float(params.citations_per_document)
    if m == 0:
        return 0.0
    real = params.real_fraction
    citing = 1.0 - params.disclosed_fraction
    if real <= 0:
        return m / (1.0 + m)  # the limit M -> infinity
    a, big_m = m, m * citing / real
    return big_m * a / (big_m + a + big_m * a)
