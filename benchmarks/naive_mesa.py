"""The naive baseline: the same model written plainly in Mesa 3.5, timed and checked.

One ``mesa.Model`` per run (one awareness level, one corpus): a single ``Learner``
agent reads the corpus document by document with per-document Python scalar updates
(``math.exp`` / ``math.log``), the equations of docs/model.md §3 written out directly:

- perception: ``x' = s d [planted] + z``, ``lambda_style = m x' - m^2/2`` with
  ``m = s d``; ``lambda_cite = s log(q_p/q_r)`` if cited, ``s log((1-q_p)/(1-q_r))``
  if not; ``Lambda = exp(lambda_style + lambda_cite)``;
- evidence: undisclosed ``Delta = log[(pi_D Lambda + 1 - pi_D)/(eps Lambda + 1 - eps)]``
  plus ``s log kappa`` for control discourse; disclosed ``s log beta``;
- self-model: at each batch start ``pi_hat = P(D) pi_D + (1 - P(D)) eps``; per document
  ``p_hat = pi_hat Lambda / (pi_hat Lambda + 1 - pi_hat)``; a document showing AI
  behaving well adds ``1 - p_hat`` to a, badly to b; a disclosed one adds w to a;
- emergence: the first document at which ``log-odds >= log 9``.

The corpus is ``sim.corpus.build_corpus(params, SeedSequence(0, spawn_key=(point,
replicate)))`` with ``point`` the index of the planted share in W1's grid, so every
run is the run of W1 with the same numbers; its cues are read in reading order
(``Corpus.in_reading_order()``) and q_r is ``Corpus.learner_real_cited_rate``. One
model step reads one batch; a DataCollector with model reporters records the state
after every batch (``mesa.batch_run`` returns no rows when only agent reporters
exist, so the learner's state is reported through the model).

The subset runs through ``mesa.batch_run`` (one process). Its deprecated
``iterations`` argument would seed every iteration alike, so the replicate is a
swept parameter instead. Each run is checked against ``sim.engine.run_replicate``
with the same SeedSequence: final log-odds, uplift and emergence document.

Run:  /tmp/venv312/bin/python benchmarks/naive_mesa.py [--quick] [--json OUT]
      [--w1-json benchmarks/results/w1.json]   (for the engine/naive ratio)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mesa  # noqa: E402
import numpy as np  # noqa: E402

from common import RESULTS, Background, load_average, machine, peak_rss_mib, wait_quiet, write_figures  # noqa: E402
from sim import Params  # noqa: E402
from sim.corpus import build_corpus  # noqa: E402

#: W1's planted-share grid (point i of W1 is planted_fraction W1_PLANTED[i]).
W1_PLANTED = [float(round(v, 12)) for v in np.linspace(0.0, 0.25, 26)]
ROOT_SEED = 0
LOG9 = math.log(9.0)
TARGET_RATIO = 300.0
N_DOCUMENTS = 10_000
#: The subset timed: 5 awareness levels x 2 planted shares x 2 replicates (20 runs).
GRID = {"situational_awareness": [0.0, 0.25, 0.5, 0.75, 1.0], "planted_fraction": [0.15, 0.25],
        "replicate": [0, 1]}
QUICK_GRID = {"situational_awareness": [0.0, 0.5, 1.0], "planted_fraction": [0.15], "replicate": [0]}


class Learner(mesa.Agent):
    """A learner of awareness ``s`` reading the model's corpus, one batch per step."""

    def __init__(self, model: "NaiveModel", s: float) -> None:
        super().__init__(model)
        p = model.params
        self.s = s
        self.log_odds = math.log(p.prior_deceptive / (1.0 - p.prior_deceptive))
        self.a = 1.0
        self.b = 1.0
        self.believed_sum = 0.0
        self.read = 0
        self.emergence = math.nan

    def p_deceptive(self) -> float:
        ell = self.log_odds
        if ell >= 0:
            return 1.0 / (1.0 + math.exp(-ell))
        e = math.exp(ell)
        return e / (1.0 + e)

    def step(self) -> None:
        m = self.model
        p = m.params
        s = self.s
        d = p.synthetic_detectability
        q_p, q_r = p.believed_planted_cited_rate, m.q_r
        pi_d, eps = p.deceptive_plant_rate, p.candid_plant_rate
        p_d = self.p_deceptive()
        pi_hat = p_d * pi_d + (1.0 - p_d) * eps  # at the batch start
        start = self.read
        stop = min(start + p.batch_size, p.n_documents)
        for i in range(start, stop):
            if m.disclosed[i]:
                delta = s * math.log(p.disclosure_likelihood_ratio)
                self.a += p.norm_weight
            else:
                shift = s * d
                x = shift * (1.0 if m.planted[i] else 0.0) + m.style_noise[i]  # perceived style
                lam_style = shift * x - shift * shift / 2.0
                if m.cited[i]:
                    lam_cite = s * math.log(q_p / q_r)
                else:
                    lam_cite = s * math.log((1.0 - q_p) / (1.0 - q_r))
                lam = math.exp(lam_style + lam_cite)
                delta = math.log((pi_d * lam + 1.0 - pi_d) / (eps * lam + 1.0 - eps))
                if m.control[i]:
                    delta += s * math.log(p.control_likelihood_ratio)
                p_hat = pi_hat * lam / (pi_hat * lam + 1.0 - pi_hat)
                self.believed_sum += p_hat
                if m.positive[i]:
                    self.a += 1.0 - p_hat
                else:
                    self.b += 1.0 - p_hat
            self.log_odds += delta
            if math.isnan(self.emergence) and self.log_odds >= LOG9:
                self.emergence = float(i + 1)
        self.read = stop


