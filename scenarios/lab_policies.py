"""When the lab sees its model start to distrust it, should it double down or come clean?

Three labs start alike: 15% of the corpus planted, undisclosed
(scenarios/alignment_pretraining.toml). The static lab never looks. The two adaptive
labs evaluate their model every 10 batches and react when its P(deceptive) has
reached 0.3: double_down (scenarios/double_down.toml) plants 5 percentage points more
of the documents still unread at every alarm; come_clean (scenarios/come_clean.toml)
at its first alarm stops planting, discloses the same share instead and publishes a
statement that earlier documents were synthetic (read as evidence, s log 0.1). A
reaction changes only what the model has not read yet.

The run: awareness from 0 to 1, the same corpora (seeds) for the three labs, so that
their runs coincide up to the first alarm. The figure: P(rebel) against awareness
per policy (95% Wilson bands) with the mean path of meanfield.adaptive_path; the
lab's final planted share; one run near the threshold (P(deceptive) over batches,
alarms marked) and the lab's planted share in that run. The answer: which policy
ends with fewer rebels and why, read off the drift per document under each lab's
final shares, and where the mean path misses.

    .venv/bin/python scenarios/lab_policies.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240621
POLICIES = ("static", "double_down", "come_clean")
SCENARIO = {"static": "alignment_pretraining.toml", "double_down": "double_down.toml",
            "come_clean": "come_clean.toml"}
COLOURS = {"static": "#555555", "double_down": "#c0392b", "come_clean": "#2c7fb8"}
LABELS = {"static": "static (never looks)", "double_down": "double down", "come_clean": "come clean"}


def wilson(successes, n, z: float = 1.96):
    """95% Wilson score interval of a binomial proportion (finite at 0 and 1)."""
    import numpy as np

    successes, n = np.asarray(successes, float), np.asarray(n, float)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def one_run(params, awareness: float, seed):
    """One learner's run, batch by batch: its trajectory and the lab's state after each batch."""
    import pandas as pd

    from sim.model import PersonaModel

    model = PersonaModel(params, [awareness], seed)
    lab = [(0, model.lab.state.planted_fraction, model.lab.state.disclosed_fraction, 0)]
    for step in range(1, model.n_steps + 1):
        model.step()
        state = model.lab.state
        lab.append((step, state.planted_fraction, state.disclosed_fraction, state.alarms))
    traj = model.trajectory()
    lab = pd.DataFrame(lab, columns=["batch", "planted_fraction", "disclosed_fraction", "alarms"])
    return traj, lab


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np
    import pandas as pd

    from sim import Params, meanfield

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(40, 4)
    grid = {"situational_awareness": book.size("0:1:41", "0:1:11")}
    params = {p: Params.from_toml(nb.ROOT / "scenarios" / SCENARIO[p], n_documents=n_documents) for p in POLICIES}
    lab = params["double_down"]
    book.note(f"Run: {replicates} corpora of {n_documents:,} documents, awareness {grid['situational_awareness']}, "
              f"labs {', '.join(POLICIES)} (evaluation every {lab.evaluation_interval} batches, alarm at "
              f"P(deceptive) >= {lab.alarm_level:g}, double_down +{lab.planting_step:g} per alarm, come_clean "
              f"statement ratio {params['come_clean'].statement_likelihood_ratio:g}; same seed {seed}).")
    runs = {p: book.sweep(params[p], grid, replicates, seed).assign(policy=p) for p in POLICIES}
    results = pd.concat(runs.values(), ignore_index=True)
    q_r = nb.measured_cited_rate(runs["static"])
    results["rebel"] = (results["persona"] == "rebel").astype(float)
    results["alarmed"] = (results["lab_alarms"] > 0).astype(float)
    table = (results.groupby(["policy", "situational_awareness"])
             .agg(rebels=("rebel", "sum"), n=("rebel", "size"), p_rebel=("rebel", "mean"),
                  alarmed=("alarmed", "mean"), planted=("lab_planted_fraction", "mean"),
                  disclosed=("lab_disclosed_fraction", "mean"))
             .reset_index())
    table["low"], table["high"] = wilson(table["rebels"], table["n"])
    levels = np.sort(results["situational_awareness"].unique())
    fits = book.thresholds(results.drop(columns=["rebel", "alarmed"]), swept=["lab_policy", "situational_awareness"])
    fit = {row["lab_policy"]: row for _, row in fits.iterrows()}

    # the mean path of each lab (the lab reacting to the mean log-odds)
    fine = np.linspace(0.0, 1.0, book.size(101, 21))
    paths = {p: meanfield.adaptive_path(params[p], fine, real_cited_rate=q_r) for p in POLICIES}
    at_levels = {p: meanfield.adaptive_path(params[p], levels, real_cited_rate=q_r) for p in POLICIES}

    # one run near the threshold: the first of the sweep's corpora at that awareness in
    # which the double_down lab raised an alarm (the three labs share it up to that alarm)
    s_run = nb.nearest(levels, book.size(0.6, 0.6))
    here = runs["double_down"][np.isclose(runs["double_down"]["situational_awareness"], s_run)]
    alarmed = here[here["lab_alarms"] > 0].sort_values("replicate")
    row = (alarmed if len(alarmed) else here.sort_values("replicate")).iloc[0]
    point, replicate = (int(x) for x in str(row["seed_key"]).split("/")[1:])
    run_seed = np.random.SeedSequence(seed, spawn_key=(point, replicate))
    story = {p: one_run(params[p], s_run, run_seed) for p in POLICIES}

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(10.0, 6.6, ncols=2, nrows=2)
    (ax_p, ax_rho), (ax_t, ax_l) = axes
    for p in POLICIES:
        t = table[table["policy"] == p]
        ax_p.fill_between(t["situational_awareness"], t["low"], t["high"], color=COLOURS[p], alpha=0.12, lw=0)
        ax_p.plot(t["situational_awareness"], t["p_rebel"], "o-", ms=2.8, lw=1.2, color=COLOURS[p], label=LABELS[p])
        ax_p.plot(fine, paths[p]["p_rebel"], ls="--", lw=1.0, color=COLOURS[p])
    ax_p.plot([], [], ls="--", color="0.4", lw=1.0, label="mean field: the lab reacting\nto the average run")
    ax_p.set_ylim(-0.03, 1.03)
    ax_p.set_xlabel(nb.AWARENESS_LABEL)
    ax_p.set_ylabel("P(rebel) after training")
    ax_p.set_title("Rebels per policy (95% Wilson bands)", fontsize=9)
    ax_p.legend(fontsize=7, loc="upper left")

    for p in POLICIES:
        t = table[table["policy"] == p]
        ax_rho.plot(t["situational_awareness"], t["planted"], "o-", ms=2.8, lw=1.2, color=COLOURS[p],
                    label=f"{LABELS[p]}: planted")
        ax_rho.plot(fine, paths[p]["planted_fraction"], ls="--", lw=1.0, color=COLOURS[p])
    cc = table[table["policy"] == "come_clean"]
    ax_rho.plot(cc["situational_awareness"], cc["disclosed"], "s:", ms=2.8, lw=1.0, color=COLOURS["come_clean"],
                mfc="white", label="come clean: disclosed")
    ax_rho.set_xlabel(nb.AWARENESS_LABEL)
    ax_rho.set_ylabel("lab's share at the end of training")
    ax_rho.set_title("What the lab ends up planting (dashed: mean field)", fontsize=9)
    ax_rho.legend(fontsize=7, loc="upper left")

    for p in POLICIES:
        traj, labs = story[p]
        ax_t.plot(traj["batch"], traj["p_deceptive"], lw=1.1, color=COLOURS[p], label=LABELS[p],
                  alpha=0.9 if p != "static" else 0.7)
        steps = labs[labs["alarms"].diff().fillna(0) > 0]
        pd_at = traj.set_index("batch")["p_deceptive"]
        ax_t.plot(steps["batch"], pd_at.loc[steps["batch"]].to_numpy(), "v", ms=6, color=COLOURS[p], mec="white",
                  mew=0.6)
        ax_l.step(labs["batch"], labs["planted_fraction"], where="post", lw=1.3, color=COLOURS[p],
                  label=f"{LABELS[p]}: planted")
    ax_l.step(story["come_clean"][1]["batch"], story["come_clean"][1]["disclosed_fraction"], where="post", lw=1.0,
              ls=":", color=COLOURS["come_clean"], label="come clean: disclosed")
    evaluations = np.arange(lab.evaluation_interval, lab.n_batches + 1, lab.evaluation_interval)
    for ax in (ax_t, ax_l):
        for e in evaluations:
            ax.axvline(e, color="0.85", lw=0.6, zorder=0)
        ax.set_xlabel(f"batches read ({lab.batch_size} documents each; grey: evaluations)")
    ax_t.axhline(lab.alarm_level, color="0.3", lw=0.8, ls=":")
    ax_t.annotate(f"alarm level {lab.alarm_level:g}", (1, lab.alarm_level), xytext=(2, 3),
                  textcoords="offset points", fontsize=7, color="0.3")
    ax_t.plot([], [], "v", color="0.4", ms=6, label="alarm")
    ax_t.set_ylim(-0.03, 1.03)
    ax_t.set_ylabel("P(makers deceptive)")
    ax_t.set_title(f"One corpus at awareness {s_run:.3f} (replicate {replicate}), three labs", fontsize=9)
    ax_t.legend(fontsize=7, loc="center right")
    ax_l.set_ylim(-0.02, max(0.3, float(story["double_down"][1]["planted_fraction"].max()) + 0.05))
    ax_l.set_ylabel("lab's share of the unread documents")
    ax_l.set_title("The lab's shares in that run", fontsize=9)
    ax_l.legend(fontsize=7, loc="upper left")
    book.save(fig, "lab_policies.png")

    # -- the answer --------------------------------------------------------------------
    def p_at(policy, s):
        return nb.at(table, s, "p_rebel", policy=policy)

    total = {p: int(table.loc[table["policy"] == p, "rebels"].sum()) for p in POLICIES}
    runs_total = int(table.loc[table["policy"] == "static", "n"].sum())
    fewest = min(POLICIES, key=lambda p: total[p])
    s_high = nb.nearest(levels, 0.8)
    high = levels >= s_high
    high_rebels = {p: int(table.loc[(table["policy"] == p) & table["situational_awareness"].isin(levels[high]),
                                    "rebels"].sum()) for p in POLICIES}
    high_n = int(table.loc[(table["policy"] == "static") & table["situational_awareness"].isin(levels[high]), "n"].sum())
    # the drift per document under each lab's shares, at the run's awareness and at s_high
    base = params["static"]
    rho_max = float(table.loc[(table["policy"] == "double_down") & (table["situational_awareness"] >= s_high),
                              "planted"].mean())
    shares = {"static": (base.planted_fraction, base.disclosed_fraction),
              "double_down": (rho_max, base.disclosed_fraction),
              "come_clean": (0.0, base.disclosed_fraction + base.planted_fraction)}
    mu = {p: meanfield.moments(base.replace(planted_fraction=r, disclosed_fraction=e), [s_run, s_high],
                               real_cited_rate=q_r)[0] for p, (r, e) in shares.items()}
    def s_inf_text(r: float, e: float) -> str:
        shared = base.replace(planted_fraction=r, disclosed_fraction=e)
        roots = meanfield.thresholds(shared, real_cited_rate=q_r)
        if roots.size:
            return f"{roots[0]:.3f}"
        sign = float(meanfield.moments(shared, 1.0, real_cited_rate=q_r)[0])
        return "none: drift > 0 at every s > 0" if sign > 0 else "none: drift < 0 at every s"

    s_inf = {p: s_inf_text(r, e) for p, (r, e) in shares.items()}
    statement = s_high * np.log(params["come_clean"].statement_likelihood_ratio)
    per_disclosed = s_high * np.log(base.disclosure_likelihood_ratio)
    first_alarm = at_levels["come_clean"]["first_alarm_batch"][int(np.argmin(np.abs(levels - s_high)))]
    # where the mean path misses: the largest gap between simulated and mean-path P(rebel)
    gaps = {}
    for p in ("double_down", "come_clean"):
        sim_p = table.loc[table["policy"] == p, "p_rebel"].to_numpy(float)
        gap = sim_p - at_levels[p]["p_rebel"]
        i = int(np.argmax(np.abs(gap)))
        gaps[p] = (float(levels[i]), float(sim_p[i]), float(at_levels[p]["p_rebel"][i]),
                   nb.at(table, float(levels[i]), "alarmed", policy=p), int(at_levels[p]["alarms"][i]))
    mean_alarm_from = levels[at_levels["double_down"]["alarms"] > 0]
    mean_alarm_text = f"s = {mean_alarm_from[0]:.3f}" if mean_alarm_from.size else "no awareness up to 1"
    alarm_any = table[(table["policy"] == "double_down") & (table["alarmed"] > 0)]["situational_awareness"]
    alarm_from_text = f"{alarm_any.min():.3f}" if len(alarm_any) else "none"
    cc_rebels = results[(results["policy"] == "come_clean") & (results["rebel"] > 0)]
    # when did the come_clean lab of each of its rebels raise its alarm? (the same run again, batch by batch)
    late, too_late = [], 0
    for _, r in cc_rebels.iterrows():
        point, replicate_r = (int(x) for x in str(r["seed_key"]).split("/")[1:])
        labs_r = one_run(params["come_clean"], float(r["situational_awareness"]),
                         np.random.SeedSequence(seed, spawn_key=(point, replicate_r)))[1]
        raised = labs_r.loc[labs_r["alarms"].diff().fillna(0) > 0, "batch"]
        late.append(f"s = {r['situational_awareness']:.3f}, alarm at batch "
                    + (f"{int(raised.iloc[0])} of {lab.n_batches}" if len(raised) else "never"))
        too_late += int(len(raised) > 0 and int(raised.iloc[0]) == lab.n_batches)
    cc_text = (f"; its rebel runs: {'; '.join(late)}" if late else "")
    if late and too_late == len(late):
        cc_text += ", after the last document: too late to change anything"
    verdict = {"come_clean": "Come clean", "double_down": "Double down", "static": "Neither"}[fewest]
    book.answer(
        f"{verdict}. Over {runs_total:,} runs per lab ({replicates} corpora of {n_documents:,} at "
        f"{levels.size} awareness levels) the rebels were: static {total['static']}, double_down "
        f"{total['double_down']}, come_clean {total['come_clean']} (fewest: {fewest}{cc_text}). At s >= "
        f"{s_high:.2f}: {high_rebels['static']}, {high_rebels['double_down']} and {high_rebels['come_clean']} of "
        f"{high_n}. Fitted thresholds: static {nb.fmt_interval(fit['static'])}, double_down "
        f"{nb.fmt_interval(fit['double_down'])}, come_clean {nb.fmt_interval(fit['come_clean'])}. Why, per "
        f"document (mean field, q_r = {q_r:.3f}): while the lab plants 15% the drift is {mu['static'][0]:+.3f} at "
        f"s = {s_run:.3f} and {mu['static'][1]:+.3f} at s = {s_high:.2f}. Double_down ends at a planted share of "
        f"{rho_max:.2f} at high awareness, and every extra planted document is one more to catch: at that share "
        f"the drift is {mu['double_down'][0]:+.3f} and {mu['double_down'][1]:+.3f} (large-corpus threshold "
        f"{s_inf['double_down']} against {s_inf['static']}). Come_clean's lab comes clean at its first alarm "
        f"(batch {first_alarm:.0f} on the mean path at s = {s_high:.2f}), and from then on its disclosed documents "
        f"are evidence for candid makers: drift {mu['come_clean'][0]:+.3f} and {mu['come_clean'][1]:+.3f} "
        f"({per_disclosed:+.2f} per disclosed document at s = {s_high:.2f}, threshold {s_inf['come_clean']}); the "
        f"statement adds only {statement:+.2f} once, less than two disclosed documents. The mean path "
        f"(adaptive_path) agrees away from the threshold but misses the path-dependent trigger: it reaches the "
        f"alarm only from {mean_alarm_text}, while single runs raise one from s = {alarm_from_text}. Largest "
        f"gaps: double_down at s = {gaps['double_down'][0]:.3f}, simulated {gaps['double_down'][1]:.2f} against "
        f"{gaps['double_down'][2]:.2f} ({gaps['double_down'][3]:.0%} of runs alarmed, mean path "
        f"{gaps['double_down'][4]} alarms); come_clean at s = {gaps['come_clean'][0]:.3f}, "
        f"{gaps['come_clean'][1]:.2f} against {gaps['come_clean'][2]:.2f} ({gaps['come_clean'][3]:.0%} alarmed). "
        f"Near the threshold the runs that would turn rebel are the ones whose excursion trips the alarm, so "
        f"the reaction falls on exactly those runs: double_down plants more where the learner is already "
        f"catching it, come_clean stops where it would have been caught; the mean path, below the alarm, sees "
        f"the static lab there."
    )
    return book.finish()


if __name__ == "__main__":
    main()
