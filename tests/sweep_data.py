"""Sweep tables for the analysis tests, made by the sweep engine itself (no files)."""

from __future__ import annotations

import pandas as pd

from sim import Params
from sim.sweeps import _Task, run_chunk


def fake_results(base: Params, points: list[dict], awareness, replicates: int, seed: int = 0) -> pd.DataFrame:
    """A sweep's tidy results table (the schema of ``persona-sim sweep``) for explicit points."""
    tasks = [
        _Task(i, r, base.replace(**over), tuple(float(s) for s in awareness), seed)
        for i, over in enumerate(points)
        for r in range(replicates)
    ]
    return run_chunk(tasks)