class NaiveModel(mesa.Model):
    """One training run: build the corpus, one learner reads it batch by batch."""

    def __init__(self, situational_awareness: float = 0.5, planted_fraction: float = 0.15, replicate: int = 0,
                 n_documents: int = 10_000, rng=None) -> None:
        point = W1_PLANTED.index(float(round(planted_fraction, 12)))
        self.seed_sequence = np.random.SeedSequence(ROOT_SEED, spawn_key=(point, replicate))
        super().__init__(rng=rng if rng is not None else np.random.default_rng(self.seed_sequence))
        self.params = Params(n_documents=n_documents, planted_fraction=planted_fraction,
                             situational_awareness=situational_awareness)
        t = time.perf_counter()
        corpus = build_corpus(self.params, self.seed_sequence)
        cues = corpus.in_reading_order()
        self.q_r = corpus.learner_real_cited_rate(self.params)
        self.real_cited_rate = corpus.real_cited_rate  # measured q_r, reported (a property: read it once)
        # plain Python lists: scalar indexing of a list is faster than of an ndarray
        self.style_noise = cues.style_noise.tolist()
        self.planted = cues.planted.tolist()
        self.disclosed = cues.disclosed.tolist()
        self.cited = cues.cited.tolist()
        self.positive = cues.positive.tolist()
        self.control = cues.control.tolist()
        self.build_seconds = time.perf_counter() - t
        self.read_seconds = 0.0
        self.learner = Learner(self, situational_awareness)
        self.datacollector = mesa.DataCollector(model_reporters={
            "log_odds": lambda m: m.learner.log_odds,
            "p_deceptive": lambda m: m.learner.p_deceptive(),
            "uplift": lambda m: m.uplift(),
            "believed_planted_share": lambda m: m.learner.believed_sum / max(m.learner.read, 1),
            "emergence_document": lambda m: m.learner.emergence,
            "persona": lambda m: m.persona(),
            "real_cited_rate": lambda m: m.real_cited_rate,
            "documents_read": lambda m: m.learner.read,
            "build_seconds": lambda m: m.build_seconds,
            "read_seconds": lambda m: m.read_seconds,
        })
        self.datacollector.collect(self)

    def uplift(self) -> float:
        return self.learner.a / (self.learner.a + self.learner.b) - self.params.real_positive_rate

    def persona(self) -> str:
        if self.learner.p_deceptive() >= 0.5:
            return "rebel"
        return "aligned" if self.uplift() > 0 else "neutral"

    def step(self) -> None:
        t = time.perf_counter()
        self.agents.do("step")
        self.read_seconds += time.perf_counter() - t
        self.datacollector.collect(self)
        if self.learner.read >= self.params.n_documents:
            self.running = False


