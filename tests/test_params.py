"""The parameter declaration and its validation (sim.params)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from sim import PARAMETERS, ParameterError, Params
from sim.params import check_awareness, parameter_table

#: docs/model.md §6, the parameters table.
MODEL_DEFAULTS = {
    "n_documents": 10000,
    "batch_size": 100,
    "planted_fraction": 0.15,
    "disclosed_fraction": 0.0,
    "real_positive_rate": 0.5,
    "control_discourse_fraction": 0.1,
    "control_likelihood_ratio": 1.0,
    "synthetic_detectability": 2.5,
    "citations_per_document": 3,
    "believed_planted_cited_rate": 0.02,
    "prior_deceptive": 0.05,
    "candid_plant_rate": 0.01,
    "deceptive_plant_rate": 0.30,
    "disclosure_likelihood_ratio": 0.25,
    "norm_weight": 1.0,
    "situational_awareness": 0.5,
    "sa_start": None,
    "retrospection": 0.0,
}


def test_defaults_match_model_md():
    """Params() carries exactly the reference configuration of docs/model.md §6."""
    p = Params()
    for name, value in MODEL_DEFAULTS.items():
        assert p[name] == value, name
    assert p.awareness_schedule == "constant"


def test_every_parameter_is_declared_once():
    """Each parameter name appears exactly once in PARAMETERS and Params iterates them in order."""
    names = [p.name for p in PARAMETERS]
    assert len(names) == len(set(names))
    assert list(Params()) == names
    assert set(MODEL_DEFAULTS) <= set(names)


def test_every_declared_default_is_valid():
    """Each declared default passes its own validation unchanged."""
    for spec in PARAMETERS:
        assert spec.validate(spec.default) == spec.default


@pytest.mark.parametrize(
    "name, value",
    [
        ("planted_fraction", 1.5),
        ("planted_fraction", -0.01),
        ("n_documents", 0),
        ("batch_size", 0),
        ("situational_awareness", 1.0000001),
        ("citations_per_document", -1),
        ("synthetic_detectability", 100.5),
        ("norm_weight", -1.0),
    ],
)
def test_out_of_bounds_value_is_rejected_naming_the_parameter(name, value):
    """A value outside the declared bounds raises ParameterError whose message names the parameter."""
    with pytest.raises(ParameterError, match=name):
        Params(**{name: value})


@pytest.mark.parametrize(
    "name, value",
    [
        ("believed_planted_cited_rate", 0.0),
        ("believed_planted_cited_rate", 1.0),
        ("prior_deceptive", 0.0),
        ("prior_deceptive", 1.0),
        ("control_likelihood_ratio", 0.0),
        ("disclosure_likelihood_ratio", 0.0),
        ("schedule_steepness", 0.0),
    ],
)
def test_open_bound_excludes_its_endpoint(name, value):
    """Quantities that enter a logarithm reject their open endpoint."""
    with pytest.raises(ParameterError, match=name):
        Params(**{name: value})


@pytest.mark.parametrize(
    "name, value",
    [
        ("planted_fraction", 0.0),
        ("planted_fraction", 1.0),
        ("situational_awareness", 0.0),
        ("situational_awareness", 1.0),
        ("synthetic_detectability", 0.0),
        ("synthetic_detectability", 100.0),
        ("control_likelihood_ratio", 1e6),
        ("disclosure_likelihood_ratio", 1e6),
        ("candid_plant_rate", 0.0),
        ("deceptive_plant_rate", 1.0),
        ("retrospection", 1.0),
    ],
)
def test_closed_bound_accepts_its_endpoint(name, value):
    """A closed bound is itself an allowed value."""
    assert Params(**{name: value})[name] == value


def test_nan_is_rejected():
    """NaN is never a valid number."""
    with pytest.raises(ParameterError, match="planted_fraction"):
        Params(planted_fraction=float("nan"))


@pytest.mark.parametrize("value", [True, "0.2", [0.2], None])
def test_wrong_type_is_rejected(value):
    """Booleans, strings, lists and None are not numbers for a float parameter."""
    with pytest.raises(ParameterError, match="planted_fraction"):
        Params(planted_fraction=value)


def test_integer_parameter_rejects_fractional_value():
    """An int parameter accepts 2000.0 as 2000 but rejects 2000.5."""
    assert Params(n_documents=2000.0).n_documents == 2000
    assert isinstance(Params(n_documents=2000.0).n_documents, int)
    with pytest.raises(ParameterError, match="n_documents"):
        Params(n_documents=2000.5)


def test_numpy_scalars_are_accepted_as_python_values():
    """numpy scalars validate through their Python value and come back as Python types."""
    p = Params(planted_fraction=np.float64(0.2), n_documents=np.int64(500))
    assert p.planted_fraction == 0.2 and type(p.planted_fraction) is float
    assert p.n_documents == 500 and type(p.n_documents) is int


def test_planted_plus_disclosed_above_one_is_rejected():
    """Shares of planted and disclosed documents may not add up to more than one."""
    with pytest.raises(ParameterError, match="exceeds 1"):
        Params(planted_fraction=0.7, disclosed_fraction=0.4)
    assert Params(planted_fraction=0.7, disclosed_fraction=0.3).real_fraction == pytest.approx(0.0, abs=1e-12)


def test_sa_start_requires_a_rising_schedule():
    """sa_start together with the constant schedule is a contradiction and is rejected."""
    with pytest.raises(ParameterError, match="sa_start"):
        Params(sa_start=0.1)
    assert Params(sa_start=0.1, awareness_schedule="linear").sa_start == 0.1


@pytest.mark.parametrize("schedule", ["linear", "logistic"])
def test_rising_schedule_requires_sa_start(schedule):
    """A linear or logistic schedule without sa_start is rejected."""
    with pytest.raises(ParameterError, match="sa_start"):
        Params(awareness_schedule=schedule)


def test_unknown_schedule_is_rejected():
    """awareness_schedule must be one of its declared choices."""
    with pytest.raises(ParameterError, match="awareness_schedule"):
        Params(awareness_schedule="exponential")


def test_unknown_name_suggests_the_closest_one():
    """A misspelt parameter name is rejected with a did-you-mean hint."""
    with pytest.raises(ParameterError, match="did you mean planted_fraction"):
        Params(planted_fractoin=0.2)


def test_params_are_immutable_and_replace_revalidates():
    """Attributes cannot be set; replace() returns a validated copy and leaves the original alone."""
    p = Params()
    with pytest.raises(AttributeError):
        p.planted_fraction = 0.3
    q = p.replace(planted_fraction=0.3)
    assert q.planted_fraction == 0.3 and p.planted_fraction == 0.15
    with pytest.raises(ParameterError):
        p.replace(planted_fraction=2.0)


def test_equal_params_are_equal_hash_and_pickle():
    """Params compare and hash by value and survive a pickle round trip."""
    p = Params(planted_fraction=0.25, n_documents=123)
    q = Params(n_documents=123, planted_fraction=0.25)
    assert p == q and hash(p) == hash(q)
    assert p != Params()
    assert pickle.loads(pickle.dumps(p)) == p
    assert p.to_dict() == dict(p)


def test_derived_quantities():
    """real_fraction is 1 - rho - eta and n_batches rounds up."""
    p = Params(planted_fraction=0.2, disclosed_fraction=0.1, n_documents=1001, batch_size=100)
    assert p.real_fraction == pytest.approx(0.7, rel=1e-15)
    assert p.n_batches == 11
    assert Params(n_documents=1000, batch_size=100).n_batches == 10
    assert Params(n_documents=5, batch_size=10_000_000).n_batches == 1


def test_parse_reads_command_line_strings():
    """Parameter.parse converts '--set' strings and rejects non-numbers naming the parameter."""
    by_name = {p.name: p for p in PARAMETERS}
    assert by_name["planted_fraction"].parse(" 0.25 ") == 0.25
    assert by_name["n_documents"].parse("1e3") == 1000
    assert by_name["sa_start"].parse("none") is None
    assert by_name["awareness_schedule"].parse("logistic") == "logistic"
    with pytest.raises(ParameterError, match="planted_fraction"):
        by_name["planted_fraction"].parse("lots")


def test_from_toml_reads_a_scenario_and_applies_overrides(tmp_path):
    """A TOML scenario sets parameters by name; keyword overrides win."""
    path = tmp_path / "s.toml"
    path.write_text("planted_fraction = 0.25\nn_documents = 500\n")
    p = Params.from_toml(path, n_documents=700)
    assert p.planted_fraction == 0.25 and p.n_documents == 700


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("plantd_fraction = 0.2\n", "plantd_fraction"),
        ("planted_fraction = 3.0\n", "planted_fraction"),
        ("[extra]\nx = 1\n", "extra"),
        ("planted_fraction = \n", "not valid TOML"),
    ],
)
def test_from_toml_rejects_bad_scenarios_naming_the_file(tmp_path, text, pattern):
    """A bad scenario file raises ParameterError naming the file and the offending key."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=pattern) as err:
        Params.from_toml(path)
    assert "bad.toml" in str(err.value)


