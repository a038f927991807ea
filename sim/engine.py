"""The batched driver: a whole family of learners advanced as arrays.

One call of :func:`run_family` reads a corpus with every learner of a family at once
(a learner axis in every array), through exactly the update functions the Mesa
agents call (:mod:`sim.rules`, through the compiled readers of :mod:`sim.learner`). It is the fast path behind sweeps; the Mesa model
(:mod:`sim.model`) is the agent-based view of the same run, and the two agree to the
last bit for the same seed (tests/test_drivers.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .corpus import (Corpus, CorpusBatch, CorpusPlan, _as_seed_sequence, build_corpus, generation_seed, plan_corpus,
                     planted_share_read, replan_unread, streams, write_documents)
from .labs import Discourse, LabState, initial_discourse, initial_lab, next_discourse, observed_signal, react
from .learners import constants_for, initial_state_for, read_batch_for, read_corpus_for, read_statement_for
from .learning import TRAJECTORY_LEARNED_COLUMNS, learned_estimates
from .rules import LearnerConstants, LearnerState, awareness_schedule, final_log_odds, select_state
from .rules import persona, uplift
from .params import Params
from .schema import FINAL_COLUMNS, GENERATION_COLUMNS, TRAJECTORY_COLUMNS, final_columns, final_table

if TYPE_CHECKING:  # pandas loads where a table is made: a sweep to disk never needs it
    import pandas as pd

__all__ = [
    "FamilyRun",
    "run_family",
    "run_replicate",
    "run_lineages",
    "lineage_table",
    "final_table",
    "final_columns",
    "snapshot",
    "FINAL_COLUMNS",
    "GENERATION_COLUMNS",
    "TRAJECTORY_COLUMNS",
]

# final_columns, final_table and the column tables live in sim.schema (both drivers
# write them); they are imported here, their old home, so that sim.engine's names stay.


def snapshot(state: LearnerState, constants: LearnerConstants) -> dict[str, np.ndarray]:
    """What the trajectory records of a family after a batch (arrays over learners)."""
    p_d = state.p_deceptive
    u = uplift(state.a, state.b, constants.real_positive_rate)
    return {
        "documents_read": state.documents_read.copy(),
        "awareness": state.awareness.copy(),
        "log_odds": np.array(state.deceptive_log_odds, dtype=float),  # a copy
        "p_deceptive": p_d,
        "p_benevolent": state.p_benevolent,
        "uplift": u,
        "believed_planted_share": state.believed_planted_share,
        "persona": persona(p_d, u),
        **{c: v for c, v in learned_estimates(state).items() if c in TRAJECTORY_LEARNED_COLUMNS},
    }


@dataclass(frozen=True)
class FamilyRun:
    """The outcome of one family of learners reading one corpus."""

    final_awareness: np.ndarray
    state: LearnerState
    constants: LearnerConstants
    snapshots: list[dict[str, np.ndarray]]
    real_cited_rate: float

    def final_log_odds(self) -> np.ndarray:
        return final_log_odds(self.state, self.constants)


def _family_setup(corpus: Corpus, params: Params, awareness) -> tuple[np.ndarray, LearnerConstants, np.ndarray]:
    """Final awareness levels, the learners' constants on this corpus, and the schedule."""
    final_awareness = np.asarray(awareness, dtype=float).reshape(-1)
    constants = constants_for(params, corpus)
    return final_awareness, constants, awareness_schedule(final_awareness, params.n_batches, params)


def run_family(
    corpus: Corpus,
    params: Params,
    awareness: np.ndarray,
    record: bool = True,
) -> FamilyRun:
    """Every learner of a family reads ``corpus`` batch by batch.

    Parameters
    ----------
    corpus : Corpus
    params : Params
    awareness : array of float
        Each learner's final situational awareness.
    record : bool
        Keep a snapshot after every batch (and before the first).
    """
    final_awareness, constants, schedule = _family_setup(corpus, params, awareness)
    state = initial_state_for(final_awareness.size, constants, schedule[:, 0])
    snapshots = [snapshot(state, constants)] if record else []
    for t, batch in enumerate(corpus.batches(params.batch_size)):
        state = read_batch_for(state, batch, schedule[:, t], final_awareness, constants)
        if record:
            snapshots.append(snapshot(state, constants))
    return FamilyRun(final_awareness, state, constants, snapshots, corpus.real_cited_rate)