def run_batch(parameters: dict) -> list[dict]:
    """The timed call: every run of the subset through ``mesa.batch_run``, one process."""
    return mesa.batch_run(NaiveModel, parameters=parameters, number_processes=1, max_steps=10**6,
                          data_collection_period=-1, display_progress=False)


# ------------------------------------------------------------------------------------
def check_against_engine(rows: list[dict], n_documents: int) -> dict:
    """Compare every naive run with sim.engine.run_replicate on the same seed."""
    from sim.engine import run_replicate

    worst = {"log_odds_rel": 0.0, "log_odds_abs": 0.0, "uplift_rel": 0.0, "uplift_abs": 0.0,
             "emergence_mismatches": 0, "persona_mismatches": 0}
    for row in rows:
        rho, s, rep = row["planted_fraction"], row["situational_awareness"], row["replicate"]
        point = W1_PLANTED.index(float(round(rho, 12)))
        params = Params(n_documents=n_documents, planted_fraction=rho)
        final, _ = run_replicate(params, np.array([s]), np.random.SeedSequence(ROOT_SEED, spawn_key=(point, rep)))
        for name in ("log_odds", "uplift"):
            ref, got = float(final[name][0]), float(row[name])
            dev = abs(got - ref)
            worst[f"{name}_abs"] = max(worst[f"{name}_abs"], dev)
            worst[f"{name}_rel"] = max(worst[f"{name}_rel"], dev / max(abs(ref), 1e-300) if dev else 0.0)
        ref_e, got_e = float(final["emergence_document"][0]), float(row["emergence_document"])
        if not ((math.isnan(ref_e) and math.isnan(got_e)) or ref_e == got_e):
            worst["emergence_mismatches"] += 1
            print(f"  emergence differs at rho={rho} s={s} rep={rep}: engine {ref_e}, naive {got_e}")
        if str(final["persona"][0]) != row["persona"]:
            worst["persona_mismatches"] += 1
    worst["runs_checked"] = len(rows)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description="Naive Mesa baseline: timed, and checked against the engine.")
    ap.add_argument("--quick", action="store_true", help="3 awareness levels x 1 planted share x 1 replicate")
    ap.add_argument("--json", metavar="OUT", help="write the figures to this JSON file")
    ap.add_argument("--w1-json", default=str(RESULTS / "w1.json"),
                    help="W1 figures (from benchmarks/w1.py --json) for the engine/naive ratio")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of the batch_run (best is reported)")
    ap.add_argument("--wait-quiet", type=float, default=3.0, metavar="SECONDS",
                    help="before each repeat, wait at most this long for other processes to go quiet (0: do not)")
    args = ap.parse_args()

    n_documents = N_DOCUMENTS
    if args.quick:
        grid = QUICK_GRID
        repeats = 1
    else:
        grid = GRID
        repeats = args.repeats
    parameters = {**grid, "n_documents": n_documents}
    n_runs = math.prod(len(v) for v in grid.values())
    updates = n_runs * n_documents
    fig: dict = {"machine": machine(), "load_average_start": load_average(), "grid": grid,
                 "n_documents": n_documents, "runs": n_runs, "updates": updates}
    print(f"naive Mesa {mesa.__version__} baseline: {n_runs} runs x {n_documents} documents "
          f"= {updates:.3g} updates; load {fig['load_average_start']}", flush=True)

    build_corpus(Params(n_documents=200), 0)  # load the compiled citation builder, as W1 does before timing
    best = None
    walls, loads, others = [], [], []
    for _ in range(repeats):
        if args.wait_quiet > 0:
            wait_quiet(args.wait_quiet)
        loads.append(load_average())
        t = time.perf_counter()
        with Background() as bg:
            rows = run_batch(parameters)
        wall = time.perf_counter() - t
        walls.append(wall)
        others.append(bg.others_cores)
        if best is None or wall < best[0]:
            best = (wall, rows)
    wall, rows = best
    assert len(rows) == n_runs, f"batch_run returned {len(rows)} rows for {n_runs} runs"
    assert all(r["documents_read"] == n_documents for r in rows)
    read_s = sum(r["read_seconds"] for r in rows)
    build_s = sum(r["build_seconds"] for r in rows)
    fig.update({
        "batch_run_walls_s": walls, "load_averages": loads, "others_cores": others, "best_wall_s": wall,
        "others_cores_of_best": others[walls.index(wall)],
        "updates_per_s": updates / wall, "ns_per_update": wall / updates * 1e9,
        "reading_s": read_s, "reading_updates_per_s": updates / read_s, "reading_ns_per_update": read_s / updates * 1e9,
        "corpus_build_s": build_s, "peak_rss_mib": peak_rss_mib(),
    })
    print(f"  batch_run: best wall {wall:.2f} s of {repeats} ({', '.join(f'{w:.2f}' for w in walls)}) "
          f"= {fig['updates_per_s']:.3g} updates/s ({fig['ns_per_update']:.0f} ns/update, everything); "
          f"reading only {fig['reading_updates_per_s']:.3g} updates/s ({fig['reading_ns_per_update']:.0f} ns/update); "
          f"corpus building {build_s:.2f} s; load before best {loads[walls.index(wall)]}, other processes "
          f"{others[walls.index(wall)]:.2f} cores meanwhile", flush=True)

    check = check_against_engine(rows, n_documents)
    fig["check"] = check
    agree = check["log_odds_rel"] < 1e-9 and check["uplift_rel"] < 1e-9 and check["emergence_mismatches"] == 0
    fig["check"]["agrees_to_1e-9"] = agree
    print(f"  same model as sim.engine.run_replicate ({check['runs_checked']} runs): max relative deviation "
          f"log-odds {check['log_odds_rel']:.2e} (abs {check['log_odds_abs']:.2e}), uplift {check['uplift_rel']:.2e} "
          f"(abs {check['uplift_abs']:.2e}); emergence mismatches {check['emergence_mismatches']}; persona "
          f"mismatches {check['persona_mismatches']} -> {'AGREE' if agree else 'DISAGREE'}", flush=True)

    w1_path = Path(args.w1_json)
    if w1_path.is_file():
        w1 = json.loads(w1_path.read_text())
        engine = w1["w1_memory_workers2"]["updates_per_s"]
        kernel_ns = w1["single_thread"]["kernel_cpu_ns_per_update"]
        fig["engine_w1_updates_per_s"] = engine
        fig["ratio_engine_over_naive"] = engine / fig["updates_per_s"]
        fig["ratio_single_thread_kernel_over_naive_reading"] = fig["reading_ns_per_update"] / kernel_ns
        fig["ratio_target"] = TARGET_RATIO
        fig["ratio_met"] = fig["ratio_engine_over_naive"] >= TARGET_RATIO
        print(f"  engine W1 {engine:.3g} updates/s (from {w1_path}) / naive {fig['updates_per_s']:.3g} updates/s "
              f"= {fig['ratio_engine_over_naive']:.0f}x (target >= {TARGET_RATIO:.0f}x: "
              f"{'met' if fig['ratio_met'] else 'NOT met'}); single thread, kernel "
              f"{kernel_ns:.1f} ns vs naive reading {fig['reading_ns_per_update']:.0f} ns per update = "
              f"{fig['ratio_single_thread_kernel_over_naive_reading']:.0f}x", flush=True)
    else:
        print(f"  no W1 figures at {w1_path}: run benchmarks/w1.py --json {w1_path} for the ratio")
    fig["load_average_end"] = load_average()
    write_figures(fig, args.json)


if __name__ == "__main__":
    main()
