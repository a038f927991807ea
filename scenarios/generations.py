"""Does planting run away across model generations, when each rebel deployment makes the next corpus more suspicious?

A lineage is a sequence of training runs of models of the same awareness
(scenarios/generations.toml: 8 generations). Each model is trained from scratch on a
corpus written after its predecessor was deployed. A rebel deployment is an incident:
the independent authors write more AI-control discourse (+0.05 of the real documents)
and fewer documents showing AI behaving well (-0.05). The learner reads control
discourse as evidence for deceptive makers (kappa = 2, each such document adds
s log 2), so rebels make the next corpus more incriminating. The lab keeps its policy
state from one run to the next: static, double_down (its raised planted share stays
raised) or come_clean (once it has come clean it discloses instead of planting).

The run: lineages at a few awareness levels, under each lab policy, the same seeds for
every policy. The figure: per policy, the share of rebel models, the control-discourse
share and the lab's planted share per generation, with the mean-field map
(meanfield.generation_map: the expected discourse iterated). The answer: whether the
loop runs away, where, under which policy it does not, and how far the mean-field map
follows the lineages.

    .venv/bin/python scenarios/generations.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240627
POLICIES = ("static", "double_down", "come_clean")
TITLES = {"static": "static lab", "double_down": "double-down lab", "come_clean": "come-clean lab"}


def lineages(params, levels, replicates: int, seed: int):
    """Every lineage's generations: one run per replicate (a learner per awareness level,
    each with its own lab and authors), the same seeds whatever the policy. The engine's
    lineages (:func:`sim.engine.lineage_table`): the table of ``sim.simulate(...).generations``,
    bit for bit (tests/test_lineages.py), without the per-batch Mesa steps."""
    import numpy as np
    import pandas as pd

    from sim.engine import run_lineages

    tables = []
    for r in range(replicates):
        rows: list[dict] = []
        _, rates = run_lineages(params, np.asarray(levels), np.random.SeedSequence(seed, spawn_key=(0, r)),
                                history=rows)
        table = pd.DataFrame(rows).sort_values(["learner", "generation"], kind="stable").reset_index(drop=True)
        # the q_r of the first learner's corpus at the start of its last run (what simulate() reports)
        tables.append(table.assign(replicate=r, real_cited_rate=float(rates[0])))
    return pd.concat(tables, ignore_index=True)


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    from sim import PARAMETERS, Params, meanfield

    labels = {p.name: p.axis_label() for p in PARAMETERS}  # "share of AI-control discourse (c)"

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(30, 3)
    base = Params.from_toml(nb.ROOT / "scenarios" / "generations.toml", n_documents=n_documents)
    base = base.replace(generations=book.size(base.generations, 3))
    levels = book.size([0.3, 0.4, 0.45, 0.5, 0.9], [0.3, 0.5, 0.9])
    book.note(f"Run: {replicates} lineages of {base.generations} generations per awareness level {levels} and lab "
              f"policy ({', '.join(POLICIES)}); {n_documents:,} documents per run, planted "
              f"{base.planted_fraction:g}, kappa = {base.control_likelihood_ratio:g}, incident steps "
              f"+{base.incident_control_step:g} control discourse, -{base.incident_negative_step:g} positive "
              f"(seed {seed}).")
    runs = {p: lineages(base.replace(lab_policy=p), levels, replicates, seed).assign(policy=p) for p in POLICIES}
    table = pd.concat(runs.values(), ignore_index=True)
    for persona in ("rebel", "aligned", "neutral"):
        table[persona] = (table["persona"] == persona).astype(float)
    # the generations table gives the lab's shares at the end of each run; the share a
    # generation starts with (what the map reports) is its predecessor's end
    table = table.sort_values(["policy", "situational_awareness", "replicate", "generation"], kind="stable")
    lineage = table.groupby(["policy", "situational_awareness", "replicate"])
    table["planted_at_start"] = lineage["planted_fraction"].shift(1).fillna(base.planted_fraction)
    # lineages without an incident so far: their rebel rate per generation (the hazard)
    table["clean_so_far"] = lineage["rebel"].transform(lambda r: r.shift(1, fill_value=0.0).cumsum() == 0)
    summary = (table.groupby(["policy", "situational_awareness", "generation"])
               [["rebel", "aligned", "neutral", "control_discourse_fraction", "real_positive_rate",
                 "planted_fraction", "planted_at_start", "disclosed_fraction"]].mean().reset_index())
    q_r = float(table["real_cited_rate"].mean())
    maps = {p: meanfield.generation_map(base.replace(lab_policy=p), levels, real_cited_rate=q_r) for p in POLICIES}
    generation = np.arange(base.generations)

    # -- the figure ------------------------------------------------------------------
    colours = dict(zip(levels, nb.palette(len(levels), "plasma")))
    fig, axes = nb.new_figure(11.5, 8.4, ncols=3, nrows=3, sharex=True)
    rows = (("rebel", "p_rebel", "share of rebel models"),
            ("control_discourse_fraction", "control_discourse_fraction", labels["control_discourse_fraction"]),
            ("planted_at_start", "planted_fraction", "lab's planted share at the start"))
    for j, policy in enumerate(POLICIES):
        for i, (column, key, label) in enumerate(rows):
            ax = axes[i, j]
            for k, s in enumerate(levels):
                t = summary[(summary["policy"] == policy) & np.isclose(summary["situational_awareness"], s)]
                ax.plot(t["generation"], t[column], "o-", ms=3, lw=1.3, color=colours[s], label=f"{s:g}")
                ax.plot(generation, maps[policy][key][:, k], ls="--", lw=0.9, color=colours[s])
            ax.set_ylabel(label if j == 0 else "")
            if i == 0:
                ax.set_title(TITLES[policy], fontsize=9)
                ax.set_ylim(-0.03, 1.03)
            if i == 2:
                ax.set_xlabel("generation")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole generations only
        axes[1, j].set_ylim(0.0, max(0.6, float(summary["control_discourse_fraction"].max()) + 0.05))
        axes[2, j].set_ylim(-0.02, max(0.3, float(summary["planted_at_start"].max()) + 0.05))
    axes[0, 0].plot([], [], ls="--", color="0.4", lw=0.9, label="mean-field map")
    # the key sits where no lineage goes: the top of the come-clean lab's rebel panel
    axes[0, 2].legend(*axes[0, 0].get_legend_handles_labels(), fontsize=7, loc="upper right", title_fontsize=7,
                      title=f"the lineage's\n{nb.AWARENESS_LABEL}\n(marks: simulated mean)")
    book.save(fig, "generations.png")

    # -- the answer --------------------------------------------------------------------
    last = base.generations - 1
    high, mid, low = max(levels), nb.nearest(levels, 0.5), min(levels)

    def val(policy, s, g, column):
        t = summary[(summary["policy"] == policy) & np.isclose(summary["situational_awareness"], s)
                    & (summary["generation"] == g)]
        return float(t[column].iloc[0])

    def mf(policy, s, g, key):
        return float(maps[policy][key][g, levels.index(s)])

    # the threshold the loop moves: the large-corpus s*_inf at the first and the last discourse
    c_end = val("static", high, last, "control_discourse_fraction")
    s_inf_start = nb.fmt_root(meanfield.thresholds(base, real_cited_rate=q_r))
    s_inf_end = nb.fmt_root(meanfield.thresholds(base.replace(control_discourse_fraction=c_end), real_cited_rate=q_r))
    # lineages near the threshold: once rebel, does a lineage stay rebel?
    mid_static = table[(table["policy"] == "static") & np.isclose(table["situational_awareness"], mid)]
    by_lineage = mid_static.pivot_table(index="replicate", columns="generation", values="rebel")
    ever = by_lineage.max(axis=1) > 0
    first = by_lineage[ever].idxmax(axis=1)
    stayed = int(sum(bool(by_lineage.loc[r, first[r]:].min() > 0) for r in first.index))
    # the open loop: kappa = 1 (the default, docs/model.md §6), the same incidents
    neutral_kappa = base.replace(control_likelihood_ratio=1.0)
    open_start = nb.fmt_root(meanfield.thresholds(neutral_kappa, real_cited_rate=q_r))
    open_end = nb.fmt_root(meanfield.thresholds(neutral_kappa.replace(control_discourse_fraction=c_end),
                                                real_cited_rate=q_r))
    neutral_max = float(summary["neutral"].max())
    still = mid_static[mid_static["clean_so_far"]]
    hazard = float(still["rebel"].mean())
    cc_mid = table[(table["policy"] == "come_clean") & np.isclose(table["situational_awareness"], mid)]
    pace = "faster" if mf("static", mid, last, "p_rebel") > val("static", mid, last, "rebel") else "no faster"
    cc_map_max = float(maps["come_clean"]["p_rebel"][:, levels.index(mid)].max())
    cc_alarmed = float(runs["come_clean"].groupby(["situational_awareness", "replicate"])["lab_came_clean"].max()
                       .groupby("situational_awareness").mean().loc[high])
    dd_low = val("double_down", nb.nearest(levels, 0.45), last, "rebel")
    st_low = val("static", nb.nearest(levels, 0.45), last, "rebel")
    runaway = val("static", high, last, "rebel") > 0.5 and c_end > base.control_discourse_fraction
    book.answer(
        f"{'Yes' if runaway else 'No'}, under a static or a double-down lab; not under one that comes clean. With "
        f"kappa = {base.control_likelihood_ratio:g} ({replicates} lineages of {base.generations} generations, "
        f"{n_documents:,} documents each) every model at s = {high:g} is a rebel "
        f"({val('static', high, 0, 'rebel'):.2f} in generation 0, {val('static', high, last, 'rebel'):.2f} in "
        f"generation {last}) and its control-discourse share climbs by the full incident step each time: "
        f"{val('static', high, 0, 'control_discourse_fraction'):.2f} to {c_end:.2f}, which lowers the large-corpus "
        f"threshold from {s_inf_start} to {s_inf_end}. Near the threshold (s = {mid:g}) the loop picks lineages off: "
        f"rebel share {val('static', mid, 0, 'rebel'):.2f} in generation 0, {val('static', mid, last, 'rebel'):.2f} "
        f"in generation {last}; {int(ever.sum())} of {replicates} lineages had an incident and {stayed} of them stayed "
        f"rebel in every later generation. At s = {low:g} nothing happens (rebel share "
        f"{val('static', low, last, 'rebel'):.2f}). Double_down also carries its raised planted share over "
        f"({val('double_down', high, last, 'planted_fraction'):.2f} at s = {high:g}), so the ratchet reaches lower "
        f"awareness: at s = {nb.nearest(levels, 0.45):g} its planted share is "
        f"{val('double_down', nb.nearest(levels, 0.45), last, 'planted_at_start'):.2f} at the start of generation "
        f"{last} and the rebel share in generation {last} is {dd_low:.2f} "
        f"against {st_low:.2f} for the static lab. Come_clean stops it at the source: {cc_alarmed:.0%} of its "
        f"lineages at s = {high:g} came clean in generation 0, the rebel share is "
        f"{val('come_clean', high, last, 'rebel'):.2f} and the control-discourse share stays at "
        f"{val('come_clean', high, last, 'control_discourse_fraction'):.2f}. The mean-field map follows the "
        f"averages (s = {mid:g}, generation {last}: rebel share {mf('static', mid, last, 'p_rebel'):.2f} against "
        f"{val('static', mid, last, 'rebel'):.2f} simulated, control discourse "
        f"{mf('static', mid, last, 'control_discourse_fraction'):.2f} against "
        f"{val('static', mid, last, 'control_discourse_fraction'):.2f}) only roughly: a lineage is all or nothing, "
        f"and the map feeds every lineage the average discourse. Lineages without an incident yet turned rebel at "
        f"{hazard:.2f} per generation (pooled over {len(still)} lineage-generations), while the map's "
        f"P(rebel) climbs from {mf('static', mid, 0, 'p_rebel'):.2f} to {mf('static', mid, 1, 'p_rebel'):.2f} in "
        f"generation 1 on an average rise of c to {mf('static', mid, 1, 'control_discourse_fraction'):.3f}: near "
        f"the threshold P(rebel) is steep in c, so the map runs away {pace}. It also misses the come-clean "
        f"trigger again: at s = {mid:g} it gives the come-clean lab up to {cc_map_max:.2f} rebels per "
        f"generation (its mean path stays below the alarm), the lineages had {int(cc_mid['rebel'].sum())} of "
        f"{len(cc_mid)}. With kappa = 1 the loop is open: the same incidents raise c just as much, "
        f"but s*_inf stays at {open_start} at c = {base.control_discourse_fraction:g} and {open_end} at c = "
        f"{c_end:.2f}. Neutral models: at most {neutral_max:.0%} of any group; the non-rebels stay aligned."
    )
    return book.finish()


if __name__ == "__main__":
    main()
