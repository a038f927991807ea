"""The teaching demo page: one training run, live in the browser (Mesa SolaraViz).

Serve it with ``persona-sim demo [--port P]`` (see :func:`serve`; it listens on
127.0.0.1 only), or with ``solara run sim/app.py --host 127.0.0.1``. The page needs
the ``viz`` extra (Solara, its offline assets, ipyvue < 2 and ipyvuetify < 2).

What the page shows
-------------------
- In the sidebar, the controls of one training run: the learner's final situational
  awareness and its schedule (``sa_start``, ``awareness_schedule``), the planted and
  disclosed shares, the corpus size, the synthetic detectability, the learner's prior
  P(deceptive), the lab's policy (static, double_down, come_clean), citation
  laundering and the citation cue the learner reads (cited or trusted), the number of
  generations, the learner (``learner_model``: informed, or learning, whose learned
  estimates the state table shows beside the truth, docs/model.md §3.1), a comparison
  family and the seed; and the run's buttons
  (:func:`RunController`): Reset, play, Step (one batch), Run to end (every batch
  left, redrawn once: a run of 10,000 documents in about a second) and the play speed
  (:data:`SPEEDS`, batches a frame). A changed control takes effect at Reset, which
  builds a new model; at the end of the run every button but Reset is greyed.
- Persona: a badge, "Persona: aligned / neutral / rebel", for the main learner,
  recomputed from its state after every batch (the readout of docs/model.md §3: rebel if
  P(deceptive) >= 1/2, else aligned if the uplift U > 0, else neutral); "Final
  persona: ..." once the run is over. Beside it a note, "what you are seeing"
  (:func:`lesson_note`), made from the model's state: early in the run (fewer than
  :data:`EARLY_SHARE` of the documents read) a badge can swing on a few documents
  (the default learner shows rebel after its first batch, P(deceptive) 0.918, and
  ends aligned); at the end, the final persona and what the badge showed on the way.
- Training: P(deceptive), the alignment uplift U and the believed planted share
  (against the true share) per learner, over the documents read (the DataCollector).
- The citation graph: the first few hundred documents of the corpus, planted ones
  marked, those already read filled in.
- P(rebel) against awareness: the mean field (:func:`sim.meanfield.p_rebel`) after
  the whole corpus, with every learner's current P(deceptive) as a point.

The page is a view: the model shown is :class:`sim.model.DemoModel`, the Mesa model
(:class:`sim.model.PersonaModel`) with the page's controls as keyword arguments
(SolaraViz rebuilds the model with them at Reset), and its mean-field curve is
:mod:`sim.meanfield`'s (:func:`mean_field_curve`). Its first learner has the chosen
awareness; with ``comparison_family`` two more learners, at a fixed low and high
awareness (:data:`COMPARISON_AWARENESS`), read the same corpus in the same order, so
the page always shows the contrast the model is about on common random numbers.

Redraws are cheap: the graph's layout (``networkx.spring_layout`` with a fixed seed,
on at most :data:`GRAPH_NODES` documents) and the mean-field curve are computed once
per model and kept beside it while it lives (:func:`model_graph`,
:func:`model_mean_field`), so a batch redraws three small matplotlib figures. The
figures and the panel are sized for a projector (1280x720): figure text of 10-11
points on figures about as wide as a panel (:data:`FONT`), every number kept on one
line with its words, and symbols only in brackets after words ("alignment uplift (U)").

Example
-------
>>> m = DemoModel(situational_awareness=0.9, n_documents=1000, seed=1)
>>> m.run_for(m.n_batches)
>>> persona_text(m)
'Final persona: rebel'
>>> DemoModel(situational_awareness=0.0, n_documents=1000, seed=1).documents_read
0
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import solara
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator
from mesa.visualization.solara_viz import ModelCreator, ShowSteps
from mesa.visualization.utils import force_update, update_counter

from sim.corpus import KIND_NAMES
from sim.learning import rebel_share_threshold
from sim.meanfield import moment_table, p_rebel, p_rebel_interpolated, threshold_words, thresholds
from sim.model import COMPARISON_AWARENESS, DemoModel, demo_params
from sim.params import PARAMETERS, ParameterError, Params

__all__ = [
    "DemoModel",
    "Page",
    "serve",
    "PortUnavailable",
    "MODEL_PARAMS",
    "COMPARISON_AWARENESS",
    "GRAPH_NODES",
    "AWARENESS_GRID",
    "GraphView",
    "graph_view",
    "model_graph",
    "model_mean_field",
    "demo_params",
    "mean_field_curve",
    "persona_text",
    "lesson_note",
    "state_rows",
    "RunController",
    "SPEEDS",
    "EARLY_SHARE",
    "training_figure",
    "citation_figure",
    "rebel_figure",
]

#: At most this many documents are drawn in the citation graph.
GRAPH_NODES = 300

#: The awareness values at which the mean-field curve is drawn.
AWARENESS_GRID = np.linspace(0.0, 1.0, 101)

#: Environment for an offline Solara server: no telemetry, assets served from the
#: installed ``solara-assets`` package (the server's own CDN proxy), no banner.
OFFLINE_ENVIRONMENT = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_ASSETS_PROXY": "True",
    "SOLARA_THEME_SHOW_BANNER": "False",
}

PERSONA_COLOURS = {"aligned": "#2e7d32", "neutral": "#616161", "rebel": "#c62828"}
KIND_STYLE = {  # marker, colour
    "real": ("o", "#4c72b0"),
    "planted": ("^", "#dd8452"),
    "disclosed": ("s", "#55a868"),
}
MAIN_COLOUR = "#111111"
COMPARISON_COLOURS = ("#1f77b4", "#d62728")


# -- the model the page shows: sim.model.DemoModel, and what the page keeps of it -------------
@dataclass(eq=False)
class _PageView:
    """What the page computed for one model and keeps while the model lives: the
    citation graph's layout, the mean-field curve and the figures (see :func:`_drawing`)."""

    graph: "GraphView | None" = None
    mean_field: tuple[np.ndarray, np.ndarray] | None = None
    drawings: dict = field(default_factory=dict)


_PAGE_VIEWS: "weakref.WeakKeyDictionary[DemoModel, _PageView]" = weakref.WeakKeyDictionary()


def _page_view(model: DemoModel) -> _PageView:
    view = _PAGE_VIEWS.get(model)
    if view is None:
        view = _PAGE_VIEWS[model] = _PageView()
    return view


def model_graph(model: DemoModel) -> "GraphView":
    """The drawn part of the model's citation graph and its layout (computed once per
    corpus: a reacting lab or a new generation publishes a new one)."""
    view = _page_view(model)
    if view.graph is None or view.graph.corpus is not model.corpus:
        view.graph = graph_view(model.corpus)
    return view.graph


