"""Fingerprints of every driver's numbers on a fixed set of runs: the guard that a new
mechanism at its "off" value (docs/model.md: concealment 0, prior_benevolent 0, ...)
changes no existing number, bit for bit.

Each entry runs one configuration through the paths that produce the project's numbers
(the batched engine's static sweep, the Mesa model with its trajectory, a reacting lab,
generations, the general path's extreme parameters, the mean field) and hashes the
float64 bytes of the columns that existed when the fingerprints were recorded
(:data:`COLUMNS`): a column added later does not enter the hash. The recorded digests
(tests/test_off_means_off.py) were taken at commit dcc463b on x86_64 Linux.

Run ``python tests/reference_fingerprints.py`` to print the digests of the checkout.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

#: Columns hashed, per table (the columns of commit dcc463b).
FINAL = ("situational_awareness", "p_deceptive", "log_odds", "uplift", "believed_planted_share", "paranoia",
         "emergence_document", "lab_planted_fraction", "lab_disclosed_fraction", "lab_alarms",
         "final_control_discourse_fraction", "final_real_positive_rate", "rebel_generations")
TRAJECTORY = ("batch", "documents_read", "log_odds", "p_deceptive", "uplift", "believed_planted_share")
GENERATIONS = ("generation", "p_deceptive", "uplift", "planted_fraction", "disclosed_fraction",
               "control_discourse_fraction", "real_positive_rate", "lab_alarms")
COLUMNS = {"final": FINAL, "trajectory": TRAJECTORY, "generations": GENERATIONS}

#: Every configuration's numbers, written by :func:`record_values`.
VALUES_FILE = Path(__file__).with_name("reference_values.json")

SMALL = dict(n_documents=1500, batch_size=100)
AWARENESS = [0.0, 0.3, 0.55, 0.7, 0.9, 1.0]

#: name -> (Params fields, driver): "engine" (sim.engine.run_replicate, a static family),
#: "mesa" (sim.simulate: final, trajectory and generations tables), "meanfield"
#: (p_rebel on a grid and the thresholds).
CONFIGURATIONS: dict[str, tuple[dict, str]] = {
    "static_engine": (dict(SMALL), "engine"),
    "static_engine_disclosed_control": (dict(SMALL, disclosed_fraction=0.1, control_likelihood_ratio=3.0), "engine"),
    "general_path_engine": (dict(SMALL, deceptive_plant_rate=1.0, candid_plant_rate=0.0), "engine"),
    "schedule_retrospection_engine": (dict(SMALL, sa_start=0.1, awareness_schedule="logistic", retrospection=0.5),
                                      "engine"),
    "laundering_trusted_engine": (dict(SMALL, laundering=0.5, citation_cue="trusted"), "engine"),
    "static_mesa": (dict(SMALL, disclosed_fraction=0.05, control_likelihood_ratio=2.0), "mesa"),
    "double_down_mesa": (dict(SMALL, lab_policy="double_down", evaluation_interval=3), "mesa"),
    "come_clean_concealment_mesa": (dict(SMALL, lab_policy="come_clean", evaluation_interval=3, concealment=0.5),
                                    "mesa"),
    "generations_mesa": (dict(SMALL, generations=3, control_likelihood_ratio=3.0), "mesa"),
    "general_path_schedule_mesa": (dict(SMALL, candid_plant_rate=0.0, sa_start=0.0, awareness_schedule="linear",
                                        retrospection=1.0), "mesa"),
    "meanfield_static": (dict(control_likelihood_ratio=2.0, disclosed_fraction=0.05), "meanfield"),
    "meanfield_schedule": (dict(sa_start=0.2, awareness_schedule="linear", retrospection=0.3), "meanfield"),
    "meanfield_come_clean": (dict(lab_policy="come_clean"), "meanfield"),
    "meanfield_generations": (dict(generations=3, control_likelihood_ratio=3.0), "meanfield"),
}


def _digest(tables: dict[str, pd.DataFrame]) -> str:
    h = hashlib.sha256()
    for name in sorted(tables):
        table = tables[name]
        for column in COLUMNS.get(name, tuple(table.columns)):
            h.update(f"{name}.{column}".encode())
            h.update(np.ascontiguousarray(np.asarray(table[column], dtype=np.float64)).tobytes())
    return h.hexdigest()[:20]


def tables(name: str, **extra) -> dict[str, pd.DataFrame]:
    """The tables of configuration ``name`` (only the columns of :data:`COLUMNS`), with
    the Params fields ``extra`` added (a mechanism at its off value)."""
    from sim import Params, engine, meanfield, simulate

    fields, driver = CONFIGURATIONS[name]
    params = Params(**fields, **extra)
    if driver == "engine":
        columns, q_r = engine.run_replicate(params, np.array(AWARENESS), np.random.SeedSequence(7))
        found = {"final": pd.DataFrame({c: columns[c] for c in FINAL}), "q_r": pd.DataFrame({"q_r": [q_r]})}
    elif driver == "mesa":
        result = simulate(params, AWARENESS, seed=11)
        found = {"final": result.final, "trajectory": result.trajectory, "generations": result.generations}
    else:
        s = np.linspace(0.0, 1.0, 41)
        curve = meanfield.p_rebel(params, s, real_cited_rate=0.6)
        roots = meanfield.thresholds(params, real_cited_rate=0.6)
        found = {"meanfield": pd.DataFrame({"p": curve}), "roots": pd.DataFrame({"s": roots})}
    return {t: found[t][list(COLUMNS.get(t, found[t].columns))] for t in sorted(found)}


def fingerprint(name: str, **extra) -> str:
    """The digest of configuration ``name``'s tables (:func:`tables`)."""
    return _digest(tables(name, **extra))


def as_floats(table: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: np.asarray(table[c], dtype=np.float64) for c in table.columns}


def record_values(path: Path = VALUES_FILE) -> None:
    """Write every configuration's numbers (as exact hexadecimal floats) to ``path``."""
    values = {name: {t: {c: [float(x).hex() for x in column] for c, column in as_floats(table).items()}
                     for t, table in tables(name).items()} for name in CONFIGURATIONS}
    path.write_text(json.dumps(values, indent=0, sort_keys=True) + "\n")


def recorded_values(path: Path = VALUES_FILE) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """The numbers :func:`record_values` wrote."""
    values = json.loads(path.read_text())
    return {name: {t: {c: np.array([float.fromhex(x) for x in column]) for c, column in table.items()}
                   for t, table in found.items()} for name, found in values.items()}

if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        record_values()
        print(f"wrote {VALUES_FILE}")
    else:
        for key in CONFIGURATIONS:
            print(f'    "{key}": "{fingerprint(key)}",')
