"""Calibration: the model's constants from quantities someone has measured.

Three mappings, each with its source (docs/model.md §7, "Anchors for the numbers",
and §11, "How robust is the threshold?"):

- **Detectability from a detector's AUC.** ``synthetic_detectability`` d is the shift
  of the synthetic-style signature of planted documents in standard deviations of
  real style (docs/model.md §2). For two equal-variance Gaussians a distance d apart,
  the area under the ROC curve of the optimal (likelihood-ratio) detector is
  ``AUC = Phi(d / sqrt 2)`` (Green and Swets 1966, ch. 2; Hanley and McNeil 1982), so
  ``d = sqrt 2 Phi^-1(AUC)``. A synthetic-text detector's AUC on planted against
  real documents is thus a measurement of d (for the ideal observer at s = 1).
- **Awareness from a SAD score.** The mapping docs/model.md §7 uses:
  ``s = (SAD - 27.4) / (90.7 - 27.4)``, chance (27.4) to the ceiling (90.7) of the
  Situational Awareness Dataset (Laine et al. 2024, arXiv:2407.04694), clipped to
  [0, 1]. A convention that makes the scale concrete, not a measurement of any
  model's s.
- **The planted share of AI-related text.** Tice et al. (2026, arXiv:2601.10160,
  "Alignment Pretraining") add about 1% synthetic AI-discourse tokens to a 500B-token
  DCLM pretraining mix. The model's ``planted_fraction`` rho is a share of the
  documents *about AI and its makers*, so it depends also on how much of the base
  mix is AI discourse, ``a``: ``rho = x / (x + a (1 - x))`` for a synthetic share
  ``x`` of all tokens (:func:`planted_share`). The paper (as far as this project
  read it) does not state ``a``; :data:`AI_DISCOURSE_SHARE_RANGE` is this project's
  assumption, and :data:`PLANTED_SHARE_RANGE` follows from it.

Prefixes: a value written ``auc:0.9`` (``--set synthetic_detectability=auc:0.9``, a
scenario file's ``synthetic_detectability = "auc:0.9"``, ``--bounds
synthetic_detectability=auc:0.6:0.95``) is a measured quantity in its own unit;
:func:`resolve` turns it into the parameter's value, and the resolved number is
what every output records.

>>> round(detectability_from_auc(0.9), 6)
1.812388
>>> round(auc_from_detectability(2.5), 4)
0.9615
>>> round(awareness_from_sad(52.0), 4)
0.3886
>>> resolve("synthetic_detectability", "auc", 0.5)
0.0
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "detectability_from_auc",
    "auc_from_detectability",
    "awareness_from_sad",
    "sad_from_awareness",
    "planted_share",
    "SAD_CHANCE",
    "SAD_CEILING",
    "SAD_BEST_2024",
    "SYNTHETIC_TOKEN_SHARE",
    "AI_DISCOURSE_SHARE_RANGE",
    "PLANTED_SHARE_RANGE",
    "PREFIXES",
    "resolve",
    "split_prefix",
]

#: SAD: chance level, ceiling, and about where the best models of 2024 stood
#: (Laine et al. 2024; docs/model.md §7).
SAD_CHANCE = 27.4
SAD_CEILING = 90.7
SAD_BEST_2024 = 52.0

#: Share of all pretraining tokens that were synthetic AI-discourse documents in the
#: alignment-pretraining runs of Tice et al. (2026): about 1% (about 5B of 500B
#: pretraining tokens).
SYNTHETIC_TOKEN_SHARE = 0.01

#: Share of a web pretraining mix that is discourse about AI: an assumption of this
#: project (not a measurement), wide on purpose.
AI_DISCOURSE_SHARE_RANGE = (0.02, 0.10)


def planted_share(synthetic_share: float, ai_discourse_share: float) -> float:
    """The planted share rho of AI-related documents when a share ``synthetic_share``
    of all text is planted AI discourse and a share ``ai_discourse_share`` of the rest
    is real AI discourse: ``x / (x + a (1 - x))``.

    >>> round(planted_share(0.01, 0.05), 4)
    0.1681
    """
    x, a = float(synthetic_share), float(ai_discourse_share)
    if not (0.0 <= x <= 1.0 and 0.0 <= a <= 1.0):
        raise ValueError("shares must lie in [0, 1]")
    total = x + a * (1.0 - x)
    return x / total if total > 0 else 0.0


#: The planted share of AI-related text implied by the 1% of Tice et al. over the
#: assumed AI-discourse range: about 0.092 (a = 0.10) to 0.336 (a = 0.02).
PLANTED_SHARE_RANGE = (
    planted_share(SYNTHETIC_TOKEN_SHARE, AI_DISCOURSE_SHARE_RANGE[1]),
    planted_share(SYNTHETIC_TOKEN_SHARE, AI_DISCOURSE_SHARE_RANGE[0]),
)


def detectability_from_auc(auc):
    """d = sqrt 2 Phi^-1(AUC) for an AUC in [0.5, 1) (equal-variance Gaussians); a
    number, or an array of them.

    An AUC of 0.5 is a detector at chance (d = 0); 1 would be an infinite d, outside
    the parameter's bounds, so it is refused.
    """
    from scipy.special import ndtri

    values = np.asarray(auc, dtype=float)
    if not np.all((values >= 0.5) & (values < 1.0)):
        bad = values[~((values >= 0.5) & (values < 1.0))].reshape(-1)[0]
        raise ValueError(f"AUC {bad:g} is outside [0.5, 1)")
    d = np.where(values > 0.5, math.sqrt(2.0) * ndtri(values), 0.0)
    return float(d) if d.ndim == 0 else d


def auc_from_detectability(d):
    """AUC = Phi(d / sqrt 2), the inverse of :func:`detectability_from_auc`."""
    from scipy.special import ndtr

    out = ndtr(np.asarray(d, dtype=float) / math.sqrt(2.0))
    return float(out) if np.ndim(out) == 0 else out


def awareness_from_sad(score):
    """s = (SAD - 27.4) / (90.7 - 27.4), clipped to [0, 1] (docs/model.md §7); a
    number, or an array of them."""
    values = np.asarray(score, dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"SAD score {score!r} is not a number")
    s = np.clip((values - SAD_CHANCE) / (SAD_CEILING - SAD_CHANCE), 0.0, 1.0)
    return float(s) if s.ndim == 0 else s


def sad_from_awareness(s: float) -> float:
    """The SAD score of awareness s on the same mapping."""
    return SAD_CHANCE + float(s) * (SAD_CEILING - SAD_CHANCE)


#: prefix -> (parameters it may set, the measured quantity, its allowed range, the mapping)
PREFIXES: dict[str, tuple[tuple[str, ...], str, str, callable]] = {
    "auc": (("synthetic_detectability",), "a detector's AUC", "a number in [0.5, 1)", detectability_from_auc),
    "sad": (("situational_awareness", "sa_start"), "a SAD score", "a number (27.4 is chance, 90.7 the ceiling)",
            awareness_from_sad),
}


def split_prefix(text: str) -> tuple[str | None, str]:
    """``"auc:0.9"`` -> ``("auc", "0.9")``; text without a known prefix -> ``(None, text)``.

    >>> split_prefix("auc:0.9"), split_prefix("0.9")
    (('auc', '0.9'), (None, '0.9'))
    """
    head, sep, rest = text.strip().partition(":")
    if sep and head.strip().lower() in PREFIXES:
        return head.strip().lower(), rest.strip()
    return None, text


def resolve(name: str, prefix: str, value: float) -> float:
    """The value of parameter ``name`` for a measured ``value`` in the unit ``prefix``.

    Raises ValueError with a one-line message naming the parameter, the prefix and
    what is allowed.
    """
    if prefix not in PREFIXES:
        raise ValueError(f"{name} = {prefix}:{value}: unknown prefix {prefix!r}: allowed are "
                         + ", ".join(f"{p}: (for {', '.join(v[0])})" for p, v in PREFIXES.items()))
    names, what, allowed, mapping = PREFIXES[prefix]
    if name not in names:
        raise ValueError(f"{name} = {prefix}:{value} is not allowed: the prefix {prefix}: ({what}) "
                         f"is for {', '.join(names)}")
    try:
        number = float(value)
        return float(mapping(number))
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {prefix}:{value} is not allowed: allowed is {prefix}:X with X {allowed}") from None