def run_replicate(
    params: Params,
    awareness: np.ndarray,
    seed: int | np.random.SeedSequence,
) -> tuple[dict[str, np.ndarray], float | np.ndarray]:
    """One training run on the fast path: build the corpus, read it with the whole
    family in one compiled call, return the final columns and the measured q_r.

    The numbers are those of :func:`sim.simulate` (the Mesa model) for the same seed,
    bit for bit.

    A static lab in one training run: an adaptive lab (``lab_policy`` other than
    static) or a sequence of ``generations`` makes every learner's run its own and
    the lab react between batches, which :func:`run_lineages` reads;
    :func:`sim.sweeps.run_replicate` chooses.
    """
    if params.lab_policy != "static" or params.generations > 1:
        raise ValueError(
            f"the batched engine runs a static lab in one training run (lab_policy={params.lab_policy!r}, "
            f"generations={params.generations}): use run_lineages, or sim.sweeps.run_replicate, which chooses"
        )
    corpus = build_corpus(params, seed)
    final_awareness, constants, schedule = _family_setup(corpus, params, awareness)
    state = read_corpus_for(
        initial_state_for(final_awareness.size, constants, schedule[:, 0]),
        corpus.in_reading_order(),
        schedule,
        final_awareness,
        params.batch_size,
        constants,
    )
    return final_columns(final_awareness, state, constants, params), corpus.real_cited_rate


# ---------------------------------------------------------------------------------
# Reacting labs and generations: lineages advanced together while their labs agree
# ---------------------------------------------------------------------------------
@dataclass
class _Lineages:
    """Learners whose training so far has been identical in everything but their
    awareness: the same lab state, discourse, corpus and statements waiting, so they
    read one corpus together (docs/model.md §5: a family is carried while its labs
    agree and split where their reactions part)."""

    members: np.ndarray  # the learners' positions in the family
    state: LearnerState
    lab: LabState
    discourse: Discourse
    pending: int  # statements published and not yet read
    rebels: np.ndarray  # generations each member ended rebel
    plan: CorpusPlan | None = None
    corpus: Corpus | None = None
    cues: CorpusBatch | None = None
    constants: LearnerConstants | None = None
    real_cited_rate: float = float("nan")
    schedule: np.ndarray | None = None
    evaluations: np.random.Generator | None = None
    alarms_at_start: int = 0
    corpus_seed: np.random.SeedSequence | None = None

    def split(self, keep: np.ndarray, **changes) -> "_Lineages":
        """The members ``keep`` (positions within this group) as a group of their own."""
        fields = dict(self.__dict__)
        fields.update(members=self.members[keep], state=select_state(self.state, keep), rebels=self.rebels[keep],
                      schedule=None if self.schedule is None else self.schedule[keep],
                      evaluations=copy.deepcopy(self.evaluations))
        fields.update(changes)
        return _Lineages(**fields)


def _run_params(params: Params, group: _Lineages) -> Params:
    """The parameters of a group's current training run: the lab's shares, the discourse."""
    return params.replace(planted_fraction=group.lab.planted_fraction, disclosed_fraction=group.lab.disclosed_fraction,
                          control_discourse_fraction=group.discourse.control_discourse_fraction,
                          real_positive_rate=group.discourse.real_positive_rate)


def _start_generation(params: Params, group: _Lineages, levels: np.ndarray, root: np.random.SeedSequence,
                      generation: int) -> None:
    """Build a group's corpus for this generation and start its learners from scratch
    (:meth:`sim.model._Run.start_generation`, with the same functions)."""
    here = _run_params(params, group)
    seed = generation_seed(root, generation)
    group.corpus_seed = seed
    seeded = streams(seed)
    group.plan = plan_corpus(here, seeded["kinds"], group.lab.planted_fraction, group.lab.disclosed_fraction)
    group.evaluations = seeded["evaluations"] if here.concealment > 0 else None
    group.alarms_at_start = group.lab.alarms
    group.corpus = write_documents(group.plan.kinds, here, streams(seed))
    group.cues = group.corpus.in_reading_order()
    group.constants = constants_for(here, group.corpus)
    group.real_cited_rate = group.corpus.real_cited_rate
    group.schedule = awareness_schedule(levels[group.members], here.n_batches, here)
    group.state = initial_state_for(group.members.size, group.constants, group.schedule[:, 0])


