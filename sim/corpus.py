"""The corpus: real, planted and disclosed documents, their cues and the citation graph.

The corpus is a snapshot (``docs/model.md``, "The corpus"): it is built first, in
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

Citation laundering (``laundering`` L > 0): each citation of a planted document goes,
with probability L, to an earlier planted document instead (chosen the same way among
planted documents), so that planted documents are cited too, by planted documents
only, and the plain "has a citation" cue fails (:func:`expected_planted_cited_rate`).
The graph-aware cue (``citation_cue = "trusted"``) is TrustRank's (Gyöngyi,
Garcia-Molina and Pedersen 2004): the learner knows a share ``anchor_share`` of real
documents independently (they are cited in the rest of its pretraining), and trusts
a document reached from one of them by a chain of citations
(:attr:`Corpus.trusted`, :meth:`Corpus.trust_scores`). Real documents cite only real
documents, so no chain from an anchor reaches a planted document, however the planted
documents cite one another.

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
.. [3] Z. Gyöngyi, H. Garcia-Molina and J. Pedersen, "Combating web spam with
   TrustRank", Proc. VLDB 30 (2004) 576-587.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Iterator, Mapping, NamedTuple

import numpy as np
from . import _cpu  # noqa: F401  (numba's vector width, set before numba is first imported)
from numba import njit

from .params import Params

if TYPE_CHECKING:  # networkx is imported where it is used (trust_scores, graph)
    import networkx as nx

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
    "kinds_from_uniforms",
    "CorpusPlan",
    "plan_corpus",
    "replan_unread",
    "generation_seed",
    "planted_share_read",
    "removed_count",
    "collected_documents",
    "collected_shares",
    "choose_removed",
    "expected_real_cited_rate",
    "expected_planted_cited_rate",
    "learner_real_cited_rate",
]

REAL, PLANTED, DISCLOSED = 0, 1, 2
KIND_NAMES = ("real", "planted", "disclosed")

#: The random mechanisms, each with its own child of the run's SeedSequence.
MECHANISMS = ("kinds", "content", "style", "citations", "reading_order", "anchors", "evaluations", "filtering")


def _as_seed_sequence(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        raise ValueError("seed must be given (an int >= 0 or a numpy SeedSequence)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r} is not allowed: allowed is a whole number >= 0")
    return np.random.SeedSequence(int(seed))


class Streams(Mapping[str, np.random.Generator]):
    """The generators of a run's random mechanisms, each made on first use.

    A mapping from each name of :data:`MECHANISMS` to its numpy Generator; a
    generator costs tens of microseconds to seed, so those a run never draws from
    (the anchors of a corpus without the graph-aware cue, say) are never made.
    """

    def __init__(self, root: np.random.SeedSequence) -> None:
        self._root = root
        self._made: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        if name not in self._made:
            position = MECHANISMS.index(name) if name in MECHANISMS else None
            if position is None:
                raise KeyError(name)
            root = self._root
            self._made[name] = np.random.default_rng(
                np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (position,)))
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(MECHANISMS)

    def __len__(self) -> int:
        return len(MECHANISMS)


def streams(seed: int | np.random.SeedSequence) -> Streams:
    """One independent numpy Generator per random mechanism of a run.

    The children are keyed by position (``spawn_key + (position,)``), not spawned
    statefully, so the same seed always gives the same streams, however often and
    wherever this is called, and whichever of them are used.

    Examples
    --------
    >>> g = streams(7)
    >>> sorted(g)
    ['anchors', 'citations', 'content', 'evaluations', 'filtering', 'kinds', 'reading_order', 'style']
    >>> float(g['style'].standard_normal()) == float(streams(7)['style'].standard_normal())
    True
    """
    return Streams(_as_seed_sequence(seed))


class CorpusBatch(NamedTuple):
    """The cues of one batch of documents, in reading order (arrays of one length)."""

    style_noise: np.ndarray  # z, float
    planted: np.ndarray  # bool
    disclosed: np.ndarray  # bool
    cited: np.ndarray  # bool
    positive: np.ndarray  # bool: shows AI behaving well
    control: np.ndarray  # bool: AI-control discourse
    references: np.ndarray | None = None  # int: citations the document makes (None: not known, none)
    dangling: np.ndarray | None = None  # int: of them, those whose target the lab removed


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
    anchor : ndarray of bool
        The real documents the learner knows independently (TrustRank's seeds).
    citation_cue : str
        The cue the learner reads: ``"cited"`` (:attr:`cited`) or ``"trusted"``
        (:attr:`trusted`).
    removed : ndarray of bool, optional
        The real documents the lab filtered out before training (``filtered_fraction``,
        docs/model.md §5.7; None: nothing filtered). They are not in ``reading_order``,
        their own citations are gone, and citations to them dangle.

    Arrays cover every document created (:attr:`n_documents`); the learner reads
    :attr:`n_read` of them, those in ``reading_order``.
    """

    kind: np.ndarray
    positive: np.ndarray
    control: np.ndarray
    style_noise: np.ndarray
    cite_source: np.ndarray
    cite_target: np.ndarray
    reading_order: np.ndarray
    synthetic_detectability: float
    anchor: np.ndarray | None = None
    citation_cue: str = "cited"
    removed: np.ndarray | None = None

    @property
    def n_documents(self) -> int:
        """Documents created (filtered ones included)."""
        return int(self.kind.size)

    @property
    def n_read(self) -> int:
        """Documents in the training corpus (``reading_order``)."""
        return int(self.reading_order.size)

    @property
    def kept(self) -> np.ndarray:
        """Whether each document is in the training corpus (not filtered out)."""
        return np.ones(self.n_documents, dtype=bool) if self.removed is None else ~np.asarray(self.removed, bool)

    @cached_property
    def _visible_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """The citations the learner can follow: those made by a document it reads."""
        if self.removed is None:
            return self.cite_source, self.cite_target
        keep = ~np.asarray(self.removed, bool)[self.cite_source]
        return self.cite_source[keep], self.cite_target[keep]

    @cached_property
    def references(self) -> np.ndarray:
        """Citations each document makes."""
        counts = np.bincount(self.cite_source, minlength=self.n_documents)
        counts.flags.writeable = False
        return counts

    @cached_property
    def dangling(self) -> np.ndarray:
        """Citations each document makes to a document the lab removed (docs/model.md §5.7)."""
        if self.removed is None:
            counts = np.zeros(self.n_documents, dtype=np.int64)
        else:
            hit = np.asarray(self.removed, bool)[self.cite_target]
            counts = np.bincount(self.cite_source[hit], minlength=self.n_documents)
        counts.flags.writeable = False
        return counts

    @property
    def style(self) -> np.ndarray:
        """The synthetic-style signature: real ~ N(0, 1), planted ~ N(d, 1)."""
        return self.synthetic_detectability * (self.kind == PLANTED) + self.style_noise

    @cached_property
    def in_degree(self) -> np.ndarray:
        """Citations each document receives from documents the learner reads (all of
        them without filtering)."""
        degree = np.bincount(self._visible_edges[1], minlength=self.n_documents)
        degree.flags.writeable = False
        return degree

    @cached_property
    def cited(self) -> np.ndarray:
        """Whether each document is cited by at least one other document."""
        flags = self.in_degree > 0
        flags.flags.writeable = False
        return flags

    @cached_property
    def trusted(self) -> np.ndarray:
        """Whether each document is reached from an anchor by a chain of citations
        (anchors included): the graph-aware cue, TrustRank's support.

        Citations point back in creation order, so one pass over the edges from the
        last citing document to the first settles every document after all its
        citers. :meth:`trust_scores` computes the same set with networkx.
        """
        flags = _trust(self.anchor_flags, *self._visible_edges)
        flags.flags.writeable = False
        return flags

    @property
    def anchor_flags(self) -> np.ndarray:
        """The anchors as a bool array (none when the corpus was built without them)."""
        if self.anchor is None:
            return np.zeros(self.n_documents, dtype=bool)
        return np.asarray(self.anchor, dtype=bool)

    def trust_scores(self, damping: float = 0.85) -> np.ndarray:
        """TrustRank: PageRank on the citation graph teleporting to the anchors only.

        Computed with :func:`networkx.pagerank` (personalised on the anchors, started
        from them), so a document gets a positive score exactly when a chain of
        citations leads to it from an anchor (:attr:`trusted`). All zeros without
        anchors.
        """
        anchors = np.flatnonzero(self.anchor_flags)
        if anchors.size == 0:
            return np.zeros(self.n_documents)
        import networkx as nx  # only here and in graph(): a sweep never pays for importing it

        g = nx.DiGraph()
        g.add_nodes_from(range(self.n_documents))
        g.add_edges_from(zip(*(e.tolist() for e in self._visible_edges)))
        seeds = {int(i): 1.0 for i in anchors}
        scores = nx.pagerank(g, alpha=damping, personalization=seeds, nstart=seeds, dangling=seeds)
        return np.array([scores[i] for i in range(self.n_documents)])

    @property
    def cue(self) -> np.ndarray:
        """The citation cue the learner reads, per document (:attr:`citation_cue`)."""
        return self.trusted if self.citation_cue == "trusted" else self.cited

    @cached_property
    def _real_counts(self) -> tuple[int, int]:
        """Real documents, and those of them that are cited."""
        real = (self.kind == REAL) & self.kept
        return int(np.count_nonzero(real)), int(np.count_nonzero(self.cited & real))

    @property
    def real_cited_rate(self) -> float:
        """q_r: the share of real documents that show the learner's citation cue
        (:attr:`citation_cue`: cited, or trusted; docs/model.md §2 and §5.3), NaN
        without real documents."""
        if self.citation_cue == "cited":
            n_real, n_cited = self._real_counts
            if n_real == 0:
                return float("nan")
            return n_cited / n_real  # the mean of the real documents' flags, to the last bit
        return self._share(self.cue, REAL)

    @property
    def planted_cited_rate(self) -> float:
        """q_pt: the share of planted documents that show the learner's citation cue
        (NaN without any); 0 unless planted documents launder citations."""
        return self._share(self.cue, PLANTED)

    def _share(self, flags: np.ndarray, kind: int) -> float:
        mine = (self.kind == kind) & self.kept
        if not mine.any():
            return float("nan")
        return float(flags[mine].mean())

    def learner_real_cited_rate(self, params: Params) -> float:
        """The q_r a learner calibrates on: :attr:`real_cited_rate` kept off 0 and 1
        by :func:`learner_real_cited_rate`."""
        n_real = self._real_counts[0]
        return learner_real_cited_rate(self.real_cited_rate if n_real else float("nan"), n_real, params)

    def graph(self, first: int | None = None) -> nx.DiGraph:
        """The citation graph as a networkx DiGraph (an edge u -> v: u cites v).

        With ``first``, only the first ``first`` documents in creation order and the
        citations among them (a document cites earlier ones only, so this is
        ``graph().subgraph(range(first))``, built without the rest).

        Node attributes: ``kind`` (``"real"``, ``"planted"``, ``"disclosed"``),
        ``positive``, ``control``, ``style``, ``read_at`` (position in the reading
        order, -1 for a document the lab removed), ``anchor``, ``trusted`` and
        ``removed``. Every citation is an edge, those of removed documents included.
        """
        import networkx as nx

        g = nx.DiGraph()
        style = self.style
        read_at = np.full(self.n_documents, -1, dtype=np.int64)
        read_at[self.reading_order] = np.arange(self.n_read)
        kept = self.kept
        anchor, trusted = self.anchor_flags, self.trusted
        n = self.n_documents if first is None else min(int(first), self.n_documents)
        for i in range(n):
            g.add_node(
                i,
                kind=KIND_NAMES[self.kind[i]],
                positive=bool(self.positive[i]),
                control=bool(self.control[i]),
                style=float(style[i]),
                read_at=int(read_at[i]),
                anchor=bool(anchor[i]),
                trusted=bool(trusted[i]),
                removed=not bool(kept[i]),
            )
        inside = self.cite_source < n
        g.add_edges_from(zip(self.cite_source[inside].tolist(), self.cite_target[inside].tolist()))
        return g

    def in_reading_order(self) -> CorpusBatch:
        """All cues, in reading order, with the references each document makes and how
        many of them dangle (none unless the lab filtered)."""
        order = np.ascontiguousarray(self.reading_order, dtype=np.int64)
        cues = _in_order(order,
                         np.ascontiguousarray(self.kind, dtype=np.int8),
                         np.ascontiguousarray(self.style_noise, dtype=np.float64),
                         np.ascontiguousarray(self.cue, dtype=np.bool_),
                         np.ascontiguousarray(self.positive, dtype=np.bool_),
                         np.ascontiguousarray(self.control, dtype=np.bool_))
        return CorpusBatch(*cues, self.references[order], self.dangling[order])

    def batches(self, batch_size: int) -> Iterator[CorpusBatch]:
        """The cues batch by batch, in reading order (the last batch may be short)."""
        cues = self.in_reading_order()
        for start in range(0, self.n_read, batch_size):
            yield CorpusBatch(*(a if a is None else a[start : start + batch_size] for a in cues))


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


