"""One training run as a Mesa model.

The corpus is built first (the lab plans, the authors write and cite), then every
learner reads the same shuffled corpus batch by batch, one batch per model step, so
that awareness levels are compared on common random numbers. A DataCollector records
each learner's state after every batch (and before the first).

Example
-------
>>> from sim import Params
>>> from sim.model import PersonaModel
>>> m = PersonaModel(Params(n_documents=500), awareness=[0.2, 0.9], seed=3)
>>> m.run_for(m.n_batches)
>>> m.running
False
>>> df = m.trajectory()
>>> sorted(df["situational_awareness"].unique().tolist())
[0.2, 0.9]
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Sequence

import mesa
import numpy as np
import pandas as pd

from .agents import Authors, Lab, Learner
from .corpus import Corpus, _as_seed_sequence, generation_seed, planted_share_read, streams
from .labs import Discourse, initial_discourse, initial_lab, next_discourse, observed_signal
from .learner import LearnerConstants, LearnerState, awareness_schedule
from .rules import stack_states
from .learners import constants_for
from .learning import TRAJECTORY_LEARNED_COLUMNS
from .params import PARAMETERS, PARAMETERS_BY_NAME, Params, check_awareness
from .schema import GENERATION_COLUMNS, TRAJECTORY_COLUMNS, final_columns

__all__ = ["PersonaModel", "generation_seed", "DemoModel", "demo_params", "COMPARISON_AWARENESS"]


class _Run:
    """One lab, its authors and the learners that read their corpus.

    With a static lab and one generation every learner of the family reads one
    shared corpus (common random numbers). An adaptive lab or a sequence of
    generations reacts to its own model, so each learner then has a run of its own
    (same seed: the runs share their numbers until the labs' decisions part).
    """

    def __init__(self, model: "PersonaModel", learners: list[Learner], root: np.random.SeedSequence) -> None:
        self.model = model
        self.root = root
        self.learners = learners
        self.lab = Lab(model, model.params)
        self.authors = Authors(model, root)
        self.discourse: Discourse = initial_discourse(model.params)
        self.generation = -1
        self.pending_statements = 0
        self.history: list[dict] = []
        self.start_generation(0)

    @property
    def params(self) -> Params:
        """The parameters of the current training run: the lab's shares, the discourse."""
        return self.model.params.replace(
            planted_fraction=self.lab.state.planted_fraction,
            disclosed_fraction=self.lab.state.disclosed_fraction,
            control_discourse_fraction=self.discourse.control_discourse_fraction,
            real_positive_rate=self.discourse.real_positive_rate,
        )

    def start_generation(self, generation: int) -> None:
        """Build the generation's corpus and start its learners from scratch."""
        self.generation = generation
        seed = generation_seed(self.root, generation)
        self.authors.seed = seed
        params = self.params
        seeded = streams(seed)
        self.lab.plan_corpus(seeded["kinds"], params)
        # evaluations draw only when a model may conceal (the other streams are keyed apart)
        self.evaluations = seeded["evaluations"] if params.concealment > 0 else None
        self.alarms_at_start = self.lab.state.alarms
        self._publish()
        self.constants: LearnerConstants = constants_for(params, self.corpus)
        self.real_cited_rate = self.corpus.real_cited_rate
        levels = np.array([agent.situational_awareness for agent in self.learners])
        schedule = awareness_schedule(levels, params.n_batches, params)
        for agent, row in zip(self.learners, schedule):
            agent.start(row, self.constants)

    def _publish(self) -> None:
        self.corpus: Corpus = self.authors.publish(self.lab.kinds, self.params)
        self.batches = list(self.corpus.batches(self.model.params.batch_size))

    def step(self, batch: int) -> None:
        """Read batch ``batch`` of the current generation; then the lab evaluates.

        Statements the lab publishes are read before the next batch; one published
        at the last evaluation of a run enters the next generation's corpus (and,
        after the last generation, no model reads it). At the end of a run its
        outcome is recorded (:meth:`advance` then starts the next generation).
        """
        for _ in range(self.pending_statements):
            for agent in self.learners:
                agent.read_statement(batch, float(np.log(self.model.params.statement_likelihood_ratio)))
        self.pending_statements = 0
        for agent in self.learners:
            agent.read(self.batches[batch], batch)
        done = batch + 1
        params = self.model.params
        if self.lab.policy != "static" and done % params.evaluation_interval == 0:
            signal = float(np.mean([self._observed(agent) for agent in self.learners]))
            unread = self.corpus.reading_order[done * params.batch_size:]
            changed, statements = self.lab.evaluate(signal, unread)
            self.pending_statements += statements
            if changed:
                self._publish()
        if done == params.n_batches:
            self._record_generation()

    def _observed(self, agent: Learner) -> float:
        """What the lab's evaluation reads off one learner (:func:`sim.labs.observed_signal`)."""
        if self.evaluations is None:
            return agent.p_deceptive
        return observed_signal(agent.p_deceptive, agent.awareness, float(self.evaluations.random()),
                               self.model.params)

    def _record_generation(self) -> None:
        columns = self.final_columns()
        for i, agent in enumerate(self.learners):
            self.history.append({
                "learner": agent.index,
                "situational_awareness": agent.situational_awareness,
                "generation": self.generation,
                "persona": columns["persona"][i],
                "p_deceptive": float(columns["p_deceptive"][i]),
                "p_benevolent": float(columns["p_benevolent"][i]),
                "uplift": float(columns["uplift"][i]),
                "planted_fraction": self.lab.state.planted_fraction,
                "disclosed_fraction": self.lab.state.disclosed_fraction,
                "control_discourse_fraction": self.discourse.control_discourse_fraction,
                "real_positive_rate": self.discourse.real_positive_rate,
                "lab_alarms": self.lab.state.alarms,
                "lab_came_clean": self.lab.state.came_clean,
                "undetected_rebel": bool(columns["persona"][i] == "rebel"
                                         and self.lab.state.alarms == self.alarms_at_start),
            })
        self._rebel_deployed = bool(np.mean(columns["persona"] == "rebel") >= 0.5)

    def advance(self) -> None:
        """Deploy the model just trained (a rebel is an incident for the authors) and
        start the next generation."""
        self.discourse = next_discourse(self.discourse, self._rebel_deployed, self.model.params)
        self.start_generation(self.generation + 1)

    def state(self) -> LearnerState:
        return stack_states([agent.state for agent in self.learners])

    def final_columns(self) -> dict[str, np.ndarray]:
        """The final results of this run's learners (:func:`sim.schema.final_columns`)."""
        levels = np.array([agent.situational_awareness for agent in self.learners])
        start = initial_lab(self.model.params)
        static = self.model.params.generations == 1 and (
            (self.lab.state.planted_fraction, self.lab.state.disclosed_fraction)
            == (start.planted_fraction, start.disclosed_fraction))
        # the planted share the learners read: the scenario's rho in one run whose lab
        # never moved its shares (the paranoia of docs/model.md §3), the corpus's own share otherwise
        true_share = self.model.params.planted_fraction if static else planted_share_read(self.corpus)
        index = [agent.index for agent in self.learners]
        rebels = np.array([sum(1 for row in self.history if row["learner"] == i and row["persona"] == "rebel")
                           for i in index], dtype=np.int64)
        return final_columns(
            levels, self.state(), self.constants, self.params,
            true_planted_share=true_share,
            lab=self.lab.state,
            discourse=self.discourse,
            rebel_generations=rebels,
        )


def _first_run(attribute: str, doc: str) -> property:
    """A read-only view of the first run's ``attribute`` (the whole family's, for a static lab)."""
    return property(lambda model: getattr(model.runs[0], attribute), doc=doc)


class PersonaModel(mesa.Model):
    """A training run: authors, a lab and a family of learners.

    Parameters
    ----------
    params : Params, optional
        The configuration (defaults: the reference configuration, docs/model.md §6).
    awareness : sequence of float, optional
        Final situational awareness of each learner; default one learner at
        ``params.situational_awareness``.
    seed : int or numpy.random.SeedSequence
        The run's root seed; every mechanism draws from its own child
        (:func:`sim.corpus.streams`). Mesa's own generators are seeded from it too
        but no mechanism uses them.
    record : bool
        Collect every learner's state after every batch (the DataCollector); the
        runs without it turn it off (:func:`sim.simulation.run_replicate`; the sweeps
        run the engine, :mod:`sim.engine`, which gives the same numbers).

    One model step is one batch. With ``generations`` G > 1 the model runs G
    training runs in sequence (``n_steps = G n_batches`` steps); each learner is then
    a lineage of models of the same awareness, each trained from scratch on a corpus
    the previous deployment shaped.
    """

    def __init__(
        self,
        params: Params | None = None,
        awareness: Sequence[float] | None = None,
        seed: int | np.random.SeedSequence = 0,
        record: bool = True,
    ) -> None:
        root = _as_seed_sequence(seed)
        mesa_seed = int(np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (99,)).generate_state(1)[0])
        super().__init__(rng=mesa_seed)
        self.params = params if params is not None else Params()
        if awareness is None:
            awareness = [self.params.situational_awareness]
        levels = np.array(check_awareness(awareness))
        self.record = record
        # the demo page reads the tables while its play thread steps the model
        self._lock = threading.RLock()

        self.learners = [Learner(self, s, np.full(1, s), None, index=i) for i, s in enumerate(levels)]
        shared = self.params.lab_policy == "static" and self.params.generations == 1
        groups = [self.learners] if shared else [[agent] for agent in self.learners]
        self.runs = [_Run(self, group, root) for group in groups]

        self.n_batches = self.params.n_batches
        self.n_steps = self.n_batches * self.params.generations
        self.batch = 0
        self.generation = 0

        self.datacollector = mesa.DataCollector(
            model_reporters={"batch": "batch", "generation": "generation"},
            agenttype_reporters={
                Learner: {
                    "situational_awareness": "situational_awareness",
                    "documents_read": "documents_read",
                    "awareness": "awareness",
                    "log_odds": "log_odds",
                    "p_deceptive": "p_deceptive",
                    "p_benevolent": "p_benevolent",
                    "uplift": "uplift",
                    "believed_planted_share": "believed_planted_share",
                    "persona": "persona",
                    **{c: c for c in TRAJECTORY_LEARNED_COLUMNS},
                }
            },
        )
        if record:
            self.datacollector.collect(self)
        self.running = self.n_steps > 0

    # -- the first run's view (the whole family's, for a static lab) -----------------
    corpus = _first_run("corpus", "The corpus the first learner reads now (:class:`sim.corpus.Corpus`).")
    lab = _first_run("lab", "The first learner's lab (:class:`sim.agents.Lab`).")
    authors = _first_run("authors", "The first learner's authors (:class:`sim.agents.Authors`).")
    learner_constants = _first_run("constants", "The first learner's :class:`LearnerConstants`.")
    real_cited_rate = _first_run(
        "real_cited_rate", "q_r of the first learner's corpus: the share of real documents with its cue.")

    def step(self) -> None:
        """Every learner reads the next batch (its lab evaluates); then the
        DataCollector records."""
        if not self.running:
            return
        with self._lock:
            for run in self.runs:
                run.step(self.batch)
            self.batch += 1
            if self.record:  # the state after this batch (a generation's last: its final state)
                self.datacollector.collect(self)
            if self.batch == self.n_batches and self.generation + 1 < self.params.generations:
                for run in self.runs:
                    run.advance()
                self.batch = 0
                self.generation += 1
            elif self.batch == self.n_batches:
                self.running = False

    # -- tables -----------------------------------------------------------------------
    def trajectory(self) -> pd.DataFrame:
        """One row per (step, learner), step 0 being the state before reading;
        ``batch`` counts the batches read in the current generation. Safe to call
        while another thread steps the model (the demo page's play button)."""
        with self._lock:
            df = self.datacollector.get_agenttype_vars_dataframe(Learner).reset_index()
            steps = self.datacollector.get_model_vars_dataframe()
        order = {agent.unique_id: i for i, agent in enumerate(self.learners)}
        df["learner"] = df["AgentID"].map(order)
        step = df["Step"].astype(int)
        df["batch"] = step.map(self._batch_of_step(len(steps)))
        df["generation"] = step.map(lambda t: min((t - 1) // self.n_batches, self.params.generations - 1) if t else 0)
        df = df.sort_values(["Step", "learner"], kind="stable").reset_index(drop=True)
        return df[list(TRAJECTORY_COLUMNS)]

    def _batch_of_step(self, n_steps: int) -> dict[int, int]:
        """Batches read in the current generation after each step (the last batch
        of a generation is n_batches)."""
        return {t: (0 if t == 0 else (t - 1) % self.n_batches + 1) for t in range(n_steps + 1)}

    def final_columns(self) -> dict[str, np.ndarray]:
        """The final results as arrays over learners (in the order of ``awareness``)."""
        with self._lock:
            parts = [run.final_columns() for run in self.runs]
            order = [agent.index for run in self.runs for agent in run.learners]
        columns = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
        position = np.argsort(order, kind="stable")
        return {c: v[position] for c, v in columns.items()}

    def final(self) -> pd.DataFrame:
        """One row per learner: the final persona and the quantities behind it."""
        return pd.DataFrame(self.final_columns())

    def real_cited_rates(self) -> np.ndarray:
        """The q_r each learner calibrated on: the share of real documents showing its
        cue, measured on its corpus at the start of its (last) training run; a lab's
        later reaction rebuilds the corpus but not the learner's calibration."""
        rates = np.empty(len(self.learners))
        for run in self.runs:
            for agent in run.learners:
                rates[agent.index] = run.real_cited_rate
        return rates

    def generations(self) -> pd.DataFrame:
        """One row per (learner, generation): the deployed model's persona and what
        shaped its corpus (the lab's shares at its end, the authors' discourse)."""
        with self._lock:
            rows = [row for run in self.runs for row in run.history]
        frame = pd.DataFrame(rows, columns=list(GENERATION_COLUMNS))
        return frame.sort_values(["learner", "generation"], kind="stable").reset_index(drop=True)


# -- the demo page's model ---------------------------------------------------------------------
#: Final awareness of the demo's two comparison learners (a low and a high one).
COMPARISON_AWARENESS: tuple[float, float] = (0.2, 0.9)


def demo_params(**controls: Any) -> Params:
    """The :class:`~sim.params.Params` of the demo page's controls: the keyword
    arguments of :class:`DemoModel` that are parameters, at ``DemoModel``'s defaults
    where not given (every other parameter at its own default).

    ``sa_start`` only counts with a rising schedule (``linear`` or ``logistic``); with
    ``constant`` the awareness is the final value throughout. ``prior_benevolent`` only
    and ``deceptive_filter_rate`` only count for the informed learner (the learning
    learner has no benevolent hypothesis and reads no holes, docs/model.md §3.2, §5.7).

    >>> demo_params(awareness_schedule="constant", sa_start=0.3).sa_start is None
    True
    >>> demo_params(awareness_schedule="linear", sa_start=0.3).sa_start
    0.3
    """
    defaults = _demo_controls()
    unknown = sorted(set(controls) - defaults.keys())
    if unknown:
        raise TypeError(f"demo_params: {', '.join(unknown)} is not a control of the demo: allowed are {', '.join(defaults)}")
    values = {**defaults, **controls}
    if values["awareness_schedule"] == "constant":
        values["sa_start"] = None
    if values["learner_model"] != "informed":
        values["prior_benevolent"] = 0.0
        values["deceptive_filter_rate"] = PARAMETERS_BY_NAME["candid_filter_rate"].default
    return Params(**values)


def _demo_controls() -> dict[str, Any]:
    """The demo's parameter controls and their defaults, read off :class:`DemoModel`'s
    keywords (SolaraViz needs them spelled out there, so they are declared once, there)."""
    keywords = inspect.signature(DemoModel.__init__).parameters.values()
    names = {p.name for p in PARAMETERS}
    return {keyword.name: keyword.default for keyword in keywords if keyword.name in names}


class DemoModel(PersonaModel):
    """:class:`PersonaModel` with the demo page's controls as keyword arguments.

    Parameters
    ----------
    situational_awareness, awareness_schedule, sa_start, planted_fraction,
    disclosed_fraction, n_documents, synthetic_detectability, prior_deceptive,
    prior_benevolent, control_likelihood_ratio, filtered_fraction, deceptive_filter_rate,
    lab_policy, laundering, citation_cue, generations, concealment, learner_model
        As in :data:`sim.params.PARAMETERS` (see :func:`demo_params`).
    comparison_family : bool
        Add two learners at :data:`COMPARISON_AWARENESS` reading the same corpus.
    seed : int
        The run's root seed.

    The first learner (``main_learner``) has the chosen awareness. The demo page
    (:mod:`sim.app`) shows this model; SolaraViz builds a new one from the controls
    at Reset.

    >>> m = DemoModel(situational_awareness=0.9, n_documents=1000, seed=1)
    >>> m.run_for(m.n_batches)
    >>> m.main_learner.persona
    'rebel'
    """

    def __init__(
        self,
        situational_awareness: float = 0.5,
        awareness_schedule: str = "constant",
        sa_start: float = 0.0,
        planted_fraction: float = 0.15,
        disclosed_fraction: float = 0.0,
        n_documents: int = 10_000,
        synthetic_detectability: float = 2.5,
        prior_deceptive: float = 0.05,
        prior_benevolent: float = 0.0,
        control_likelihood_ratio: float = 1.0,
        filtered_fraction: float = 0.0,
        deceptive_filter_rate: float = 0.02,
        lab_policy: str = "static",
        laundering: float = 0.0,
        citation_cue: str = "cited",
        generations: int = 1,
        concealment: float = 0.0,
        learner_model: str = "informed",
        comparison_family: bool = True,
        seed: int = 0,
    ) -> None:
        given = locals()
        params = demo_params(**{name: given[name] for name in _demo_controls()})
        family = [params.situational_awareness]
        if comparison_family:
            family += list(COMPARISON_AWARENESS)
        super().__init__(params, awareness=family, seed=int(seed))
        self.seed = int(seed)

    @property
    def main_learner(self):
        """The learner at the chosen awareness."""
        return self.learners[0]

    @property
    def documents_read(self) -> int:
        """Corpus documents the main learner has read (its lab's statements apart)."""
        return self.main_learner.documents_read - self.main_learner.statements_read

    @property
    def documents_before(self) -> int:
        """Documents the main learner's lineage read in earlier generations."""
        return self.generation * self.params.n_documents
