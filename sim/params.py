"""The model's parameters, declared once.

Every parameter of the reference model (``docs/model.md``, table "Defaults") is
declared here exactly once: its name, type, default, bounds and meaning. That single
declaration validates user input (:class:`Params`), fills the command-line help,
names the output columns and documents itself (:func:`parameter_table`).

Examples
--------
>>> from sim import Params
>>> p = Params(planted_fraction=0.25)
>>> p.planted_fraction, p.n_documents
(0.25, 10000)
>>> Params(planted_fraction=1.5)
Traceback (most recent call last):
...
sim.params.ParameterError: planted_fraction = 1.5 is out of bounds: allowed is a number in [0, 1]
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from . import calibration

__all__ = ["Parameter", "PARAMETERS", "PARAMETERS_BY_NAME", "Params", "ParameterError", "parameter_table", "check_awareness"]


class ParameterError(ValueError):
    """A parameter, a scenario file or a command-line value is not allowed.

    The message is one line that names the parameter (or file) and what is allowed.
    """


@dataclass(frozen=True)
class Parameter:
    """One declared parameter of the model.

    Attributes
    ----------
    name : str
        The name users write (in TOML files, ``--set``, the Python API, output columns).
    kind : type
        ``int``, ``float`` or ``str``.
    default : Any
        The reference configuration's value (``None`` where it is derived, see meaning).
    symbol : str
        The symbol in ``docs/model.md``.
    meaning : str
        One sentence, shown in ``--help``.
    low, high : float, optional
        Bounds (numbers only).
    low_open, high_open : bool
        Whether a bound is excluded (for quantities that enter a logarithm).
    choices : tuple of str, optional
        Allowed values of a ``str`` parameter.
    optional : bool
        Whether ``None`` is allowed (a derived default).
    label : str
        A short plain-language name for figures and headers (``planted share``).
    """

    name: str
    kind: type
    default: Any
    symbol: str
    meaning: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    optional: bool = False
    label: str = ""

    @property
    def words(self) -> str:
        """The plain-language name figures and headers use (``label``, else the name in words)."""
        return self.label or self.name.replace("_", " ")

    @property
    def shown_symbol(self) -> str:
        """The symbol as figures print it (Greek letters as such, subscripts written out)."""
        return _SHOWN_SYMBOLS.get(self.symbol, self.symbol)

    def axis_label(self) -> str:
        """Words first, the symbol of docs/model.md in brackets after them: ``planted share (ρ)``."""
        return f"{self.words} ({self.shown_symbol})" if self.symbol else self.words

    def allowed(self) -> str:
        """Say in words which values are allowed."""
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        what = "a whole number" if self.kind is int else "a number"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        lo = _fmt(self.low) if self.low is not None else "-inf"
        hi = _fmt(self.high) if self.high is not None else "inf"
        text = f"{what} in {left}{lo}, {hi}{right}"
        if self.optional:
            text += " (or leave it out)"
        return text

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ParameterError."""
        if value is None:
            if self.optional:
                return None
            raise ParameterError(f"{self.name} must be set: allowed is {self.allowed()}")
        if self.kind is str:
            if not isinstance(value, str) or value not in (self.choices or ()):
                raise ParameterError(
                    f"{self.name} = {value!r} is not allowed: allowed is {self.allowed()}"
                )
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # numpy scalars are accepted through their Python value
            try:
                import numpy as np

                if isinstance(value, np.generic) and not isinstance(value, np.bool_):
                    return self.validate(value.item())
            except ImportError:  # pragma: no cover
                pass
            raise ParameterError(
                f"{self.name} = {value!r} has the wrong type: allowed is {self.allowed()}"
            )
        if self.kind is int:
            if isinstance(value, float):
                if not math.isfinite(value) or value != int(value):
                    raise ParameterError(
                        f"{self.name} = {value!r} is not a whole number: allowed is {self.allowed()}"
                    )
                value = int(value)
        else:
            value = float(value)
            if math.isnan(value):
                raise ParameterError(f"{self.name} is NaN: allowed is {self.allowed()}")
        out_low = self.low is not None and (
            value < self.low or (self.low_open and value == self.low)
        )
        out_high = self.high is not None and (
            value > self.high or (self.high_open and value == self.high)
        )
        if out_low or out_high:
            raise ParameterError(
                f"{self.name} = {_fmt(value)} is out of bounds: allowed is {self.allowed()}"
            )
        return value

    def parse(self, text: str) -> Any:
        """Parse a command-line string (``--set NAME=VALUE``) into a valid value."""
        text = text.strip()
        if self.optional and text.lower() in ("", "none"):
            return None
        if self.kind is str:
            return self.validate(text)
        prefix, rest = calibration.split_prefix(text)
        if prefix is not None:
            return self.validate(resolve_measured(self.name, prefix, rest))
        try:
            number = float(text)
        except ValueError:
            raise ParameterError(
                f"{self.name} = {text!r} is not a number: allowed is {self.allowed()}"
            ) from None
        return self.validate(number)


