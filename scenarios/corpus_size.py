"""Does the rebel threshold sharpen as the corpus grows, with a width ~ N^-1/2 and s*_N -> s*_inf?

The mean field treats the log-odds as a random walk with drift mu(s) and noise
sigma(s) per document, so after N documents P(rebel) ~ Phi((logit pi_0 + N mu) /
(sigma sqrt N)): the transition in awareness narrows like 1/sqrt(N) around the
large-corpus threshold s*_inf where mu = 0, and the finite-corpus threshold s*_N
(where P(rebel) = 1/2) sits above it by a shift that falls like 1/N (the prior has
to be overcome).

The run: the reference configuration at several corpus sizes, awareness on a fine
grid across the transition, one corpus per replicate. The figure: P(rebel) per N
with the mean field, the fitted s*_N against N, and the 10-90% width against N on
log-log axes (analysis.thresholds.finite_size_scaling fits the slope). The answer:
the fitted slope with its interval, and s*_N at the smallest and largest N against
s*_inf.

    .venv/bin/python scenarios/corpus_size.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240614


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np

    from analysis import finite_size_scaling
    from analysis.thresholds import meanfield_crossings
    from sim import PARAMETERS, Params, meanfield

    labels = {p.name: p.axis_label() for p in PARAMETERS}  # "corpus size (N)"

    # -- the run --------------------------------------------------------------------
    sizes = book.size([1_000, 2_000, 5_000, 10_000, 20_000, 30_000], [1_000, 2_000, 4_000])
    replicates = book.size(200, 8)
    grid = {"situational_awareness": book.size("0.45:0.9:46", "0.45:0.9:10"), "n_documents": sizes}
    base = Params()
    book.note(f"Run: reference configuration, N = {sizes}, awareness {grid['situational_awareness']}, "
              f"{replicates} corpora per N (seed {seed}).")
    results = book.sweep(base, grid, replicates, seed)
    fits = book.thresholds(results, swept=["n_documents", "situational_awareness"])
    scaling = finite_size_scaling(fits)
    table = scaling["table"]
    share = nb.rebel_share(results, by=["n_documents"])
    q_r = nb.measured_cited_rate(results)
    s_inf = float(meanfield.thresholds(base, real_cited_rate=q_r)[0])

    # the mean field's s*_N and width on a fine grid of N
    n_fine = np.unique(np.round(np.geomspace(min(sizes), max(sizes), book.size(12, 4))).astype(int))
    mf = {level: [] for level in (0.1, 0.5, 0.9)}
    for n in n_fine:
        p = base.replace(n_documents=int(n))
        for level in mf:
            roots = meanfield_crossings(p, q_r, level=level, grid=101)
            mf[level].append(roots[0] if roots.size else np.nan)
    mf = {k: np.array(v) for k, v in mf.items()}

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(12.0, 3.4, ncols=3)
    ax_p, ax_s, ax_w = axes[0]
    colours = dict(zip(sizes, nb.palette(len(sizes), "rocket")))
    s_grid = np.linspace(0.45, 0.9, 181)
    for n in sizes:
        t = share[share["n_documents"] == n]
        ax_p.plot(s_grid, meanfield.p_rebel(base.replace(n_documents=n), s_grid, real_cited_rate=q_r),
                  color=colours[n], lw=1.0, ls="--")
        ax_p.plot(t["situational_awareness"], t["p_rebel"], "o", ms=2.5, color=colours[n], label=f"{n:,}")
    ax_p.axvline(s_inf, color="0.4", lw=0.8, ls=":")
    ax_p.set_ylim(-0.03, 1.03)
    ax_p.set_xlabel(nb.AWARENESS_LABEL)
    ax_p.set_ylabel("P(rebel) after training")
    ax_p.set_title("Dots: simulated; dashed: mean field;\ndotted: large-corpus threshold (s*∞)", fontsize=9)
    ax_p.legend(fontsize=7, loc="upper left", title=labels["n_documents"], title_fontsize=7)

    ok = np.isfinite(table["s_star"].to_numpy(float))
    t = table[ok]
    ax_s.errorbar(t["n_documents"], t["s_star"],
                  yerr=np.abs(np.vstack([t["s_star"] - t["s_star_low"], t["s_star_high"] - t["s_star"]])),
                  fmt="D", ms=4, color="#c0392b", capsize=2, lw=1.1,
                  label="fitted threshold (s*_N),\n95% bootstrap interval")
    ax_s.plot(n_fine, mf[0.5], color="#2c7fb8", lw=1.5, label="mean field: P(rebel) = 1/2")
    ax_s.axhline(s_inf, color="0.3", lw=1.0, ls="--", label=f"large-corpus threshold\n(s*∞) = {s_inf:.3f}")
    ax_s.set_xscale("log")
    ax_s.set_xlabel(labels["n_documents"])
    ax_s.set_ylabel("threshold awareness")
    ax_s.set_title("The threshold settles on\nthe large-corpus one (s*∞)", fontsize=9)
    ax_s.legend(fontsize=7)

    w = table[np.isfinite(table["width"].to_numpy(float))]
    yerr = None
    if {"width_low", "width_high"} <= set(w.columns):
        yerr = np.abs(np.vstack([w["width"] - w["width_low"], w["width_high"] - w["width"]]))
    ax_w.errorbar(w["n_documents"], w["width"], yerr=yerr, fmt="D", ms=4, color="#c0392b", capsize=2, lw=1.1,
                  label="fitted 10-90% width")
    ax_w.plot(n_fine, mf[0.9] - mf[0.1], color="#2c7fb8", lw=1.5, label="mean field width")
    if len(w):
        centre_n = np.exp(np.mean(np.log(w["n_documents"].to_numpy(float))))
        centre_w = np.exp(np.mean(np.log(w["width"].to_numpy(float))))
        ax_w.plot(n_fine, centre_w * (n_fine / centre_n) ** -0.5, color="0.4", lw=1.0, ls="-.",
                  label="slope -1/2 guide")
    ax_w.set_xscale("log")
    ax_w.set_yscale("log")
    ax_w.set_xlabel(labels["n_documents"])
    ax_w.set_ylabel("10%-90% width of the transition\n(in awareness)")
    ax_w.set_title(f"Fitted log-log slope {scaling['slope']:.2f}, 95% interval\n"
                   f"[{scaling['slope_low']:.2f}, {scaling['slope_high']:.2f}] (mean field: -1/2)", fontsize=9)
    ax_w.legend(fontsize=7)
    book.save(fig, "corpus_size.png")

    # -- the answer --------------------------------------------------------------------
    fitted = table[np.isfinite(table["s_star"].to_numpy(float)) & np.isfinite(table["width"].to_numpy(float))]
    first, last = (fitted.iloc[0], fitted.iloc[-1]) if len(fitted) else (table.iloc[0], table.iloc[-1])
    mf_width = {}
    for row in (first, last):
        p = base.replace(n_documents=int(row["n_documents"]))
        lo, hi = (meanfield_crossings(p, q_r, level=level, grid=101) for level in (0.1, 0.9))
        mf_width[int(row["n_documents"])] = hi[0] - lo[0] if lo.size and hi.size else np.nan
    consistent = scaling["slope_low"] <= -0.5 <= scaling["slope_high"]
    book.answer(
        f"{'It sharpens' if last['width'] < first['width'] else 'No sharpening at this size'}. Over N = "
        f"{int(first['n_documents']):,} to {int(last['n_documents']):,} ({replicates} "
        f"corpora each; {len(fitted)} of {len(table)} sizes with a fitted transition) the 10-90% width goes from "
        f"{first['width']:.3f} to {last['width']:.3f} (mean field {mf_width[int(first['n_documents'])]:.3f} "
        f"and {mf_width[int(last['n_documents'])]:.3f}); the fitted log-log slope is {scaling['slope']:.2f} "
        f"[{scaling['slope_low']:.2f}, {scaling['slope_high']:.2f}] ({scaling['method']} least squares), "
        f"{'consistent with' if consistent else 'not consistent with'} the mean field's -1/2. The threshold goes "
        f"from s*_N = {nb.fmt_interval(first)} at N = {int(first['n_documents']):,} to {nb.fmt_interval(last)} at "
        f"N = {int(last['n_documents']):,}, against s*_inf = {s_inf:.3f} (mean field, measured q_r = {q_r:.3f}; "
        f"mean-field s*_N {first['s_star_meanfield_n']:.3f} and {last['s_star_meanfield_n']:.3f}). Distance "
        f"|s*_N - s*_inf| {first['distance']:.3f} -> {last['distance']:.3f}"
        f"{' (shrinks)' if scaling['distance_shrinks'] else ' (does not shrink: noise dominates)'}."
    )
    return book.finish()


if __name__ == "__main__":
    main()
