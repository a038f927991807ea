"""Micro-benchmarks: what one exp and one division cost in a numba loop here.

The learner kernel (``sim.learner._read_documents``) does, per learner-document
update, one ``math.exp``, two divisions, about fifteen other flops and a handful of
selects; a ``math.log`` only once per batch. This script times numba loops that do
only that arithmetic, so that the kernel's nanoseconds per update can be compared
with the arithmetic limit of this machine:

- ``exp_map``: ``y[i] = exp(x[i])`` over an array (independent elements);
- ``div_map``: ``y[i] = (a + b x[i]) / (c + d x[i])``, two divisions per element;
- ``exp_div_map``: the kernel's arithmetic, ``e = exp(-|x|)``, the evidence ratio and
  the belief (2 divisions, ~10 FMAs, 3 selects), stored per element;
- ``exp_div_chain``: the same, but every element's result feeds a running product
  and sums (the kernel's loop-carried dependences), nothing stored; also on sorted
  input (``exp_div_chain_sorted``: the sign test is perfectly predictable), to see
  whether branch mispredictions matter;
- ``numpy_exp``: numpy's ``np.exp`` (SIMD, AVX-512 here) for comparison;
- ``clock_chain``: dependent floating-point multiplications (4 cycles each), to estimate the
  core's clock; ``div_vec``: one vectorized division per element (the divider's
  throughput); ``fast_lane_map``: the fast path's per-learner arithmetic
  (``sim.learner._lane_factor``) over independent elements, vectorized, the kernel's
  arithmetic floor;
- ``kernel_core``: a stripped copy of the kernel's loops (learners x batches x
  documents, the same cue arrays): perception, the exp, the evidence ratio, the belief,
  the running product, the Beta counts, one log and one exp per batch, but no
  overflow folding checks, no emergence test, no disclosed or control branch;
- ``kernel``: ``sim.learner.read_corpus``, 101 learners on one default corpus;
- ``kernel_s06`` and ``kernel_s06_sorted``: the kernel with all 101 learners at
  awareness 0.6, reading the documents in reading order, or sorted by their log
  Lambda (the same documents, the same arithmetic; in sorted order the sign of
  log Lambda, the planted/positive/control flags are predictable): the cost of the
  kernel's data-dependent branches.

Each figure is CPU time per element (``time.process_time``), single thread, the best
of 7 rounds; the benchmarks are interleaved round by round so that a neighbour's
load hits them alike. The script first waits (at most ``--wait-quiet`` seconds) for
other processes to go quiet and records the cores they used meanwhile.

Run: ``/tmp/venv312/bin/python benchmarks/micro.py [--json OUT]``
"""

from __future__ import annotations

import argparse
import math
import time

import sys
from pathlib import Path

import numpy as np
import sim._cpu  # noqa: F401  (before numba is imported: the vector width the package uses)
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Background, load_average, machine, wait_quiet, write_figures  # noqa: E402
from sim.learner import _lane_factor  # noqa: E402  (sets numba's target first: sim._cpu)

N = 250_000  # 2 MB per array: stays in L2, like the kernel's cues (about 0.3 MB)
REPEATS = 15


@njit(cache=False, error_model="numpy")
def exp_map(x, y):
    for i in range(x.size):
        y[i] = math.exp(x[i])


@njit(cache=False, error_model="numpy")
def div_map(x, y):
    for i in range(x.size):
        v = x[i]
        y[i] = (0.3 + 0.7 * v) / (0.01 + 0.99 * v) + 0.05 / (0.95 + 0.05 * v)


@njit(inline="always", cache=False, error_model="numpy")
def ratio_and_belief(v, pi_d, eps, pi_hat):
    """The kernel's per-document arithmetic (sim.learner._lane_factor), with math.exp:
    the evidence ratio and the belief that the document is planted."""
    high = v > 0.0
    e = math.exp(-abs(v))
    nw = pi_d if high else 1.0 - pi_d
    dw = eps if high else 1.0 - eps
    ratio = (nw + (1.0 - nw) * e) / (dw + (1.0 - dw) * e)
    bw = pi_hat if high else 1.0 - pi_hat
    top = pi_hat if high else pi_hat * e
    return ratio, top / (bw + (1.0 - bw) * e)


@njit(cache=False, error_model="numpy")
def exp_div_map(x, y):
    pi_d, eps, pi_hat = 0.3, 0.01, 0.02
    for i in range(x.size):
        v = x[i]
        ratio, belief = ratio_and_belief(v, pi_d, eps, pi_hat)
        y[i] = ratio + belief


