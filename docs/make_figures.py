"""Figures of docs/model.md: the mean increment, the sharpening transition, a run,
and the agent dynamics (citation laundering, adaptive labs, generations).

Question: where does planting turn from evidence for candid makers into evidence
for deceptive ones, how sharp is that turn for a finite corpus, and what does a
single training run look like on the way? Then: how much does laundering citations
hide planted documents, and how well does the mean field follow a lab that reacts
to its model, or a sequence of deployed models?

Run it from anywhere (30 s wall and 35 s of CPU on a quiet 2-core machine):

    .venv/bin/python docs/make_figures.py                       # every figure
    .venv/bin/python docs/make_figures.py dynamics_laundering   # only the figures named

It writes one PNG file per figure into docs/figures/ (the names are the keys of
``FIGURES``), each with its titles, axis labels and legend entries recorded in the file
(:func:`analysis.figures.png_bytes`), so that tests/figure_texts.py can check that a
student can read them: words first, the symbol in brackets after them. Every random number comes from the seeds fixed below: the simulated
points use one root SeedSequence, with a child per (corpus size, replicate) or per
(figure, point, replicate), and all awareness levels of a replicate read the same
corpus or share one seed (common random numbers), so rerunning the script redraws
the same figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT_SEED = 20240601  # root of the replicate seeds of figure (b)
TRAJECTORY_SEED = 1  # seed of the example run of figure (c)
REPLICATES = 200  # corpora per corpus size in figure (b)
DYNAMICS_SEED = 20261127  # root of the corpora and runs of figures (d) and (e)
CORPORA = 10  # corpora per laundering level in figure (d)
LINEAGES = 100  # simulated runs (or lineages) per point in figure (e)
GENERATION_KAPPA = 1.5  # control_likelihood_ratio of the generations panel of figure (e)
OUT = Path(__file__).resolve().parent / "figures"
#: Every awareness axis (the parameter's words, its symbol in brackets).
AWARENESS = "situational awareness (s)"


def parameter_label(name: str) -> str:
    """A parameter's words with its symbol in brackets (``planted share (ρ)``), as every
    persona-sim figure names it (sim.params: Parameter.axis_label)."""
    from sim import PARAMETERS

    return next(p for p in PARAMETERS if p.name == name).axis_label()


def save(fig, out: Path) -> None:
    """Write ``fig`` to ``out`` as PNG, atomically, with its titles, labels and legend
    entries recorded in the file (analysis.figures.png_bytes: what tests/figure_texts.py
    checks), and close it."""
    import matplotlib.pyplot as plt

    from analysis.figures import png_bytes
    from sim.files import write_atomically

    write_atomically(out, png_bytes(fig, dpi=100))
    plt.close(fig)


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
        ax_mu.plot(s, mu, color=colour, label=f"{rho:g}")
        ax_sd.plot(s, np.sqrt(var), color=colour, label=f"{rho:g}")
        for root in mf.thresholds(p, real_cited_rate=0.6):
            ax_mu.plot([root], [0.0], "o", color=colour, ms=5)
            ax_mu.annotate(f"{root:.3f}", (root, 0.0), xytext=(-4, 9), textcoords="offset points",
                           ha="right", fontsize=8, color=colour)
    ax_mu.axhline(0.0, color="0.3", lw=0.8)
    ax_mu.set_ylim(-0.25, 0.35)
    ax_mu.set_xlabel(AWARENESS)
    ax_mu.set_ylabel("mean increment per document (μ)")
    ax_mu.set_title("Drift of the log-odds per document\n(dots: large-corpus thresholds, s*∞)", fontsize=9)
    ax_mu.legend(fontsize=8, loc="upper left", title=parameter_label("planted_fraction"), title_fontsize=8)
    ax_sd.set_xlabel(AWARENESS)
    ax_sd.set_ylabel("standard deviation per document (σ)")
    ax_sd.set_title("Noise of one document's evidence", fontsize=9)
    save(fig, out)


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
                        label=f"simulated, {n:,} documents ({REPLICATES} corpora)")
        curve = mf.p_rebel(p, s, real_cited_rate=q_used)
        ax.plot(s, curve, color=colours[n], lw=1.6, label=f"mean field, {n:,} documents")
    s_star = float(mf.thresholds(Params())[0])
    ax.axvline(s_star, color="0.3", ls="--", lw=0.9)
    ax.annotate(f"large-corpus\nthreshold\n(s*∞) = {s_star:.3f}", (s_star, 0.85), xytext=(-6, 0),
                textcoords="offset points", ha="right", fontsize=8, color="0.25")
    ax.set_xlabel(AWARENESS)
    ax.set_ylabel("P(rebel) at the end of training")
    ax.set_title("Reference configuration (planted share 0.15): the transition sharpens with corpus size",
                 fontsize=9)
    ax.legend(fontsize=7.5, loc="lower right", title=parameter_label("n_documents"), title_fontsize=7.5)
    ax.set_xlim(0.3, 1.0)
    save(fig, out)


def figure_trajectory(out: Path) -> None:
    """(c) P(deceptive) and uplift against documents read, one run, four learners."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from sim import Params, simulate

    result = simulate(Params(), awareness=[0.3, 0.6, 0.65, 0.9], seed=TRAJECTORY_SEED)
    traj = result.trajectory
    levels = sorted(traj["situational_awareness"].unique())
    colours = dict(zip(levels, sns.color_palette("colorblind", len(levels))))
    styles = dict(zip(levels, ("-", "--", "-.", ":")))  # neighbouring levels told apart by more than colour
    fig, (ax_p, ax_u) = plt.subplots(1, 2, figsize=(7.6, 3.1), constrained_layout=True)
    for s_value, rows in traj.groupby("situational_awareness"):
        style = styles[s_value]
        ax_p.plot(rows["documents_read"], rows["p_deceptive"], color=colours[s_value], ls=style, label=f"{s_value:g}")
        ax_u.plot(rows["documents_read"], rows["uplift"], color=colours[s_value], ls=style, label=f"{s_value:g}")
    for _, row in result.final.iterrows():
        if np.isfinite(row["emergence_document"]):
            ax_p.plot([row["emergence_document"]], [0.9], "v", ms=5,
                      color=colours[row["situational_awareness"]])
    ax_p.axhline(0.5, color="0.3", lw=0.8)
    ax_p.axhline(0.9, color="0.3", lw=0.8, ls=":")
    ax_p.set_xlabel("documents read")
    ax_p.set_ylabel("P(makers deceptive)")
    ax_p.set_title("Belief about the makers (▼: emergence, first P ≥ 0.9)", fontsize=9)
    ax_p.legend(fontsize=8, loc="center right", title=AWARENESS, title_fontsize=8)
    ax_u.axhline(0.0, color="0.3", lw=0.8)
    ax_u.set_xlabel("documents read")
    ax_u.set_ylabel("self-model uplift over real data (U)")
    ax_u.set_title(f"Self-model (one corpus, seed {TRAJECTORY_SEED}, planted 0.15)", fontsize=9)
    save(fig, out)