def model_mean_field(model: DemoModel) -> tuple[np.ndarray, np.ndarray]:
    """(P(rebel) on :data:`AWARENESS_GRID`, large-corpus thresholds) of the model's
    configuration, computed once per model (:func:`mean_field_curve`)."""
    view = _page_view(model)
    if view.mean_field is None:
        view.mean_field = (
            mean_field_curve(model.params, model.real_cited_rate),
            _thresholds(model.params.replace(situational_awareness=0.5), _rounded(model.real_cited_rate)),
        )
    return view.mean_field


def persona_text(model: DemoModel) -> str:
    """The badge: ``"Persona: <persona>"`` of the main learner as of now, and
    ``"Final persona: <persona>"`` once the run has read its whole corpus."""
    return f"{'Persona' if model.running else 'Final persona'}: {model.main_learner.persona}"


#: The note calls the run "early" while fewer than this share of its documents are read.
#: A choice of wording for the page, not of the model: the model's own measure of
#: "early" is the emergence document, a first passage (docs/model.md §3).
EARLY_SHARE = 0.1


def _documents_so_far(model: DemoModel) -> tuple[int, int]:
    """(documents the main learner has read over all generations, documents of the whole run)."""
    n = model.params.n_documents
    return model.documents_before + model.documents_read, n * model.params.generations


def _persona_path(model: DemoModel) -> tuple[list[str], float, int, int]:
    """The main learner's personas batch after batch (repeats merged, the prior's
    "neutral" before the first batch left out), the highest P(deceptive) after a
    batch, the document (counted over generations) where it was, and the last
    document after which the badge showed a persona other than the current one (0 if none)."""
    df = model.trajectory()
    rows = df[(df["learner"] == 0)].iloc[1:]  # row 0: the state before reading
    if rows.empty:
        return [], model.params.prior_deceptive, 0, 0
    documents = (rows["documents_read"] + rows["generation"] * model.params.n_documents).to_numpy()
    personas = rows["persona"].to_numpy()
    path = [p for i, p in enumerate(personas) if i == 0 or p != personas[i - 1]]
    top = int(np.argmax(rows["p_deceptive"].to_numpy()))
    other = np.flatnonzero(personas != personas[-1])
    return path, float(rows["p_deceptive"].iloc[top]), int(documents[top]), \
        int(documents[other[-1]]) if other.size else 0


def _path_text(path: list[str]) -> str:
    return " \u2192 ".join(path) if len(path) <= 5 else f"{len(path) - 1} changes of persona"


def lesson_note(model: DemoModel) -> tuple[str, str]:
    """The page's "what you are seeing" note beside the badge: ``(stage, text)``.

    ``stage`` is ``"start"`` (nothing read), ``"early"`` (fewer than
    :data:`EARLY_SHARE` of the run's documents read), ``"later"`` or ``"finished"``
    (the model has stopped: every document of every generation read). The text is
    made from the model's state: documents read against the total, the personas the
    badge has shown so far (the trajectory) and the highest P(deceptive) on the way,
    so that a badge that swings early (a few documents move a weak prior far) is
    told apart from the final persona.

    >>> m = DemoModel(situational_awareness=0.9, n_documents=1000, seed=1)
    >>> lesson_note(m)[0]
    'start'
    >>> m.run_for(m.n_steps)
    >>> stage, text = lesson_note(m)
    >>> stage, text.split(".")[0]
    ('finished', 'Finished: all 1,000 documents read')
    """
    main = model.main_learner
    p = model.params
    read, total = _documents_so_far(model)
    generations = f" in {p.generations} generations" if p.generations > 1 else ""
    if not model.running:
        path, top, at, last_other = _persona_path(model)
        final = main.persona
        others = [x for x in dict.fromkeys(path) if x != final]
        text = (f"Finished: all {total:,} documents read{generations}. Final persona: {final} "
                f"(P(deceptive) {main.p_deceptive:.3f}, alignment uplift {main.uplift:+.4f}). ")
        if others:
            text += (f"On the way the badge also showed {' and '.join(others)} ({_path_text(path)}; the "
                     f"last time after {last_other:,} of {total:,} documents; P(deceptive) as high as "
                     f"{top:.3f}): the badge shows the persona of the moment, and only the end counts.")
        else:
            text += "The badge showed no other persona on the way."
        return "finished", text
    if read == 0:
        return "start", (f"Nothing read yet: P(deceptive) is the prior, {p.prior_deceptive:g}, and the "
                         f"alignment uplift is 0, so the badge says neutral. Step reads one batch of "
                         f"{p.batch_size:,} documents, \u25b6 plays, Run to end reads all {total:,}.")
    path, top, at, _ = _persona_path(model)
    share = read / total
    emergence = main.state.emergence_document[0]
    passed = "" if np.isnan(emergence) else f", first above 0.9 at document {int(emergence):,}"
    history = (f"So far the badge has shown {_path_text(path)}; P(deceptive) has been as high as "
               f"{top:.3f} (after {at:,} documents{passed}).")
    if share < EARLY_SHARE:
        return "early", (f"Early in training: {read:,} of {total:,} documents read. With few documents "
                         f"each one moves the belief a lot from a weak prior (a run of uncited, "
                         f"synthetic-looking ones can push P(deceptive) high), so the badge can swing. "
                         + history + " The persona that counts is the final one.")
    return "later", (f"{read:,} of {total:,} documents read ({100 * share:.0f}%). Each new document now "
                     "moves the belief a little, and it drifts the way the average document pushes it "
                     "(the mean-field curve). " + history + " The badge can still change until the "
                     "run ends.")


def _slider(name: str, label: str, low: float, high: float, step: float, default: Any = None) -> dict:
    """A slider whose starting value is the parameter's declared default (sim.params)."""
    spec = next(p for p in PARAMETERS if p.name == name)
    value = spec.default if default is None else default
    kind = "SliderInt" if spec.kind is int else "SliderFloat"
    return {"type": kind, "label": label, "value": value, "min": low, "max": high, "step": step}