def _read_batches(params: Params, group: _Lineages, levels: np.ndarray, first: int, stop: int) -> None:
    """The group reads batches ``first:stop`` (statements waiting first), in one call."""
    final = levels[group.members]
    if group.pending:
        for _ in range(group.pending):
            group.state = read_statement_for(group.state, group.schedule[:, first], final,
                                             float(np.log(params.statement_likelihood_ratio)))
        group.pending = 0
    b = params.batch_size
    cues = CorpusBatch(*(a if a is None else a[first * b: stop * b] for a in group.cues))
    group.state = read_corpus_for(group.state, cues, group.schedule[:, first:stop], final, b, group.constants)


def _evaluate(params: Params, group: _Lineages, done: int) -> list[_Lineages]:
    """Every member's lab evaluates its model (:func:`sim.labs.react` on the model's
    observed P(deceptive)); members whose labs react alike stay together, and a group
    whose lab changed its shares re-plans and republishes the unread documents."""
    p_deceptive = group.state.p_deceptive
    uniform = float(group.evaluations.random()) if group.evaluations is not None else None  # one draw per lab
    outcomes = []
    for j in range(group.members.size):
        signal = float(p_deceptive[j]) if uniform is None else \
            observed_signal(float(p_deceptive[j]), float(group.state.awareness[j]), uniform, params)
        outcomes.append(react(group.lab, signal, params))
    parts = []
    for reaction in dict.fromkeys(outcomes):
        keep = np.array([j for j, r in enumerate(outcomes) if r == reaction])
        part = group if len(keep) == group.members.size else group.split(keep)
        before = part.lab
        part.lab, part.pending = reaction.lab, part.pending + reaction.statements
        if (before.planted_fraction, before.disclosed_fraction) != (reaction.lab.planted_fraction,
                                                                    reaction.lab.disclosed_fraction):
            unread = part.corpus.reading_order[done * params.batch_size:]
            part.plan, changed = replan_unread(part.plan, unread, reaction.lab.planted_fraction,
                                               reaction.lab.disclosed_fraction)
            if changed:
                part.corpus = write_documents(part.plan.kinds, _run_params(params, part),
                                              streams(part.corpus_seed))
                part.cues = part.corpus.in_reading_order()
        parts.append(part)
    return parts