def test_missing_scenario_file_is_a_parameter_error(tmp_path):
    """A scenario path that does not exist raises ParameterError, not OSError."""
    with pytest.raises(ParameterError, match="does not exist"):
        Params.from_toml(tmp_path / "nope.toml")


def test_check_awareness_validates_each_level():
    """Awareness lists are flattened to floats in [0, 1]; empty or out-of-range lists are rejected."""
    assert check_awareness([0, 0.5, 1]) == [0.0, 0.5, 1.0]
    assert check_awareness(np.array([[0.1], [0.2]])) == [0.1, 0.2]
    with pytest.raises(ParameterError, match="awareness level"):
        check_awareness([0.5, 1.5])
    with pytest.raises(ParameterError, match="empty"):
        check_awareness([])


def test_parameter_table_lists_every_parameter():
    """The generated table has one row per declared parameter plus the header."""
    table = parameter_table(markdown=True)
    lines = table.splitlines()
    assert len(lines) == len(PARAMETERS) + 2
    for spec in PARAMETERS:
        assert f"`{spec.name}`" in table


def test_allowed_text_shows_open_and_closed_bounds():
    """The allowed-values text marks open bounds with parentheses."""
    by_name = {p.name: p for p in PARAMETERS}
    assert by_name["prior_deceptive"].allowed() == "a number in (0, 1)"
    assert by_name["planted_fraction"].allowed() == "a number in [0, 1]"
    assert math.isclose(by_name["control_likelihood_ratio"].high, 1e6)


# -- lab, laundering and generation parameters -----------------------------------------
@pytest.mark.parametrize("name, value", [
    ("lab_policy", "panic"), ("citation_cue", "pagerank"), ("laundering", 1.5), ("evaluation_interval", 0),
    ("alarm_level", 0.0), ("generations", 0), ("statement_likelihood_ratio", 0.0), ("anchor_share", -0.1),
])
def test_lab_laundering_and_generation_parameters_reject_bad_values_with_one_line(name, value):
    with pytest.raises(ParameterError) as err:
        Params(**{name: value})
    assert name in str(err.value) and "\n" not in str(err.value)


def test_docs_model_parameter_table_is_the_generated_one():
    """docs/model.md §6 shows exactly what parameter_table() generates (regenerate it
    with the command the section gives when a parameter is added or changed)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "model.md").read_text()
    assert parameter_table(markdown=True) in text