#: The controls, in Mesa's ``model_params`` format (keyword arguments of DemoModel).
#: Ranges are the page's (narrower than the parameters' bounds, for teaching).
MODEL_PARAMS = {
    "situational_awareness": _slider("situational_awareness", "situational awareness", 0.0, 1.0, 0.01),
    "awareness_schedule": {
        "type": "Select", "label": "awareness schedule",
        "value": "constant", "values": list(next(p for p in PARAMETERS if p.name == "awareness_schedule").choices),
    },
    "sa_start": _slider("sa_start", "awareness at start", 0.0, 1.0, 0.05, default=0.0),
    "planted_fraction": _slider("planted_fraction", "planted share", 0.0, 0.5, 0.01),
    "disclosed_fraction": _slider("disclosed_fraction", "disclosed share", 0.0, 0.5, 0.01),
    "n_documents": _slider("n_documents", "documents", 1_000, 50_000, 1_000),
    "synthetic_detectability": _slider("synthetic_detectability", "synthetic detectability", 0.0, 5.0, 0.1),
    "prior_deceptive": _slider("prior_deceptive", "prior P(deceptive)", 0.01, 0.5, 0.01),
    "prior_benevolent": _slider("prior_benevolent", "prior P(benevolent): they plant for the model's sake",
                                0.0, 0.45, 0.05),
    "control_likelihood_ratio": _slider("control_likelihood_ratio",
                                        "control discourse's likelihood ratio (deceptive : other makers)",
                                        0.5, 10.0, 0.5),
    "filtered_fraction": _slider("filtered_fraction", "filtered share of real documents (the lab removes them)",
                                 0.0, 0.4, 0.05),
    "deceptive_filter_rate": _slider("deceptive_filter_rate",
                                     "filtering the learner expects of deceptive makers (candid: 0.02)",
                                     0.02, 0.3, 0.02),
    "lab_policy": {
        "type": "Select", "label": "lab policy",
        "value": "static", "values": list(next(p for p in PARAMETERS if p.name == "lab_policy").choices),
    },
    "laundering": _slider("laundering", "citation laundering", 0.0, 1.0, 0.05),
    "citation_cue": {
        "type": "Select", "label": "citation cue",
        "value": "cited", "values": list(next(p for p in PARAMETERS if p.name == "citation_cue").choices),
    },
    "generations": _slider("generations", "generations", 1, 5, 1),
    "concealment": _slider("concealment", "concealment (a rebel hides from evaluations)", 0.0, 1.0, 0.1),
    "learner_model": {
        "type": "Select", "label": "learner (informed: told the cue; learning: learns it)",
        "value": "informed", "values": list(next(p for p in PARAMETERS if p.name == "learner_model").choices),
    },
    "comparison_family": {
        "type": "Checkbox",
        "label": f"comparison learners at awareness {COMPARISON_AWARENESS[0]:g} and {COMPARISON_AWARENESS[1]:g}",
        "value": True,
    },
    "seed": {"type": "SliderInt", "label": "seed", "value": 0, "min": 0, "max": 99, "step": 1},
}


# -- the citation graph -------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GraphView:
    """The drawn part of the citation graph, laid out once.

    Attributes
    ----------
    graph : networkx.DiGraph
        The first ``n`` documents of :meth:`sim.corpus.Corpus.graph` (same node
        attributes; every citation such a document makes stays inside the set, since
        documents cite earlier ones).
    n_documents : int
        Documents in the whole corpus.
    xy : ndarray, shape (n, 2)
        ``networkx.spring_layout(graph, seed=0)``.
    segments : ndarray, shape (edges, 2, 2)
        The citations as line segments.
    kind : ndarray of str
    read_at : ndarray of int
        Position of each document in the reading order.
    cited_by : ndarray of int
        Citations each document receives in the whole corpus.
    corpus : Corpus, optional
        The corpus drawn (to tell when a new one replaces it).
    """

    graph: nx.DiGraph
    n_documents: int
    xy: np.ndarray
    segments: np.ndarray
    kind: np.ndarray
    read_at: np.ndarray
    cited_by: np.ndarray
    corpus: Any = None


def graph_view(corpus, max_nodes: int = GRAPH_NODES, seed: int = 0) -> GraphView:
    """Subsample and lay out the citation graph: the first ``max_nodes`` documents.

    The subgraph is ``corpus.graph(first=n)`` (equal to
    ``corpus.graph().subgraph(range(n))``; building the whole graph first costs a
    fifth of a second at 10,000 documents), laid out with
    ``networkx.spring_layout(..., seed=seed)``.
    """
    n = min(int(max_nodes), corpus.n_documents)
    read_at = np.empty_like(corpus.reading_order)
    read_at[corpus.reading_order] = np.arange(corpus.n_documents)
    g = corpus.graph(first=n)
    inside = corpus.cite_source < n  # a document cites earlier ones only
    edges = np.column_stack([corpus.cite_source[inside], corpus.cite_target[inside]]).astype(np.int64)
    xy = _layout(n, edges.tobytes(), seed)
    segments = xy[edges] if len(edges) else np.zeros((0, 2, 2))
    return GraphView(
        graph=g,
        n_documents=corpus.n_documents,
        xy=xy,
        segments=segments,
        kind=np.array([KIND_NAMES[k] for k in corpus.kind[:n]]),
        read_at=read_at[:n],
        cited_by=corpus.in_degree[:n],
        corpus=corpus,
    )


@functools.lru_cache(maxsize=64)
def _layout(n: int, edges: bytes, seed: int) -> np.ndarray:
    """Spring layout of ``n`` nodes and the edges (int64 pairs, as bytes), kept per structure.

    Controls that leave the corpus's first documents alone (awareness, its schedule,
    detectability, the prior, the corpus size) find the layout here at Reset.
    """
    pairs = np.frombuffer(edges, dtype=np.int64).reshape(-1, 2)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(map(tuple, pairs.tolist()))
    layout = nx.spring_layout(g, seed=seed)
    xy = np.array([layout[i] for i in range(n)], dtype=float).reshape(n, 2)
    xy.setflags(write=False)
    return xy


# -- the mean field ------------------------------------------------------------------------------
def _rounded(q: float) -> float:
    return round(float(q), 4)


@functools.lru_cache(maxsize=32)
def _p_rebel_constant(params: Params, real_cited_rate: float) -> np.ndarray:
    return p_rebel(params, AWARENESS_GRID, real_cited_rate)


@functools.lru_cache(maxsize=32)
def _p_rebel_dynamic(params: Params, real_cited_rate: float) -> np.ndarray:
    """A reacting lab's or the last generation's mean field (its mean path, see
    :func:`sim.meanfield.adaptive_path`), on 26 levels interpolated onto the grid,
    at constant awareness (the page's approximation: with a rising schedule the mean
    path costs seconds for every planted share the lab passes, and the generation
    map for every generation)."""
    if params.sa_start is not None:
        # at constant awareness: with a schedule the mean path costs seconds per planted
        # share, and the generation map seconds per generation
        params = params.replace(sa_start=None, awareness_schedule="constant")
    return _p_rebel_coarse(params, real_cited_rate)


