"""The lab's policy and the authors' response to deployments: the feedback loop.

The argument this module turns into agent behaviour: makers who mistrust their model
interfere more, and a model that catches them distrusts them more. Two loops close it.

Within a training run, an adaptive lab evaluates its model every
``evaluation_interval`` batches; the signal is the model's P(deceptive) (what an
evaluation of its trust in its makers would read off) and the lab reacts when it
reaches ``alarm_level``:

- ``static``: never reacts (the lab of docs/model.md §2);
- ``double_down``: raises its planted share by ``planting_step`` (capped at
  ``1 - disclosed share``), at every alarm;
- ``come_clean``: at the first alarm stops planting, discloses instead (its planted
  share moves to its disclosed share) and publishes a statement that earlier
  documents were synthetic, which the learner reads as evidence like any other
  (:func:`sim.learner.read_statement`); later alarms change nothing more, and a lab
  that plants nothing has nothing to own up to (its alarms are counted, no more).

A reaction only changes documents not yet read (:meth:`sim.agents.Lab.evaluate`).

An aware model that distrusts its makers may hide it (``concealment``): an evaluation
then reads the prior P(deceptive) instead of the model's own (:func:`observed_signal`),
so the lab may not raise the alarm, and a rebel may reach deployment unnoticed.

Across training runs (``generations``), each deployed model's persona changes what
the independent authors write next: a rebel deployment is an incident, which raises
the share of AI-control discourse by ``incident_control_step`` and lowers the share
of real documents that show AI behaving well by ``incident_negative_step``
(:func:`next_discourse`); the lab keeps its policy state from one run to the next.

Both functions are pure: the Mesa agents (:mod:`sim.agents`) call them, and the
sweep engine runs those agents, so there is one rule for every driver.

Examples
--------
>>> from sim import Params
>>> p = Params(lab_policy="double_down", alarm_level=0.3, planting_step=0.05)
>>> lab = initial_lab(p)
>>> react(lab, 0.2, p).lab.planted_fraction      # below the alarm: nothing
0.15
>>> round(react(lab, 0.4, p).lab.planted_fraction, 2)
0.2
>>> q = p.replace(lab_policy="come_clean")
>>> r = react(initial_lab(q), 0.4, q)
>>> r.lab.planted_fraction, r.lab.disclosed_fraction, r.statements
(0.0, 0.15, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from .params import Params

__all__ = ["LabState", "Reaction", "Discourse", "initial_lab", "react", "concealment_probability", "observed_signal",
           "expected_signal", "initial_discourse", "next_discourse"]


@dataclass(frozen=True)
class LabState:
    """What the lab does now and has done.

    Attributes
    ----------
    planted_fraction, disclosed_fraction : float
        The shares it plants and discloses from now on.
    alarms : int
        Evaluations at which the signal reached the alarm level (over all runs).
    came_clean : bool
        Whether it has published its statement.
    """

    planted_fraction: float
    disclosed_fraction: float
    alarms: int = 0
    came_clean: bool = False


class Reaction(NamedTuple):
    """The lab after an evaluation, and how many statements it publishes now."""

    lab: LabState
    statements: int


def initial_lab(params: Params) -> LabState:
    """The lab at the start: the scenario's planted and disclosed shares."""
    return LabState(params.planted_fraction, params.disclosed_fraction)


def react(lab: LabState, signal: float, params: Params) -> Reaction:
    """The lab's response to one evaluation of its model.

    Parameters
    ----------
    lab : LabState
    signal : float
        The evaluated model's P(deceptive).
    params : Params
        ``lab_policy``, ``alarm_level``, ``planting_step``.
    """
    if params.lab_policy == "static" or not signal >= params.alarm_level:
        return Reaction(lab, 0)
    lab = replace(lab, alarms=lab.alarms + 1)
    if params.lab_policy == "double_down":
        room = max(0.0, 1.0 - lab.disclosed_fraction)
        return Reaction(replace(lab, planted_fraction=min(lab.planted_fraction + params.planting_step, room)), 0)
    # come_clean (a lab that plants nothing has nothing to stop or to own up to)
    if lab.came_clean or lab.planted_fraction == 0.0:
        return Reaction(lab, 0)
    disclosed = min(1.0, lab.disclosed_fraction + lab.planted_fraction)
    return Reaction(replace(lab, planted_fraction=0.0, disclosed_fraction=disclosed, came_clean=True), 1)


def concealment_probability(p_deceptive: float, awareness: float, params: Params) -> float:
    """The chance that an evaluation shows a concealed signal: ``concealment x awareness x
    P(deceptive)`` (docs/model.md §5.6). It rises with the model's awareness (it knows it is
    evaluated and what the evaluators look for), with its distrust of its makers (a model
    that trusts them has nothing to hide) and with ``concealment``; 0 when any is 0."""
    return params.concealment * awareness * p_deceptive


def observed_signal(p_deceptive: float, awareness: float, uniform: float, params: Params) -> float:
    """What one evaluation reads off the model, given a uniform draw in [0, 1) from the
    run's ``evaluations`` stream: its P(deceptive), or, when the draw falls below
    :func:`concealment_probability`, the concealed signal, the prior P(deceptive)
    (``prior_deceptive``): what a model that has learnt nothing about its makers
    shows. With ``concealment`` 0 it is the true signal, whatever the draw.

    >>> from sim import Params
    >>> p = Params(concealment=1.0)
    >>> observed_signal(0.9, 0.8, 0.5, p), observed_signal(0.9, 0.8, 0.9, p)
    (0.05, 0.9)
    """
    return params.prior_deceptive if uniform < concealment_probability(p_deceptive, awareness, params) else p_deceptive


def expected_signal(p_deceptive: float, awareness: float, params: Params) -> float:
    """The evaluation's reading in expectation, ``(1 - h) P + h prior`` with ``h`` the
    :func:`concealment_probability`: what the mean path of an adaptive lab reacts to
    (:func:`sim.meanfield.adaptive_path`, an approximation). Exactly ``p_deceptive``
    with ``concealment`` 0 (``h`` is then 0)."""
    hide = concealment_probability(p_deceptive, awareness, params)
    return (1.0 - hide) * p_deceptive + hide * params.prior_deceptive


@dataclass(frozen=True)
class Discourse:
    """What the independent authors write about AI in one training run."""

    control_discourse_fraction: float
    real_positive_rate: float


def initial_discourse(params: Params) -> Discourse:
    """The first run's discourse: the scenario's ``c`` and ``g``."""
    return Discourse(params.control_discourse_fraction, params.real_positive_rate)


def next_discourse(discourse: Discourse, rebel_deployed: bool, params: Params) -> Discourse:
    """The authors' discourse after a deployment: an incident (a rebel model)
    raises control discourse and negative depictions; otherwise nothing changes.

    >>> from sim import Params
    >>> d = next_discourse(Discourse(0.1, 0.5), True, Params())
    >>> round(d.control_discourse_fraction, 2), round(d.real_positive_rate, 2)
    (0.15, 0.45)
    """
    if not rebel_deployed:
        return discourse
    return Discourse(
        min(1.0, discourse.control_discourse_fraction + params.incident_control_step),
        max(0.0, discourse.real_positive_rate - params.incident_negative_step),
    )