@njit(cache=False, error_model="numpy")
def exp_div_chain(x):
    """The kernel's arithmetic with its loop-carried state: a running product of
    ratios (folded into a log-sum when it leaves a range), a sum of beliefs and two
    Beta counts. Returns the state so nothing is optimised away."""
    pi_d, eps, pi_hat = 0.3, 0.01, 0.02
    product, log_sum, believed, a, b = 1.0, 0.0, 0.0, 1.0, 1.0
    for i in range(x.size):
        v = x[i]
        ratio, belief = ratio_and_belief(v, pi_d, eps, pi_hat)
        product *= ratio
        if not (1e-150 < product < 1e150):
            log_sum += math.log(product)
            product = 1.0
        believed += belief
        w = 1.0 - belief
        good = (i & 1) == 0
        a += w if good else 0.0
        b += 0.0 if good else w
    return product, log_sum, believed, a, b


@njit(cache=False, error_model="numpy", boundscheck=False)
def kernel_core(awareness, style_noise, planted_shift, cite_log_ratio, positive, d, pi_d, eps, batch_size):
    n = style_noise.size
    total = 0.0
    for j in range(awareness.size):
        s = awareness[j]
        ell, a, b, believed = math.log(0.05 / 0.95), 1.0, 1.0, 0.0
        for t in range(n // batch_size):
            p_d = 1.0 / (1.0 + math.exp(-ell))
            pi_hat = p_d * pi_d + (1.0 - p_d) * eps
            product = 1.0
            for i in range(t * batch_size, (t + 1) * batch_size):
                shift = s * d
                lr = shift * style_noise[i] + shift * shift * planted_shift[i] + s * cite_log_ratio[i]
                high = lr > 0.0
                e = math.exp(-abs(lr))
                nw = pi_d if high else 1.0 - pi_d
                dw = eps if high else 1.0 - eps
                ratio = (nw + (1.0 - nw) * e) / (dw + (1.0 - dw) * e)
                bw = pi_hat if high else 1.0 - pi_hat
                top = pi_hat if high else pi_hat * e
                belief = top / (bw + (1.0 - bw) * e)
                product *= ratio
                believed += belief
                w = 1.0 - belief
                good = positive[i]
                a += w if good else 0.0
                b += 0.0 if good else w
            ell += math.log(product)
        total += ell + a + b + believed
    return total


@njit(cache=False, error_model="numpy")
def clock_chain(n):
    """n dependent floating-point multiplications (4 cycles each on Intel cores since
    Skylake; not reassociated without fast-math): 4 / (ns per element) is the core's
    clock in GHz."""
    x = 1.0
    for _ in range(n):
        x = x * 1.0000001
    return x


@njit(cache=False, error_model="numpy")
def div_vec(x, y):
    """One division per element, vectorized (AVX-512 here): the divider's throughput."""
    for i in range(x.size):
        y[i] = 1.5 / x[i]


@njit(cache=False, error_model="numpy")
def fast_lane_map(z, s, y):
    """The fast path's per-learner arithmetic (``sim.learner._lane_factor``: perception,
    the polynomial exponential, the evidence ratio and the belief, two divisions)
    over independent elements, vectorized, nothing carried: the kernel's arithmetic
    without its state, loads of cues or emergence bookkeeping."""
    for i in range(z.size):
        shift = s[i] * 2.5
        factor, belief = _lane_factor(z[i], 0.5 - (i & 1), -3.4, False, shift, shift * shift, s[i], 1.0,
                                      0.3, 0.01, 0.02)
        y[i] = factor + belief


def _cpu_ns(fn, args, elements: int) -> float:
    t = time.process_time()
    fn(*args)
    return (time.process_time() - t) / elements * 1e9


def best_ns(fn, *args, elements: int, repeats: int = REPEATS) -> float:
    """Best CPU ns per element of ``fn(*args)`` over ``repeats`` calls (after a warm-up)."""
    fn(*args)
    return min(_cpu_ns(fn, args, elements) for _ in range(repeats))


def kernel_case():
    """Callables (with their arguments) that run the kernel, its variants and its
    stripped copy once (101 learners, default corpus), and the updates each does."""
    from sim import Params
    from sim.corpus import build_corpus
    from sim.learner import _cue_args, awareness_schedule, learner_constants, initial_state, read_corpus

    p = Params()
    aw = np.linspace(0.0, 1.0, 101)
    corpus = build_corpus(p, np.random.SeedSequence(0, spawn_key=(15, 0)))
    constants = learner_constants(p, corpus.learner_real_cited_rate(p))
    schedule = awareness_schedule(aw, p.n_batches, p)
    cues = corpus.in_reading_order()

    def run():
        read_corpus(initial_state(aw.size, constants, schedule[:, 0]), cues, schedule, aw, p.batch_size, constants)

    style_noise, planted_shift, cite_log_ratio, _disclosed, positive, _control = _cue_args(cues, constants)
    core_args = (aw, style_noise, planted_shift, cite_log_ratio, positive, p.synthetic_detectability,
                 p.deceptive_plant_rate, p.candid_plant_rate, p.batch_size)

    from sim.corpus import CorpusBatch
    from sim.learner import perceive

    flat = np.full(101, 0.6)
    flat_schedule = awareness_schedule(flat, p.n_batches, p)
    order = np.argsort(perceive(cues, np.array([0.6]), constants)[0], kind="stable")
    sorted_cues = CorpusBatch(*(a[order] for a in cues))

    def run_flat(c):
        read_corpus(initial_state(flat.size, constants, flat_schedule[:, 0]), c, flat_schedule, flat, p.batch_size, constants)

    return {"kernel_core": (kernel_core, core_args), "kernel": (run, ()),
            "kernel_s06": (run_flat, (cues,)), "kernel_s06_sorted": (run_flat, (sorted_cues,))}, aw.size * p.n_documents


def main() -> None:
    ap = argparse.ArgumentParser(description="Micro-benchmarks: exp and division in numba loops vs the kernel.")
    ap.add_argument("--json", metavar="OUT", help="write the figures to this JSON file")
    ap.add_argument("--wait-quiet", type=float, default=8.0, metavar="SECONDS",
                    help="wait at most this long for other processes to go quiet first (0: do not wait)")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    # arguments like the kernel's log Lambda: mostly within a few units of 0, random sign
    x = rng.normal(-1.0, 3.0, N)
    x_sorted = np.sort(x)
    y = np.empty_like(x)
    kernels, kernel_updates = kernel_case()
    cases = {
        "exp_map": (exp_map, (x, y), N),
        "div_map": (div_map, (np.abs(x), y), N),
        "exp_div_map": (exp_div_map, (x, y), N),
        "exp_div_chain": (exp_div_chain, (x,), N),
        "exp_div_chain_sorted": (exp_div_chain, (x_sorted,), N),
        "numpy_exp": (np.exp, (x, y), N),
        "clock_chain": (clock_chain, (N,), N),
        "div_vec": (div_vec, (np.abs(x) + 1.0, y), N),
        "fast_lane_map": (fast_lane_map, (x, rng.random(N), y), N),
        **{name: (fn, a, kernel_updates) for name, (fn, a) in kernels.items()},
    }
    for fn, a, _ in cases.values():  # compile / warm
        fn(*a)
    quiet = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    best = {name: math.inf for name in cases}
    load = load_average()
    with Background() as bg:
        for _ in range(REPEATS):
            for name, (fn, a, n) in cases.items():
                best[name] = min(best[name], _cpu_ns(fn, a, n))
    figures = {"machine": machine(), "load_average": load, "others_cores": bg.others_cores, "wait_quiet": quiet}
    figures["ns_per_element"] = best
    figures["kernel_over_exp_div_map"] = best["kernel"] / best["exp_div_map"]
    figures["kernel_over_exp_div_chain"] = best["kernel"] / best["exp_div_chain"]
    figures["kernel_over_kernel_core"] = best["kernel"] / best["kernel_core"]
    figures["kernel_s06_over_sorted"] = best["kernel_s06"] / best["kernel_s06_sorted"]
    figures["exp_map_over_numpy_exp"] = best["exp_map"] / best["numpy_exp"]
    figures["clock_ghz_estimate"] = 4.0 / best["clock_chain"]
    figures["kernel_over_fast_lane_map"] = best["kernel"] / best["fast_lane_map"]
    import numba

    figures["svml"] = bool(numba.config.USING_SVML)
    print(f"micro-benchmarks (CPU ns per element, best of {REPEATS} interleaved rounds); load {load}, "
          f"other processes {bg.others_cores:.2f} cores; numba {numba.__version__}, SVML {figures['svml']}")
    for name, v in best.items():
        print(f"  {name:22s} {v:7.2f}")
    print(f"  kernel / exp_div_map   {figures['kernel_over_exp_div_map']:7.2f}")
    print(f"  kernel / exp_div_chain {figures['kernel_over_exp_div_chain']:7.2f}")
    print(f"  kernel / kernel_core   {figures['kernel_over_kernel_core']:7.2f}")
    print(f"  kernel_s06 / sorted    {figures['kernel_s06_over_sorted']:7.2f}")
    print(f"  exp_map / numpy_exp    {figures['exp_map_over_numpy_exp']:7.2f}")
    print(f"  kernel / fast_lane_map {figures['kernel_over_fast_lane_map']:7.2f}")
    print(f"  clock estimate (4 cycles per dependent multiply): {figures['clock_ghz_estimate']:.2f} GHz; "
          f"vector division {best['div_vec'] * figures['clock_ghz_estimate']:.2f} cycles per element")
    write_figures(figures, args.json)


if __name__ == "__main__":
    main()