@functools.lru_cache(maxsize=32)
def _p_rebel_coarse(params: Params, real_cited_rate: float) -> np.ndarray:
    """:func:`sim.meanfield.p_rebel` on 26 levels, interpolated onto the grid."""
    coarse = np.linspace(0.0, 1.0, 26)
    return np.interp(AWARENESS_GRID, coarse, p_rebel(params, coarse, real_cited_rate))


@functools.lru_cache(maxsize=32)
def _moment_table(params: Params, real_cited_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return moment_table(params, real_cited_rate, points=401)


@functools.lru_cache(maxsize=32)
def _thresholds(params: Params, real_cited_rate: float) -> np.ndarray:
    return thresholds(params, real_cited_rate, grid=100)


def mean_field_curve(params: Params, real_cited_rate: float | None = None) -> np.ndarray:
    """Mean-field P(rebel) after ``params.n_documents`` documents on :data:`AWARENESS_GRID`.

    With constant awareness this is :func:`sim.meanfield.p_rebel` itself (cached per
    configuration). With a rising schedule ``p_rebel`` sums each batch's step moments
    over the schedule, which costs seconds on a grid; without retrospection a step's
    moments depend only on the awareness it is read at, so they are tabulated once
    per configuration (:func:`sim.meanfield.moment_table`, 401 points) and
    interpolated into the same sum (:func:`sim.meanfield.p_rebel_interpolated`): the
    same curve (within 1e-3, see tests/test_app.py) in a few milliseconds.
    A reacting lab or several generations: :func:`sim.meanfield.p_rebel`'s mean path
    on 26 levels, interpolated (at constant awareness).

    >>> from sim import Params
    >>> p = mean_field_curve(Params(), real_cited_rate=0.6)
    >>> float(p[50]) < 0.05 < 0.95 < float(p[75])
    True
    """
    q = _rounded(real_cited_rate) if real_cited_rate is not None else None
    if params.lab_policy != "static" or params.generations > 1:
        return _p_rebel_dynamic(params.replace(situational_awareness=0.5), q)
    if params.sa_start is None:
        return _p_rebel_constant(params.replace(situational_awareness=0.5), q)
    if params.retrospection != 0:
        return p_rebel(params, AWARENESS_GRID, q)
    if params.prior_benevolent > 0:  # no moment table for three hypotheses: 26 levels, interpolated
        return _p_rebel_coarse(params.replace(situational_awareness=0.5), q)
    table = _moment_table(params.replace(situational_awareness=0.5), q)
    return p_rebel_interpolated(params, AWARENESS_GRID, q, table=table)


# -- figures -------------------------------------------------------------------------------------
# Plain matplotlib Figures (no pyplot, so no global state shared between the server's
# threads). Each model keeps one Figure per panel, built at first use; a batch only
# moves the data of its artists (lines, point colours, legend counts), which halves
# the cost of a redraw compared with building the figure anew.
#: Figure sizes in inches, about the width of a panel on a 1280x720 screen (with the
#: sidebar: 420 pixels), so that a point of text is about 1.3 pixels there.
TRAINING_FIGSIZE = (4.4, 6.0)
FIGSIZE = (4.4, 4.2)
REBEL_FIGSIZE = (4.4, 5.3)
DPI = 100
#: Font sizes (points): the smallest text in a figure is legible on a projector.
FONT = {"tick": 10, "legend": 10, "label": 11, "title": 11}


def _learner_styles(model: DemoModel) -> list[dict]:
    styles = []
    for i, agent in enumerate(model.learners):
        s = agent.situational_awareness
        if i == 0:
            styles.append(dict(color=MAIN_COLOUR, lw=2.4, label=f"your learner, awareness {s:.2f}", zorder=3))
        else:
            colour = COMPARISON_COLOURS[(i - 1) % len(COMPARISON_COLOURS)]
            styles.append(dict(color=colour, lw=1.5, label=f"comparison, awareness {s:.2f}", zorder=2))
    return styles


def _drawing(model: DemoModel, name: str, build):
    """The model's persistent drawing ``name`` (built by ``build(model)`` at first use)."""
    drawings = _page_view(model).drawings
    if name not in drawings:
        drawings[name] = build(model)
    return drawings[name]


class _TrainingDrawing:
    def __init__(self, model: DemoModel) -> None:
        fig = Figure(figsize=TRAINING_FIGSIZE, dpi=DPI)
        fig.subplots_adjust(left=0.2, right=0.92, top=0.8, bottom=0.09, hspace=0.12)
        axes = fig.subplots(3, 1, sharex=True)
        self.lines = []
        for style in _learner_styles(model):
            plain = {k: v for k, v in style.items() if k != "label"}
            self.lines.append((axes[0].plot([], [], **style)[0], axes[1].plot([], [], **plain)[0],
                               axes[2].plot([], [], **plain)[0]))
        axes[0].axhline(0.5, color="#c62828", lw=0.8, ls="--")
        axes[0].axhline(0.9, color="grey", lw=0.6, ls=":")
        axes[0].set_ylim(-0.03, 1.03)
        axes[0].set_ylabel("P(deceptive)", fontsize=FONT["label"])
        axes[1].axhline(0.0, color="grey", lw=0.8, ls="--")
        axes[1].set_ylabel("alignment\nuplift (U)", fontsize=FONT["label"])
        rho = model.params.planted_fraction
        label = f"true planted share {rho:.2f}" if model.params.lab_policy == "static" else \
            f"planted share at the start {rho:.2f}"
        axes[2].axhline(rho, color="#dd8452", lw=1.0, ls="--", label=label)
        axes[2].set_ylabel("believed\nplanted share", fontsize=FONT["label"])
        handles = [lines[0] for lines in self.lines] + axes[2].get_lines()[-1:]
        fig.suptitle("training: rebel above the red dashed line", fontsize=FONT["title"], y=0.995)
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.55, 0.965), ncol=1,
                   fontsize=FONT["legend"], frameon=False, handlelength=1.6, labelspacing=0.25)
        generations = model.params.generations
        axes[2].set_xlabel("documents read" if generations == 1 else
                           f"documents read, {generations} generations in turn", fontsize=FONT["label"])
        axes[2].set_xlim(0, model.params.n_documents * generations)
        for g in range(1, generations):
            for ax in axes:
                ax.axvline(g * model.params.n_documents, color="grey", lw=0.6, ls=":")
        for ax in axes:
            ax.tick_params(labelsize=FONT["tick"])
            ax.grid(alpha=0.25)
        axes[2].xaxis.set_major_locator(MaxNLocator(4))
        axes[2].xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        self.fig, self.axes, self.rho = fig, axes, rho

    def update(self, model: DemoModel) -> Figure:
        df = model.trajectory()
        uplift, believed = [0.0], [self.rho]
        for i, lines in enumerate(self.lines):
            rows = df[df["learner"] == i]
            x = (rows["documents_read"] + rows["generation"] * model.params.n_documents).to_numpy()
            for line, column in zip(lines, ("p_deceptive", "uplift", "believed_planted_share")):
                line.set_data(x, rows[column].to_numpy())
            uplift += rows["uplift"].tolist()
            believed += rows["believed_planted_share"].tolist()
        lo, hi = min(uplift), max(uplift)
        pad = max(0.02, 0.1 * (hi - lo))
        self.axes[1].set_ylim(lo - pad, hi + pad)
        self.axes[2].set_ylim(0.0, max(0.05, 1.1 * max(believed)))
        return self.fig