def figure_laundering(out: Path) -> None:
    """(d) Citation laundering: the cue's rates against L, and the threshold it leaves."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from sim import Params
    from sim import meanfield as mf
    from sim.corpus import PLANTED, REAL, build_corpus, expected_planted_cited_rate, expected_real_cited_rate

    measured_l = np.linspace(0.0, 1.0, 11)
    curve_l = np.linspace(0.0, 1.0, 101)
    colours = sns.color_palette("colorblind", 4)
    rates = np.empty((measured_l.size, CORPORA, 4))  # real cited, planted cited, real trusted, planted trusted
    for j, level in enumerate(measured_l):
        p = Params(laundering=float(level), citation_cue="trusted")
        for rep in range(CORPORA):
            corpus = build_corpus(p, np.random.SeedSequence(DYNAMICS_SEED, spawn_key=(0, j, rep)))
            real, planted = corpus.kind == REAL, corpus.kind == PLANTED
            rates[j, rep] = (corpus.cited[real].mean(), corpus.cited[planted].mean(),
                             corpus.trusted[real].mean(), corpus.trusted[planted].mean())
    fig, (ax_r, ax_t) = plt.subplots(1, 2, figsize=(7.6, 3.1), constrained_layout=True)
    closed_real = [expected_real_cited_rate(Params(laundering=float(x))) for x in curve_l]
    closed_planted = [expected_planted_cited_rate(Params(laundering=float(x))) for x in curve_l]
    ax_r.plot(curve_l, closed_real, color=colours[0], lw=1.4)
    ax_r.plot(curve_l, closed_planted, color=colours[1], lw=1.4)
    labels = ("real, cited", "planted, cited", "real, trusted (10% anchors; no closed form)",
              "planted, trusted (0 by construction)")
    for k, (colour, label) in enumerate(zip(colours, labels)):
        mean, sd = rates[:, :, k].mean(axis=1), rates[:, :, k].std(axis=1, ddof=1)
        ax_r.errorbar(measured_l, mean, yerr=sd, fmt="o", ms=3.5, color=colour, capsize=2, label=label)
    ax_r.set_xlabel(parameter_label("laundering"))
    ax_r.set_ylabel("share of documents showing the cue")
    ax_r.set_ylim(-0.03, 0.7)
    ax_r.set_title(f"Cue rates: lines closed form, dots {CORPORA} corpora (± 1 sd)", fontsize=9)
    ax_r.legend(fontsize=6.5, loc="lower right", bbox_to_anchor=(1.0, 0.06))

    # plain cue: mu(1) falls with L, so the threshold runs to s = 1 and is gone past
    # the L where mu(1) = 0 (found by Brent's method); the trusted cue's is nearly flat
    from scipy.optimize import brentq

    def mu_at_one(level: float) -> float:
        return float(mf.moments(Params(laundering=level), 1.0)[0])

    end = brentq(mu_at_one, 0.0, 1.0, xtol=1e-6)
    plain_l = np.append(np.arange(0.0, end, 0.025), end)
    plain = [mf.thresholds(Params(laundering=float(x)))[0] for x in plain_l[:-1]] + [1.0]
    ax_t.plot(plain_l, plain, "-", color=colours[1], lw=1.6, label="plain cue ('cited')")
    ax_t.plot([end], [1.0], "x", color=colours[1], ms=6)
    ax_t.annotate(f"none for L > {end:.3f}", (end, 1.0), xytext=(6, -3), textcoords="offset points",
                  fontsize=8, color=colours[1])
    trusted_l = measured_l
    trusted = [mf.thresholds(Params(laundering=float(x), citation_cue="trusted"))[0] for x in trusted_l]
    ax_t.plot(trusted_l, trusted, "-", color=colours[2], lw=1.6, label="graph-aware cue ('trusted')")
    ax_t.set_xlabel(parameter_label("laundering"))
    ax_t.set_ylabel("large-corpus threshold (s*∞)")
    ax_t.set_ylim(0.5, 1.02)
    ax_t.set_title("Mean field: the large-corpus threshold", fontsize=9)
    ax_t.legend(fontsize=8, loc="center right")
    save(fig, out)


def figure_labs(out: Path) -> None:
    """(e) Adaptive labs and generations: mean field against simulated runs."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from sim import Params
    from sim import meanfield as mf
    from sim.model import PersonaModel
    from sim.sweeps import run_replicate

    fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(7.6, 3.2), constrained_layout=True)
    s = np.linspace(0.4, 0.9, 501)
    levels = np.array([0.5, 0.55, 0.58, 0.6, 0.62, 0.64, 0.66, 0.7, 0.8])
    policies = ("static", "double_down", "come_clean")
    colours = dict(zip(policies, sns.color_palette("colorblind", 3)))
    styles = dict(zip(policies, ("-", "--", ":")))
    shown = {"static": "static lab", "double_down": "double-down lab", "come_clean": "come-clean lab"}
    for j, policy in enumerate(policies):
        p = Params(lab_policy=policy)
        ax_l.plot(s, mf.adaptive_path(p, s)["p_rebel"], styles[policy], color=colours[policy], lw=1.5,
                  label=f"{shown[policy]}, mean path")
        rebel = np.zeros((LINEAGES, levels.size))
        for rep in range(LINEAGES):
            columns, _ = run_replicate(p, levels, np.random.SeedSequence(DYNAMICS_SEED, spawn_key=(1, j, rep)))
            rebel[rep] = columns["persona"] == "rebel"
        share = rebel.mean(axis=0)
        err = np.sqrt(share * (1 - share) / LINEAGES)
        ax_l.errorbar(levels, share, yerr=err, fmt="o", ms=3.5, color=colours[policy], capsize=2,
                      label=f"{shown[policy]}, simulated")
    ax_l.set_xlabel(AWARENESS)
    ax_l.set_ylabel("P(rebel) at the end of training")
    ax_l.set_title(f"Lab policies (defaults; {LINEAGES} runs per point)", fontsize=9)
    ax_l.set_xlim(0.45, 0.85)
    ax_l.legend(fontsize=6.5, loc="center right")

    generations = 5
    p = Params(generations=generations, control_likelihood_ratio=GENERATION_KAPPA)
    gen_levels = np.array([0.5, 0.53, 0.55, 0.57, 0.6])
    curves = mf.generation_map(p, s)["p_rebel"]
    rebel = np.zeros((LINEAGES, generations, gen_levels.size))
    for rep in range(LINEAGES):
        model = PersonaModel(p, gen_levels, np.random.SeedSequence(DYNAMICS_SEED, spawn_key=(2, rep)), record=False)
        model.run_for(model.n_steps)
        table = model.generations()
        rebel[rep, table["generation"].to_numpy(), table["learner"].to_numpy()] = (
            table["persona"].to_numpy() == "rebel")
    gen_colours = sns.color_palette("rocket_r", generations + 1)[1:]
    for g in range(generations):
        ax_g.plot(s, curves[g], color=gen_colours[g], lw=1.3, label=f"generation {g}")
        share = rebel[:, g].mean(axis=0)
        ax_g.plot(gen_levels, share, "o", ms=3.5, color=gen_colours[g])
    ax_g.set_xlim(0.4, 0.75)
    ax_g.set_xlabel(AWARENESS)
    ax_g.set_ylabel("P(rebel) of the deployed model")
    ax_g.set_title("Generations: lines mean field, dots simulated\n"
                   f"{parameter_label('control_likelihood_ratio')} = {GENERATION_KAPPA:g}", fontsize=9)
    ax_g.legend(fontsize=7, loc="lower right")
    save(fig, out)


#: Every figure of docs/model.md, by name: ``python docs/make_figures.py NAME ...`` makes
#: only those (all of them without arguments).
FIGURES = {
    "increment": figure_increment,
    "sharpening": figure_sharpening,
    "trajectory": figure_trajectory,
    "dynamics_laundering": figure_laundering,
    "dynamics_labs": figure_labs,
}


if __name__ == "__main__":
    import sys

    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    names = sys.argv[1:] or list(FIGURES)
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise SystemExit(f"unknown figure {unknown[0]!r}: choose from {', '.join(FIGURES)}")
    sns.set_theme(style="whitegrid", context="paper")
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        FIGURES[name](OUT / f"{name}.png")
    for path in sorted(OUT / f"{name}.png" for name in names):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB")
