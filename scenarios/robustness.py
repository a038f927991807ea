"""Which assumptions decide whether planting backfires, and is today's regime safe?

The headline threshold s*_inf = 0.63 comes from one point of a model whose constants
are assumptions. This script spreads them over the default box of docs/model.md §11:
the learner's beliefs about its makers (pi_D, epsilon, its prior, q_p, how much
control discourse means), how detectable planted documents are (a detector's AUC
from 0.75 to 0.995), the corpus's citations and the planted share implied by
published alignment-pretraining mixes (0.092 to 0.336, sim/calibration.py).

The run: Sobol' indices (SALib; Saltelli's design, bootstrap 95% intervals) of the
mean-field outputs s_star_inf (the large-corpus threshold, 1 where there is none),
threshold_exists and p_rebel_at (P(rebel) after 10,000 documents at awareness 0.4,
about the best models of 2024 on the SAD mapping: SAD 52 is s = 0.389); then PRIM
(EMA Workbench) on "p_rebel_at > 0.5", the part of the box where today's awareness
already gives a rebel. Then the two learners compared (`persona-sim sensitivity --by
learner_model --simulate`, through the same function, sim.sensitivity.run_sensitivity):
the learning learner (docs/model.md §3.1) has no mean field, so both learners are
simulated at the points of one smaller Sobol' design (64 base samples, 5 corpora of
2,000 documents each, read at awareness 0, 0.1, ..., 1 and 0.4). The figure: the
total-order indices of each output, the distribution of s_star_inf, the PRIM box in
its two most restricted parameters, and the simulated thresholds of the two learners
over the box. The answer: the leading causes, the share of the box without a
threshold, where the threshold lies, the share where planting backfires below
awareness 0.5, the box, and the two learners side by side.

    python scenarios/robustness.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20261202


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import tempfile
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from sim import Params
    from sim.calibration import SAD_BEST_2024, awareness_from_sad
    from sim.discovery import discover
    from sim.meanfield_batch import thresholds_and_p_rebel
    from analysis.sensitivity import OUTPUT_LABELS, parameter_label
    from sim.sensitivity import DEFAULT_BOX, analyse, evaluate, plan_sensitivity, run_sensitivity, sample, summary
    from sim.sweeps import compile_first

    today = 0.4
    samples = book.size(1024, 64)
    plan = plan_sensitivity(samples=samples, seed=seed, at_awareness=today)
    book.note(f"Run: Sobol' over the default box ({', '.join(f.text() for f in DEFAULT_BOX)}), {samples} base "
              f"samples = {plan.n_points:,} points, mean field at each; p_rebel_at at s = {today:g} "
              f"(SAD {SAD_BEST_2024:g} maps to s = {awareness_from_sad(SAD_BEST_2024):.3f}); seed {seed}.")
    x, table = sample(plan)
    outputs = evaluate(plan, table)
    indices = analyse(plan, x, outputs)
    points = pd.concat([table, outputs], axis=1)
    facts = summary(points)
    exists = points["threshold_exists"].to_numpy() == 1
    below_half = float((exists & (points["s_star_inf"].to_numpy() < 0.5)).mean())
    names = [f.name for f in plan.factors]
    cases = points["p_rebel_at"].to_numpy() > 0.5
    box = discover(points[names], cases, density=0.8)

    # -- the two learners, by simulation (persona-sim sensitivity --by learner_model --simulate)
    n_documents = book.size(2000, 400)
    learners = plan_sensitivity(Params(n_documents=n_documents), samples=book.size(64, 4), seed=seed,
                                at_awareness=today, simulate=True, replicates=book.size(5, 2),
                                levels=book.size(11, 5), by="learner_model")
    book.note(f"Run: both learners simulated on one Sobol' design of {learners.samples} base samples "
              f"({learners.n_points:,} points per learner), {learners.replicates} corpora of {n_documents:,} "
              f"documents per point, read at awareness {', '.join(f'{s:g}' for s in learners.awareness_levels())}.")
    if book.quick:  # without a progress bar the sweep would compile silently
        for choice in learners.choices():
            compile_first(learners.base.replace(learner_model=choice))
    with tempfile.TemporaryDirectory() as folder:
        compared = run_sensitivity(learners, Path(folder) / "learners", progress=not book.quick,
                                   workers=book.workers)
    by_learner = {choice: compared["samples"][compared["samples"]["learner_model"] == choice]
                  for choice in learners.choices()}
    simulated = {choice: summary(rows, simulated=True) for choice, rows in by_learner.items()}

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(12.5, 8.6, ncols=2, nrows=2)
    (ax_i, ax_s), (ax_b, ax_l) = axes
    colours = dict(zip(plan.outputs, nb.palette(3, "viridis")))
    order = (indices[indices["output"] == "s_star_inf"].sort_values("ST")["parameter"]).tolist()
    y = np.arange(len(order))
    for k, name in enumerate(plan.outputs):
        rows = indices[indices["output"] == name].set_index("parameter").loc[order]
        label = OUTPUT_LABELS[name] if name != "p_rebel_at" else f"P(rebel) at awareness {today:g}"
        ax_i.barh(y + (k - 1) * 0.27, rows["ST"], height=0.26, xerr=rows["ST_conf"], color=colours[name],
                  capsize=2, error_kw={"lw": 0.8}, label=label)
    ax_i.set_yticks(y, [parameter_label(n) for n in order], fontsize=7)
    ax_i.set_xlabel("total-order Sobol' index (ST), bootstrap 95% intervals")
    ax_i.set_title("Which assumptions drive the answer", fontsize=9)
    ax_i.legend(fontsize=7, loc="lower right")
    s = points["s_star_inf"].to_numpy()[exists]
    ax_s.hist(s, bins=np.linspace(0, 1, 41), color="#4c72b0", alpha=0.85)
    ax_s.axvline(today, color="#c0392b", ls="--", lw=1.2, label=f"today's awareness ≈ {today:g}")
    reference = float(thresholds_and_p_rebel([Params()])["s_star_inf"][0])
    ax_s.axvline(reference, color="0.3", ls=":", lw=1.2, label=f"threshold of the reference configuration, {reference:.3f}")
    ax_s.set_xlabel("large-corpus threshold (s*∞), where one exists")
    ax_s.set_ylabel("sample points")
    ax_s.set_title(f"no threshold at {facts['share_without_threshold']:.1%} of the box", fontsize=9)
    ax_s.legend(fontsize=7)
    restricted = box.limits.assign(width=lambda t: (t["high"] - t["low"]) / (t["full_high"] - t["full_low"]))
    restricted = restricted.sort_values("width")
    if len(restricted) >= 2:
        px, py = restricted["parameter"].iloc[0], restricted["parameter"].iloc[1]
    else:
        px = restricted["parameter"].iloc[0] if len(restricted) else names[0]
        py = next(n for n in names if n != px)
    keep = np.random.default_rng(0).permutation(len(points))[:4000]
    sub = points.iloc[keep]
    hit = cases[keep]
    ax_b.scatter(sub[px][~hit], sub[py][~hit], s=3, color="0.75", label="P(rebel) at 0.4 ≤ 1/2")
    ax_b.scatter(sub[px][hit], sub[py][hit], s=3, color="#c0392b", label="P(rebel) at 0.4 > 1/2")
    lims = box.limits.set_index("parameter")
    def edge(name):
        if name in lims.index:
            return lims.loc[name, "low"], lims.loc[name, "high"]
        return float(points[name].min()), float(points[name].max())
    (x0, x1), (y0, y1) = edge(px), edge(py)
    ax_b.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], color="k", lw=1.4,
              label=f"PRIM box: coverage {box.coverage:.2f}, density {box.density:.2f}")
    ax_b.set_xlabel(parameter_label(px))
    ax_b.set_ylabel(parameter_label(py))
    ax_b.set_title("Where today's awareness already gives a rebel", fontsize=9)
    ax_b.legend(fontsize=7, loc="upper left", markerscale=3)
    styles = {"informed": ("informed learner (told the cue)", "#4c72b0", "-"),
             "learning": ("learning learner (learns the cue)", "#c0392b", "--")}
    for choice, rows in by_learner.items():
        label, colour, ls = styles[choice]
        found = np.sort(rows["s_star_sim"].to_numpy()[rows["threshold_exists_sim"].to_numpy() == 1])
        share = np.arange(1, found.size + 1) / len(rows)
        ax_l.step(np.concatenate([[0.0], found, [1.0]]), np.concatenate([[0.0], share, share[-1:] if found.size else [0.0]]),
                  where="post", color=colour, ls=ls, lw=1.8,
                  label=f"{label}: rebel at {today:g} at {simulated[choice]['share_rebel_at']:.0%} of the box")
    ax_l.axvline(today, color="0.3", ls=":", lw=1.2, label=f"today's awareness ≈ {today:g}")
    ax_l.set_xlim(0, 1)
    ax_l.set_ylim(0, 1.02)
    ax_l.set_xlabel("simulated threshold in awareness (s*), where one exists")
    ax_l.set_ylabel("share of the box with a threshold at or below it")
    ax_l.set_title(f"Two learners, simulated at {n_documents:,} documents ({learners.n_points:,} points each)",
                   fontsize=9)
    ax_l.legend(fontsize=7, loc="lower right")
    book.save(fig, "robustness.png")

    # -- the answer --------------------------------------------------------------------
    def leaders(output: str, k: int = 3) -> str:
        rows = indices[indices["output"] == output].sort_values("ST", ascending=False).head(k)
        return ", ".join(f"{r.parameter} (ST {r.ST:.2f} ± {r.ST_conf:.2f})" for r in rows.itertuples())

    def learner_text(choice: str) -> str:
        facts = simulated[choice]
        median = (f", median {facts['s_star_median']:.3f} (5-95% [{facts['s_star_p05']:.3f}, {facts['s_star_p95']:.3f}])"
                  if "s_star_median" in facts else "")
        return (f"{choice} learner has a threshold at {1 - facts['share_without_threshold']:.1%} of the box{median} "
                f"and is rebel at awareness {today:g} at {facts['share_rebel_at']:.1%}")

    box_text = "; ".join(f"{r.parameter} in [{r.low:.3g}, {r.high:.3g}] (of [{r.full_low:.3g}, {r.full_high:.3g}])"
                         for r in box.limits.itertuples())
    safe = "No." if facts["share_rebel_at"] > 0.05 else "Mostly."
    book.answer(
        f"{safe} Over the default box ({plan.n_points:,} points) there is no threshold at "
        f"{facts['share_without_threshold']:.1%} of the points; where there is one, s*_inf has median "
        f"{facts['s_star_median']:.3f} and 5-95% range [{facts['s_star_p05']:.3f}, {facts['s_star_p95']:.3f}], and "
        f"planting backfires below awareness 0.5 at {below_half:.1%} of the box. At today's awareness ({today:g}) "
        f"P(rebel) after 10,000 documents exceeds 1/2 at {facts['share_rebel_at']:.1%} of the points. Leading causes "
        f"of s_star_inf: {leaders('s_star_inf')}; of threshold_exists: {leaders('threshold_exists')}; of "
        f"p_rebel_at: {leaders('p_rebel_at')}; the prior (prior_deceptive) has ST "
        f"{indices.query('output == \"s_star_inf\" and parameter == \"prior_deceptive\"')['ST'].iloc[0]:.3f} on "
        f"s_star_inf, as it must. PRIM on 'p_rebel_at > 0.5': box {box_text}: coverage {box.coverage:.2f}, "
        f"density {box.density:.2f}, mass {box.mass:.2f}. The two learners, simulated at {n_documents:,} documents "
        f"({learners.n_points:,} points each): the {learner_text('learning')}; the {learner_text('informed')}."
    )
    return book.finish()


if __name__ == "__main__":
    main()