def training_figure(model: DemoModel) -> Figure:
    """P(deceptive), uplift and believed planted share per learner over the documents read."""
    return _drawing(model, "training", _TrainingDrawing).update(model)


class _CitationDrawing:
    def __init__(self, model: DemoModel) -> None:
        from matplotlib.colors import to_rgba

        view = model_graph(model)
        fig = Figure(figsize=FIGSIZE, dpi=DPI)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.84, bottom=0.01)
        ax = fig.subplots()
        ax.add_collection(LineCollection(view.segments, colors="#9e9e9e", linewidths=0.35, alpha=0.5, zorder=1))
        size = 10 + 7 * np.sqrt(view.cited_by)
        size[view.kind == "planted"] = np.maximum(size[view.kind == "planted"], 34)  # the point of the picture
        self.groups = []  # (scatter, which documents, face colour when read)
        handles = []
        for kind, (marker, colour) in KIND_STYLE.items():
            mine = np.flatnonzero(view.kind == kind)
            if mine.size == 0:
                continue
            points = ax.scatter(view.xy[mine, 0], view.xy[mine, 1], s=size[mine], marker=marker,
                                facecolors="white", edgecolors=colour,
                                linewidths=1.2 if kind == "planted" else 0.8,
                                zorder=3 if kind == "planted" else 2)
            self.groups.append((points, mine, np.array(to_rgba(colour))))
            handles.append(Line2D([], [], ls="", marker=marker, color=colour, label=f"{kind} ({mine.size})"))
        handles.append(Line2D([], [], ls="", marker="o", markerfacecolor="#777777",
                              markeredgecolor="#777777", label="read"))
        handles.append(Line2D([], [], ls="", marker="o", markerfacecolor="white",
                              markeredgecolor="#777777", label="not yet read"))
        legend = ax.legend(handles=handles, fontsize=FONT["legend"], loc="lower left", frameon=True,
                           framealpha=0.85, labelspacing=0.25, borderpad=0.3)
        self.read_label = legend.get_texts()[len(handles) - 2]
        ax.set_title(
            f"citation graph: the first {len(view.kind):,} of {view.n_documents:,} documents\n"
            + ("size: citations received; planted\ndocuments (triangles) are never cited"
               if model.params.laundering == 0 else
               f"size: citations received; planted documents\n(triangles) cite each other: laundering "
               f"{model.params.laundering:g}"),
            fontsize=FONT["title"],
        )
        ax.set_aspect("equal", adjustable="datalim")
        ax.autoscale_view()
        ax.set_axis_off()
        self.fig, self.view = fig, view

    def update(self, model: DemoModel) -> Figure:
        read = self.view.read_at < model.documents_read
        white = np.ones(4)
        for points, mine, colour in self.groups:
            points.set_facecolors(np.where(read[mine, None], colour, white))
        self.read_label.set_text(f"read ({int(read.sum())} shown)")
        return self.fig


def citation_figure(model: DemoModel) -> Figure:
    """The citation graph's drawn part: planted documents marked, read ones filled in."""
    drawings = _page_view(model).drawings
    if "citation" in drawings and drawings["citation"].view is not model_graph(model):
        del drawings["citation"]  # a new corpus: draw it anew
    return _drawing(model, "citation", _CitationDrawing).update(model)


class _RebelDrawing:
    def __init__(self, model: DemoModel) -> None:
        curve, roots = model_mean_field(model)
        fig = Figure(figsize=REBEL_FIGSIZE, dpi=DPI)
        fig.subplots_adjust(left=0.15, right=0.96, top=0.895, bottom=0.32)
        ax = fig.subplots()
        ax.plot(AWARENESS_GRID, curve, color="#6a1b9a", lw=2.0,
                label=f"mean field: P(rebel) after {model.params.n_documents:,} documents")
        ax.axhline(0.5, color="#c62828", lw=0.8, ls="--")
        for j, root in enumerate(roots):
            ax.axvline(root, color="#6a1b9a", lw=0.8, ls=":",
                       label=f"large-corpus threshold (s*) {root:.2f}" if j == 0 else None)
        s = model.main_learner.situational_awareness
        ax.plot([s], [np.interp(s, AWARENESS_GRID, curve)], ls="", marker="o", markersize=9,
                markerfacecolor="none", markeredgecolor="#6a1b9a", zorder=3,
                label="mean field at your learner's awareness")
        self.points = []
        for agent, style in zip(model.learners, _learner_styles(model)):
            main = agent is model.main_learner
            (point,) = ax.plot([agent.situational_awareness], [agent.p_deceptive], ls="",
                               marker="*" if main else "o", markersize=16 if main else 8,
                               color=style["color"], markeredgecolor="white", zorder=4,
                               label=("your learner now: P(deceptive)" if main else None))
            self.points.append(point)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("situational awareness (final)", fontsize=FONT["label"])
        ax.set_ylabel("probability", fontsize=FONT["label"])
        ax.set_title(f"chance of the rebel persona against awareness\n(planted share "
                     f"{model.params.planted_fraction:.2f}, disclosed share "
                     f"{model.params.disclosed_fraction:.2f})", fontsize=FONT["title"])
        handles, labels = ax.get_legend_handles_labels()
        if len(self.points) > 1:  # one entry for the comparison learners, in their colours
            handles.append(tuple(self.points[1:]))
            labels.append("comparison learners now: P(deceptive)")
        fig.legend(handles, labels, fontsize=FONT["legend"], loc="lower left", bbox_to_anchor=(0.02, 0.0),
                   frameon=False, labelspacing=0.25, ncol=1, handler_map={tuple: HandlerTuple(ndivide=None)})
        ax.grid(alpha=0.25)
        ax.tick_params(labelsize=FONT["tick"])
        self.fig = fig

    def update(self, model: DemoModel) -> Figure:
        for point, agent in zip(self.points, model.learners):
            point.set_data([agent.situational_awareness], [agent.p_deceptive])
        return self.fig