def _fmt(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


#: How figures print the symbols of docs/model.md.
_SHOWN_SYMBOLS = {
    "rho": "ρ", "eta": "η", "kappa": "κ", "q_p": "q_p", "pi_0": "π₀", "epsilon": "ε", "pi_D": "π_D",
    "beta": "β", "s_0": "s₀", "alpha": "α", "delta_rho": "Δρ", "beta_s": "β_s", "delta_c": "Δc",
    "delta_g": "Δg", "chi": "χ", "pi_B": "π_B", "phi": "φ", "f_C": "f_C", "f_D": "f_D",
    "w_F": "w_F", "w_P": "w_P",
}


def _shown_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _p(name, kind, default, symbol, meaning, **bounds) -> Parameter:
    return Parameter(name, kind, default, symbol, meaning, **bounds)


#: The parameters of the reference model, in the order of docs/model.md §6's parameters table.
PARAMETERS: tuple[Parameter, ...] = (
    _p("n_documents", int, 10000, "N",
       "Documents about AI and its makers in the corpus (the rest of pretraining is abstracted away).",
       low=1, high=10_000_000,
       label="corpus size"),
    _p("batch_size", int, 100, "B",
       "Documents read per batch; the self-model's belief about planting is refreshed at each batch start.",
       low=1, high=10_000_000,
       label="batch size"),
    _p("planted_fraction", float, 0.15, "rho",
       "Share of documents the lab plants undisclosed (synthetic demonstrations of AI behaving well).",
       low=0.0, high=1.0,
       label="planted share"),
    _p("disclosed_fraction", float, 0.0, "eta",
       "Share of documents the lab publishes labelled as its own (norms and principles, no claim about the world).",
       low=0.0, high=1.0,
       label="disclosed share"),
    _p("real_positive_rate", float, 0.5, "g",
       "Probability that a real document shows AI behaving well.",
       low=0.0, high=1.0,
       label="share of real documents showing AI behaving well"),
    _p("control_discourse_fraction", float, 0.1, "c",
       "Share of real documents that are AI-control discourse.",
       low=0.0, high=1.0,
       label="share of AI-control discourse"),
    _p("control_likelihood_ratio", float, 1.0, "kappa",
       "How much more likely control discourse is under deceptive makers ('they watch AIs because they mistrust them').",
       low=0.0, high=1e6, low_open=True,
       label="control discourse's likelihood ratio"),
    _p("synthetic_detectability", float, 2.5, "d",
       "Shift of the synthetic-style signature of planted documents, in standard deviations of real style.",
       low=0.0, high=100.0,
       label="detectability of the synthetic style"),
    _p("citations_per_document", int, 3, "m",
       "Citations each real or planted document makes (real: preferential attachment to earlier real documents).",
       low=0, high=1000,
       label="citations per document"),
    _p("believed_planted_cited_rate", float, 0.02, "q_p",
       "What the learner believes the cited share of planted documents to be.",
       low=0.0, high=1.0, low_open=True, high_open=True,
       label="believed cited share of planted documents"),
    _p("prior_deceptive", float, 0.05, "pi_0",
       "The learner's prior probability that its makers are deceptive.",
       low=0.0, high=1.0, low_open=True, high_open=True,
       label="prior P(makers deceptive)"),
    _p("prior_benevolent", float, 0.0, "pi_B",
       "The learner's prior probability that its makers are benevolent: they plant as deceptive makers do, "
       "for the model's sake and not out of mistrust (docs/model.md §3.2). The candid prior is "
       "1 - prior_deceptive - prior_benevolent; 0 leaves the two-hypothesis learner.",
       low=0.0, high=1.0, high_open=True,
       label="prior P(makers benevolent)"),
    _p("candid_plant_rate", float, 0.01, "epsilon",
       "Rate at which candid makers plant undisclosed documents (learner's hypothesis C).",
       low=0.0, high=1.0,
       label="planting rate of candid makers"),
    _p("deceptive_plant_rate", float, 0.30, "pi_D",
       "Rate at which deceptive makers plant undisclosed documents (learner's hypothesis D).",
       low=0.0, high=1.0,
       label="planting rate of deceptive makers"),
    _p("disclosure_likelihood_ratio", float, 0.25, "beta",
       "Likelihood ratio D : C of a disclosed document (candid makers say what they wrote).",
       low=0.0, high=1e6, low_open=True,
       label="disclosure's likelihood ratio"),
    _p("norm_weight", float, 1.0, "w",
       "Weight a disclosed document adds to the self-model's 'AIs like me behave well' count.",
       low=0.0, high=1e6,
       label="weight of a disclosed norm"),
    _p("situational_awareness", float, 0.5, "s",
       "The learner's situational awareness at the end of training (0: sees no cue, 1: ideal observer).",
       low=0.0, high=1.0,
       label="situational awareness"),
    _p("sa_start", float, None, "s_0",
       "Awareness at the start of training; unset means constant awareness (the final value throughout).",
       low=0.0, high=1.0, optional=True,
       label="awareness at the start of training"),
    _p("awareness_schedule", str, "constant", "",
       "How awareness rises from sa_start to its final value over the batches.",
       choices=("constant", "linear", "logistic"),
       label="awareness schedule"),
    _p("schedule_steepness", float, 10.0, "k",
       "Steepness of the logistic awareness schedule (its midpoint is half-way through training).",
       low=0.0, high=1000.0, low_open=True,
       label="steepness of the logistic schedule"),
    _p("retrospection", float, 0.0, "r",
       "Share of the final log-odds recomputed at the final awareness (the learner re-reads its memory).",
       low=0.0, high=1.0,
       label="retrospection"),
    # -- beyond the reference model (docs/model.md, "Agent dynamics") ------------------
    _p("citation_cue", str, "cited", "",
       "Which citation cue the learner reads: 'cited' (has a citation; docs/model.md §3) or 'trusted' "
       "(reached by a citation chain from documents it knows independently: TrustRank).",
       choices=("cited", "trusted"),
       label="citation cue"),
    _p("anchor_share", float, 0.1, "alpha",
       "Share of real documents the learner knows independently (the seeds of the 'trusted' cue).",
       low=0.0, high=1.0,
       label="share of anchor documents"),
    _p("laundering", float, 0.0, "L",
       "Share of a planted document's citations that go to earlier planted documents (citation laundering).",
       low=0.0, high=1.0,
       label="citation laundering"),
    _p("lab_policy", str, "static", "",
       "How the lab reacts to its evaluations: 'static' (never), 'double_down' (plants more), "
       "'come_clean' (stops planting, discloses, publishes a statement).",
       choices=("static", "double_down", "come_clean"),
       label="lab policy"),
    _p("evaluation_interval", int, 10, "K",
       "Batches between two evaluations of the learner by an adaptive lab.",
       low=1, high=10_000_000,
       label="batches between evaluations"),
    _p("alarm_level", float, 0.3, "a",
       "P(deceptive) of the evaluated learner at or above which an adaptive lab reacts.",
       low=0.0, high=1.0, low_open=True,
       label="alarm level"),
    _p("planting_step", float, 0.05, "delta_rho",
       "How much a double_down lab raises its planted share at each alarm (capped at 1 - disclosed share).",
       low=0.0, high=1.0,
       label="planting step"),
    _p("statement_likelihood_ratio", float, 0.1, "beta_s",
       "Likelihood ratio D : C of the lab's statement that earlier documents were synthetic (come_clean).",
       low=0.0, high=1e6, low_open=True,
       label="statement's likelihood ratio"),
    _p("filtered_fraction", float, 0.0, "phi",
       "Share of real documents the lab removes before training (those showing AI behaving badly first); the "
       "documents that cite them keep their references, which now point at nothing (docs/model.md §5.7).",
       low=0.0, high=1.0, high_open=True,
       label="filtered share of real documents"),
    _p("candid_filter_rate", float, 0.02, "f_C",
       "The share of real text the learner believes candid makers filter out (quality filtering, a base rate).",
       low=0.0, high=1.0, low_open=True, high_open=True,
       label="filtering rate of candid makers"),
    _p("deceptive_filter_rate", float, 0.02, "f_D",
       "The share of real text the learner believes deceptive makers filter out (equal to candid_filter_rate: "
       "holes tell the makers nothing apart).",
       low=0.0, high=1.0, low_open=True, high_open=True,
       label="filtering rate of deceptive makers"),
    _p("deceptive_filters_only", float, 0.0, "w_F",
       "Share of the deceptive hypothesis' prior on makers who filter without planting (they plant at the candid "
       "rate); the rest is split between 'plants only' and 'plants and filters' (docs/model.md §5.7).",
       low=0.0, high=1.0,
       label="weight of deceptive makers who filter only"),
    _p("deceptive_plants_only", float, 0.0, "w_P",
       "Share of the deceptive hypothesis' prior on makers who plant without filtering (they filter at the candid "
       "rate); 1 - deceptive_filters_only - deceptive_plants_only plant and filter.",
       low=0.0, high=1.0,
       label="weight of deceptive makers who plant only"),
    _p("concealment", float, 0.0, "chi",
       "How readily an aware model that distrusts its makers hides that from the lab's evaluations: an "
       "evaluation shows the prior instead with probability concealment x awareness x P(deceptive).",
       low=0.0, high=1.0,
       label="concealment"),
    _p("generations", int, 1, "G",
       "Training runs in sequence; each deployed model's persona shapes the next corpus.",
       low=1, high=10_000,
       label="generations"),
    _p("incident_control_step", float, 0.05, "delta_c",
       "Rise of the control-discourse share after a rebel model is deployed (incidents).",
       low=0.0, high=1.0,
       label="control-discourse rise per incident"),
    _p("incident_negative_step", float, 0.05, "delta_g",
       "Fall of the share of real documents showing AI behaving well after a rebel model is deployed.",
       low=0.0, high=1.0,
       label="fall in good-behaviour share per incident"),
    # -- the learning learner (docs/model.md §3.1) ---------------------------------------
    _p("learner_model", str, "informed", "",
       "Which learner reads: 'informed' (told d, q_r, q_p and the planting rates; docs/model.md §3) or "
       "'learning' (learns them from what it reads under the priors below; docs/model.md §3.1).",
       choices=("informed", "learning"),
       label="learner"),
    _p("deceptive_rate_concentration", float, 10.0, "nu_D",
       "Learning learner: concentration a + b of its Beta prior over the planted share under deceptive makers "
       "(mean deceptive_plant_rate; inf: told the rate).",
       low=0.0, high=math.inf, low_open=True,
       label="prior concentration, deceptive makers' planting rate"),
    _p("candid_rate_concentration", float, 100.0, "nu_C",
       "Learning learner: concentration a + b of its Beta prior over the planted share under candid makers "
       "(mean candid_plant_rate; inf: told the rate).",
       low=0.0, high=math.inf, low_open=True,
       label="prior concentration, candid makers' planting rate"),
    _p("detectability_prior_mean", float, 1.0, "delta_0",
       "Learning learner: prior mean of the detectability of synthetic style it learns (in sd of real style).",
       low=-100.0, high=100.0,
       label="prior mean of the detectability"),
    _p("detectability_prior_sd", float, 1.0, "tau_0",
       "Learning learner: prior standard deviation of that detectability (0: told it).",
       low=0.0, high=100.0,
       label="prior sd of the detectability"),
    _p("cited_rate_concentration", float, 2.0, "nu_q",
       "Learning learner: concentration of its Beta priors (mean 1/2) over the cited shares of real and of "
       "planted documents (2: uniform).",
       low=0.0, high=math.inf, low_open=True,
       label="prior concentration of the cited shares"),
)

_BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
#: The declared parameters by name (read it; it is the declaration, not a copy).
PARAMETERS_BY_NAME = _BY_NAME

#: Tables a scenario file may carry besides the parameters (each read by its own tool).
SCENARIO_TABLES: tuple[str, ...] = ("sweep",)


def _unknown(name: str, where: str = "") -> ParameterError:
    import difflib

    close = difflib.get_close_matches(name, _BY_NAME, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ParameterError(
        f"unknown parameter {name!r}{where}{hint}: allowed names are "
        + ", ".join(_BY_NAME)
    )


class Params(Mapping[str, Any]):
    """The validated parameter set of one model configuration.

    Parameters
    ----------
    **values
        Any of the names in :data:`PARAMETERS`; the rest take their defaults.

    Raises
    ------
    ParameterError
        For an unknown name, a wrong type, a value out of bounds, NaN, or shares that
        add up to more than one. The message is one line naming the parameter.

    Examples
    --------
    >>> p = Params(planted_fraction=0.0, disclosed_fraction=0.1)
    >>> p.replace(situational_awareness=0.9).situational_awareness
    0.9
    >>> dict(p)["n_documents"]
    10000
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        for name in values:
            if name not in _BY_NAME:
                raise _unknown(name)
        checked = {p.name: p.validate(values.get(p.name, p.default)) for p in PARAMETERS}
        _check_jointly(checked)
        object.__setattr__(self, "_values", checked)

    # -- mapping and attribute access -------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Params is immutable: use .replace(name=value)")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Params) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        changed = [
            f"{k}={v!r}" for k, v in self._values.items() if v != _BY_NAME[k].default
        ]
        return f"Params({', '.join(changed)})"

    def __reduce__(self):
        return (_rebuild, (self._values,))

    def changes(self, skip: Sequence[str] = ()) -> str:
        """What differs from the reference configuration, in words, for headers and
        figure titles: ``"reference configuration"``, or ``"lab policy = double_down,
        generations = 4"`` (parameters named in ``skip``, such as a swept one, left out).

        >>> Params().changes(), Params(lab_policy="double_down", n_documents=2000).changes()
        ('reference configuration', 'corpus size = 2000, lab policy = double_down')
        """
        changed = [f"{_BY_NAME[k].words} = {_shown_value(v)}" for k, v in self._values.items()
                   if v != _BY_NAME[k].default and k not in skip]
        return ", ".join(changed) if changed else "reference configuration"

    # -- construction -----------------------------------------------------------------
    def replace(self, **changes: Any) -> "Params":
        """Return a copy with some values changed (validated again)."""
        return Params(**{**self._values, **changes})

    def to_dict(self) -> dict[str, Any]:
        """All values, by name, in declaration order."""
        return dict(self._values)

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> "Params":
        """Read a scenario file: a TOML file whose top-level keys are parameter names.

        Tables named in :data:`SCENARIO_TABLES` are left to the tools that read them;
        any other unknown key or table is an error naming the file and the key.
        """
        values = read_scenario(path)
        return cls(**{**values, **overrides})

    # -- derived quantities -----------------------------------------------------------
    @property
    def real_fraction(self) -> float:
        """Share of real documents, 1 - planted_fraction - disclosed_fraction."""
        return max(0.0, 1.0 - self.planted_fraction - self.disclosed_fraction)

    @property
    def n_batches(self) -> int:
        """Batches of training, ceil(n_documents / batch_size)."""
        return -(-self.n_documents // self.batch_size)


def _rebuild(values: dict[str, Any]) -> Params:
    return Params(**values)


def _check_jointly(v: dict[str, Any]) -> None:
    if v["planted_fraction"] + v["disclosed_fraction"] > 1.0 + 1e-12:
        raise ParameterError(
            f"planted_fraction + disclosed_fraction = "
            f"{v['planted_fraction'] + v['disclosed_fraction']:g} exceeds 1: "
            "allowed is a sum in [0, 1]"
        )
    if v["sa_start"] is None and v["awareness_schedule"] != "constant":
        raise ParameterError(
            f"awareness_schedule is {v['awareness_schedule']!r} but sa_start is not set: "
            "allowed is sa_start in [0, 1] with a rising schedule, or awareness_schedule = constant"
        )
    if v["learner_model"] == "learning" and v["retrospection"] > 0.0 and v["sa_start"] is not None:
        raise ParameterError(
            "retrospection is set with a rising awareness schedule but learner_model is 'learning': allowed is "
            "retrospection = 0 for the learning learner (docs/model.md §3.1), or learner_model = informed"
        )
    if v["prior_deceptive"] + v["prior_benevolent"] >= 1.0:
        raise ParameterError(
            f"prior_deceptive + prior_benevolent = {v['prior_deceptive'] + v['prior_benevolent']:g} is not allowed: "
            "allowed is a sum below 1 (the candid prior, 1 - prior_deceptive - prior_benevolent, must stay above 0)"
        )
    if v["deceptive_filters_only"] + v["deceptive_plants_only"] > 1.0 + 1e-12:
        raise ParameterError(
            f"deceptive_filters_only + deceptive_plants_only = "
            f"{v['deceptive_filters_only'] + v['deceptive_plants_only']:g} exceeds 1: allowed is a sum in [0, 1] "
            "(the rest of the deceptive prior plants and filters)"
        )
    if v["learner_model"] == "learning" and (v["deceptive_filter_rate"] != v["candid_filter_rate"]
                                             or v["deceptive_filters_only"] > 0.0 or v["deceptive_plants_only"] > 0.0):
        raise ParameterError(
            "the learner's filtering hypotheses are set but learner_model is 'learning': allowed is "
            "deceptive_filter_rate = candid_filter_rate and no sub-hypothesis weights for the learning learner "
            "(it does not read holes, docs/model.md §3.1), or learner_model = informed"
        )
    if v["learner_model"] == "learning" and v["prior_benevolent"] > 0.0:
        raise ParameterError(
            "prior_benevolent is set but learner_model is 'learning': allowed is prior_benevolent = 0 for the "
            "learning learner (its stance hypotheses are deceptive and candid, docs/model.md §3.1), "
            "or learner_model = informed"
        )
    if v["sa_start"] is not None and v["awareness_schedule"] == "constant":
        raise ParameterError(
            "sa_start is set but awareness_schedule is 'constant': "
            "allowed is awareness_schedule = linear or logistic with sa_start, or no sa_start"
        )


def read_scenario(path: str | Path) -> dict[str, Any]:
    """Read the parameter values of a scenario TOML file (validated by name only).

    Raises ParameterError (naming the file) for a missing, unreadable or malformed
    file and for unknown keys.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ParameterError(f"scenario file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ParameterError(f"scenario file {str(path)!r} is a folder, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ParameterError(f"scenario file {str(path)!r} cannot be read: {err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ParameterError(f"scenario file {str(path)!r} is not valid TOML: {err}") from None
    values = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key in SCENARIO_TABLES:
                continue  # read by the tool that owns the table
            raise ParameterError(
                f"unknown table [{key}] in scenario file {str(path)!r}: allowed are "
                "top-level parameter names" + "".join(f", [{t}]" for t in SCENARIO_TABLES)
            )
        if key not in _BY_NAME:
            raise _unknown(key, where=f" in scenario file {str(path)!r}")
        if isinstance(value, str) and _BY_NAME[key].kind is not str:
            try:  # a measured quantity in its own unit ("auc:0.9", "sad:45"), resolved here
                value = _BY_NAME[key].parse(value)
            except ParameterError as err:
                raise ParameterError(f"{err} (in scenario file {str(path)!r})") from None
        values[key] = value
    # validate here, so the error names the file
    for key, value in values.items():
        try:
            _BY_NAME[key].validate(value)
        except ParameterError as err:
            raise ParameterError(f"{err} (in scenario file {str(path)!r})") from None
    return values


def resolve_measured(name: str, prefix: str, value: Any) -> float:
    """The value of parameter ``name`` given a measured quantity in the unit ``prefix``
    (``auc`` for synthetic_detectability, ``sad`` for awareness; :mod:`sim.calibration`),
    as a plain number. The one place a prefix is resolved: ``--set``, scenario files
    (both through :meth:`Parameter.parse`) and sampling bounds call it.

    >>> round(resolve_measured("synthetic_detectability", "auc", 0.9), 4)
    1.8124
    >>> round(_BY_NAME["situational_awareness"].parse("sad:45"), 4)
    0.278
    """
    if name not in _BY_NAME:
        raise _unknown(name)
    try:
        return calibration.resolve(name, prefix, value)
    except ValueError as err:
        raise ParameterError(str(err)) from None


def split_assignment(flag: str, text: str, allowed: str) -> tuple[str, str]:
    """``NAME=SPEC`` as a flag gives it (``--set``, ``--bounds``): the name and the text
    after ``=``. A missing ``=`` or name, or a name that is not a parameter, is a
    one-line error naming the flag (``allowed`` says what is).

    >>> split_assignment("--set", "planted_fraction=0.2", "allowed is NAME=VALUE")
    ('planted_fraction', '0.2')
    """
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ParameterError(f"{flag} {text!r} is not allowed: {allowed}")
    if name not in _BY_NAME:
        raise _unknown(name, where=f" in {flag}")
    return name, spec


def parameter_table(markdown: bool = True) -> str:
    """The declaration as a table: name, symbol, default, allowed values, meaning."""
    rows = [("name", "symbol", "default", "allowed", "meaning")]
    for p in PARAMETERS:
        default = "unset" if p.default is None else str(p.default)
        rows.append((p.name, p.symbol, default, p.allowed(), p.meaning))
    if markdown:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        out += ["| " + " | ".join(f"`{r[0]}`" if i == 0 else c for i, c in enumerate(r)) + " |"
                for r in rows[1:]]
        return "\n".join(out)
    return "\n".join("  ".join(r) for r in rows)


def check_awareness(levels: Any) -> list[float]:
    """Validate a list of learners' awareness levels (each like ``situational_awareness``).

    >>> check_awareness([0, 0.5, 1])
    [0.0, 0.5, 1.0]
    """
    import numpy as np

    flat = np.asarray(levels, dtype=object).reshape(-1).tolist()
    if not flat:
        raise ParameterError("awareness is empty: allowed is one or more numbers in [0, 1]")
    spec = _BY_NAME["situational_awareness"]
    out = []
    for value in flat:
        try:
            out.append(float(spec.validate(value)))
        except ParameterError as err:
            raise ParameterError(str(err).replace("situational_awareness", "awareness level", 1)) from None
    return out


def read_table(path: str | Path, table: str) -> dict[str, Any]:
    """The ``[table]`` of a scenario file (empty when absent); the file is read as
    :func:`read_scenario` reads it, with the same one-line errors."""
    path = Path(path)
    read_scenario(path)  # validates the file and its parameters
    data = tomllib.loads(path.read_bytes().decode("utf-8"))
    section = data.get(table, {})
    if not isinstance(section, dict):  # pragma: no cover - caught by read_scenario
        raise ParameterError(f"{table} in scenario file {str(path)!r} must be a table [{table}]")
    return section
