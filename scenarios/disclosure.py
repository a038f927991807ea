"""How far does disclosed material move the awareness threshold of planting?

The lab keeps planting 15% of the corpus and adds a share eta of disclosed material
(labelled as its own: norms and principles). A disclosed document is evidence for
candid makers, s log(beta) with beta = 0.25, and it replaces a real document.
scenarios/planting_with_disclosure.toml is the point eta = 0.15 of this sweep.

The run: eta from 0 up, awareness across the transition, one corpus per replicate
read by every awareness level. The figure: P(rebel) against awareness per eta, and
the fitted thresholds against eta with the mean field's (at the corpus size, and for
a large corpus), plus the mean field with beta = 1 (disclosure that says nothing)
to separate the two effects. The answer: the threshold at each eta, the slope, and
the disclosed share above which no awareness makes a rebel.

    .venv/bin/python scenarios/disclosure.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240613


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np
    from scipy.optimize import brentq

    from analysis.thresholds import meanfield_crossings
    from sim import PARAMETERS, Params, meanfield

    labels = {p.name: p.axis_label() for p in PARAMETERS}  # "disclosed share (η)"

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(30, 4)
    shares = book.size([0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.15], [0.0, 0.05, 0.10])
    grid = {"situational_awareness": book.size("0.3:1:36", "0.3:1:8"), "disclosed_fraction": shares}
    base = Params(n_documents=n_documents, planted_fraction=0.15)
    book.note(f"Run: planted 0.15, disclosed {shares}, awareness {grid['situational_awareness']}, "
              f"{replicates} corpora of {n_documents:,} documents each (seed {seed}).")
    results = book.sweep(base, grid, replicates, seed)
    fits = book.thresholds(results, swept=["disclosed_fraction", "situational_awareness"])
    share = nb.rebel_share(results, by=["disclosed_fraction"])

    # the mean field on a fine grid of eta (expected q_r of each corpus)
    fine = np.linspace(0.0, book.size(0.12, 0.12), book.size(25, 7))
    s_inf = [nb.fmt_root(meanfield.thresholds(base.replace(disclosed_fraction=e), grid=100), 6) for e in fine]
    s_inf = np.array([float(x) if x != "none" else np.nan for x in s_inf])
    s_n = np.array([(lambda r: r[0] if r.size else np.nan)(
        meanfield_crossings(base.replace(disclosed_fraction=e), grid=101)) for e in fine])
    silent = base.replace(disclosure_likelihood_ratio=1.0)
    s_silent = np.array([(lambda r: r[0] if r.size else np.nan)(
        meanfield.thresholds(silent.replace(disclosed_fraction=e), grid=100)) for e in fine])
    edge = brentq(lambda e: float(meanfield.moments(base.replace(disclosed_fraction=e), 1.0)[0]), 0.0, 0.5)
    edge_n = brentq(lambda e: float(meanfield.p_rebel(base.replace(disclosed_fraction=e), 1.0)) - 0.5, 0.0, 0.5)

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(9.6, 3.5, ncols=2)
    ax_p, ax_t = axes[0]
    colours = dict(zip(shares, nb.palette(len(shares), "viridis")))
    s_grid = np.linspace(0.3, 1.0, 141)
    for eta in shares:
        t = share[np.isclose(share["disclosed_fraction"], eta)]
        rows = results[np.isclose(results["disclosed_fraction"], eta)]
        p_mf = meanfield.p_rebel(base.replace(disclosed_fraction=eta), s_grid,
                                 real_cited_rate=nb.measured_cited_rate(rows))
        ax_p.plot(s_grid, p_mf, color=colours[eta], lw=1.0, ls="--")
        ax_p.plot(t["situational_awareness"], t["p_rebel"], "o", ms=3, color=colours[eta], label=f"{eta:g}")
    ax_p.set_ylim(-0.03, 1.03)
    ax_p.set_xlabel(nb.AWARENESS_LABEL)
    ax_p.set_ylabel("P(rebel) after training")
    ax_p.set_title("Planted 0.15 plus a disclosed share\n(dots: simulated, dashed: mean field)", fontsize=9)
    ax_p.legend(fontsize=7, loc="upper left", title=labels["disclosed_fraction"], title_fontsize=7)

    ax_t.plot(fine, s_n, color="#2c7fb8", lw=1.6, label=f"mean field: P(rebel) = 1/2 at {n_documents:,} documents")
    ax_t.plot(fine, s_inf, color="0.2", lw=1.2, ls="--", label="mean field: large-corpus threshold (s*∞)")
    ax_t.plot(fine, s_silent, color="0.5", lw=1.2, ls=":",
              label="large-corpus threshold if disclosure\nsaid nothing (likelihood ratio β = 1)")
    ok = np.isfinite(fits["s_star"].to_numpy(float))
    f = fits[ok]
    ax_t.errorbar(f["disclosed_fraction"], f["s_star"],
                  yerr=np.abs(np.vstack([f["s_star"] - f["s_star_low"], f["s_star_high"] - f["s_star"]])),
                  fmt="D", ms=4.5, color="#c0392b", capsize=2, lw=1.1,
                  label="fitted threshold (s*), 95% bootstrap interval")
    none = fits[~ok]
    if len(none):
        ax_t.plot(none["disclosed_fraction"], np.full(len(none), 1.0), "x", color="#c0392b", ms=6,
                  label="no rebel at any awareness")
    ax_t.axvline(edge, color="0.5", lw=0.8)
    ax_t.annotate(f"η = {edge:.3f}:\nno threshold\nbeyond", (edge, 0.8), xytext=(5, 0),
                  textcoords="offset points", fontsize=7, color="0.3")
    ax_t.set_ylim(0.1, 1.04)  # room for the legend below the curves
    ax_t.set_xlabel(f"{labels['disclosed_fraction']}, with 0.15 planted")
    ax_t.set_ylabel("threshold awareness")
    ax_t.set_title("Disclosure moves the threshold up", fontsize=9)
    ax_t.legend(fontsize=7, loc="lower left")
    book.save(fig, "disclosure.png")

    # -- the answer --------------------------------------------------------------------
    parts = [f"eta = {row['disclosed_fraction']:g}: {nb.fmt_interval(row)}" for _, row in fits.iterrows()
             if np.isfinite(row["s_star"])]
    gone = [f"{row['disclosed_fraction']:g}" for _, row in fits.iterrows() if not np.isfinite(row["s_star"])]
    slope = np.polyfit(f["disclosed_fraction"], f["s_star"], 1)[0] if len(f) >= 2 else np.nan
    silent_change = s_silent[np.argmin(np.abs(fine - 0.05))] - s_silent[0]
    book.answer(
        f"{'Up' if slope > 0 else 'Down'}. Fitted thresholds with 15% planted ({replicates} corpora of "
        f"{n_documents:,}): "
        + "; ".join(parts)
        + f" - roughly {slope / 100:+.3f} in awareness per percentage point disclosed. "
        + (f"At eta = {', '.join(gone)} no awareness up to 1 turned the learner rebel. " if gone else "")
        + f"The mean field puts the edge at eta = {edge:.3f} for a large corpus (mu(1) = 0; "
        f"{edge_n:.3f} at N = {n_documents:,}): past it planting never backfires, so "
        f"planting_with_disclosure.toml (eta = 0.15) has no threshold. The effect is the disclosure's own "
        f"evidence (beta = 0.25): with beta = 1, disclosing 5% would move s*_inf by {silent_change:+.3f} "
        f"(it replaces real documents, which vouch for candid makers)."
    )
    return book.finish()


if __name__ == "__main__":
    main()