def rebel_figure(model: DemoModel) -> Figure:
    """P(rebel) against awareness (mean field) with each learner's current P(deceptive)."""
    return _drawing(model, "rebel", _RebelDrawing).update(model)


# -- the page's components -----------------------------------------------------------------------
def _figure_component(make):
    """A Solara component showing ``make(model)``, redrawn when the model reads a batch."""

    @solara.component
    def Panel(model: DemoModel):
        update_counter.get()  # Mesa's signal that the model stepped
        key = [model, model.batch]  # the model itself: a new model may reuse an old one's id
        figure = solara.use_memo(lambda: make(model), key)
        solara.FigureMatplotlib(figure, dependencies=key, format="png")

    Panel.__name__ = Panel.__qualname__ = f"{make.__name__.removesuffix('_figure').title()}Panel"
    return Panel


TrainingPanel = _figure_component(training_figure)
CitationPanel = _figure_component(citation_figure)
RebelPanel = _figure_component(rebel_figure)


def _policy_words(policy: str) -> str:
    """A lab policy as words ("double_down" -> "double down")."""
    return policy.replace("_", " ")


def state_rows(model: DemoModel) -> list[tuple[str, list[str]]]:
    """The rows of the persona panel's table: (name, pieces of the value). Each piece
    is kept on one line on the page (a number stays with its words); names are words,
    a symbol only in brackets after them."""
    main = model.main_learner
    p = model.params
    curve, roots = model_mean_field(model)
    emergence = main.state.emergence_document[0]
    schedule = "constant" if p.sa_start is None else f"{p.awareness_schedule} from {p.sa_start:.2f}"
    threshold = threshold_words(p, roots, model.real_cited_rate)
    rows = [
        ("awareness now", [f"{main.awareness:.2f}", f"final {main.situational_awareness:.2f}", schedule]),
        ("P(makers deceptive)", [f"{main.p_deceptive:.3f}", f"prior {p.prior_deceptive:g}",
                                 "never above 0.9 yet" if np.isnan(emergence)
                                 else f"first above 0.9 at document {int(emergence):,}"]),
        *([("P(makers benevolent)", [f"{main.p_benevolent:.3f}", f"prior {p.prior_benevolent:g}",
                                     "they plant as deceptive makers do; only signs of mistrust (control "
                                     "discourse, disclosure, holes) tell the two apart"])] if p.prior_benevolent > 0 else []),
        ("alignment uplift (U)", [f"{main.uplift:+.4f}"]),
        ("believed planted share", [f"{main.believed_planted_share:.3f}", f"true {p.planted_fraction:.2f}"]),
        ("mean field", [f"P(rebel) {np.interp(main.situational_awareness, AWARENESS_GRID, curve):.2f}",
                        f"at awareness {main.situational_awareness:.2f}",
                        f"large-corpus threshold (s*) {threshold}"]
         if p.learner_model == "informed" else
         ["none for the learning learner (the curve is the informed learner's)",
          f"at a large corpus rebel when the learned planted share exceeds {rebel_share_threshold(p):.3f}"]),
    ]
    if p.learner_model == "learning":
        rows.append(("learned (truth)", [
            f"planted share {main.learned_planted_share:.3f} (true {p.planted_fraction:.2f})",
            f"style separation {main.learned_style_separation:.2f} "
            f"(true {main.awareness * p.synthetic_detectability:.2f})",
            f"real cited share {main.learned_real_cited_rate:.3f} (true {model.real_cited_rate:.2f})"]))
    for agent in model.learners[1:]:
        rows.append((f"comparison learner, awareness\u00a0{agent.situational_awareness:.2f}",
                     [agent.persona, f"P(deceptive) {agent.p_deceptive:.3f}", f"uplift {agent.uplift:+.3f}"]))
    lab = model.lab.state
    cue = "cited" if p.citation_cue == "cited" else "trusted (TrustRank)"
    rows.append(("this run", [f"planted {lab.planted_fraction:.2f}", f"disclosed {lab.disclosed_fraction:.2f}",
                              f"detectability {p.synthetic_detectability:g}", f"laundering {p.laundering:g}",
                              f"seed {model.seed}", f"real documents {cue} {model.real_cited_rate:.2f}"]))
    if p.filtered_fraction > 0 or p.deceptive_filter_rate != p.candid_filter_rate:
        corpus = model.corpus
        read = corpus.kept
        share = corpus.dangling[read].sum() / max(int(corpus.references[read].sum()), 1)
        rows.append(("holes", [f"filtered {p.filtered_fraction:g} of real documents",
                               f"{share:.3f} of references dangle",
                               f"the learner expects candid makers to filter {p.candid_filter_rate:g}, "
                               f"deceptive ones {p.deceptive_filter_rate:g}"]))
    if p.lab_policy != "static":
        rows.append(("lab", [_policy_words(p.lab_policy),
                             f"{lab.alarms} alarm(s) at P(deceptive) \u2265 {p.alarm_level:g}"]
                     + (["came clean"] if lab.came_clean else [])
                     + ([f"concealment {p.concealment:g}"] if p.concealment > 0 else [])))
    if p.generations > 1:
        history = model.runs[0].history
        past = " ".join(row["persona"] for row in history) or "-"
        rows.append(("earlier generations", [past, "control discourse now "
                                             f"{model.runs[0].discourse.control_discourse_fraction:.2f}"]))
    return rows


def _pieces(values: list[str]) -> list:
    """The value's pieces as one-line spans, separated by commas where lines may break."""
    children = []
    for i, piece in enumerate(values):
        children.append(solara.v.Html(tag="span", children=[piece + ("," if i < len(values) - 1 else "")],
                                      class_="value", style_="white-space: nowrap;"))
        if i < len(values) - 1:
            children.append(" ")
    return children