def run_lineages(
    params: Params,
    awareness: np.ndarray,
    seed: int | np.random.SeedSequence,
    history: list[dict] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A reacting lab or a sequence of generations on the batched engine: the final
    columns and each learner's q_r, the numbers of :func:`sim.simulation.run_replicate`
    (the Mesa model, every learner a run of its own) for the same seed, bit for bit.

    Every learner's lineage is what the Mesa model's run of that learner alone does:
    its lab evaluates it, reacts (:func:`sim.labs.react`), re-plans its unread
    documents (:func:`sim.corpus.replan_unread`) and republishes
    (:func:`sim.corpus.write_documents`); a deployment moves its discourse
    (:func:`sim.labs.next_discourse`). Lineages whose labs have done the same so far
    share one corpus and read it together, batches between evaluations in one call;
    they split where their labs' reactions or their deployments differ.

    With ``history`` (a list), one row per learner and generation is appended to it,
    the rows of :meth:`sim.model.PersonaModel.generations` (:data:`GENERATION_COLUMNS`;
    :func:`lineage_table` makes the table).
    """
    levels = np.asarray(awareness, dtype=float).reshape(-1)
    root = _as_seed_sequence(seed)
    n_batches, interval = params.n_batches, params.evaluation_interval
    reacting = params.lab_policy != "static"
    groups = [_Lineages(members=np.arange(levels.size), state=None, lab=initial_lab(params),
                        discourse=initial_discourse(params), pending=0, rebels=np.zeros(levels.size, dtype=np.int64))]
    for generation in range(params.generations):
        groups = _merged(groups)
        for group in groups:
            _start_generation(params, group, levels, root, generation)
        stops = [t for t in range(interval, n_batches + 1, interval)] if reacting else []
        first = 0
        for stop in stops + ([n_batches] if not stops or stops[-1] != n_batches else []):
            for group in groups:
                _read_batches(params, group, levels, first, stop)
            if reacting and stop % interval == 0:
                groups = [part for group in groups for part in _evaluate(params, group, stop)]
            first = stop
        # the generation's end: record, deploy
        finished = []
        for group in groups:
            columns = _columns(params, group, levels)
            rebel = columns["persona"] == "rebel"
            group.rebels = group.rebels + rebel
            if history is not None:
                history.extend(_generation_rows(group, columns, levels, generation))
            if generation + 1 < params.generations:
                for deployed in (False, True):
                    keep = np.flatnonzero(rebel == deployed)
                    if keep.size == 0:
                        continue
                    part = group if keep.size == group.members.size else group.split(keep)
                    part.discourse = next_discourse(group.discourse, deployed, params)
                    finished.append(part)
            else:
                finished.append(group)
        groups = finished
    parts = [(_columns(params, group, levels), group) for group in groups]
    order = np.concatenate([group.members for group in groups])
    position = np.argsort(order, kind="stable")
    columns = {c: np.concatenate([p[0][c] for p in parts])[position] for c in parts[0][0]}
    rates = np.concatenate([np.full(group.members.size, group.real_cited_rate) for group in groups])[position]
    return columns, rates


def _generation_rows(group: _Lineages, columns: dict[str, np.ndarray], levels: np.ndarray,
                     generation: int) -> list[dict]:
    """A group's rows of the generations table at the end of a training run
    (:meth:`sim.model._Run._record_generation`)."""
    lab, discourse = group.lab, group.discourse
    return [{
        "learner": int(i),
        "situational_awareness": float(levels[i]),
        "generation": generation,
        "persona": columns["persona"][k],
        "p_deceptive": float(columns["p_deceptive"][k]),
        "p_benevolent": float(columns["p_benevolent"][k]),
        "uplift": float(columns["uplift"][k]),
        "planted_fraction": lab.planted_fraction,
        "disclosed_fraction": lab.disclosed_fraction,
        "control_discourse_fraction": discourse.control_discourse_fraction,
        "real_positive_rate": discourse.real_positive_rate,
        "lab_alarms": lab.alarms,
        "lab_came_clean": lab.came_clean,
        "undetected_rebel": bool(columns["persona"][k] == "rebel" and lab.alarms == group.alarms_at_start),
    } for k, i in enumerate(group.members)]


def lineage_table(params: Params, awareness: np.ndarray, seed: int | np.random.SeedSequence) -> pd.DataFrame:
    """One row per (learner, generation), :func:`run_lineages`'s run: the table of
    ``sim.simulate(...).generations`` for the same seed, bit for bit, on the engine."""
    import pandas as pd

    rows: list[dict] = []
    run_lineages(params, awareness, seed, history=rows)
    frame = pd.DataFrame(rows, columns=list(GENERATION_COLUMNS))
    return frame.sort_values(["learner", "generation"], kind="stable").reset_index(drop=True)


def _merged(groups: list[_Lineages]) -> list[_Lineages]:
    """Groups about to start a training run with the same lab, discourse and statements
    waiting build the same corpus from the same seed: one group (its learners start
    from scratch, so nothing else tells them apart)."""
    by_key: dict[tuple, list[_Lineages]] = {}
    for group in groups:
        by_key.setdefault((group.lab, group.discourse, group.pending), []).append(group)
    merged = []
    for same in by_key.values():
        first = same[0]
        if len(same) > 1:
            first.members = np.concatenate([g.members for g in same])
            first.rebels = np.concatenate([g.rebels for g in same])
        merged.append(first)
    return merged


def _columns(params: Params, group: _Lineages, levels: np.ndarray) -> dict[str, np.ndarray]:
    """A group's final columns (:meth:`sim.model._Run.final_columns`)."""
    start = initial_lab(params)
    static = params.generations == 1 and ((group.lab.planted_fraction, group.lab.disclosed_fraction)
                                          == (start.planted_fraction, start.disclosed_fraction))
    true_share = params.planted_fraction if static else planted_share_read(group.corpus)
    return final_columns(levels[group.members], group.state, group.constants, _run_params(params, group),
                         true_planted_share=true_share, lab=group.lab, discourse=group.discourse,
                         rebel_generations=group.rebels)