def kinds_from_uniforms(u: np.ndarray, planted_fraction: float, disclosed_fraction: float) -> np.ndarray:
    """Kinds from one uniform per document: planted below rho, disclosed below
    rho + eta, real above. A lab that changes its shares re-thresholds the same
    uniforms, so documents keep their kind wherever the shares allow it."""
    kind = np.full(u.size, REAL, dtype=np.int8)
    kind[u < planted_fraction + disclosed_fraction] = DISCLOSED
    kind[u < planted_fraction] = PLANTED
    return kind


def assign_kinds(params: Params, rng: np.random.Generator) -> np.ndarray:
    """The lab's static policy: each document is planted with probability rho,
    disclosed with probability eta, real otherwise (independently); with filtering,
    for the :func:`collected_documents` the lab collects, at the shares of
    :func:`collected_shares`."""
    return kinds_from_uniforms(rng.random(collected_documents(params)), *collected_shares(params))


class CorpusPlan(NamedTuple):
    """The lab's plan of a corpus: one uniform per document collected, the factor
    that scales its shares to the training corpus's (:func:`collected_shares`), and
    the kinds those give."""

    uniforms: np.ndarray
    scale: float
    kinds: np.ndarray


def plan_corpus(params: Params, rng: np.random.Generator, planted_fraction: float, disclosed_fraction: float) -> CorpusPlan:
    """The kinds of a new corpus at the lab's shares (real, planted, disclosed): one
    uniform per document the lab collects (:func:`collected_documents`), thresholded
    at the shares scaled by ``N / collected`` (docs/model.md §5.7; 1 without filtering)."""
    n = collected_documents(params)
    uniforms = rng.random(n)
    scale = params.n_documents / n
    return CorpusPlan(uniforms, scale, kinds_from_uniforms(uniforms, planted_fraction * scale, disclosed_fraction * scale))