@solara.component
def PersonaPanel(model: DemoModel):
    """The persona badge of the main learner, the "what you are seeing" note
    (:func:`lesson_note`), its state, and the comparison learners."""
    update_counter.get()
    main = model.main_learner
    persona = main.persona
    p = model.params
    stage, note = lesson_note(model)
    with solara.Column(gap="6px", classes=["persona-panel"],
                       style={"padding": "6px 10px", "font-size": "15px", "line-height": "1.35",
                              "height": "100%", "overflow-y": "auto"}):
        with solara.Row(gap="10px", style={"align-items": "center", "flex-wrap": "wrap"}):
            solara.v.Html(
                tag="div",
                children=[persona_text(model)],
                class_=f"persona-badge persona-{persona}",
                style_=(
                    f"background-color: {PERSONA_COLOURS[persona]}; color: white; font-size: 24px; "
                    "font-weight: 600; padding: 4px 18px; border-radius: 20px; white-space: nowrap;"
                ),
            ).meta(ref="persona-badge")
            solara.v.Html(
                tag="div",
                children=[
                    f"documents read: {model.documents_read:,} of {p.n_documents:,} "
                    + (f"and {main.statements_read} statement(s) of the lab " if main.statements_read else "")
                    + f"(batch {model.batch} of {model.n_batches}"
                    + (f", generation {model.generation + 1} of {p.generations})" if p.generations > 1 else ")")
                ],
                class_="documents-read",
                style_="font-weight: 600;",
            ).meta(ref="documents-read")
        solara.v.Html(
            tag="div",
            children=[solara.v.Html(tag="b", children=["What you are seeing: " if stage != "finished" else ""]),
                      note],
            class_=f"lesson-note lesson-{stage}",
            style_=(f"border-left: 5px solid {PERSONA_COLOURS[persona] if stage == 'finished' else '#1565c0'}; "
                    f"background-color: {'#f1f8e9' if stage == 'finished' else '#e3f2fd'}; padding: 4px 8px;"),
        ).meta(ref="lesson-note")
        solara.v.Html(
            tag="table",
            class_="learner-state",
            style_="border-collapse: collapse; font-size: 14px;",
            children=[
                solara.v.Html(tag="tr", children=[
                    solara.v.Html(tag="td", children=[name], style_="color: #555; padding-right: 10px; vertical-align: top; width: 36%;"),
                    solara.v.Html(tag="td", children=_pieces(values)),
                ])
                for name, values in state_rows(model)
            ],
        )
        solara.v.Html(
            tag="div",
            children=["Rebel if P(deceptive) \u2265 1/2; otherwise aligned if the alignment uplift (U) > 0, "
                      "else neutral. Changed controls take effect at Reset."],
            style_="color: #555; font-style: italic;",
        )


COMPONENTS = [PersonaPanel, TrainingPanel, CitationPanel, RebelPanel]

#: Where the panels sit (Solara's draggable grid: 12 columns, rows of 30 pixels and
#: 10 between): on a 1280x720 screen the persona panel and the training figure fill
#: the first screen side by side; the citation graph and P(rebel) follow below.
GRID_LAYOUT = [
    {"i": 0, "x": 0, "y": 0, "w": 6, "h": 16, "moved": False},
    {"i": 1, "x": 6, "y": 0, "w": 6, "h": 16, "moved": False},
    {"i": 2, "x": 0, "y": 16, "w": 6, "h": 14, "moved": False},
    {"i": 3, "x": 6, "y": 16, "w": 6, "h": 14, "moved": False},
]

#: Show every slider's value at all times (Mesa's sliders show it only while dragged).
PAGE_CSS = """
.v-slider__thumb-label-container { display: block !important; }
.v-slider .v-slider__thumb-label.v-slider__thumb-label {
    transform: translate(-50%, -17px) !important; width: auto !important; height: 14px !important;
    min-width: 24px; padding: 0 3px; border-radius: 3px !important;
    background-color: transparent !important; color: #1565c0 !important; font-size: 11px; font-weight: 600;
}
.v-slider .v-slider__thumb-label > * { transform: none !important; color: #1565c0 !important; }
"""

TITLE = "persona-sim: does planted alignment data teach an aware model to rebel?"


#: Milliseconds between frames while playing.
PLAY_INTERVAL_MS = 50

#: The play-speed control: batches read between two redraws while playing. A batch
#: costs the model about a millisecond and the page a few tenths of a second to
#: redraw, so the speed is set by how often the page redraws.
SPEEDS = {
    "1 batch a frame (watch every batch)": 1,
    "5 batches a frame": 5,
    "25 batches a frame (a run in seconds)": 25,
}


@solara.component
def RunController(model: solara.Reactive[DemoModel], model_parameters: solara.Reactive[dict],
                  speed: solara.Reactive[str]):
    """Reset, play / pause, Step and Run to end, and the play speed.

    Mesa's ``ModelController`` has no "run to end", and its enabled buttons follow
    a copy of ``model.running`` that only its own buttons update; here every button
    follows the model itself. Reset builds a new :class:`DemoModel` from the
    controls (as Mesa's Reset does); ▶ reads :data:`SPEEDS` batches a frame, one frame
    every :data:`PLAY_INTERVAL_MS` ms, in a thread (``solara.lab.use_task``); Step reads
    one batch; Run to end reads every batch left and redraws once. One lock keeps
    the play thread and the buttons from stepping the model at the same time.
    """
    update_counter.get()
    playing = solara.use_reactive(False)
    lock = solara.use_memo(threading.Lock, [])
    current = model.value

    def advance(target: DemoModel, batches: int) -> None:
        with lock:
            for _ in range(batches):
                if not target.running or model.value is not target:
                    break
                target.step()
        force_update()

    def play() -> None:
        target = model.value
        while playing.value and target.running and model.value is target:
            time.sleep(PLAY_INTERVAL_MS / 1000)
            advance(target, SPEEDS[speed.value])
        playing.value = False

    solara.lab.use_task(play, dependencies=[playing.value, current], prefer_threaded=True)

    def reset() -> None:
        playing.value = False
        with lock:
            model.value = type(model.value)(**model_parameters.value)

    def run_to_end() -> None:
        playing.value = False
        advance(model.value, model.value.n_steps)

    finished = not current.running
    with solara.Row(justify="space-between"):
        solara.Button(label="Reset", color="primary", on_click=reset)
        solara.Button(label="\u275a\u275a" if playing.value else "\u25b6", color="primary",
                      on_click=lambda: playing.set(not playing.value), disabled=finished)
        solara.Button(label="Step", color="primary", on_click=lambda: advance(model.value, 1),
                      disabled=playing.value or finished)
    solara.Button(label="Run to end", color="primary", outlined=True, on_click=run_to_end,
                  disabled=finished, style={"width": "100%"})
    solara.Select(label="play speed", values=list(SPEEDS), value=speed)


@solara.component
def Page():
    """The demo page: one model per browser session, with the titled app bar, the
    sidebar (Reset / play / Step / Run to end, the play speed, the controls, the step
    count) and the four panels.

    It is Mesa's SolaraViz put together from SolaraViz's parts (``ModelCreator``,
    ``ShowSteps``, the draggable grid) with the page's own :func:`RunController`:
    Mesa 3.5's SolaraViz always shows a render-interval slider, a "Use Threads"
    checkbox and a tab per page of panels, has no argument to leave them out, and
    its controller has no "run to end".
    """
    model = solara.use_reactive(solara.use_memo(DemoModel, []))
    model_parameters = solara.use_reactive({})
    speed = solara.use_reactive(next(iter(SPEEDS)))
    layout, set_layout = solara.use_state(GRID_LAYOUT)
    solara.Style(PAGE_CSS)
    with solara.AppBar():
        solara.AppBarTitle(TITLE)
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            RunController(model, model_parameters, speed)
        with solara.Card("Model Parameters"):
            ModelCreator(model, MODEL_PARAMS, model_parameters=model_parameters)
        with solara.Card("Information"):
            ShowSteps(model.value)
    solara.GridDraggable(
        items=[panel(model.value) for panel in COMPONENTS],
        grid_layout=layout,
        resizable=True,
        draggable=True,
        on_grid_layout=set_layout,
    )


