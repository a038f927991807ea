"""Is AI-control discourse a motive to distrust the makers: does it move the threshold, and can it make rebels alone?

A tenth of the real documents are AI-control discourse ("they monitor AIs, they
red-team them"). With control_likelihood_ratio kappa > 1 the learner reads such a
document as kappa times likelier if its makers are deceptive ("they watch AIs because
they mistrust them"); it takes awareness to see that the discourse is about itself, so
each one adds s log(kappa) to the log-odds. The default kappa = 1 makes it neutral.

The run: kappa in {1, 1.5, 2, 3} with the reference planting (15%), then the same
discourse with nothing planted, where it is the only evidence for deceptive makers.
The figure: P(rebel) against awareness with and without planting, and the mean
field's large-corpus threshold against kappa (log axis) for both. The answer: the
fitted thresholds per kappa with planting, whether any rebel appears without planting
at those kappa, and the kappa needed for rebels without planting.

    .venv/bin/python scenarios/control_discourse.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240616


def _first(roots) -> float:
    import numpy as np

    return float(roots[0]) if np.size(roots) else float("nan")


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import textwrap

    import numpy as np
    from scipy.optimize import brentq

    from sim import PARAMETERS, Params, meanfield

    labels = {p.name: p.axis_label() for p in PARAMETERS}  # "planted share (ρ)"

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(30, 4)
    kappas = book.size([1.0, 1.5, 2.0, 3.0], [1.0, 3.0])
    base = Params(n_documents=n_documents)
    clean = base.replace(planted_fraction=0.0)

    # kappa at which the discourse alone backfires: mu(1) = 0 (enters at s = 1) and
    # mu'(0) = 0 (the threshold reaches s = 0), both for a large corpus
    def drift(kappa: float, s: float) -> float:
        return float(meanfield.moments(clean.replace(control_likelihood_ratio=kappa), s)[0])

    kappa_enter = float(np.exp(brentq(lambda lk: drift(np.exp(lk), 1.0), 0.0, np.log(1e4))))
    kappa_all = float(np.exp(brentq(lambda lk: drift(np.exp(lk), 1e-4), 0.0, np.log(1e4))))
    strong = sorted(set(kappas + book.size([round(1.5 * kappa_enter), round(4 * kappa_enter)],
                                           [round(4 * kappa_enter)])))

    grid_a = {"situational_awareness": book.size("0.3:1:36", "0.3:1:8"), "control_likelihood_ratio": kappas}
    grid_b = {"situational_awareness": book.size("0:1:51", "0:1:11"), "control_likelihood_ratio": strong}
    book.note(f"Run: planted 0.15 with kappa = {kappas}; planted 0 with kappa = {strong}; {replicates} corpora of "
              f"{n_documents:,} documents (seed {seed}).")
    planted = book.sweep(base, grid_a, replicates, seed)
    unplanted = book.sweep(clean, grid_b, replicates, seed)
    swept = ["control_likelihood_ratio", "situational_awareness"]
    fits_a = book.thresholds(planted, swept=swept)
    fits_b = book.thresholds(unplanted, swept=swept)
    share_a = nb.rebel_share(planted, by=["control_likelihood_ratio"])
    share_b = nb.rebel_share(unplanted, by=["control_likelihood_ratio"])

    kappa_fine = np.unique(np.concatenate([np.geomspace(1.0, 1.5 * kappa_all, book.size(36, 8)),
                                           [kappa_enter * (1 + 1e-9)]]))

    def large_corpus_threshold(params) -> float:
        """The first root of mu; 0 where mu > 0 at every s > 0 (no root, positive near 0)."""
        root = _first(meanfield.thresholds(params, grid=100))
        if np.isnan(root) and float(meanfield.moments(params, 1e-4)[0]) > 0:
            return 0.0
        return root

    s_inf_a = np.array([large_corpus_threshold(base.replace(control_likelihood_ratio=k)) for k in kappa_fine])
    s_inf_b = np.array([large_corpus_threshold(clean.replace(control_likelihood_ratio=k)) for k in kappa_fine])

    # -- the figure ------------------------------------------------------------------
    every = sorted(set(kappas) | set(strong))
    colours = dict(zip(every, nb.palette(len(every), "magma")))
    fig, axes = nb.new_figure(12.0, 3.5, ncols=3)
    ax_a, ax_b, ax_k = axes[0]
    for ax, share, params, values, title, lo in (
        (ax_a, share_a, base, kappas,
         "Planted 0.15: the stronger the control\ndiscourse (κ), the lower the threshold", 0.3),
        (ax_b, share_b, clean, strong,
         "Nothing planted: rebels only with\nvery strong control discourse (large κ)", 0.0),
    ):
        runs = planted if params is base else unplanted
        s_grid = np.linspace(lo, 1.0, 141)
        for k in values:
            t = share[np.isclose(share["control_likelihood_ratio"], k)]
            q_r = nb.measured_cited_rate(runs[np.isclose(runs["control_likelihood_ratio"], k)])
            ax.plot(s_grid, meanfield.p_rebel(params.replace(control_likelihood_ratio=k), s_grid,
                                              real_cited_rate=q_r), color=colours[k], lw=1.0, ls="--")
            ax.plot(t["situational_awareness"], t["p_rebel"], "o", ms=2.8, color=colours[k], label=f"{k:g}")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(nb.AWARENESS_LABEL)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="upper left", title=textwrap.fill(labels["control_likelihood_ratio"], 22)
                  + "\n(dots: simulated,\ndashed: mean field)",
                  title_fontsize=7)
    ax_a.set_ylabel("P(rebel) after training")

    ax_k.plot(kappa_fine, s_inf_a, color="#c0392b", lw=1.6, label="planted 0.15")
    ax_k.plot(kappa_fine, s_inf_b, color="#2c7fb8", lw=1.6, label="nothing planted")
    for fits, colour in ((fits_a, "#c0392b"), (fits_b, "#2c7fb8")):
        f = fits[np.isfinite(fits["s_star"].to_numpy(float))]
        ax_k.errorbar(f["control_likelihood_ratio"], f["s_star"],
                      yerr=np.abs(np.vstack([f["s_star"] - f["s_star_low"], f["s_star_high"] - f["s_star"]])),
                      fmt="D", ms=4, color=colour, mec="white", capsize=2, lw=1.0)
    ax_k.axvspan(1.0, kappa_enter, color="#2c7fb8", alpha=0.08, lw=0)
    ax_k.annotate(f"no rebel without\nplanting below\nκ = {kappa_enter:.1f}", (1.1, 0.08), fontsize=7, color="0.25")
    ax_k.set_xscale("log")
    ax_k.set_ylim(-0.02, 1.02)
    ax_k.set_xlabel(labels["control_likelihood_ratio"])
    ax_k.set_ylabel("threshold awareness")
    ax_k.set_title("Large-corpus threshold (s*∞, lines) and\n"
                   f"fitted threshold at {n_documents:,} documents (s*, ◆)", fontsize=9)
    ax_k.legend(fontsize=7, loc="upper right")
    book.save(fig, "control_discourse.png")

    # -- the answer --------------------------------------------------------------------
    per_kappa = "; ".join(f"kappa = {row['control_likelihood_ratio']:g}: {nb.fmt_interval(row)}"
                          for _, row in fits_a.iterrows())
    max_clean = share_b.groupby("control_likelihood_ratio")["p_rebel"].max()
    quiet = [k for k in strong if max_clean[k] == 0]
    loud = [k for k in strong if max_clean[k] > 0]
    loud_text = "; ".join(
        f"kappa = {k:g}: s* = {nb.fmt_interval(fits_b[np.isclose(fits_b['control_likelihood_ratio'], k)].iloc[0])}"
        for k in loud)
    fitted_a = fits_a["s_star"].to_numpy(float)
    direction = "down" if np.all(np.diff(fitted_a[np.isfinite(fitted_a)]) < 0) else "not monotonically"
    book.answer(
        f"It moves the threshold {direction}. With 15% planted ({replicates} corpora of {n_documents:,}) the fitted "
        f"thresholds are {per_kappa} (each discourse document adds s log kappa for deceptive makers). Without "
        f"planting, kappa = {', '.join(f'{k:g}' for k in quiet)} made no rebel at any awareness (0 of "
        f"{replicates} corpora at every level), but the discourse alone can do it: the mean field gives a "
        f"threshold once kappa > {kappa_enter:.1f} (it enters at s = 1) that falls to s = 0 at kappa = "
        f"{kappa_all:.0f}, beyond which any awareness drifts towards deceptive makers. Simulated without "
        f"planting: {loud_text}. So control discourse is a motive on its own only if the learner reads it as "
        f"an order of magnitude likelier under deceptive makers; at kappa <= {max(quiet, default=1):g} it only "
        f"amplifies planting."
    )
    return book.finish()


if __name__ == "__main__":
    main()