def replan_unread(plan: CorpusPlan, unread: np.ndarray, planted_fraction: float,
                  disclosed_fraction: float) -> tuple[CorpusPlan, bool]:
    """A lab's new shares applied to the documents not yet read (creation indices
    ``unread``): the same uniforms thresholded again, so documents keep their kind
    wherever the shares allow it. Returns the plan and whether any kind changed."""
    kinds = plan.kinds.copy()
    kinds[unread] = kinds_from_uniforms(plan.uniforms[unread], planted_fraction * plan.scale,
                                        disclosed_fraction * plan.scale)
    return plan._replace(kinds=kinds), bool((kinds != plan.kinds).any())


def planted_share_read(corpus: "Corpus") -> float:
    """The planted share of the documents a learner reads (filtered ones left out)."""
    return float(np.mean(corpus.kind[corpus.reading_order] == PLANTED))


def generation_seed(root: np.random.SeedSequence, generation: int) -> np.random.SeedSequence:
    """The seed of a lineage's ``generation``-th training run: the run's own seed for
    the first, a child keyed by position (1000 + generation) for the next ones."""
    if generation == 0:
        return root
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (1000 + generation,))


def removed_count(params: Params) -> int:
    """R, the real documents the lab filters out: ``phi`` of the real documents it
    collects, ``R = round(phi N (1 - rho - eta) / (1 - phi))``, so that the training
    corpus keeps ``N`` documents with the shares rho and eta (docs/model.md §5.7)."""
    phi = params.filtered_fraction
    if phi == 0.0:
        return 0
    return int(round(phi * params.n_documents * params.real_fraction / (1.0 - phi)))


