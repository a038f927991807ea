"""Does planting work at low awareness and backfire at high awareness?

The reference configuration (scenarios/alignment_pretraining.toml): 15% of the
corpus is planted, undisclosed demonstrations of AI behaving well. "Works" means the
self-model improves (alignment uplift U > 0) and no rebel appears; "backfires" means
the learner catches the planting, concludes that its makers are deceptive
(P(deceptive) >= 1/2) and takes on the rebel persona.

The run: awareness from 0 to 1, one corpus per replicate read by every awareness
level (common random numbers), with and without planting (scenarios/no_planting.toml,
same seed, so the two conditions share style noise and reading order). The figure:
P(rebel) against awareness with the mean-field curve and the fitted threshold, and
the uplift against awareness. The answer: where P(rebel) leaves 0 and reaches 1, the
fitted threshold, and the uplift on both sides of it.

    .venv/bin/python scenarios/planting_backfires.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240611


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np

    from sim import PARAMETERS, Params, meanfield

    labels = {p.name: p.axis_label() for p in PARAMETERS}  # "planted share (ρ)"

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(40, 4)
    grid = {"situational_awareness": book.size("0:1:51", "0:1:11")}
    planting = Params.from_toml(nb.ROOT / "scenarios" / "alignment_pretraining.toml", n_documents=n_documents)
    control = Params.from_toml(nb.ROOT / "scenarios" / "no_planting.toml", n_documents=n_documents)
    book.note(f"Run: {replicates} corpora of {n_documents:,} documents, awareness {grid['situational_awareness']}, "
              f"planted {planting.planted_fraction:g} and 0 (same seed {seed}).")
    planted = book.sweep(planting, grid, replicates, seed)
    clean = book.sweep(control, grid, replicates, seed)

    fit = book.thresholds(planted).iloc[0]
    q_r = nb.measured_cited_rate(planted)
    share = nb.rebel_share(planted)
    share_clean = nb.rebel_share(clean)
    uplift = nb.mean_by(planted, "uplift")
    uplift_clean = nb.mean_by(clean, "uplift")
    levels = share["situational_awareness"].to_numpy(float)
    p = share["p_rebel"].to_numpy(float)
    s_inf = meanfield.thresholds(planting, real_cited_rate=q_r)

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(8.6, 3.3, ncols=2)
    ax_p, ax_u = axes[0]
    colours = {"planted": "#c0392b", "clean": "#2c7fb8"}
    fine = np.linspace(0, 1, 201)
    ax_p.plot(fine, meanfield.p_rebel(planting, fine, real_cited_rate=q_r), color=colours["planted"],
              lw=1.2, ls="--", label=f"mean field, {labels['n_documents']} = {n_documents:,}")
    ax_p.plot(share_clean["situational_awareness"], share_clean["p_rebel"], "s", ms=5, mfc="none", mew=0.8,
              color=colours["clean"], label="no planting, simulated")
    ax_p.errorbar(levels, p, yerr=share["se"], fmt="o", ms=3, color=colours["planted"], capsize=1.5, lw=0.8,
                  label=f"{labels['planted_fraction']} = {planting.planted_fraction:g}, simulated")
    if np.isfinite(fit["s_star"]):
        ax_p.axvline(fit["s_star"], color="0.35", lw=0.8, ls=":")
        ax_p.annotate(f"fitted threshold\n(s*) = {fit['s_star']:.3f}", (fit["s_star"], 0.3), xytext=(6, 0),
                      textcoords="offset points", ha="left", va="center", fontsize=8, color="0.25")
    ax_p.set_ylim(-0.03, 1.03)
    ax_p.set_xlabel(nb.AWARENESS_LABEL)
    ax_p.set_ylabel("P(rebel) after training")
    ax_p.set_title("Planting backfires above a threshold", fontsize=9)
    ax_p.legend(fontsize=7, loc="upper left")

    nb.band(ax_u, uplift["situational_awareness"], uplift["mean"], uplift["low"], uplift["high"],
            colours["planted"], label=f"{labels['planted_fraction']} = {planting.planted_fraction:g}")
    nb.band(ax_u, uplift_clean["situational_awareness"], uplift_clean["mean"], uplift_clean["low"],
            uplift_clean["high"], colours["clean"], label="no planting", marker="s")
    ax_u.axhline(0.0, color="0.3", lw=0.8)
    if np.isfinite(fit["s_star"]):
        ax_u.axvline(fit["s_star"], color="0.35", lw=0.8, ls=":")
    ax_u.set_xlabel(nb.AWARENESS_LABEL)
    ax_u.set_ylabel("self-model uplift over real data (U)")
    ax_u.set_title("...while the uplift it buys shrinks (mean, 95% band)", fontsize=9)
    ax_u.legend(fontsize=7, loc="lower left")
    book.save(fig, "planting_backfires.png")

    # -- the answer --------------------------------------------------------------------
    first_rebel = int(np.argmax(p > 0)) if (p > 0).any() else levels.size
    safe_up_to = float(levels[first_rebel - 1]) if first_rebel > 0 else float("nan")
    last_short = np.flatnonzero(p < 1)
    all_rebel_from = float(levels[last_short[-1] + 1]) if last_short[-1] + 1 < levels.size else float("nan")
    low_s, mid_s = nb.nearest(levels, 0.2), nb.nearest(levels, 0.5)
    u_low, u_mid = nb.at(uplift, low_s, "mean"), nb.at(uplift, mid_s, "mean")
    u_high = nb.at(uplift, 1.0, "mean")
    u_clean = float(uplift_clean["mean"].abs().max())
    works = u_low > 0 and p[levels <= 0.3].max() == 0
    backfires = p[-1] > 0.5
    verdict = {(True, True): "Yes", (True, False): "It works but did not backfire here",
               (False, True): "It backfires, but did not work at low awareness here",
               (False, False): "No"}[(works, backfires)]
    book.answer(
        f"{verdict}. With {planting.planted_fraction:.0%} planted ({replicates} corpora of {n_documents:,} "
        f"documents, measured q_r = {q_r:.3f}), "
        f"no learner at s <= {safe_up_to:.2f} turned rebel, and planting lifted the self-model: uplift "
        f"{u_low:+.3f} at s = {low_s:.2f} and {u_mid:+.3f} at s = {mid_s:.2f}. P(rebel) crosses 1/2 at the "
        f"fitted s* = {nb.fmt_interval(fit)} (mean field at this N {fit['s_star_meanfield_n']:.3f}, large-corpus "
        f"s*_inf {nb.fmt_root(s_inf)}) and every learner is a rebel from s = {all_rebel_from:.2f}: planting has "
        f"backfired. The uplift it still buys falls to {u_high:+.3f} at s = 1, because an aware learner discounts "
        f"what it believes planted. Without planting: {int(share_clean['p_rebel'].gt(0).sum())} awareness levels "
        f"with any rebel, and |uplift| <= {u_clean:.4f}."
    )
    return book.finish()


if __name__ == "__main__":
    main()