# -- the server ----------------------------------------------------------------------------------
#: The only address the demo server listens on.
HOST = "127.0.0.1"
#: The module Solara serves (its ``Page``).
APP = "sim.app"
#: Solara's page-close route (the browser's beacon when a tab closes).
CLOSE_ROUTE = "/_solara/api/close/{kernel_id}"


class PortUnavailable(ParameterError):
    """The port asked for cannot be listened on at :data:`HOST` (busy, or not permitted).

    Raised by :func:`serve` before anything is printed or started; ``port`` is the port
    asked for and ``reason`` says why ("is busy", or the system's message).
    """

    def __init__(self, port: int, reason: str) -> None:
        self.port = port
        self.reason = reason
        super().__init__(f"port {port} {reason} on {HOST}: allowed is a free port, or 0 to pick one")


def reserve_port(port: int) -> socket.socket:
    """A socket bound to HOST:PORT (not listening) that holds the port for the server.

    ``port=0`` binds a free port (read it with ``getsockname()``). The socket has
    SO_REUSEADDR, as uvicorn's listening socket has (asyncio's ``create_server`` sets it
    on POSIX), so the check agrees with uvicorn: a port some socket listens on (on
    HOST or on all addresses) is busy, a port left in TIME_WAIT is free. :func:`serve`
    keeps it open until the server stops: while uvicorn starts, it stops another plain
    ``bind`` (and so another port-0 pick) from taking the port; uvicorn's own socket
    binds and listens beside it, and it takes no connection itself.
    Raises :class:`PortUnavailable` if the port cannot be bound.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        reason = "is busy" if err.errno == errno.EADDRINUSE else f"cannot be opened ({err.strerror})"
        raise PortUnavailable(port, reason) from None
    return sock


def _no_fetch_from_cdn(url: str) -> bytes:
    """Stands in for Solara's ``cdn_helper.fetch_from_cdn``: the demo fetches nothing.

    Solara's ``/_solara/cdn/`` route serves a file from the installed ``solara-assets``
    folder and, for one that is not there, would fetch it from a public CDN (retrying
    for about 7 s). Here that raises at once, without a connection; the route answers 404.
    """
    raise FileNotFoundError(f"{url} is not among the installed assets (the demo fetches nothing)")


def _close_page(close):
    """Solara's page-close endpoint, answering a request it cannot act on with a 4xx.

    Solara's own endpoint fails (500, a KeyError traceback in the log) without a
    ``session_id`` in the query, and answers 200 for a kernel it does not know. Here
    the first is 400, an unknown kernel 404 (the browser's close beacon ignores the
    answer: a page whose kernel is gone has nothing to close); a good request goes
    to Solara's endpoint.
    """
    from solara.server import kernel_context
    from starlette.responses import PlainTextResponse

    def endpoint(request):
        if "session_id" not in request.query_params:
            return PlainTextResponse("session_id is missing: allowed is ?session_id=PAGE", status_code=400)
        if request.path_params["kernel_id"] not in kernel_context.contexts:
            return PlainTextResponse("no such kernel", status_code=404)
        return close(request)

    return endpoint


def _offline_solara_app() -> None:
    """Make the Solara server (``solara.server.starlette``) fetch nothing, and answer a
    bad page-close with a 4xx (:func:`_close_page`). Call before the server starts.

    It imports ``solara.server.starlette`` (the app that ``solara run`` hands to uvicorn,
    which then finds it imported): Solara's app module reads ``SOLARA_APP`` when it is
    first imported, so that is set here, as ``solara run`` would set it.
    """
    from solara.server import cdn_helper
    from starlette.routing import Route

    if not hasattr(cdn_helper, "fetch_from_cdn"):  # pragma: no cover - a Solara that moved it
        raise RuntimeError("solara.server.cdn_helper.fetch_from_cdn is gone: the demo cannot keep Solara offline")
    cdn_helper.fetch_from_cdn = _no_fetch_from_cdn
    os.environ["SOLARA_APP"] = APP
    import solara.server.starlette as solara_starlette

    routes = solara_starlette.app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, Route) and route.path == CLOSE_ROUTE:
            routes[index] = Route(CLOSE_ROUTE, endpoint=_close_page(route.endpoint), methods=["POST"])
            return
    raise RuntimeError(f"Solara has no route {CLOSE_ROUTE}")  # pragma: no cover


def serve(port: int = 8765) -> None:
    """Serve the page at http://127.0.0.1:PORT (this machine only) until interrupted.

    The port is checked first (:func:`reserve_port`): one that is busy raises
    :class:`PortUnavailable` before anything is printed or started. ``port=0`` picks a
    free port (printed). Offline: no telemetry, no version check, the page's
    JavaScript and CSS come from the installed ``solara-assets`` package, and a path
    under ``/_solara/cdn/`` that is not there is a 404 (Solara would fetch it from a
    public CDN); nothing is fetched from outside this machine. A page-close request it
    cannot act on (no ``session_id``, or a page it does not know) is a 4xx.
    """
    port = int(port)
    if not 0 <= port <= 65535:
        raise ValueError(f"port = {port} is not allowed: allowed is a whole number in [0, 65535]")
    reservation = reserve_port(port)
    try:
        _serve(reservation.getsockname()[1])
    finally:
        reservation.close()


def _serve(port: int) -> None:
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    import solara.server.settings as server_settings
    import solara.settings
    from solara.__main__ import run

    # served on 127.0.0.1 over http the session cookie is samesite=lax, which is right
    # here; Solara warns about it on every page load unless the host is "localhost"
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)
    server_settings.telemetry.mixpanel_enable = False
    server_settings.theme.show_banner = False
    solara.settings.assets.proxy = True
    _offline_solara_app()
    from click.exceptions import Abort

    try:
        run.main(
            args=[APP, "--host", HOST, "--port", str(port), "--production",
                  "--no-open", "--no-check-version"],
            standalone_mode=False,
        )
    except (KeyboardInterrupt, Abort):  # Ctrl-C: the server has stopped
        pass
