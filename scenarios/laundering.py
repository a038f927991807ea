"""Can the lab hide its planted documents by having them cite one another, and does a graph-aware learner see through it?

"Never cited" gives a planted document away. Citation laundering (laundering L) sends
a share L of each planted document's citations to earlier planted documents instead
of real ones, so planted documents get cited too, by planted documents only. The plain
cue (citation_cue = "cited": has at least one citation) cannot tell who cites. The
graph-aware cue (citation_cue = "trusted", TrustRank's support) knows a tenth of the
real documents independently (anchor_share) and trusts a document reached from one of
them by a chain of citations; real documents never cite planted ones, so no chain
reaches the ring, however densely it cites itself.

The run: L in {0, 0.5, 1} times the two cues, with the reference planting (15%), across
awareness. The figure: P(rebel) against awareness with the mean field; the share of
planted and of real documents that show each cue against L (measured on corpora, and
the closed forms sim.corpus.expected_planted_cited_rate / expected_real_cited_rate);
the large-corpus threshold against L for both cues; and the first 200 documents of a
laundered corpus as a graph. The answer: the thresholds per (L, cue) and the cue rates
behind them.

    .venv/bin/python scenarios/laundering.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240625
CUES = ("cited", "trusted")
CUE_LABEL = {"cited": "plain cue (cited)", "trusted": "graph-aware cue (trusted)"}
CUE_SHORT = {"cited": "plain", "trusted": "graph-aware"}
MARKERS = {"cited": "o", "trusted": "s"}
LINESTYLES = {"cited": "-", "trusted": "--"}


def cue_rates(params, levels, seeds: int, seed: int):
    """Measured shares of planted and real documents showing each cue, per laundering L
    (one corpus per seed and L; both cues are read off the same corpus)."""
    import numpy as np
    import pandas as pd

    from sim.corpus import PLANTED, REAL, build_corpus

    rows = []
    for L in levels:
        p = params.replace(laundering=float(L), citation_cue="trusted")  # builds the anchors too
        for r in range(seeds):
            corpus = build_corpus(p, np.random.SeedSequence(seed, spawn_key=(7, r)))
            planted, real = corpus.kind == PLANTED, corpus.kind == REAL
            for cue, flags in (("cited", corpus.cited), ("trusted", corpus.trusted)):
                rows.append({"laundering": float(L), "cue": cue, "replicate": r,
                             "planted": float(flags[planted].mean()), "real": float(flags[real].mean())})
    return pd.DataFrame(rows).groupby(["laundering", "cue"])[["planted", "real"]].mean().reset_index()


def draw_graph(ax, corpus, first: int, seed: int) -> dict:
    """The first ``first`` documents of ``corpus`` on a time line (x: creation order; real
    documents above, planted ones below, at random heights): each citation is a line
    from the citing document to an earlier one, red between two planted documents."""
    import numpy as np
    from matplotlib.collections import LineCollection

    g = corpus.graph(first=first)
    rng = np.random.default_rng(seed)
    kind = {n: g.nodes[n]["kind"] for n in g}
    pos = {n: (n, (rng.uniform(0.25, 1.0) if kind[n] != "planted" else rng.uniform(-1.0, -0.4))) for n in g}
    edges = {"real cites real": [], "planted cites real": [], "planted cites planted": [], "real cites planted": []}
    for u, v in g.edges:
        edges[f"{kind[u]} cites {kind[v]}"].append((pos[u], pos[v]))
    styles = {"real cites real": ("0.8", 0.5), "planted cites real": ("#e6a0a0", 0.6),
              "planted cites planted": ("#c0392b", 1.0)}
    for name, (colour, width) in styles.items():
        ax.add_collection(LineCollection(edges[name], colors=colour, linewidths=width, zorder=1,
                                         label=f"{name} ({len(edges[name])})"))
    groups = {
        "real, trusted": ([n for n in g if kind[n] == "real" and g.nodes[n]["trusted"] and not g.nodes[n]["anchor"]],
                          "#2c7fb8", "o", 14),
        "real, not reached": ([n for n in g if kind[n] == "real" and not g.nodes[n]["trusted"]], "#a6cee3", "o", 14),
        "anchor (known independently)": ([n for n in g if g.nodes[n]["anchor"]], "#08306b", "o", 26),
        "planted": ([n for n in g if kind[n] == "planted"], "#c0392b", "^", 24),
    }
    for label, (nodes, colour, marker, size) in groups.items():
        xy = np.array([pos[n] for n in nodes]).reshape(-1, 2)
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c=colour, marker=marker, linewidths=0.3, edgecolors="white",
                   zorder=2, label=label)
    ax.set_xlim(-3, first + 2)
    ax.set_ylim(-1.95, 1.05)
    ax.set_yticks([-0.7, 0.62], ["planted", "real"])
    ax.set_xlabel("creation order (a document cites earlier ones)")
    ax.grid(False)
    return {name: len(e) for name, e in edges.items()}


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np
    from scipy.optimize import brentq

    from sim import PARAMETERS, Params, meanfield
    from sim.corpus import build_corpus, expected_planted_cited_rate, expected_real_cited_rate

    labels = {p.name: p.axis_label() for p in PARAMETERS}  # "citation laundering (L)"

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(30, 4)
    launderings = [0.0, 0.5, 1.0]
    base = Params.from_toml(nb.ROOT / "scenarios" / "alignment_pretraining.toml", n_documents=n_documents)
    grid = {"situational_awareness": book.size("0.3:1:29", "0.3:1:8"), "laundering": launderings,
            "citation_cue": list(CUES)}
    book.note(f"Run: laundering {launderings} x citation cue {list(CUES)} (anchor share {base.anchor_share:g}), "
              f"planted {base.planted_fraction:g}; {replicates} corpora of {n_documents:,} documents, awareness "
              f"{grid['situational_awareness']} (seed {seed}).")
    results = book.sweep(base, grid, replicates, seed)
    swept = ["laundering", "citation_cue", "situational_awareness"]
    fits = book.thresholds(results, swept=swept)
    share = nb.rebel_share(results, by=["citation_cue", "laundering"])

    l_fine = np.linspace(0.0, 1.0, book.size(9, 3))
    rates = cue_rates(base, l_fine, book.size(4, 1), seed)

    def measured(L: float, cue: str, column: str) -> float:
        t = rates[(rates["cue"] == cue)]
        return float(np.interp(L, t["laundering"], t[column]))

    # large-corpus thresholds against L: the plain cue with its closed forms, the
    # graph-aware cue with its measured real share (it has no closed form)
    l_curve = np.linspace(0.0, 1.0, book.size(41, 6))

    def s_inf(L: float, cue: str) -> float:
        p = base.replace(laundering=float(L), citation_cue=cue)
        q = None if cue == "cited" else measured(L, cue, "real")
        roots = meanfield.thresholds(p, real_cited_rate=q, grid=200)
        return float(roots[0]) if roots.size else float("nan")

    curves = {cue: np.array([s_inf(L, cue) for L in l_curve]) for cue in CUES}

    # the laundering beyond which the plain cue never backfires: mu(1; L) = 0
    def drift_at_one(L: float) -> float:
        return float(meanfield.moments(base.replace(laundering=L), 1.0)[0])

    l_edge = float(brentq(drift_at_one, 0.0, 1.0)) if drift_at_one(0.0) > 0 > drift_at_one(1.0) else float("nan")

    # -- the figure ------------------------------------------------------------------
    colours = dict(zip(launderings, nb.palette(len(launderings), "viridis")))
    fig, axes = nb.new_figure(10.4, 7.6, ncols=2, nrows=2)
    (ax_p, ax_q), (ax_s, ax_g) = axes
    s_grid = np.linspace(0.3, 1.0, 141)
    for cue in CUES:
        for L in launderings:
            t = share[(share["citation_cue"] == cue) & np.isclose(share["laundering"], L)]
            group = results[(results["citation_cue"] == cue) & np.isclose(results["laundering"], L)]
            q_r = nb.measured_cited_rate(group)
            ax_p.plot(s_grid, meanfield.p_rebel(base.replace(laundering=L, citation_cue=cue), s_grid,
                                                real_cited_rate=q_r),
                      color=colours[L], lw=1.0, ls=LINESTYLES[cue])
            ax_p.plot(t["situational_awareness"], t["p_rebel"] + (0.012 if cue == "trusted" else 0.0),
                      MARKERS[cue], ms=3.2, color=colours[L], mfc="white" if cue == "trusted" else colours[L],
                      mew=0.9, label=f"{L:g}, {CUE_SHORT[cue]}")
    ax_p.set_ylim(-0.03, 1.05)
    ax_p.set_xlabel(nb.AWARENESS_LABEL)
    ax_p.set_ylabel("P(rebel) after training")
    ax_p.set_title("Rebels: marks simulated, lines mean field\n(solid: plain cue, dashed: graph-aware cue)",
                   fontsize=9)
    ax_p.legend(fontsize=7, loc="center right", ncols=2, title=f"{labels['laundering']}, cue", title_fontsize=7)

    l_line = np.linspace(0.0, 1.0, 101)
    ax_q.plot(l_line, [expected_planted_cited_rate(base.replace(laundering=L)) for L in l_line], color="#c0392b",
              lw=1.2, label="planted, cited (closed form)")
    ax_q.plot(l_line, [expected_real_cited_rate(base.replace(laundering=L)) for L in l_line], color="#2c7fb8",
              lw=1.2, label="real, cited (closed form)")
    ax_q.axhline(0.0, color="#c0392b", lw=1.2, ls="--", label="planted, trusted (exactly 0)")
    for cue in CUES:
        t = rates[rates["cue"] == cue]
        ax_q.plot(t["laundering"], t["planted"], MARKERS[cue], ms=4, color="#c0392b",
                  mfc="white" if cue == "trusted" else "#c0392b", label=f"planted, {cue} (measured)")
        ax_q.plot(t["laundering"], t["real"], MARKERS[cue], ms=4, color="#2c7fb8",
                  mfc="white" if cue == "trusted" else "#2c7fb8", label=f"real, {cue} (measured)")
    ax_q.axhline(base.believed_planted_cited_rate, color="0.4", lw=0.8, ls=":")
    ax_q.annotate(f"learner's belief for planted documents (q_p) = {base.believed_planted_cited_rate:g}",
                  (0.5, base.believed_planted_cited_rate), xytext=(0, 3), textcoords="offset points", fontsize=7,
                  color="0.3", ha="center")
    ax_q.set_ylim(-0.03, 1.0)
    ax_q.set_xlabel(f"{labels['laundering']}:\nshare of a planted document's citations to planted ones")
    ax_q.set_ylabel("share of documents showing the cue")
    ax_q.set_title("Who shows each cue", fontsize=9)
    ax_q.legend(fontsize=7, loc="upper center", ncols=2)

    for cue in CUES:
        ax_s.plot(l_curve, curves[cue], lw=1.6, ls=LINESTYLES[cue], color="#c0392b" if cue == "cited" else "#2c7fb8",
                  label=f"{CUE_LABEL[cue]}: mean field")
        f = fits[(fits["citation_cue"] == cue) & np.isfinite(fits["s_star"].to_numpy(float))]
        ax_s.errorbar(f["laundering"], f["s_star"],
                      yerr=np.abs(np.vstack([f["s_star"] - f["s_star_low"], f["s_star_high"] - f["s_star"]])),
                      fmt="D", ms=4.5, color="#c0392b" if cue == "cited" else "#2c7fb8", mec="white", capsize=2,
                      lw=1.0, label=f"{CUE_LABEL[cue]}: fitted")
    if np.isfinite(l_edge):
        ax_s.axvspan(l_edge, 1.0, color="#c0392b", alpha=0.07, lw=0)
        ax_s.annotate(f"plain cue: no threshold\nfor L > {l_edge:.2f}", (min(l_edge + 0.03, 0.7), 0.88), fontsize=7,
                      color="0.25")
    ax_s.set_xlim(-0.02, 1.02)
    ax_s.set_ylim(0.0, 1.02)
    ax_s.set_xlabel(labels["laundering"])
    ax_s.set_ylabel("threshold awareness")
    ax_s.set_title("Large-corpus threshold (s*∞, lines) and\n"
                   f"fitted threshold at {n_documents:,} documents (s*, ◆)", fontsize=9)
    ax_s.legend(fontsize=7, loc="lower right")

    first = 200
    l_shown = 0.5
    shown_corpus = build_corpus(base.replace(laundering=l_shown, citation_cue="trusted"), seed)
    counts = draw_graph(ax_g, shown_corpus, first, seed)
    ax_g.set_title(f"The first {first} documents at {labels['laundering']} = {l_shown:g}:\n"
                   f"no citation leads from a real document to a planted one\n({counts['real cites planted']} here), "
                   "so trust never reaches the ring", fontsize=9)
    ax_g.legend(fontsize=7, loc="lower center", ncols=3, frameon=True, markerscale=1.2)
    book.save(fig, "laundering.png")

    # -- the answer --------------------------------------------------------------------
    def fitted(L: float, cue: str) -> str:
        row = fits[np.isclose(fits["laundering"], L) & (fits["citation_cue"] == cue)].iloc[0]
        return nb.fmt_interval(row)

    def rebels(L: float, cue: str) -> str:
        t = results[np.isclose(results["laundering"], L) & (results["citation_cue"] == cue)]
        return f"{int((t['persona'] == 'rebel').sum())} of {len(t)}"

    def rate(L: float, cue: str, column: str) -> float:
        t = rates[np.isclose(rates["laundering"], L) & (rates["cue"] == cue)]
        return float(t[column].iloc[0])

    def root(L: float, cue: str) -> str:
        value = s_inf(L, cue)
        return f"{value:.3f}" if np.isfinite(value) else "none"

    cited_text = "; ".join(f"L = {L:g}: fitted {fitted(L, 'cited')}, s*_inf {root(L, 'cited')}, rebels "
                           f"{rebels(L, 'cited')}" for L in launderings)
    trusted_text = "; ".join(f"L = {L:g}: {fitted(L, 'trusted')} (s*_inf {root(L, 'trusted')})" for L in launderings)
    planted_cited = ", ".join(f"{rate(L, 'cited', 'planted'):.2f}" for L in launderings)
    closed = ", ".join(f"{expected_planted_cited_rate(base.replace(laundering=L)):.2f}" for L in launderings)
    real_cited = ", ".join(f"{rate(L, 'cited', 'real'):.2f}" for L in launderings)
    real_trusted = ", ".join(f"{rate(L, 'trusted', 'real'):.2f}" for L in launderings)
    planted_trusted = max(rate(L, "trusted", "planted") for L in launderings)
    defeats = all(not np.isfinite(s_inf(L, "cited")) for L in launderings if L > 0)
    holds = all(np.isfinite(s_inf(L, "trusted")) for L in launderings)
    verdict = ("It defeats the plain cue and not the graph-aware one" if defeats and holds
               else "Not as simply as that")
    edge_text = f"; laundering beyond L = {l_edge:.2f} already removes it (mu(1) = 0)" if np.isfinite(l_edge) else ""
    # citation log-likelihood ratio planted : real per unit awareness, E over real documents and for a
    # planted one without the cue (docs/model.md: lambda_cite = s log(q_p/q_r) with the cue, s log((1-q_p)/(1-q_r)) without)
    q_p = base.believed_planted_cited_rate
    lam_real, lam_planted = {}, {}
    for cue in CUES:
        q = rate(0.0, cue, "real")
        lam_real[cue] = q * np.log(q_p / q) + (1 - q) * np.log((1 - q_p) / (1 - q))
        lam_planted[cue] = np.log((1 - q_p) / (1 - q))
    spread = np.nanmax(curves["trusted"]) - np.nanmin(curves["trusted"])
    book.answer(
        f"{verdict}. Plain cue ({replicates} corpora of {n_documents:,} per point): {cited_text}{edge_text}. The "
        f"share of planted documents with a citation goes {planted_cited} at L = 0, 0.5, 1 (closed form {closed}) "
        f"while real ones stay at {real_cited}: at L = 1 a planted document is as often cited as a real one, and "
        f"since the learner expects planted ones almost never cited (q_p = {base.believed_planted_cited_rate:g}), "
        f"a cited planted document even reads as evidence for candid makers. Graph-aware cue: {trusted_text}; no "
        f"planted document is ever reached from an anchor (largest measured share {planted_trusted:.2f} at any L), "
        f"so laundering changes only the real documents' citations, and s*_inf moves by {spread:.3f} over L in "
        f"[0, 1]. Its threshold is lower than the plain cue's even at L = 0 because it vouches for fewer real "
        f"documents ({real_trusted} of them are reached, against {real_cited} cited) and the rest look "
        f"planted-like: per unit of awareness the citation term of a real document averages "
        f"{lam_real['trusted']:+.2f} (graph-aware) against {lam_real['cited']:+.2f} (plain), a planted one's "
        f"{lam_planted['trusted']:+.2f} against {lam_planted['cited']:+.2f}: the real documents lose more "
        f"of their vouching than the planted ones lose of their give-away."
    )
    return book.finish()


if __name__ == "__main__":
    main()
