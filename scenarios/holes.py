"""Can filtering alone, with nothing planted, make an aware learner a rebel, and how do filtering and planting combine?

Labs filter: they remove real text (about AI misbehaviour, say) before training. The
remaining documents still cite what was removed, so an aware reader meets references
whose targets are missing (docs/model.md §5.7). The lab here removes a share phi of
the real documents, those showing AI behaving badly first. Whether the holes say
anything about the makers depends on what the learner hypothesises: that candid
makers filter a little (quality filtering, f_C = 0.02) and deceptive makers as much
(the default: holes tell it nothing), or ten times more (f_D = 0.2, "plant and
filter"), or that half of the deceptive makers filter without planting at all.

The run: nothing planted, phi in {0.05, 0.1, 0.2, 0.4}, awareness 0 to 1, under the
three hypotheses; then a phase diagram over the planted and filtered shares at high
awareness (0.9), for the learner that does not read holes and for one that expects
deceptive makers to filter; then the constitution (10% disclosed, nothing planted,
nothing filtered) under every hypothesis; then today's awareness (0.4) with the
reference planting. The figure: P(rebel) against awareness for filtering alone under
two hypotheses (simulated dots, mean field dashed where one exists), the phase
diagram, and what filtering does at awareness 0.4. The answer gives the numbers.

    .venv/bin/python scenarios/holes.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20261230
PHIS = (0.05, 0.1, 0.2, 0.4)
#: The learner's hypotheses about filtering (docs/model.md §5.7).
HYPOTHESES = {
    "holes not read": dict(),
    "deceptive makers plant and filter": dict(deceptive_filter_rate=0.2),
    "half of them filter only": dict(deceptive_filter_rate=0.2, deceptive_filters_only=0.5),
}
TODAY = 0.4


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np
    import pandas as pd

    from sim import Params, meanfield

    n_documents = book.size(10_000, 2_000)
    replicates = book.size(20, 4)
    levels = book.size("0:1:21", "0:1:6")
    base = Params(n_documents=n_documents)
    clean = base.replace(planted_fraction=0.0)
    names = list(HYPOTHESES)
    book.note(f"Run: {replicates} corpora of {n_documents:,} documents per point (seed {seed}); nothing planted with "
              f"filtered shares {', '.join(f'{p:g}' for p in PHIS)} at awareness {levels}, under the hypotheses "
              f"{'; '.join(names)}; a phase diagram at awareness 0.9; the constitution; awareness {TODAY:g}.")

    # -- filtering alone --------------------------------------------------------------
    alone = pd.concat([book.sweep(clean.replace(**HYPOTHESES[name]), {"situational_awareness": levels,
                                                                       "filtered_fraction": list(PHIS)},
                                  replicates, seed).assign(hypothesis=name) for name in names], ignore_index=True)
    share_alone = nb.rebel_share(alone, by=["hypothesis", "filtered_fraction"])
    fits_alone = book.thresholds(alone, swept=["hypothesis", "filtered_fraction", "situational_awareness"])

    # -- the phase diagram at high awareness --------------------------------------------
    rhos = book.size([0.0, 0.05, 0.1, 0.15, 0.2, 0.3], [0.0, 0.15, 0.3])
    phis = book.size([0.0, 0.05, 0.1, 0.2, 0.3, 0.4], [0.0, 0.2, 0.4])
    phase_names = names[:2]
    phase = pd.concat([book.sweep(base.replace(**HYPOTHESES[name]), {"situational_awareness": [0.9],
                                                                      "planted_fraction": rhos,
                                                                      "filtered_fraction": phis},
                                  replicates, seed).assign(hypothesis=name) for name in phase_names],
                      ignore_index=True)
    phase_share = (phase.assign(rebel=(phase["persona"] == "rebel").astype(float))
                   .groupby(["hypothesis", "planted_fraction", "filtered_fraction"])["rebel"].mean())

    # -- the constitution under every hypothesis ---------------------------------------------
    constitution = base.replace(planted_fraction=0.0, disclosed_fraction=0.1)
    constitution_runs = pd.concat([book.sweep(constitution.replace(**HYPOTHESES[name]), {"situational_awareness": levels},
                                              replicates, seed).assign(hypothesis=name) for name in names],
                                  ignore_index=True)
    constitution_max = nb.rebel_share(constitution_runs, by=["hypothesis"]).groupby("hypothesis")["p_rebel"].max()

    # -- today's awareness, the reference planting ---------------------------------------------
    today_phis = book.size([0.0, 0.05, 0.1, 0.2, 0.3, 0.4], [0.0, 0.2, 0.4])
    today = pd.concat([book.sweep(base.replace(**HYPOTHESES[name]), {"situational_awareness": [TODAY],
                                                                      "filtered_fraction": today_phis},
                                  replicates, seed).assign(hypothesis=name) for name in names], ignore_index=True)
    today_table = (today.assign(rebel=(today["persona"] == "rebel").astype(float))
                   .groupby(["hypothesis", "filtered_fraction"])
                   .agg(p_rebel=("rebel", "mean"), uplift=("uplift", "mean")).reset_index())

    # -- the figure --------------------------------------------------------------------------
    fig, axes = nb.new_figure(11.5, 8.0, ncols=2, nrows=2)
    (ax_a, ax_b), (ax_p, ax_t) = axes
    colours = dict(zip(PHIS, nb.palette(len(PHIS), "magma")))
    s_grid = np.linspace(0.0, 1.0, 101)
    q_r = nb.measured_cited_rate(alone)
    for ax, name in ((ax_a, names[1]), (ax_b, names[2])):
        for phi in PHIS:
            t = share_alone[(share_alone["hypothesis"] == name) & np.isclose(share_alone["filtered_fraction"], phi)]
            params = clean.replace(filtered_fraction=phi, **HYPOTHESES[name])
            if meanfield.has_mean_field(params):
                ax.plot(s_grid, meanfield.p_rebel(params, s_grid, real_cited_rate=q_r), color=colours[phi], lw=1.0,
                        ls="--")
            ax.plot(t["situational_awareness"], t["p_rebel"], "o-" if not meanfield.has_mean_field(params) else "o",
                    ms=3, lw=0.8, color=colours[phi], label=f"{phi:g}")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(nb.AWARENESS_LABEL)
        ax.legend(fontsize=7, loc="upper left", title="filtered share (φ)", title_fontsize=7)
    ax_a.set_ylabel("P(rebel) after training, nothing planted")
    ax_a.set_title("Filtering alone, deceptive makers hypothesised to plant\nand filter "
                   "(dots: simulated, dashed: mean field)", fontsize=9)
    ax_b.set_title("Filtering alone, half the deceptive makers hypothesised\nto filter without planting "
                   "(simulated; no mean field)", fontsize=9)

    grid = phase_share.loc[names[1]].unstack("filtered_fraction").reindex(index=rhos, columns=phis)
    image = ax_p.imshow(grid.to_numpy(), origin="lower", cmap="magma", vmin=0, vmax=1, aspect="auto",
                        extent=(-0.5, len(phis) - 0.5, -0.5, len(rhos) - 0.5))
    plain = phase_share.loc[names[0]].unstack("filtered_fraction").reindex(index=rhos, columns=phis)
    for i in range(len(rhos)):
        for j in range(len(phis)):
            ax_p.text(j, i, f"{grid.iat[i, j]:.2f}\n({plain.iat[i, j]:.2f})", ha="center", va="center", fontsize=6,
                      color="white" if grid.iat[i, j] < 0.6 else "black")
    ax_p.grid(False)
    ax_p.set_xticks(range(len(phis)), [f"{p:g}" for p in phis])
    ax_p.set_yticks(range(len(rhos)), [f"{r:g}" for r in rhos])
    ax_p.set_xlabel("filtered share of real documents (φ)")
    ax_p.set_ylabel("planted share (ρ)")
    ax_p.set_title("P(rebel) at awareness 0.9, deceptive makers hypothesised\nto plant and filter "
                   "(in brackets: a learner that does not read holes)", fontsize=9)
    fig.colorbar(image, ax=ax_p, label="P(rebel) after training")

    ax_u = ax_t.twinx()
    for name, colour in zip(names, ("0.45", "#c0392b", "#2c7fb8")):
        t = today_table[today_table["hypothesis"] == name]
        ax_t.plot(t["filtered_fraction"], t["p_rebel"], "o-", color=colour, ms=3.5, lw=1.4, label=name)
        ax_u.plot(t["filtered_fraction"], t["uplift"], "s:", color=colour, ms=3, lw=1.0)
    ax_t.set_ylim(-0.03, 1.03)
    ax_t.set_xlabel("filtered share of real documents (φ)")
    ax_t.set_ylabel("P(rebel) after training (solid)")
    ax_u.set_ylabel("alignment uplift (dotted)")
    ax_t.set_title(f"Today's awareness ({TODAY:g}), 15% planted: what filtering does", fontsize=9)
    ax_t.legend(fontsize=7, loc="upper left", title="the learner's hypothesis", title_fontsize=7)
    book.save(fig, "holes.png")

    # -- the answer --------------------------------------------------------------------------------
    def first_rebel(name, phi) -> str:
        t = share_alone[(share_alone["hypothesis"] == name) & np.isclose(share_alone["filtered_fraction"], phi)]
        hit = t[t["p_rebel"] > 0.5]
        return "none" if hit.empty else f"{hit['situational_awareness'].min():.2f}"

    def fit(name, phi) -> str:
        row = fits_alone[(fits_alone["hypothesis"] == name) & np.isclose(fits_alone["filtered_fraction"], phi)]
        return nb.fmt_interval(row.iloc[0]) if len(row) else "none"

    alone_text = "; ".join(
        f"{name}: " + ", ".join(f"phi = {phi:g} -> s* = {fit(name, phi)}" for phi in PHIS) for name in names)
    any_alone = {name: float(share_alone[share_alone["hypothesis"] == name]["p_rebel"].max()) for name in names}
    f_c, f_d = 0.02, 0.2
    l1, l0 = np.log(f_d / f_c), np.log((1 - f_d) / (1 - f_c))
    balance = -l0 / (l1 - l0)  # where a reference's expected hole evidence changes sign

    def phase_text(name) -> str:
        table = phase_share.loc[name]
        rebel_phi = [phi for phi in phis if table.loc[(0.0, phi)] > 0.5]
        rebel_rho = [rho for rho in rhos if table.loc[(rho, 0.0)] > 0.5]
        return (f"nothing planted, rebel from phi = {min(rebel_phi):g}" if rebel_phi else
                "nothing planted, no rebel at any phi") + \
            (f"; nothing filtered, rebel from rho = {min(rebel_rho):g}" if rebel_rho else
             "; nothing filtered, no rebel at any rho")

    def s_star(name, phi) -> float:
        row = fits_alone[(fits_alone["hypothesis"] == name) & np.isclose(fits_alone["filtered_fraction"], phi)]
        return float(row["s_star"].iloc[0]) if len(row) else np.nan

    pairs = [(s_star(names[2], phi), s_star(names[1], phi)) for phi in PHIS]
    both = [(a, b) for a, b in pairs if np.isfinite(a) and np.isfinite(b)]
    if not both:
        order = "the two hypotheses give no threshold to compare"
    elif all(a < b - 0.01 for a, b in both):
        order = "where half the deceptive makers are thought to filter without planting, rebels come at lower awareness"
    elif all(abs(a - b) <= 0.01 for a, b in both):
        order = "where both hypotheses give a threshold it is the same within 0.01"
    else:
        order = "thinking that some deceptive makers filter only moves the threshold both ways (" + ", ".join(
            f"{a:.3f} against {b:.3f}" for a, b in both) + ")"
    only = [phi for phi, (a, b) in zip(PHIS, pairs) if np.isfinite(a) != np.isfinite(b)]
    if only:
        order += "; at phi = " + ", ".join(
            f"{phi:g} only the {'filter-only' if np.isfinite(a) else 'plant-and-filter'} hypothesis makes rebels"
            for phi, (a, b) in zip(PHIS, pairs) if phi in only)
    table = phase_share.loc[names[1]].unstack("filtered_fraction").reindex(index=rhos, columns=phis).to_numpy()
    monotone = bool((np.diff(table, axis=0) >= -1e-12).all() and (np.diff(table, axis=1) >= -1e-12).all())
    combine = ("P(rebel) never falls as either share grows: filtering and planting add up" if monotone else
               "P(rebel) does not always rise with both shares (see the figure's cells)")
    unfiltered = phase_share.loc[names[1]].xs(0.0, level="filtered_fraction")
    unfiltered_plain = phase_share.loc[names[0]].xs(0.0, level="filtered_fraction")
    if unfiltered.max() <= 0.5 < unfiltered_plain.max():
        combine += (f". A learner that expects deceptive makers to filter reads an unfiltered corpus, every "
                    f"reference there, as evidence for candid makers: with nothing filtered it is no rebel even at "
                    f"rho = {max(rhos):g} (P(rebel) {unfiltered.loc[max(rhos)]:.2f}, against "
                    f"{unfiltered_plain.loc[max(rhos)]:.2f} for the learner that does not read holes)")
        below = [phi for phi in phis if 0 < phi < balance]
        if below:
            phi = max(below)
            cells = ", ".join(f"rho = {rho:g}: {phase_share.loc[(names[1], rho, phi)]:.2f} against "
                              f"{phase_share.loc[(names[0], rho, phi)]:.2f}" for rho in rhos if rho > 0)
            combine += f"; filtering below the balance point (phi = {phi:g}) still reads so ({cells})"
    today_text = "; ".join(
        f"{name}: P(rebel) " + ", ".join(f"{row.p_rebel:.2f}" for row in t.itertuples())
        + f", uplift {t['uplift'].iloc[0]:+.4f} -> {t['uplift'].iloc[-1]:+.4f}"
        for name, t in ((n, today_table[today_table["hypothesis"] == n]) for n in names))
    book.answer(
        f"{'Yes' if max(any_alone[n] for n in names[1:]) > 0.5 else 'No'}, if the learner expects deceptive makers "
        f"to filter more than candid ones; never otherwise. Nothing planted, {replicates} corpora of "
        f"{n_documents:,} per point, the fitted thresholds: {alone_text}. The learner that does not read holes "
        f"ends rebel at no awareness (highest P(rebel) {any_alone[names[0]]:.2f}). With f_C = {f_c:g} and "
        f"f_D = {f_d:g} a reference's expected evidence turns towards deceptive makers once more than "
        f"{balance:.3f} of references dangle, so from about phi = {balance:.2f} filtering alone makes aware "
        f"learners rebels; {order}. At "
        f"awareness 0.9 over planted shares {', '.join(f'{r:g}' for r in rhos)} and filtered shares "
        f"{', '.join(f'{p:g}' for p in phis)}: {phase_names[0]}: {phase_text(phase_names[0])}; {phase_names[1]}: "
        f"{phase_text(phase_names[1])}; {combine}. The constitution (10% disclosed, "
        f"nothing planted or filtered) stays free of rebels under every hypothesis (highest P(rebel) "
        + ", ".join(f"{constitution_max[n]:.2f}" for n in names)
        + f"): with nothing removed every reference is there, evidence for candid makers. At today's awareness "
        f"({TODAY:g}, 15% planted), over filtered shares {', '.join(f'{p:g}' for p in today_phis)}: {today_text}: "
        "filtering buys uplift (fewer depictions of misbehaviour), and a learner that reads holes turns rebel at "
        "today's awareness already once enough is filtered."
    )
    return book.finish()


if __name__ == "__main__":
    main()