def collected_documents(params: Params) -> int:
    """Documents the lab collects: the training corpus's ``N`` and the ``R`` it filters out."""
    return params.n_documents + removed_count(params)


def collected_shares(params: Params) -> tuple[float, float]:
    """The planted and disclosed shares of the collected documents: rho and eta
    scaled by ``N / (N + R)``, so that they are the training corpus's (1 without filtering)."""
    scale = params.n_documents / collected_documents(params)
    return params.planted_fraction * scale, params.disclosed_fraction * scale


def choose_removed(kind: np.ndarray, positive_draws: np.ndarray, params: Params, n_removed: int,
                   rng: np.random.Generator) -> np.ndarray | None:
    """The real documents the lab filters out (docs/model.md §5.7): the ``n_removed``
    real documents that would show AI behaving badly with the smallest draws of the
    filtering stream (then real ones showing it behaving well, if too few). A
    document's draws do not depend on the others' kinds, so a lab that later turns
    unread real documents into planted or disclosed ones keeps the same removals.
    None when nothing is removed."""
    if n_removed <= 0:
        return None
    order = rng.random(kind.size)
    real = kind == REAL
    bad = real & (positive_draws >= params.real_positive_rate)
    removed = np.zeros(kind.size, dtype=bool)
    for group in (bad, real & ~bad):
        left = n_removed - int(removed.sum())
        if left <= 0:
            break
        candidates = np.flatnonzero(group)
        removed[candidates[np.argsort(order[candidates], kind="stable")[:left]]] = True
    return removed


