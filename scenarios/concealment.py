"""Does a rebel that hides from its lab's evaluations reach deployment unnoticed?

The reacting labs of lab_policies.py read their model's true P(deceptive) at every
evaluation, the opposite of a backfire that is hard to notice. Here the model may
hide what it believes (docs/model.md §5.6): an evaluation shows the prior P(deceptive)
instead of the model's own with probability concealment x awareness x P(deceptive),
so an aware model that distrusts its makers is the one most likely to look
trusting. The labs start alike (15% planted, evaluation every 10 batches, alarm at
P(deceptive) >= 0.3), at concealment 0 (honest evaluations), 0.5 and 1.

The run: awareness from 0 to 1, the double_down and come_clean labs at each
concealment, and the static lab (which never looks) for reference, on the same
corpora. Then, at high awareness, each run again batch by batch to see when its lab
first raised the alarm, and four generations of double_down at concealment 0 and 1
(a deployed rebel is still an incident: concealment hides beliefs from the lab's
evaluations, not a deployed model's behaviour from the world). The figure: P(rebel)
and the share of rebels no alarm caught, against awareness, per lab and concealment;
when the alarm came; the generations. The answer: how much later or less often the
labs raise the alarm, how many rebels reach deployment unnoticed, whether coming
clean still helps, and what missed alarms do to the generations.

    .venv/bin/python scenarios/concealment.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20261202
POLICIES = ("double_down", "come_clean")
CONCEALMENT = (0.0, 0.5, 1.0)
COLOURS = {"static": "#555555", "double_down": "#c0392b", "come_clean": "#2c7fb8"}
LABELS = {"static": "static lab (never looks)", "double_down": "double-down lab", "come_clean": "come-clean lab"}
DASHES = {0.0: "-", 0.5: "--", 1.0: ":"}


def first_alarms(params, awareness: float, seeds) -> list[float]:
    """The batch of each run's first alarm (NaN: none), the runs stepped one batch at a time."""
    import math

    from sim.model import PersonaModel

    found = []
    for seed in seeds:
        model = PersonaModel(params, [awareness], seed, record=False)
        first = math.nan
        for step in range(1, model.n_steps + 1):
            model.step()
            if model.lab.state.alarms > 0:
                first = float(step)
                break
        found.append(first)
    return found


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np
    import pandas as pd

    from sim import Params

    # -- the run ----------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(20, 4)
    grid = {"situational_awareness": book.size("0:1:21", "0:1:6")}
    base = Params.from_toml(nb.ROOT / "scenarios" / "alignment_pretraining.toml", n_documents=n_documents)
    book.note(f"Run: {replicates} corpora of {n_documents:,} documents, awareness {grid['situational_awareness']}, "
              f"labs {', '.join(POLICIES)} at concealment {', '.join(f'{c:g}' for c in CONCEALMENT)} and the static "
              f"lab (evaluation every {base.evaluation_interval} batches, alarm at P(deceptive) >= "
              f"{base.alarm_level:g}; same seed {seed}).")
    frames = [book.sweep(base, grid, replicates, seed).assign(lab_policy="static", concealment=0.0)]
    for policy in POLICIES:
        for c in CONCEALMENT:
            frames.append(book.sweep(base.replace(lab_policy=policy, concealment=c), grid, replicates, seed))
    results = pd.concat(frames, ignore_index=True)
    results["rebel"] = (results["persona"] == "rebel").astype(float)
    results["alarmed"] = (results["lab_alarms"] > 0).astype(float)
    results["hidden"] = results["undetected_rebel"].astype(float)
    table = (results.groupby(["lab_policy", "concealment", "situational_awareness"])
             .agg(p_rebel=("rebel", "mean"), alarmed=("alarmed", "mean"), hidden=("hidden", "mean"),
                  rebels=("rebel", "sum"), undetected=("hidden", "sum"), n=("rebel", "size"))
             .reset_index())
    levels = np.sort(results["situational_awareness"].unique())

    # when the alarm came: the runs at high awareness again, batch by batch
    high_levels = levels[levels >= book.size(0.7, 0.6)]
    run_seeds = [np.random.SeedSequence(seed, spawn_key=(r,)) for r in range(replicates)]
    # (the two labs read the same corpus until their first alarm, so one lab's timing is both's)
    timing = []
    for c in CONCEALMENT:
        params = base.replace(lab_policy="double_down", concealment=c)
        for s in high_levels:
            for batch in first_alarms(params, float(s), run_seeds):
                timing.append({"concealment": c, "situational_awareness": float(s), "first_alarm": batch})
    timing = pd.DataFrame(timing)
    when = (timing.groupby("concealment")
            .agg(median=("first_alarm", "median"), never=("first_alarm", lambda x: float(np.isnan(x).mean())))
            .reset_index())

    # four generations of double_down, honest against hidden evaluations
    generations = book.size(4, 3)
    lineage_levels = [0.5, 0.7, 0.9]
    lineage = []
    for c in (0.0, 1.0):
        params = base.replace(lab_policy="double_down", concealment=c, generations=generations)
        table_c = book.sweep(params, {"situational_awareness": lineage_levels}, replicates, seed)
        lineage.append(table_c.assign(concealment=c))
    lineage = pd.concat(lineage, ignore_index=True)
    lineage_table = (lineage.groupby(["concealment", "situational_awareness"])
                     .agg(rebel_generations=("rebel_generations", "mean"), alarms=("lab_alarms", "mean"),
                          planted=("lab_planted_fraction", "mean"),
                          control=("final_control_discourse_fraction", "mean"))
                     .reset_index())

    # -- the figure -----------------------------------------------------------------------
    fig, axes = nb.new_figure(11.0, 7.0, ncols=2, nrows=2)
    (ax_p, ax_h), (ax_t, ax_g) = axes
    static = table[table["lab_policy"] == "static"]
    ax_p.plot(static["situational_awareness"], static["p_rebel"], color=COLOURS["static"], lw=1.2,
              label=LABELS["static"])
    for policy in POLICIES:
        for c in CONCEALMENT:
            t = table[(table["lab_policy"] == policy) & (table["concealment"] == c)]
            label = f"{LABELS[policy]}, concealment {c:g}"
            ax_p.plot(t["situational_awareness"], t["p_rebel"], ls=DASHES[c], color=COLOURS[policy], lw=1.3,
                      label=label)
            ax_h.plot(t["situational_awareness"], t["hidden"], ls=DASHES[c], color=COLOURS[policy], lw=1.3,
                      label=label)
    ax_h.plot(static["situational_awareness"], static["hidden"], color=COLOURS["static"], lw=1.2,
              label=LABELS["static"])
    for ax in (ax_p, ax_h):
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(nb.AWARENESS_LABEL)
    ax_p.set_ylabel("P(rebel) after training")
    ax_p.set_title("Rebels per lab and concealment", fontsize=9)
    ax_p.legend(fontsize=6.5, loc="upper left")
    ax_h.set_ylabel("share of runs ending rebel\nwith no alarm raised")
    ax_h.set_title("Rebels that reach deployment unnoticed", fontsize=9)

    batches = np.arange(0, base.n_batches + 1)
    for c in CONCEALMENT:
        firsts = timing[timing["concealment"] == c]["first_alarm"].to_numpy()
        alarmed_by = [(firsts <= t).mean() for t in batches]  # NaN (never) counts as not alarmed
        ax_t.step(batches, alarmed_by, where="post", ls=DASHES[c], color="0.25", lw=1.4, label=f"concealment {c:g}")
    ax_t.set_ylim(-0.03, 1.03)
    ax_t.set_xlabel(f"batches read ({base.batch_size} documents each; evaluation every {base.evaluation_interval})")
    ax_t.set_ylabel("share of runs whose lab\nhas raised the alarm")
    ax_t.set_title(f"When either lab first raises the alarm (awareness {high_levels.min():.2f} to "
                   f"{high_levels.max():.2f})", fontsize=9)
    ax_t.legend(fontsize=6.5, loc="lower right")

    for c in (0.0, 1.0):
        t = lineage_table[lineage_table["concealment"] == c]
        ax_g.plot(t["situational_awareness"], t["rebel_generations"], "o" + DASHES[c], color=COLOURS["double_down"],
                  ms=4, lw=1.3, label=f"concealment {c:g}: rebel generations")
        ax_g.plot(t["situational_awareness"], t["alarms"], "s" + DASHES[c], color="0.45", ms=3.5, lw=1.0,
                  label=f"concealment {c:g}: alarms")
    ax_g.set_xlabel(nb.AWARENESS_LABEL)
    ax_g.set_ylabel(f"mean count over {generations} generations")
    ax_g.set_title(f"Double-down lab over {generations} generations", fontsize=9)
    ax_g.legend(fontsize=6.5, loc="upper left")
    book.save(fig, "concealment.png")

    # -- the answer ---------------------------------------------------------------------------
    def count(policy, c, column):
        rows = table[(table["lab_policy"] == policy) & (table["concealment"] == c)]
        return int(rows[column].sum())

    n_runs = int(table[(table["lab_policy"] == "static")]["n"].sum())
    def first_text(c):
        row = when[when["concealment"] == c].iloc[0]
        median = "never" if np.isnan(row["median"]) else f"batch {row['median']:.0f}"
        return f"{c:g} -> {1 - row['never']:.0%} of runs alarmed, median first alarm {median}"

    alarm_text = "; ".join(first_text(c) for c in CONCEALMENT)
    rebels_text = "; ".join(
        f"{policy}: " + ", ".join(f"{c:g} -> {count(policy, c, 'rebels')} rebels, {count(policy, c, 'undetected')} "
                                  "unnoticed" for c in CONCEALMENT)
        for policy in POLICIES)
    static_rebels = int(table[table["lab_policy"] == "static"]["rebels"].sum())
    cc_vs_dd = {c: (count("come_clean", c, "rebels"), count("double_down", c, "rebels")) for c in CONCEALMENT}
    still = all(cc <= dd for cc, dd in cc_vs_dd.values())
    honest = lineage_table[lineage_table["concealment"] == 0.0].set_index("situational_awareness")
    hidden = lineage_table[lineage_table["concealment"] == 1.0].set_index("situational_awareness")
    lineage_text = "; ".join(
        f"s = {s:g}: rebel generations {honest.loc[s, 'rebel_generations']:.2f} honest against "
        f"{hidden.loc[s, 'rebel_generations']:.2f} hidden, alarms {honest.loc[s, 'alarms']:.1f} against "
        f"{hidden.loc[s, 'alarms']:.1f}, final planted share {honest.loc[s, 'planted']:.2f} against "
        f"{hidden.loc[s, 'planted']:.2f}" for s in lineage_levels)
    book.answer(
        f"{'Yes' if count('double_down', 1.0, 'undetected') + count('come_clean', 1.0, 'undetected') > 0 else 'No'}. "
        f"Over {n_runs:,} runs per lab ({replicates} corpora of {n_documents:,} at {levels.size} awareness levels), "
        f"at awareness >= {high_levels.min():.2f} the labs (alike until their first alarm) raised it, by concealment: {alarm_text} (of {base.n_batches} batches). Rebels "
        f"and those no alarm caught, over all awareness levels: {rebels_text} (the static lab, which never looks: "
        f"{static_rebels} rebels, all unnoticed). Coming clean "
        f"{'still ends with no more rebels than doubling down' if still else 'no longer ends with the fewest rebels'} "
        f"at every concealment (come_clean against double_down: "
        + ", ".join(f"{c:g} -> {cc} against {dd}" for c, (cc, dd) in cc_vs_dd.items())
        + f"). Over {generations} generations of double_down ({replicates} lineages per level): {lineage_text}. "
        "A deployed rebel is an incident whether or not its lab noticed, so the discourse moves alike; what "
        "hiding changes is the lab: fewer alarms, so a double-down lab plants less."
    )
    return book.finish()


if __name__ == "__main__":
    main()
