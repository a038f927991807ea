"""Calibration (sim/calibration.py, docs/model.md §11): the mappings and their use
through the one place parameters are parsed (--set, scenario files)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from sim import Params, ParameterError
from sim import calibration as cal
from sim.cli import main
from sim.params import PARAMETERS, read_scenario

BY_NAME = {p.name: p for p in PARAMETERS}


def test_auc_and_detectability_are_inverse_and_match_equal_variance_gaussians():
    rng = np.random.default_rng(0)
    for auc in [0.5, 0.6, 0.75, 0.9, 0.99, 0.999999]:
        d = cal.detectability_from_auc(auc)
        assert cal.auc_from_detectability(d) == pytest.approx(auc, abs=1e-12)
    # the AUC of two unit-variance Gaussians d apart, measured on samples
    d = 1.5
    real, planted = rng.normal(0, 1, 200_000), rng.normal(d, 1, 200_000)
    measured = np.mean(planted > real[rng.permutation(real.size)])
    assert measured == pytest.approx(cal.auc_from_detectability(d), abs=3e-3)
    assert cal.detectability_from_auc(0.9) == pytest.approx(math.sqrt(2) * norm.ppf(0.9), rel=1e-15)
    assert cal.detectability_from_auc(0.5) == 0.0


@pytest.mark.parametrize("auc", [0.49, 1.0, 1.2, float("nan")])
def test_auc_outside_its_range_is_refused(auc):
    with pytest.raises(ValueError):
        cal.detectability_from_auc(auc)


def test_sad_mapping_is_the_one_of_the_model_docs():
    assert cal.awareness_from_sad(27.4) == 0.0
    assert cal.awareness_from_sad(90.7) == 1.0
    assert cal.awareness_from_sad(52.0) == pytest.approx((52 - 27.4) / 63.3)
    assert cal.awareness_from_sad(10.0) == 0.0 and cal.awareness_from_sad(99.0) == 1.0
    assert cal.sad_from_awareness(cal.awareness_from_sad(67.0)) == pytest.approx(67.0)


def test_planted_share_range_from_the_published_mix():
    lo, hi = cal.PLANTED_SHARE_RANGE
    assert lo == pytest.approx(0.01 / (0.01 + 0.10 * 0.99))
    assert hi == pytest.approx(0.01 / (0.01 + 0.02 * 0.99))
    assert cal.planted_share(0.0, 0.05) == 0.0 and cal.planted_share(0.01, 0.0) == 1.0


def test_prefixes_through_params_parsing():
    assert BY_NAME["synthetic_detectability"].parse("auc:0.9") == pytest.approx(math.sqrt(2) * norm.ppf(0.9))
    assert BY_NAME["situational_awareness"].parse("sad:45") == pytest.approx((45 - 27.4) / 63.3)
    assert BY_NAME["sa_start"].parse("SAD:27.4") == 0.0
    for name, text in [("planted_fraction", "auc:0.9"), ("synthetic_detectability", "auc:1"),
                       ("synthetic_detectability", "auc:abc"), ("synthetic_detectability", "sad:40")]:
        with pytest.raises(ParameterError, match=name):
            BY_NAME[name].parse(text)


def test_scenario_file_prefix_is_resolved_to_a_plain_number(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('synthetic_detectability = "auc:0.9"\nsituational_awareness = "sad:52"\n')
    values = read_scenario(path)
    assert isinstance(values["synthetic_detectability"], float)
    assert values["synthetic_detectability"] == pytest.approx(1.8123876)
    assert Params(**values).situational_awareness == pytest.approx(24.6 / 63.3)
    path.write_text('synthetic_detectability = "auc:2"\n')
    with pytest.raises(ParameterError, match=r"synthetic_detectability.*s\.toml"):
        read_scenario(path)


def test_run_records_the_resolved_values(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "--set", "n_documents=200", "--set", "synthetic_detectability=auc:0.9",
                 "--set", "situational_awareness=sad:45", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["synthetic_detectability"] == pytest.approx(1.8123876048736465)
    assert summary["parameters"]["situational_awareness"] == pytest.approx(0.27804107424960506)


def test_bad_prefix_on_the_command_line_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "--set", "synthetic_detectability=auc:1.5", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "synthetic_detectability" in err
    assert not out.exists()
