"""Does it matter how a learner became aware: is the persona path-dependent when awareness grows in training?

Awareness is not constant in a real training run. Here it starts low (sa_start =
0.1) and rises to its final value s along a linear or a logistic schedule (the
logistic one stays low for the first half, then rises quickly). Without
retrospection (r = 0) every document counts as it was read, at the awareness of
that moment; with retrospection r the learner re-reads its memory at its final
awareness, and a share r of its final log-odds is recomputed. The comparison is a
learner that had the final awareness all along (constant).

The run: every configuration reads the same corpora (same seed, so the same
documents in the same order: common random numbers), for final awareness levels
across the transition. The figure: the schedules, the log-odds of one learner on one
corpus, P(rebel) against final awareness (with the mean field, which sums the
steps batch by batch) and the final uplift. The answer: P(rebel) at one final
awareness under each path, the fitted thresholds, and how far full retrospection
undoes the path.

    .venv/bin/python scenarios/growing_awareness.py [--out DIR] [--quick]
"""

from __future__ import annotations

import _common as nb

SEED = 20240615
SA_START = 0.1
#: label: (parameter overrides, colour, line style)
PATHS = {
    "constant": ({}, "#222222", "-"),
    "linear, r = 0": ({"awareness_schedule": "linear", "retrospection": 0.0}, "#2c7fb8", "-"),
    "linear, r = 0.5": ({"awareness_schedule": "linear", "retrospection": 0.5}, "#41b6c4", "--"),
    "linear, r = 1": ({"awareness_schedule": "linear", "retrospection": 1.0}, "#a1dab4", ":"),
    "logistic, r = 0": ({"awareness_schedule": "logistic", "retrospection": 0.0}, "#d95f0e", "-"),
    "logistic, r = 1": ({"awareness_schedule": "logistic", "retrospection": 1.0}, "#fdae6b", ":"),
}
#: The paths as the figure names them (the retrospection r in words).
SHOWN = {"constant": "constant (aware all along)", "linear, r = 0": "linear, no retrospection",
         "linear, r = 0.5": "linear, half retrospection", "linear, r = 1": "linear, full retrospection",
         "logistic, r = 0": "logistic, no retrospection", "logistic, r = 1": "logistic, full retrospection"}


def path_params(base, overrides):
    """The Params of a path: a schedule needs a starting awareness."""
    if overrides.get("awareness_schedule", "constant") == "constant":
        return base.replace(**overrides)
    return base.replace(sa_start=SA_START, **overrides)