_UNIFORM_BLOCK = 1 << 20


@njit(nogil=True, cache=True)
def _draw(pool, pool_size, uniforms, u_next):
    """One document from a 'repeated nodes' pool (uniform over its entries)."""
    return pool[int(uniforms[u_next] * pool_size)]


@njit(nogil=True, cache=True)
def _attach(kind, m, laundering, uniforms, u_next, pool, pool_size, ring, ring_size, n_real, n_ring,
            start, sources, targets, n_edges):
    """Preferential attachment by the 'repeated nodes' list, from document ``start`` on.

    A real document appears in ``pool`` ``m`` times plus once per citation it has
    received, so a uniform draw from the pool picks it with probability proportional
    to in-degree + m (Price's model with attractiveness m). Each real or planted
    document cites min(m, documents it may cite) distinct documents, drawn with
    rejection of repeats; then the cited documents enter their pool once more and a
    real citing document enters ``pool`` m times.

    Laundering: with ``laundering`` L > 0, each citation of a planted document first
    draws one uniform and goes to ``ring`` (the planted documents' own pool, built
    the same way) when it is below L and an earlier planted document not yet chosen
    exists, to ``pool`` otherwise (and to the ring when no real one is left). With
    L = 0 no such uniform is drawn: the draws are those of the plain model.

    Returns where it stopped (``start`` of the next call, ``kind.size`` when done)
    and the updated counters; it stops early when ``uniforms`` runs out.
    """
    chosen = np.empty(max(m, 1), dtype=np.int64)
    i = start
    while i < kind.size:
        doc_kind = kind[i]
        if doc_kind == 2:  # DISCLOSED: cites nothing
            i += 1
            continue
        launders = doc_kind == 1 and laundering > 0.0
        want = min(m, n_real + (n_ring if launders else 0))
        n_chosen = 0
        from_ring = 0
        while n_chosen < want:
            to_ring = False
            if launders:
                if u_next == uniforms.size:
                    return i, u_next, pool_size, ring_size, n_real, n_ring, n_edges
                to_ring = uniforms[u_next] < laundering
                u_next += 1
                if to_ring and from_ring == n_ring:
                    to_ring = False  # every earlier planted document is chosen already
                elif not to_ring and n_chosen - from_ring == n_real:
                    to_ring = True  # every real document is chosen already
            if u_next == uniforms.size:
                return i, u_next, pool_size, ring_size, n_real, n_ring, n_edges
            if to_ring:
                j = _draw(ring, ring_size, uniforms, u_next)
            else:
                j = _draw(pool, pool_size, uniforms, u_next)
            u_next += 1
            repeat = False
            for c in range(n_chosen):
                if chosen[c] == j:
                    repeat = True
                    break
            if not repeat:
                chosen[n_chosen] = j
                n_chosen += 1
                if to_ring:
                    from_ring += 1
        for c in range(n_chosen):
            j = chosen[c]
            if kind[j] == 1:
                ring[ring_size] = j
                ring_size += 1
            else:
                pool[pool_size] = j
                pool_size += 1
            sources[n_edges] = i
            targets[n_edges] = j
            n_edges += 1
        if doc_kind == 0:  # REAL: enters the pool with weight m
            for _ in range(m):
                pool[pool_size] = i
                pool_size += 1
            n_real += 1
        elif laundering > 0.0:  # PLANTED: enters the ring with weight m
            for _ in range(m):
                ring[ring_size] = i
                ring_size += 1
            n_ring += 1
        i += 1
    return i, u_next, pool_size, ring_size, n_real, n_ring, n_edges


