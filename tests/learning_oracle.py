"""Exact Bayes for the learning learner's model (docs/model.md §3.1), by enumeration of the
2^n class assignments of n undisclosed documents: the test oracle of tests/test_learning.py.

Given the classes, every factor is conjugate: the planted share (Beta under each
hypothesis), the detectability (Normal, with the perceived style N(s delta, 1) of planted
documents), the cited shares (Beta, with the tempered likelihood [q^c (1-q)^(1-c)]^s).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.special import betaln, logsumexp


def exact_posterior(style, cited, s, k):
    """log-odds D : C, the planted share, the detectability and the real cited share
    (posterior means) of exact Bayes, for the perceived styles ``style`` and the cited
    flags ``cited`` of undisclosed documents read at awareness ``s`` (prior ``k``:
    :class:`sim.learning.LearningConstants`, finite concentrations)."""
    x = np.asarray(style, dtype=float)
    c = np.asarray(cited, dtype=bool)
    n = x.size
    tau2 = k.detectability_variance
    q_a, q_b = k.real_cited_mean * k.real_cited_count, (1 - k.real_cited_mean) * k.real_cited_count
    p_a, p_b = k.planted_cited_mean * k.planted_cited_count, (1 - k.planted_cited_mean) * k.planted_cited_count
    hyps = {"D": (k.deceptive_rate_mean, k.deceptive_rate_count), "C": (k.candid_rate_mean, k.candid_rate_count)}
    rows = []  # per assignment: common log weight, k planted, E[delta | z], E[q_r | z]
    for z in itertools.product((False, True), repeat=n):
        z = np.array(z, dtype=bool)
        kp = int(z.sum())
        xr, xp = x[~z], x[z]
        log_w = -0.5 * np.sum(xr * xr) - 0.5 * xr.size * math.log(2 * math.pi)
        y = xp - s * k.detectability_mean
        cc = s * s * tau2
        log_w += (-0.5 * kp * math.log(2 * math.pi) - 0.5 * math.log1p(kp * cc)
                  - 0.5 * (y @ y - cc * y.sum() ** 2 / (1 + kp * cc)))
        k1r, k0r = int(c[~z].sum()), int((~c[~z]).sum())
        k1p, k0p = int(c[z].sum()), int((~c[z]).sum())
        log_w += betaln(q_a + s * k1r, q_b + s * k0r) - betaln(q_a, q_b)
        log_w += betaln(p_a + s * k1p, p_b + s * k0p) - betaln(p_a, p_b)
        precision = 1.0 / tau2 + s * s * kp
        delta = (k.detectability_mean / tau2 + s * xp.sum()) / precision
        q_r = (q_a + s * k1r) / (k.real_cited_count + s * (k1r + k0r))
        rows.append((log_w, kp, delta, q_r))
    log_w = np.array([r[0] for r in rows])
    kp = np.array([r[1] for r in rows])
    log_z, share, weights = {}, {}, {}
    for h, (mean, count) in hyps.items():
        a, b = mean * count, (1 - mean) * count
        lw = log_w + betaln(a + kp, b + n - kp) - betaln(a, b)
        log_z[h] = logsumexp(lw)
        weights[h] = np.exp(lw - log_z[h])
        share[h] = float(weights[h] @ ((a + kp) / (count + n)))
    log_odds = float(k.prior_log_odds + log_z["D"] - log_z["C"])
    p_d = 1.0 / (1.0 + math.exp(-log_odds))
    w = p_d * weights["D"] + (1 - p_d) * weights["C"]
    return {
        "log_odds": log_odds,
        "planted_share": p_d * share["D"] + (1 - p_d) * share["C"],
        "detectability": float(w @ np.array([r[2] for r in rows])),
        "real_cited_rate": float(w @ np.array([r[3] for r in rows])),
    }
