"""Off means off: a mechanism at its off value changes no existing number, bit for bit.

Every configuration of tests/reference_fingerprints.py (the engine's static family,
the Mesa model's final, trajectory and generations tables under static and reacting
labs, generations, the general path, schedules with retrospection, the mean field) is
hashed and compared with the digest recorded at commit dcc463b, before the mechanisms
below existed: first as it is, then with each mechanism set explicitly to its off value.
"""

from __future__ import annotations

import platform
import sys

import pytest

from reference_fingerprints import CONFIGURATIONS, fingerprint
from sim import Params

#: Digests recorded at commit dcc463b (``python tests/reference_fingerprints.py``).
RECORDED = {
    "static_engine": "7f4f2e32171b6ac992cf",
    "static_engine_disclosed_control": "efdca3d8dcc38785dfc3",
    "general_path_engine": "a3eb58cde22cbc6ef282",
    "schedule_retrospection_engine": "8fb7dfa545127c28b3c1",
    "laundering_trusted_engine": "4c310fbba8fc93e6b39c",
    "static_mesa": "74086ff199ece7416058",
    "double_down_mesa": "d9646de41b11a5a96a90",
    "come_clean_concealment_mesa": "11a8aa00ddb224ea84ba",
    "generations_mesa": "271dd4633836eac3c7a3",
    "general_path_schedule_mesa": "202c7c4717c0f07050fc",
    "meanfield_static": "2d1a87fb1d0ee15451f8",
    "meanfield_schedule": "b129b6182aa9581017a5",
    "meanfield_come_clean": "5882f6965856579cc675",
    "meanfield_generations": "b63ce0f2561afed80859",
}

#: Each mechanism added since, at its off value (docs/model.md §6).
OFF_VALUES = {
    "as recorded": {},
    "no benevolent makers (issue 16)": {"prior_benevolent": 0.0},
    "nothing filtered, filtering hypotheses at their defaults (issue 15)": {
        "filtered_fraction": 0.0, "candid_filter_rate": 0.02, "deceptive_filter_rate": 0.02,
        "deceptive_filters_only": 0.0, "deceptive_plants_only": 0.0},
}

pytestmark = pytest.mark.skipif(
    not (sys.platform == "linux" and platform.machine() == "x86_64"),
    reason="the digests were recorded on x86_64 Linux (libm's last bits may differ elsewhere)",
)


def test_every_configuration_has_a_recorded_digest():
    assert set(RECORDED) == set(CONFIGURATIONS)


#: Digests already computed, by (configuration, its validated Params): a mechanism whose off
#: value is its default gives the very Params of "as recorded" (Params keeps values, not
#: which were named), so that run is not repeated; an off value that is not the default
#: gives other Params and a run of its own.
_DIGESTS: dict[tuple[str, Params], str] = {}


def fingerprint_once(name: str, **extra) -> str:
    """:func:`reference_fingerprints.fingerprint`, computed once per distinct Params."""
    key = (name, Params(**CONFIGURATIONS[name][0], **extra))
    if key not in _DIGESTS:
        _DIGESTS[key] = fingerprint(name, **extra)
    return _DIGESTS[key]


@pytest.mark.parametrize("mechanism", sorted(OFF_VALUES))
@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_numbers_are_those_recorded_bit_for_bit(name, mechanism):
    assert fingerprint_once(name, **OFF_VALUES[mechanism]) == RECORDED[name]
