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
>>> sorted(df["final_awareness"].unique().tolist())
[0.2, 0.9]
"""

from __future__ import annotations

from typing import Sequence

import mesa
import numpy as np
import pandas as pd

from .agents import Authors, Lab, Learner
from .corpus import _as_seed_sequence, streams
from .engine import TRAJECTORY_COLUMNS, final_table
from .learner import awareness_schedule, constants
from .params import Params, check_awareness

__all__ = ["PersonaModel"]


class PersonaModel(mesa.Model):
    """A training run: authors, a lab and a family of learners.

    Parameters
    ----------
    params : Params, optional
        The configuration (defaults: MODEL.md's reference configuration).
    awareness : sequence of float, optional
        Final situational awareness of each learner; default one learner at
        ``params.situational_awareness``.
    seed : int or numpy.random.SeedSequence
        The run's root seed; every mechanism draws from its own child
        (:func:`sim.corpus.streams`). Mesa's own generators are seeded from it too
        but no mechanism uses them.
    """

    def __init__(
        self,
        params: Params | None = None,
        awareness: Sequence[float] | None = None,
        seed: int | np.random.SeedSequence = 0,
    ) -> None:
        root = _as_seed_sequence(seed)
        mesa_seed = int(np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (99,)).generate_state(1)[0])
        super().__init__(rng=mesa_seed)
        self.params = params if params is not None else Params()
        if awareness is None:
            awareness = [self.params.situational_awareness]
        levels = np.array(check_awareness(awareness))
        rngs = streams(root)

        self.lab = Lab(self, rngs["kinds"])
        self.authors = Authors(self, rngs)
        self.corpus = self.authors.publish(self.lab.plan_corpus())
        self.real_cited_rate = self.corpus.real_cited_rate
        self.constants = constants(self.params, self.corpus.learner_real_cited_rate(self.params))

        self.n_batches = self.params.n_batches
        schedule = awareness_schedule(levels, self.n_batches, self.params)
        self.learners = [Learner(self, s, row, self.constants) for s, row in zip(levels, schedule)]
        self._batches = list(self.corpus.batches(self.params.batch_size))
        self.batch = 0

        self.datacollector = mesa.DataCollector(
            model_reporters={"batch": "batch"},
            agenttype_reporters={
                Learner: {
                    "final_awareness": "final_awareness",
                    "documents_read": "documents_read",
                    "situational_awareness": "situational_awareness",
                    "log_odds": "log_odds",
                    "p_deceptive": "p_deceptive",
                    "uplift": "uplift",
                    "believed_planted_share": "believed_planted_share",
                    "persona": "persona",
                }
            },
        )
        self.datacollector.collect(self)
        self.running = self.n_batches > 0

    def step(self) -> None:
        """Every learner reads the next batch; then the DataCollector records."""
        if self.batch >= self.n_batches:
            self.running = False
            return
        batch = self._batches[self.batch]
        index = self.batch
        self.agents_by_type[Learner].do("read", batch, index)
        self.batch += 1
        self.datacollector.collect(self)
        if self.batch >= self.n_batches:
            self.running = False

    # -- tables -----------------------------------------------------------------------
    def trajectory(self) -> pd.DataFrame:
        """One row per (batch, learner), batch 0 being the state before reading."""
        df = self.datacollector.get_agenttype_vars_dataframe(Learner).reset_index()
        order = {agent.unique_id: i for i, agent in enumerate(self.learners)}
        df["learner"] = df["AgentID"].map(order)
        df["batch"] = df["Step"].astype(int)
        df = df.sort_values(["batch", "learner"], kind="stable").reset_index(drop=True)
        return df[list(TRAJECTORY_COLUMNS)]

    def final(self) -> pd.DataFrame:
        """One row per learner: the final persona and the quantities behind it."""
        from .learner import LearnerState

        states = [agent.state for agent in self.learners]
        stacked = LearnerState(
            *(np.concatenate([getattr(st, f) for st in states]) for f in LearnerState.__dataclass_fields__)
        )
        levels = np.array([agent.final_awareness for agent in self.learners])
        return final_table(levels, stacked, self.constants, self.params)
