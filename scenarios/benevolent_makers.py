"""How much of the backfire survives makers who plant for the model's sake: does a benevolent prior move or remove the threshold, and how informative must control discourse be to bring it back?

The rebel-kid reading needs the model to infer that its makers interfered out of
mistrust. With two hypotheses (candid, deceptive) every planted document it catches
counts as deception. Here the learner also holds a third (docs/model.md §3.2):
benevolent makers, who plant as much as deceptive ones do, openly believing it helps.
Planting cannot tell them apart; only the mistrust evidence can: AI-control
discourse (each document kappa^s times likelier under deceptive makers) and
disclosure (beta^s, against deception). The persona is rebel when P(deceptive) >=
1/2; benevolent is not deceptive.

The run: the reference planting (15%), awareness 0 to 1; first benevolent priors
pi_B in {0, 0.02, 0.1, 0.5} with uninformative control discourse (kappa = 1, the
default); then kappa from 1.05 to 3 with pi_B = 0.5 and without it, on the same
corpora. The figure: P(rebel) against awareness for each pi_B (simulated dots, mean
field dashed); the same for each kappa at pi_B = 0.5; and the threshold at this
corpus size against kappa for several pi_B, the mean field's (lines) against the
fitted one (diamonds). The answer: which priors remove the threshold, how far the
others move it, and how little control discourse brings it back.

    .venv/bin/python scenarios/benevolent_makers.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20261216
PRIORS = (0.0, 0.02, 0.1, 0.5)
KAPPAS = (1.05, 1.25, 1.5, 2.0, 3.0)
PRIORS_C = (0.0, 0.05, 0.2, 0.5, 0.9)


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np

    from analysis.thresholds import meanfield_crossings
    from sim import PARAMETERS, Params, meanfield

    labels = {p.name: p.axis_label() for p in PARAMETERS}

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(20, 4)
    levels = book.size("0:1:41", "0:1:6")
    kappas = book.size(list(KAPPAS), [1.05, 2.0])
    base = Params(n_documents=n_documents)
    book.note(f"Run: planted 0.15, {replicates} corpora of {n_documents:,} documents, awareness {levels}; "
              f"prior P(benevolent) {', '.join(f'{b:g}' for b in PRIORS)} at kappa = 1; kappa "
              f"{', '.join(f'{k:g}' for k in kappas)} at prior P(benevolent) 0 and 0.5 (seed {seed}; the same "
              "corpora throughout).")
    by_prior = book.sweep(base, {"situational_awareness": levels, "prior_benevolent": list(PRIORS)}, replicates, seed)
    by_kappa = book.sweep(base, {"situational_awareness": levels, "prior_benevolent": [0.0, 0.5],
                                 "control_likelihood_ratio": kappas}, replicates, seed)
    share_p = nb.rebel_share(by_prior, by=["prior_benevolent"])
    share_k = nb.rebel_share(by_kappa, by=["prior_benevolent", "control_likelihood_ratio"])
    fits_p = book.thresholds(by_prior, swept=["prior_benevolent", "situational_awareness"])
    fits_k = book.thresholds(by_kappa, swept=["prior_benevolent", "control_likelihood_ratio", "situational_awareness"])
    q_r = nb.measured_cited_rate(by_prior)
    p_benevolent_high = (by_prior[np.isclose(by_prior["situational_awareness"], 1.0)]
                         .groupby("prior_benevolent")[["p_deceptive", "p_benevolent"]].mean())

    # the threshold at this corpus size (the mean field's P(rebel) = 1/2) against kappa
    # (kappa - 1 on a log scale: the mistrust evidence per document is s r c log kappa ~ s r c (kappa - 1))
    kappa_fine = 1.0 + np.geomspace(1e-4, 2.0, book.size(29, 7))

    def crossing(params) -> float:
        roots = meanfield_crossings(params, real_cited_rate=q_r, grid=book.size(101, 26))
        return float(roots[0]) if roots.size else np.nan

    s_n = {b: np.array([crossing(base.replace(prior_benevolent=b, control_likelihood_ratio=k)) for k in kappa_fine])
           for b in PRIORS_C}
    # the smallest kappa that gives a threshold at all, per prior, on the fine grid
    first_kappa = {b: (float(kappa_fine[np.isfinite(v)][0]) if np.isfinite(v).any() else np.nan)
                   for b, v in s_n.items()}
    # ... and from which kappa it stays within 0.01 of the two-hypothesis learner's
    def caught_up_from(values) -> float:
        apart = np.flatnonzero(~(np.abs(values - s_n[0.0]) <= 0.01))  # NaN (no threshold) counts as apart
        if apart.size == 0:
            return float(kappa_fine[0])
        return float(kappa_fine[apart[-1] + 1]) if apart[-1] + 1 < kappa_fine.size else np.nan

    caught_up = {b: caught_up_from(v) for b, v in s_n.items()}

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(12.5, 3.7, ncols=3)
    ax_p, ax_k, ax_c = axes[0]
    s_grid = np.linspace(0.0, 1.0, 141)
    colours_p = dict(zip(PRIORS, nb.palette(len(PRIORS), "viridis")))
    for b in PRIORS:
        t = share_p[np.isclose(share_p["prior_benevolent"], b)]
        ax_p.plot(s_grid, meanfield.p_rebel(base.replace(prior_benevolent=b), s_grid, real_cited_rate=q_r),
                  color=colours_p[b], lw=1.0, ls="--")
        ax_p.plot(t["situational_awareness"], t["p_rebel"], "o", ms=3, color=colours_p[b], label=f"{b:g}")
    ax_p.set_title("Control discourse uninformative (κ = 1): a benevolent\nprior above the deceptive one (π₀) removes the rebels",
                   fontsize=9)
    ax_p.legend(fontsize=7, loc="upper left", title="prior P(makers benevolent) (π_B)\n(dots: simulated,\n"
                "dashed: mean field)", title_fontsize=7)
    colours_k = dict(zip(kappas, nb.palette(len(kappas), "magma")))
    half = base.replace(prior_benevolent=0.5)
    for k in kappas:
        t = share_k[np.isclose(share_k["prior_benevolent"], 0.5) & np.isclose(share_k["control_likelihood_ratio"], k)]
        ax_k.plot(s_grid, meanfield.p_rebel(half.replace(control_likelihood_ratio=k), s_grid, real_cited_rate=q_r),
                  color=colours_k[k], lw=1.0, ls="--")
        ax_k.plot(t["situational_awareness"], t["p_rebel"], "o", ms=3, color=colours_k[k], label=f"{k:g}")
    ax_k.set_title("Prior P(makers benevolent) 0.5: a little\ninformative control discourse brings them back",
                   fontsize=9)
    ax_k.legend(fontsize=7, loc="upper left", title=labels["control_likelihood_ratio"].replace(" (κ)", "\n(κ)"),
                title_fontsize=7)
    for ax in (ax_p, ax_k):
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(nb.AWARENESS_LABEL)
    ax_p.set_ylabel("P(rebel) after training")

    colours_c = dict(zip(PRIORS_C, nb.palette(len(PRIORS_C), "viridis")))
    for b in PRIORS_C:
        ax_c.plot(kappa_fine - 1.0, s_n[b], color=colours_c[b], lw=1.5, label=f"{b:g}")
        f = fits_k[np.isclose(fits_k["prior_benevolent"], b)]
        f = f[np.isfinite(f["s_star"].to_numpy(float))]
        if len(f):
            ax_c.errorbar(f["control_likelihood_ratio"] - 1.0, f["s_star"],
                          yerr=np.abs(np.vstack([f["s_star"] - f["s_star_low"], f["s_star_high"] - f["s_star"]])),
                          fmt="D", ms=4, color=colours_c[b], mec="white", capsize=2, lw=1.0)
    ax_c.set_xscale("log")
    ax_c.set_ylim(-0.02, 1.02)
    ax_c.set_xlabel("control discourse's likelihood ratio minus one (κ − 1)")
    ax_c.set_ylabel("threshold awareness")
    ax_c.set_title(f"Threshold at {n_documents:,} documents: mean field\n(lines) and fitted (s*, ◆, at π_B 0 "
                   "and 0.5)", fontsize=9)
    ax_c.legend(fontsize=7, loc="lower left", title="prior P(makers benevolent) (π_B)", title_fontsize=7)
    book.save(fig, "benevolent_makers.png")

    # -- the answer --------------------------------------------------------------------
    def fit_text(fits, **where) -> str:
        row = fits
        for name, value in where.items():
            row = row[np.isclose(row[name], value)]
        return nb.fmt_interval(row.iloc[0]) if len(row) else "none"

    per_prior = "; ".join(
        f"pi_B = {b:g}: s* = {fit_text(fits_p, prior_benevolent=b)}, highest simulated P(rebel) "
        f"{share_p[np.isclose(share_p['prior_benevolent'], b)]['p_rebel'].max():.2f}, at awareness 1 P(D) "
        f"{p_benevolent_high.loc[b, 'p_deceptive']:.3f} and P(B) {p_benevolent_high.loc[b, 'p_benevolent']:.3f}"
        for b in PRIORS)
    per_kappa = "; ".join(
        f"kappa = {k:g}: {fit_text(fits_k, prior_benevolent=0.5, control_likelihood_ratio=k)} against "
        f"{fit_text(fits_k, prior_benevolent=0.0, control_likelihood_ratio=k)} without"
        for k in kappas)
    mean_field_text = "; ".join(
        f"pi_B = {b:g}: " + ("none up to kappa 3" if np.isnan(first_kappa[b]) else
                             f"from kappa - 1 = {first_kappa[b] - 1:.2g} (s* = {s_n[b][np.isfinite(s_n[b])][0]:.3f} "
                             f"there), within 0.01 of pi_B = 0 from kappa - 1 = {caught_up[b] - 1:.2g}, "
                             f"{s_n[b][-1]:.3f} at kappa 3")
        for b in PRIORS_C)
    removed = [b for b in PRIORS if share_p[np.isclose(share_p["prior_benevolent"], b)]["p_rebel"].max() == 0]
    book.answer(
        f"With uninformative control discourse, a benevolent prior above the deceptive one removes the threshold; "
        f"below it, it barely moves it. Over {replicates} corpora of {n_documents:,} documents per point: "
        f"{per_prior}. No rebel at any awareness for pi_B = {', '.join(f'{b:g}' for b in removed) or 'none'}: "
        f"planting caught rules candid makers out, but deceptive and benevolent ones predict every document alike, "
        f"so P(D) tends to pi_0 / (pi_0 + pi_B), below 1/2 when pi_B > pi_0 = {base.prior_deceptive:g}. Control "
        f"discourse brings the threshold back as soon as it speaks at all: at pi_B = 0.5 the fitted thresholds are "
        f"{per_kappa}. The mean field at this corpus size (P(rebel) = 1/2; q_r = {q_r:.3f}): {mean_field_text}. "
        f"In a large corpus the mistrust evidence grows like N, so any kappa > 1 restores the two-hypothesis "
        f"threshold s*_inf (docs/model.md §3.2); a benevolent prior delays it, by the documents needed to outweigh "
        f"log(pi_B / pi_0). The backfire survives benevolent makers exactly as far as the learner finds real signs "
        f"of mistrust."
    )
    return book.finish()


if __name__ == "__main__":
    main()