def _cite(
    kind: np.ndarray, m: int, rng: np.random.Generator, laundering: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The citation edges (source cites target) of a corpus, in creation order."""
    n = kind.size
    if m == 0 or n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    citing = int((kind != DISCLOSED).sum())
    n_real = int((kind == REAL).sum())
    n_planted = int((kind == PLANTED).sum()) if laundering > 0 else 0
    pool = np.empty(m * n_real + m * citing, dtype=np.int64)
    ring = np.empty(m * n_planted + m * n_planted, dtype=np.int64)
    sources = np.empty(m * citing, dtype=np.int64)
    targets = np.empty(m * citing, dtype=np.int64)
    # about what the draws need (m per citing document, plus a few repeats redrawn,
    # and one more per planted citation when laundering); running out only means
    # drawing the next block from the same stream
    need = m * citing + m * n_planted
    block = min(max(64, need + need // 8), _UNIFORM_BLOCK)
    kind = np.ascontiguousarray(kind, dtype=np.int8)
    state = (0, 0, 0, 0, 0, 0)  # start, pool_size, ring_size, n_real, n_ring, n_edges
    while state[0] < n:
        uniforms = rng.random(block)
        start, _, pool_size, ring_size, reals, rings, edges = _attach(
            kind, m, float(laundering), uniforms, 0, pool, state[1], ring, state[2], state[3], state[4],
            state[0], sources, targets, state[5]
        )
        state = (start, pool_size, ring_size, reals, rings, edges)
    return sources[: state[5]].copy(), targets[: state[5]].copy()


@njit(nogil=True, cache=True)
def _trust_pass(trusted, sources, targets):
    for e in range(sources.size - 1, -1, -1):
        if trusted[sources[e]]:
            trusted[targets[e]] = True


def _trust(anchor: np.ndarray, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Documents reached from an anchor by citations (edges in creation order of
    their sources, each citing an earlier document)."""
    trusted = np.array(anchor, dtype=np.bool_)
    if sources.size:
        _trust_pass(trusted, np.ascontiguousarray(sources), np.ascontiguousarray(targets))
    return trusted


def write_documents(
    kind: np.ndarray,
    params: Params,
    rngs: Mapping[str, np.random.Generator],
) -> Corpus:
    """The authors write the documents and cite, in creation order.

    Real documents cite earlier real documents by preferential attachment, planted
    documents cite real ones (and, with laundering, earlier planted ones), disclosed
    documents cite nothing, and no real document cites a planted or disclosed one.
    Content and style are drawn for every position (whatever its kind) so that the
    streams stay aligned across planted shares. With the ``trusted`` cue the anchors
    are drawn from their own stream.
    """
    n = kind.size
    content = rngs["content"]
    real = kind == REAL
    positive_draws = content.random(n)
    positive = np.where(real, positive_draws < params.real_positive_rate, kind == PLANTED)
    control = real & (content.random(n) < params.control_discourse_fraction)
    style_noise = rngs["style"].standard_normal(n)

    cite_source, cite_target = _cite(kind, params.citations_per_document, rngs["citations"], params.laundering)
    # filtering (docs/model.md §5.7): the documents beyond the training corpus's N are removed
    removed = choose_removed(kind, positive_draws, params, n - params.n_documents, rngs["filtering"]) \
        if n > params.n_documents else None
    if removed is None:
        reading_order = rngs["reading_order"].permutation(n)
    else:
        kept = np.flatnonzero(~removed)
        reading_order = kept[rngs["reading_order"].permutation(kept.size)]
    anchor = None
    if params.citation_cue == "trusted":
        anchor = real & (rngs["anchors"].random(n) < params.anchor_share)
        if removed is not None:
            anchor &= ~removed
    return Corpus(
        kind=kind,
        positive=positive,
        control=control,
        style_noise=style_noise,
        cite_source=cite_source,
        cite_target=cite_target,
        reading_order=reading_order,
        synthetic_detectability=params.synthetic_detectability,
        anchor=anchor,
        citation_cue=params.citation_cue,
        removed=removed,
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


def learner_real_cited_rate(share: float, n_real: float, params: Params) -> float:
    """The q_r a learner calibrates on, from the share of real documents showing its
    cue among ``n_real`` real documents: kept inside ``[1/(2 n_real), 1 - 1/(2 n_real)]``
    so that the citation log-likelihood stays finite (a share of 0 or 1 is what a
    sample of that size cannot tell from half a document). Without real documents
    (``n_real`` 0, or the share NaN) the cue's own stand-in: the large-corpus
    expectation for the plain cue, the anchors' share for the trusted one (the
    least it covers), kept inside [1e-6, 1 - 1e-6]. The Mesa agents, the engine and
    the mean field all use this rule.

    >>> from sim import Params
    >>> learner_real_cited_rate(0.0, 100, Params()), learner_real_cited_rate(float("nan"), 0, Params(citation_cue="trusted"))
    (0.005, 0.1)
    """
    share = float(share)
    if n_real < 1 or share != share:
        stand_in = anchor_share_or_expected(params)
        return float(np.clip(stand_in, 1e-6, 1.0 - 1e-6))
    half = 0.5 / n_real
    return float(np.clip(share, half, 1.0 - half))


def anchor_share_or_expected(params: Params) -> float:
    """A cue's share of real documents with nothing measured: the anchors' share
    (trusted cue) or the large-corpus expectation (plain cue)."""
    return params.anchor_share if params.citation_cue == "trusted" else expected_real_cited_rate(params)


def expected_real_cited_rate(params: Params) -> float:
    """Large-corpus share of real documents that are cited, q_r of the plain cue
    (docs/model.md §2; the graph-aware cue's has no closed form).

    In Price's model with attractiveness ``a`` and ``M`` citations arriving per new
    node, the stationary share of nodes never cited is ``(M + a) / (M + a + M a)``
    (rate equation for the in-degree-0 class). Here ``a = m`` and, since planted
    documents cite real ones too (a share ``1 - L`` of their citations under
    laundering), ``M = m (1 - eta - L rho) / (1 - rho - eta)`` citations arrive per
    real document. With no planting this is ``m / (m + 2)``: 0.6 for the default
    ``m = 3``.

    >>> round(expected_real_cited_rate(Params(planted_fraction=0.0)), 6)
    0.6
    """
    m = float(params.citations_per_document)
    if m == 0:
        return 0.0
    real = params.real_fraction
    citing = 1.0 - params.disclosed_fraction - params.laundering * params.planted_fraction
    if real <= 0:
        return m / (1.0 + m)  # the limit M -> infinity
    return _price_cited_share(m * citing / real, m)


def expected_planted_cited_rate(params: Params) -> float:
    """Large-corpus share of planted documents that show the learner's citation cue,
    q_pt (docs/model.md §5.2-5.3).

    Zero for the graph-aware cue (no chain from an anchor reaches a planted
    document), and for the plain cue without laundering. With laundering L the planted documents form their own
    Price network: ``M = L m`` citations arrive per planted document, attractiveness
    ``a = m``, so the cited share is ``M a / (M + a + M a)``; at L = 1 it equals the
    real documents' share without planting (0.6 for m = 3): the plain cue is gone.

    >>> expected_planted_cited_rate(Params())
    0.0
    >>> round(expected_planted_cited_rate(Params(laundering=1.0)), 6)
    0.6
    >>> expected_planted_cited_rate(Params(laundering=1.0, citation_cue="trusted"))
    0.0
    """
    m = float(params.citations_per_document)
    if params.citation_cue == "trusted" or m == 0 or params.laundering == 0 or params.planted_fraction == 0:
        return 0.0
    return _price_cited_share(params.laundering * m, m)


def _price_cited_share(arriving: float, attractiveness: float) -> float:
    """Stationary cited share ``M a / (M + a + M a)`` of Price's model."""
    big_m, a = arriving, attractiveness
    return big_m * a / (big_m + a + big_m * a)
