"""The learning learner's kernel alone (``sim.learning.read_corpus``): CPU ns per
learner-document update on W1's corpus point (rho = 0.15, 10,000 documents), 101
learners at awareness 0..1, one thread, best of ``--repeats``; the same for the
informed learner's fast path, for the ratio.

Run:  .venv/bin/python benchmarks/learning_kernel.py [--repeats 5] [--learners 101]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--learners", type=int, default=101)
    ap.add_argument("--informed", action="store_true", help="also time the informed learner")
    args = ap.parse_args()

    from sim import Params
    from sim import learner, learning
    from sim.corpus import build_corpus

    p = Params()
    awareness = np.linspace(0.0, 1.0, args.learners)
    schedule = learner.awareness_schedule(awareness, p.n_batches, p)
    corpus = build_corpus(p, np.random.SeedSequence(0, spawn_key=(15, 0)))
    cues = corpus.in_reading_order()
    k = learning.learning_constants(p)
    ki = learner.learner_constants(p, corpus.learner_real_cited_rate(p))
    updates = awareness.size * p.n_documents

    def run_learning():
        return learning.read_corpus(learning.initial_state(awareness.size, k, schedule[:, 0]), cues, schedule,
                                    awareness, p.batch_size, k)

    def run_informed():
        return learner.read_corpus(learner.initial_state(awareness.size, ki, schedule[:, 0]), cues, schedule,
                                   awareness, p.batch_size, ki)

    runs = [("learning", run_learning)] + ([("informed", run_informed)] if args.informed else [])
    for name, fn in runs:
        fn()
        best = np.inf
        for _ in range(args.repeats):
            t = time.process_time()
            fn()
            best = min(best, time.process_time() - t)
        print(f"{name}: {best / updates * 1e9:.2f} CPU ns/update ({best * 1e3:.1f} ms, {awareness.size} learners)")
    s = run_learning()
    print("learning log_odds[::25]:", np.array2string(s.log_odds[::25], precision=17))


if __name__ == "__main__":
    main()
