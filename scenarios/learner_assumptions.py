"""How do the learner's assumptions about its makers (their planting rates, its prior) move the rebel threshold?

The learner weighs two hypotheses: candid makers plant undisclosed documents at rate
epsilon (candid_plant_rate, default 0.01), deceptive makers at rate pi_D
(deceptive_plant_rate, 0.30), with prior P(deceptive) = pi_0 (prior_deceptive, 0.05).
The corpus itself is the reference one (15% planted). A fully aware learner turns
rebel when the planting it sees fits pi_D better than epsilon; a partly aware one sees
less of it.

The run: the mean field's large-corpus threshold s*_inf over a grid of pi_D for
several epsilon, and the threshold at a finite corpus against pi_0 (the prior only
shifts the finite-corpus threshold); then a small simulated check at a few points of
each. The figure: the two mean-field panels with the fitted thresholds on top. The
answer: how the threshold moves with each assumption, and where it disappears.

    .venv/bin/python scenarios/learner_assumptions.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240617


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np
    from scipy.optimize import brentq

    from analysis.thresholds import meanfield_crossings
    from sim import PARAMETERS, Params, meanfield

    labels = {p.name: p.axis_label() for p in PARAMETERS}  # "planting rate of candid makers (ε)"

    n_documents = book.size(10_000, 2_000)
    replicates = book.size(20, 4)
    base = Params(n_documents=n_documents)

    def s_inf(params) -> float:
        roots = meanfield.thresholds(params, grid=100)
        return float(roots[0]) if roots.size else np.nan

    # -- the mean field over a grid ---------------------------------------------------
    epsilons = book.size([0.001, 0.01, 0.03, 0.05], [0.001, 0.01])
    pi_d = np.linspace(0.06, 0.6, book.size(28, 6))  # above every epsilon: "deceptive" plants more
    curves = {e: np.array([s_inf(base.replace(candid_plant_rate=e, deceptive_plant_rate=p)) for p in pi_d])
              for e in epsilons}

    def pi_d_edge_for(e: float) -> float:
        """The largest pi_D with a threshold, where mu(1) = 0 (the threshold reaches s = 1)."""
        def mu1(p):
            return float(meanfield.moments(base.replace(candid_plant_rate=e, deceptive_plant_rate=p), 1.0)[0])
        lo = base.planted_fraction  # pi_D equal to the true share: D fits the corpus exactly, mu(1) > 0
        return brentq(mu1, lo, 0.99) if mu1(lo) * mu1(0.99) < 0 else np.nan

    edges = {e: pi_d_edge_for(e) for e in epsilons}
    pi_d_edge = edges.get(base.candid_plant_rate, pi_d_edge_for(base.candid_plant_rate))
    eps_edge = brentq(lambda e: float(meanfield.moments(base.replace(candid_plant_rate=e), 1.0)[0]), 0.01, 0.29)
    priors = np.geomspace(0.001, 0.3, book.size(15, 4))
    sizes = book.size([1_000, 10_000], [1_000, 2_000])
    prior_curves = {n: np.array([meanfield_crossings(base.replace(prior_deceptive=p0, n_documents=n), grid=101)[0]
                                 for p0 in priors]) for n in sizes}

    # -- a small simulated check ------------------------------------------------------
    awareness = book.size("0.2:1:41", "0.2:1:9")
    checks = {
        "deceptive_plant_rate": book.size([0.1, 0.2, 0.3, 0.4], [0.1, 0.3]),
        "candid_plant_rate": book.size([0.001, 0.03], [0.03]),
        "prior_deceptive": book.size([0.005, 0.3], [0.3]),
    }
    book.note(f"Run: mean field over pi_D = {pi_d[0]:.2f}..{pi_d[-1]:.2f} ({pi_d.size} points) x epsilon = "
              f"{epsilons} and pi_0 = {priors[0]:g}..{priors[-1]:g}; simulated check {checks}, awareness "
              f"{awareness}, {replicates} corpora of {n_documents:,} (seed {seed}).")
    fits = {}
    for name, values in checks.items():
        results = book.sweep(base, {"situational_awareness": awareness, name: values}, replicates, seed)
        fits[name] = book.thresholds(results, swept=[name, "situational_awareness"])

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(10.0, 3.7, ncols=2)
    ax_d, ax_p = axes[0]
    colours = dict(zip(epsilons, nb.palette(len(epsilons), "viridis")))
    for e, curve in curves.items():
        x, y = pi_d, curve
        if np.isfinite(edges[e]):  # the curve ends where the threshold reaches s = 1
            keep = x < edges[e]
            x, y = np.append(x[keep], edges[e]), np.append(y[keep], 1.0)
        ax_d.plot(x, y, color=colours[e], lw=1.6, label=f"{e:g}, mean field")
    f = fits["deceptive_plant_rate"]
    ax_d.errorbar(f["deceptive_plant_rate"], f["s_star"],
                  yerr=np.abs(np.vstack([f["s_star"] - f["s_star_low"], f["s_star_high"] - f["s_star"]])),
                  fmt="D", ms=4.5, color="#c0392b", capsize=2, lw=1.0,
                  label=f"{base.candid_plant_rate:g}, fitted (s*)")
    for i, (_, row) in enumerate(fits["candid_plant_rate"].iterrows()):
        e = row["candid_plant_rate"]
        ax_d.errorbar([base.deceptive_plant_rate], [row["s_star"]],
                      yerr=[[abs(row["s_star"] - row["s_star_low"])], [abs(row["s_star_high"] - row["s_star"])]],
                      fmt="s", ms=4.5, color=colours.get(e, "#e67e22"), mec="0.1", capsize=2, lw=1.0,
                      label="other rates, fitted (s*)" if i == 0 else None)
    ax_d.axvline(base.planted_fraction, color="0.5", lw=0.8, ls=":")
    ax_d.annotate("true planted\nshare 0.15", (base.planted_fraction, 0.05), xytext=(3, 0), textcoords="offset points",
                  fontsize=7, color="0.35")
    ax_d.set_ylim(0, 1.02)
    ax_d.set_xlabel(f"{labels['deceptive_plant_rate']}, as the learner believes it")
    ax_d.set_ylabel("large-corpus threshold (s*∞)")
    ax_d.set_title("Mean field: no threshold right of a line's end", fontsize=9)
    ax_d.legend(fontsize=7, loc="lower right", title=labels["candid_plant_rate"], title_fontsize=7)

    pal = nb.palette(len(sizes) + 1, "rocket")
    for (n, curve), colour in zip(prior_curves.items(), pal):
        ax_p.plot(priors, curve, color=colour, lw=1.6, label=f"mean field at {n:,} documents")
    ax_p.axhline(s_inf(base), color="0.3", lw=1.0, ls="--",
                 label=f"large-corpus threshold (s*∞) = {s_inf(base):.3f}")
    f = fits["prior_deceptive"]
    ax_p.errorbar(f["prior_deceptive"], f["s_star"],
                  yerr=np.abs(np.vstack([f["s_star"] - f["s_star_low"], f["s_star_high"] - f["s_star"]])),
                  fmt="D", ms=4.5, color="#c0392b", capsize=2, lw=1.0,
                  label=f"fitted (s*) at {n_documents:,} documents")
    ax_p.set_xscale("log")
    ax_p.set_xlabel(f"the learner's {labels['prior_deceptive']}")
    ax_p.set_ylabel("threshold awareness")
    ax_p.set_title("The prior only shifts a finite corpus's threshold", fontsize=9)
    ax_p.legend(fontsize=7, loc="upper right")
    book.save(fig, "learner_assumptions.png")

    # -- the answer --------------------------------------------------------------------
    checked = [(name, row) for name, table in fits.items() for _, row in table.iterrows()]
    gaps = [abs(row["s_star"] - row["s_star_meanfield_n"]) for _, row in checked]
    inside = sum(row["s_star_low"] <= row["s_star_meanfield_n"] <= row["s_star_high"] for _, row in checked)
    default = s_inf(base)
    lowest = float(np.nanmin(curves[base.candid_plant_rate]))
    lowest_at = float(pi_d[int(np.nanargmin(curves[base.candid_plant_rate]))])
    prior_shift = {n: float(c[0] - c[-1]) for n, c in prior_curves.items()}
    rate_span = float(np.nanmax(curves[base.candid_plant_rate]) - lowest)
    opening = ("Through the planting rates pi_D and epsilon, hardly through the prior."
               if rate_span > 5 * max(abs(v) for v in prior_shift.values())
               else "Through the planting rates and the prior alike.")
    by_epsilon = np.array([s_inf(base.replace(candid_plant_rate=e)) for e in epsilons])
    rises = bool(np.all(np.diff(by_epsilon[np.isfinite(by_epsilon)]) > 0))
    book.answer(
        f"{opening} With epsilon = {base.candid_plant_rate:g}, a learner that expects deceptive makers to plant "
        f"modestly turns rebel earliest (mean field s*_inf {lowest:.3f} at pi_D = {lowest_at:.2f}, the lowest on "
        f"the grid; {default:.3f} at the default {base.deceptive_plant_rate:g}), and one that expects heavy "
        f"planting never does: above pi_D = {pi_d_edge:.3f} the {base.planted_fraction:.0%} it sees fits candid "
        f"makers better even at s = 1. A larger candid rate epsilon {'raises' if rises else 'moves'} the "
        f"threshold (s*_inf " + ", ".join(f"{v:.3f}" for v in by_epsilon) + " at epsilon = "
        + ", ".join(f"{e:g}" for e in epsilons) + f") and removes it at epsilon = {eps_edge:.3f}. From pi_0 = "
        f"{priors[0]:g} to {priors[-1]:g} the finite-corpus threshold moves by "
        + ", ".join(f"{prior_shift[n]:.3f} at N = {n:,}" for n in sizes)
        + f", and s*_inf not at all. Simulated check at {len(checked)} points ({replicates} corpora of "
        f"{n_documents:,} each): fitted s* within {max(gaps):.3f} of the mean field, which lies inside "
        f"{inside} of the {len(checked)} bootstrap intervals."
    )
    return book.finish()


if __name__ == "__main__":
    main()
