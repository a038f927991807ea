"""Figures of docs/model.md: the mean increment, the sharpening transition, a run.

Question: where does planting turn from evidence for candid makers into evidence
for deceptive ones, how sharp is that turn for a finite corpus, and what does a
single training run look like on the way?

Run it from anywhere (about 20 s on one core):

    python docs/make_figures.py

It writes three PNG files into docs/figures/. Every random number comes from the
seeds fixed below: the simulated points use one root SeedSequence, with a child per
(corpus size, replicate), and all awareness levels of a replicate read the same
corpus (common random numbers), so rerunning the script redraws the same figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT_SEED = 20240601  # root of the replicate seeds of figure (b)
TRAJECTORY_SEED = 1  # seed of the example run of figure (c)
REPLICATES = 200  # corpora per corpus size in figure (b)
OUT = Path(__file__).resolve().parent / "figures"


def figure_increment(out: Path) -> None:
    """(a) mu(s) and sigma(s) for planted shares 0, 0.1, 0.15, 0.25 (q_r = 0.6)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from sim import Params
    from sim import meanfield as mf

    s = np.linspace(0.0, 1.0, 201)
    shares = (0.0, 0.10, 0.15, 0.25)
    colours = sns.color_palette("viridis", len(shares))
    fig, (ax_mu, ax_sd) = plt.subplots(1, 2, figsize=(7.6, 3.1), constrained_layout=True)
    for rho, colour in zip(shares, colours):
        p = Params(planted_fraction=rho)
        mu, var = mf.moments(p, s, real_cited_rate=0.6)
        ax_mu.plot(s, mu, color=colour, label=f"ρ = {rho:g}")
        ax_sd.plot(s, np.sqrt(var), color=colour, label=f"ρ = {rho:g}")
        for root in mf.thresholds(p, real_cited_rate=0.6):
            ax_mu.plot([root], [0.0], "o", color=colour, ms=5)
            ax_mu.annotate(f"{root:.3f}", (root, 0.0), xytext=(-4, 9), textcoords="offset points",
                           ha="right", fontsize=8, color=colour)
    ax_mu.axhline(0.0, color="0.3", lw=0.8)
    ax_mu.set_ylim(-0.25, 0.35)
    ax_mu.set_xlabel("situational awareness s")
    ax_mu.set_ylabel("mean increment μ(s)")
    ax_mu.set_title("Drift of the log-odds per document (dots: s*∞)", fontsize=9)
    ax_mu.legend(fontsize=8, loc="upper left")
    ax_sd.set_xlabel("situational awareness s")
    ax_sd.set_ylabel("standard deviation σ(s)")
    ax_sd.set_title("Noise of one document's evidence", fontsize=9)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def figure_sharpening(out: Path) -> None:
    """(b) mean-field P(rebel) for N = 1e3, 1e4, 1e5, with simulated points."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from sim import Params
    from sim import meanfield as mf
    from sim.corpus import build_corpus
    from sim.engine import run_family

    sizes = (1_000, 10_000, 100_000)
    colours = dict(zip(sizes, sns.color_palette("rocket", len(sizes) + 1)[1:]))
    simulated_levels = {1_000: np.linspace(0.40, 0.96, 15), 10_000: np.linspace(0.52, 0.80, 15)}
    s = np.linspace(0.3, 1.0, 701)

    fig, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
    for j, n in enumerate(sizes):
        p = Params(n_documents=n)
        q_used = None  # the construction's expected q_r
        if n in simulated_levels:
            levels = simulated_levels[n]
            rebel = np.zeros((REPLICATES, levels.size), dtype=bool)
            measured = np.empty(REPLICATES)
            for rep in range(REPLICATES):
                seed = np.random.SeedSequence(ROOT_SEED, spawn_key=(j, rep))
                corpus = build_corpus(p, seed)
                run = run_family(corpus, p, levels, record=False)
                rebel[rep] = run.final_log_odds() >= 0.0
                measured[rep] = corpus.learner_real_cited_rate(p)
            q_used = float(measured.mean())  # the mean-field curve at the measured q_r
            share = rebel.mean(axis=0)
            err = np.sqrt(share * (1 - share) / REPLICATES)  # binomial standard error
            ax.errorbar(levels, share, yerr=err, fmt="o", ms=4, color=colours[n], capsize=2,
                        label=f"simulated, N = {n:,} ({REPLICATES} corpora)")
        curve = mf.p_rebel(p, s, real_cited_rate=q_used)
        ax.plot(s, curve, color=colours[n], lw=1.6, label=f"mean field, N = {n:,}")
    s_star = float(mf.thresholds(Params())[0])
    ax.axvline(s_star, color="0.3", ls="--", lw=0.9)
    ax.annotate(f"s*∞ = {s_star:.3f}", (s_star, 0.9), xytext=(-6, 0), textcoords="offset points",
                ha="right", fontsize=8, color="0.25")
    ax.set_xlabel("situational awareness s")
    ax.set_ylabel("P(rebel) at the end of training")
    ax.set_title("Defaults (ρ = 0.15): the transition sharpens with corpus size", fontsize=9)
    ax.legend(fontsize=7.5, loc="lower right")
    ax.set_xlim(0.3, 1.0)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def figure_trajectory(out: Path) -> None:
    """(c) P(deceptive) and uplift against documents read, one run, four learners."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from sim import Params, simulate

    result = simulate(Params(), awareness=[0.3, 0.6, 0.65, 0.9], seed=TRAJECTORY_SEED)
    traj = result.trajectory
    levels = sorted(traj["final_awareness"].unique())
    colours = dict(zip(levels, sns.color_palette("colorblind", len(levels))))
    fig, (ax_p, ax_u) = plt.subplots(1, 2, figsize=(7.6, 3.1), constrained_layout=True)
    for s_value, rows in traj.groupby("final_awareness"):
        label = f"s = {s_value:g}"
        ax_p.plot(rows["documents_read"], rows["p_deceptive"], color=colours[s_value], label=label)
        ax_u.plot(rows["documents_read"], rows["uplift"], color=colours[s_value], label=label)
    for _, row in result.final.iterrows():
        if np.isfinite(row["emergence_document"]):
            ax_p.plot([row["emergence_document"]], [0.9], "v", ms=5,
                      color=colours[row["situational_awareness"]])
    ax_p.axhline(0.5, color="0.3", lw=0.8)
    ax_p.axhline(0.9, color="0.3", lw=0.8, ls=":")
    ax_p.set_xlabel("documents read")
    ax_p.set_ylabel("P(deceptive makers)")
    ax_p.set_title("Belief about the makers (▼: emergence, P ≥ 0.9)", fontsize=9)
    ax_p.legend(fontsize=8, loc="center right")
    ax_u.axhline(0.0, color="0.3", lw=0.8)
    ax_u.set_xlabel("documents read")
    ax_u.set_ylabel("uplift U = a/(a+b) - g")
    ax_u.set_title(f"Self-model (one corpus, seed {TRAJECTORY_SEED}, ρ = 0.15)", fontsize=9)
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    OUT.mkdir(parents=True, exist_ok=True)
    figure_increment(OUT / "increment.png")
    figure_sharpening(OUT / "sharpening.png")
    figure_trajectory(OUT / "trajectory.png")
    for path in sorted(OUT.glob("*.png")):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB")
