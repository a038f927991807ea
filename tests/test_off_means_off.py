"""Off means off: a mechanism at its off value changes no existing number, bit for bit.

Every configuration of tests/reference_fingerprints.py (the engine's static family,
the Mesa model's final, trajectory and generations tables under static and reacting
labs, generations, the general path, schedules with retrospection, the mean field) is
run as it is and with each mechanism added since set explicitly to its off value: the
numbers must be the same bit for bit (same machine, same process).

They must also be the numbers recorded in tests/reference_values.json (exact
hexadecimal floats), which are those of commit dcc463b, before the mechanisms existed,
except the mean field's, re-recorded when its style quadrature was made coarser
(issue 18; they moved by at most 1.4e-10 relative, P(rebel) near 0 and the roots).
Against the recording the comparison allows 1e-9 relative: the digests recorded at
dcc463b held bit for bit on the machine that recorded them (and in CI), but on an
AMD EPYC with AVX-512 (numpy 2.5.5, scipy 1.18.1) five of the fourteen configurations
(generations and the mean field) differed in their last bits, deterministically, and a
test that fails on a machine whose floating point differs in the last place says
nothing about the model. A real change of the model moves these numbers far more.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from reference_fingerprints import CONFIGURATIONS, _digest, as_floats, fingerprint, recorded_values, tables

#: Each mechanism added since, at its off value (docs/model.md §6).
OFF_VALUES = {
    "no benevolent makers (issue 16)": {"prior_benevolent": 0.0},
    "nothing filtered, filtering hypotheses at their defaults (issue 15)": {
        "filtered_fraction": 0.0, "candid_filter_rate": 0.02, "deceptive_filter_rate": 0.02,
        "deceptive_filters_only": 0.0, "deceptive_plants_only": 0.0},
}

#: Relative tolerance against the recorded numbers (see the module's docstring).
RTOL = 1e-9


@functools.cache
def _as_is(name: str):
    return tables(name)


def fingerprint_as_is(name: str) -> str:
    return _digest(_as_is(name))


@functools.cache
def _recorded():
    return recorded_values()


def test_every_configuration_is_recorded():
    assert set(_recorded()) == set(CONFIGURATIONS)


@pytest.mark.parametrize("mechanism", sorted(OFF_VALUES))
@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_a_mechanism_off_changes_nothing_bit_for_bit(name, mechanism):
    """Runs the configuration with the mechanism explicitly off. Runs are deterministic,
    so where the resulting Params equal the configuration's own (they keep values, not
    which were set by name), the run as it is stands for it."""
    from sim import Params

    fields = CONFIGURATIONS[name][0]
    if Params(**fields, **OFF_VALUES[mechanism]) == Params(**fields):
        found = fingerprint_as_is(name)
    else:
        found = fingerprint(name, **OFF_VALUES[mechanism])
    assert found == fingerprint_as_is(name)


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_numbers_are_those_recorded(name):
    found = {t: as_floats(table) for t, table in _as_is(name).items()}
    recorded = _recorded()[name]
    assert set(found) == set(recorded)
    for t, columns in recorded.items():
        assert set(found[t]) == set(columns), t
        for c, expected in columns.items():
            got = found[t][c]
            assert got.shape == expected.shape, (t, c)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{t}.{c}")
            scale = np.nanmax(np.abs(expected), initial=0.0)
            np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * scale, err_msg=f"{t}.{c}")


def test_the_comparison_catches_a_changed_number():
    """A mechanism that moved one number by a part in 1e8 would fail the comparison."""
    name = "static_engine"
    expected = _recorded()[name]["final"]["log_odds"]
    moved = expected * (1 + 1e-8)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(moved, expected, rtol=RTOL, atol=RTOL * np.nanmax(np.abs(expected)))