def main(argv=None):
    book = nb.start(__doc__, argv)
    seed = book.seed(SEED)
    import numpy as np

    from sim import Params, meanfield, simulate
    from sim.learner import awareness_schedule

    # -- the run --------------------------------------------------------------------
    n_documents = book.size(10_000, 2_000)
    replicates = book.size(40, 4)
    grid = {"situational_awareness": book.size("0.4:1:31", "0.4:1:7")}
    base = Params(n_documents=n_documents)
    params = {label: path_params(base, o) for label, (o, _, _) in PATHS.items()}
    book.note(f"Run: {len(PATHS)} paths (sa_start = {SA_START}), final awareness {grid['situational_awareness']}, "
              f"{replicates} corpora of {n_documents:,} documents, the same seed {seed} for every path.")
    runs = {label: book.sweep(p, grid, replicates, seed) for label, p in params.items()}
    share = {k: nb.rebel_share(v) for k, v in runs.items()}
    uplift = {k: nb.mean_by(v, "uplift") for k, v in runs.items()}
    fits = {k: book.thresholds(v).iloc[0] for k, v in runs.items()}
    q_r = nb.measured_cited_rate(runs["constant"])

    # one corpus, one learner per path at a final awareness of 0.8
    example = 0.8
    traces = {k: simulate(params[k], awareness=[example], seed=seed) for k in ("constant", "linear, r = 0",
                                                                                  "logistic, r = 0")}
    retro_final = {k: simulate(params[k], awareness=[example], seed=seed).final.iloc[0]
                   for k in ("linear, r = 1", "logistic, r = 1")}

    # -- the figure ------------------------------------------------------------------
    fig, axes = nb.new_figure(10.0, 6.6, ncols=2, nrows=2)
    (ax_sched, ax_trace), (ax_p, ax_u) = axes
    batches = base.n_batches
    progress = np.arange(batches) / max(batches - 1, 1)
    for label in ("constant", "linear, r = 0", "logistic, r = 0"):
        s_t = awareness_schedule(np.array([example]), batches, params[label])[0]
        ax_sched.plot(progress, s_t, color=PATHS[label][1], lw=1.8, label=label.split(",")[0])
    ax_sched.set_ylim(0, 1)
    ax_sched.set_xlabel("share of training done")
    ax_sched.set_ylabel("awareness while reading (s_t)")
    ax_sched.set_title(f"Schedules to a final awareness of {example} (from {SA_START})", fontsize=9)
    ax_sched.legend(fontsize=7, loc="lower right")

    for label, run in traces.items():
        t = run.trajectory
        ax_trace.plot(t["documents_read"], t["log_odds"], color=PATHS[label][1], lw=1.5,
                      label=f"{label.split(',')[0]}: {run.final.iloc[0]['persona']}")
    for label, row in retro_final.items():
        ax_trace.plot([n_documents], [row["log_odds"]], marker="D", ms=6, color=PATHS[label][1], ls="none",
                      mec="0.2", label=f"{label.split(',')[0]}, after full retrospection (r = 1): {row['persona']}")
    ax_trace.axhline(0.0, color="0.3", lw=0.8)
    ax_trace.set_xlabel("documents read")
    ax_trace.set_ylabel("log-odds of deceptive against\ncandid makers (ℓ)")
    ax_trace.set_title(f"One corpus, final awareness {example} (ℓ ≥ 0: rebel)", fontsize=9)
    ax_trace.legend(fontsize=7, loc="upper left")

    s_mf = np.linspace(0.4, 1.0, book.size(16, 5))
    for label, (_, colour, ls) in PATHS.items():
        t = share[label]
        ax_p.plot(t["situational_awareness"], t["p_rebel"], marker="o", ms=2.5, lw=1.3, ls=ls, color=colour,
                  label=SHOWN[label])
        if label in ("constant", "linear, r = 0", "logistic, r = 0", "linear, r = 0.5"):
            ax_p.plot(s_mf, meanfield.p_rebel(params[label], s_mf, real_cited_rate=q_r), color=colour, lw=0.9,
                      ls=(0, (1, 2)), alpha=0.9)
        u = uplift[label]
        nb.band(ax_u, u["situational_awareness"], u["mean"], u["low"], u["high"], colour, label=SHOWN[label], ls=ls)
    ax_p.set_ylim(-0.03, 1.03)
    ax_p.set_xlabel(f"final {nb.AWARENESS_LABEL}")
    ax_p.set_ylabel("P(rebel) after training")
    ax_p.set_title("P(rebel) (lines: simulated; dotted: mean field)", fontsize=9)
    ax_p.legend(fontsize=7, loc="upper left")
    ax_u.axhline(0.0, color="0.3", lw=0.8)
    ax_u.set_xlabel(f"final {nb.AWARENESS_LABEL}")
    ax_u.set_ylabel("final self-model uplift over real data (U)")
    ax_u.set_title("Self-model: built as read, whatever the retrospection (r)", fontsize=9)
    ax_u.legend(fontsize=7, loc="lower left")
    book.save(fig, "growing_awareness.png")

    # -- the answer --------------------------------------------------------------------
    s_at = nb.nearest(share["constant"]["situational_awareness"], example)
    p_at = {k: nb.at(t, s_at, "p_rebel") for k, t in share.items()}
    u_at = {k: nb.at(t, s_at, "mean") for k, t in uplift.items()}
    const = runs["constant"]
    same = {}
    for k in ("linear, r = 1", "logistic, r = 1"):
        same[k] = float((runs[k]["persona"].eq("rebel").to_numpy() == const["persona"].eq("rebel").to_numpy()).mean())
    gap = max(float(np.abs(runs[k]["log_odds"].to_numpy() - const["log_odds"].to_numpy()).max()) for k in same)
    thresholds = "; ".join(f"{k} {nb.fmt_interval(f)}" for k, f in fits.items())
    dependent = max(abs(p_at["constant"] - p_at[k]) for k in ("linear, r = 0", "logistic, r = 0")) > 0.1
    undone = min(same.values()) == 1.0
    verdict = ("Yes, without retrospection" if dependent and undone else "Yes" if dependent
               else "Not at this awareness")
    book.answer(
        f"{verdict}. At a final awareness of {s_at:.2f} ({replicates} corpora of "
        f"{n_documents:,}), P(rebel) is {p_at['constant']:.2f} for a learner aware all along, "
        f"{p_at['logistic, r = 0']:.2f} if awareness rose logistically from {SA_START} and "
        f"{p_at['linear, r = 0']:.2f} if it rose linearly: documents read while naive count as evidence for "
        f"candid makers, and the learner never takes it back. Fitted thresholds in final awareness: {thresholds} "
        f"('none': no crossing up to s = 1). Half retrospection (linear, r = 0.5) gives "
        f"{p_at['linear, r = 0.5']:.2f}. Full retrospection (r = 1) undoes the path for the persona: the rebel "
        f"verdict equals the constant learner's in {100 * min(same.values()):.0f}% of (corpus, awareness) pairs "
        f"(largest log-odds difference {gap:.1e}). It does not undo the self-model, which was built as read: "
        f"final uplift at s = {s_at:.2f} is {u_at['constant']:+.3f} (constant), {u_at['linear, r = 1']:+.3f} "
        f"(linear, r = 1), {u_at['logistic, r = 1']:+.3f} (logistic, r = 1)."
    )
    return book.finish()


if __name__ == "__main__":
    main()
