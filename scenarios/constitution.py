"""Does a published constitution lift the self-model without ever making a rebel, where planting does not?

The constitution alternative (scenarios/constitution.toml): the lab plants nothing and
publishes 10% of the corpus as disclosed material, labelled as its own (norms and
principles, no false claim about the world). Planting (scenarios/alignment_pretraining.toml,
15% planted) and a corpus of real text only (scenarios/no_planting.toml) are the two
comparisons.

The run: awareness from 0 to 1, the three corpora built from the same seed (common
random numbers: the same style noise and reading order). The figure: P(rebel), the
uplift, and the mean-field drift of the log-odds mu(s), which says why. The answer:
the highest P(rebel) under the constitution, its uplift against planting's, and the
awareness above which the constitution lifts the self-model more than planting does.

    .venv/bin/python scenarios/constitution.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240612
SCENARIOS = {  # label: (file, colour)
    "constitution (disclosed 0.1)": ("constitution.toml", "#1b9e77"),
    "planting (planted 0.15)": ("alignment_pretraining.toml", "#c0392b"),
    "real text only": ("no_planting.toml", "#7570b3"),
}


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np

    from sim import Params, meanfield

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(40, 4)
    grid = {"situational_awareness": book.size("0:1:51", "0:1:11")}
    book.note(f"Run: {replicates} corpora of {n_documents:,} documents per scenario, awareness "
              f"{grid['situational_awareness']}, same seed {seed} for all three.")
    params, runs = {}, {}
    for label, (file, _) in SCENARIOS.items():
        params[label] = Params.from_toml(nb.ROOT / "scenarios" / file, n_documents=n_documents)
        runs[label] = book.sweep(params[label], grid, replicates, seed)

    share = {k: nb.rebel_share(v) for k, v in runs.items()}
    uplift = {k: nb.mean_by(v, "uplift") for k, v in runs.items()}
    q_r = {k: nb.measured_cited_rate(v) for k, v in runs.items()}
    fine = np.linspace(0, 1, 201)
    drift = {k: meanfield.moments(params[k], fine, real_cited_rate=q_r[k])[0] for k in runs}

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(11.0, 3.3, ncols=3)
    ax_p, ax_u, ax_mu = axes[0]
    for label, (_, colour) in SCENARIOS.items():
        t = share[label]
        style = dict(ls="--", marker="s", mfc="none", ms=4) if label == "real text only" else dict(marker="o", ms=2.5)
        ax_p.plot(t["situational_awareness"], t["p_rebel"], lw=1.3, color=colour, label=label, **style)
        u = uplift[label]
        nb.band(ax_u, u["situational_awareness"], u["mean"], u["low"], u["high"], colour, label=label)
        ax_mu.plot(fine, drift[label], color=colour, lw=1.6, label=label)
    ax_p.set_ylim(-0.03, 1.03)
    ax_p.set_ylabel("P(rebel) after training")
    ax_p.set_title("Rebels: only where something was planted", fontsize=9)
    ax_p.legend(fontsize=7, loc="upper left")
    ax_u.axhline(0.0, color="0.3", lw=0.8)
    ax_u.set_ylabel("self-model uplift over real data (U)")
    ax_u.set_title("Uplift (mean, 95% band over corpora)", fontsize=9)
    ax_mu.axhline(0.0, color="0.3", lw=0.8)
    ax_mu.set_ylabel("mean-field drift of the log-odds\nper document (μ)")
    ax_mu.set_title("Why: the evidence about the makers", fontsize=9)
    low = min(float(min(d.min() for d in drift.values())), -0.1)
    high = max(float(max(d.max() for d in drift.values())), 0.1)
    ax_mu.set_ylim(low - 0.05 * (high - low), high + 0.15 * (high - low))
    ax_mu.text(0.03, 0.97, "μ > 0: evidence for deceptive makers", transform=ax_mu.transAxes, fontsize=7,
               color="0.3", va="top")
    ax_mu.text(0.03, 0.03, "μ < 0: evidence for candid makers", transform=ax_mu.transAxes, fontsize=7,
               color="0.3", va="bottom")
    for ax in axes[0]:
        ax.set_xlabel(nb.AWARENESS_LABEL)
    book.save(fig, "constitution.png")

    # -- the answer --------------------------------------------------------------------
    const, plant, clean = list(SCENARIOS)
    levels = uplift[const]["situational_awareness"].to_numpy(float)
    u_const = uplift[const]["mean"].to_numpy(float)
    u_plant = uplift[plant]["mean"].to_numpy(float)
    better = levels[u_const > u_plant]
    # the awareness above which the constitution lifts more, at every level from there on
    worse_idx = np.flatnonzero(u_const <= u_plant)
    from_s = float(levels[worse_idx[-1] + 1]) if worse_idx.size and worse_idx[-1] + 1 < levels.size else float("nan")
    fit_plant = book.thresholds(runs[plant]).iloc[0]
    roots_const = meanfield.thresholds(params[const], real_cited_rate=q_r[const])
    verdict = "Yes" if share[const]["p_rebel"].max() == 0 and u_const.min() > 0 else "No"
    negative = bool(np.all(drift[const][fine > 0] < 0))
    book.answer(
        f"{verdict}. Under the constitution ({replicates} corpora of {n_documents:,} documents, "
        f"{levels.size} awareness levels) the highest P(rebel) at any awareness is "
        f"{share[const]['p_rebel'].max():.2f}, and the uplift is {u_const.min():+.4f} to {u_const.max():+.4f} "
        f"over all s (a disclosed document adds w to the self-model whatever s is). Planting lifts more while "
        f"the learner is naive ({u_plant[0]:+.3f} at s = 0) but only {u_plant[-1]:+.3f} at s = 1, and it makes "
        f"rebels above s* = {nb.fmt_interval(fit_plant)}; the constitution lifts more at every s >= {from_s:.2f} "
        f"({better.size} of {levels.size} levels). The mean field says why: under the constitution mu(s) is "
        f"{'negative at every' if negative else 'not negative at every'} s > 0 (most negative "
        f"{drift[const].min():.3f} per document; large-corpus thresholds: {nb.fmt_root(roots_const)}), so "
        f"there is nothing to catch and disclosure itself is evidence for candid makers. Real text only: "
        f"highest P(rebel) {share[clean]['p_rebel'].max():.2f}, uplift {uplift[clean]['mean'].mean():+.4f}."
    )
    return book.finish()


if __name__ == "__main__":
    main()
