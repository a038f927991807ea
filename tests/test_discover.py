"""Scenario discovery (sim/discovery.py): PRIM finds a planted box; the condition
parser refuses what is not a condition; the command's bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import ParameterError
from sim.cli import main
from sim.discovery import discover, evaluate_condition, parse_condition


def test_prim_recovers_a_planted_box():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.random((4000, 4)), columns=["a", "b", "c", "d"])
    cases = ((x.a > 0.6) & (x.b < 0.3)).to_numpy()
    box = discover(x, cases, density=0.9)
    limits = box.limits.set_index("parameter")
    assert set(limits.index) >= {"a", "b"}
    assert limits.loc["a", "low"] == pytest.approx(0.6, abs=0.03) and limits.loc["b", "high"] == pytest.approx(0.3, abs=0.03)
    for other in {"c", "d"} & set(limits.index):  # an irrelevant parameter is barely restricted, if at all
        assert limits.loc[other, "high"] - limits.loc[other, "low"] > 0.9
    assert box.density >= 0.9 and box.coverage > 0.9


def test_conditions():
    table = pd.DataFrame({"p": [0.1, 0.6, 0.9], "s": [0.2, 0.7, 0.3]})
    assert evaluate_condition(parse_condition("p > 0.5 and s < 0.5", ["p", "s"]), table).tolist() == [False, False, True]
    assert evaluate_condition(parse_condition("not (p > 0.5) or 2 * s >= 1.4", ["p", "s"]), table).tolist() == [True, True, False]
    assert evaluate_condition(parse_condition("0.2 < p < 0.7", ["p", "s"]), table).tolist() == [False, True, False]
    with pytest.raises(ParameterError, match="--where"):
        evaluate_condition(parse_condition("p < 'a'", ["p", "s"]), table)
    for bad in ["p >", "p", "__import__('os').system('true')", "p.real > 0", "q > 1", "b'a' < p", "[p] > 1", ""]:
        with pytest.raises(ParameterError, match="--where"):
            parse_condition(bad, ["p", "s"])


def test_discover_command(tmp_path, capsys):
    folder = tmp_path / "s"
    assert main(["sensitivity", "--out", str(folder), "--samples", "32", "--quiet", "--no-plots"]) == 0
    assert main(["discover", str(folder), "--where", "p_rebel_at > 0.5"]) == 0
    printed = capsys.readouterr().out
    assert "coverage" in printed and "density" in printed
    boxes = pd.read_csv(folder / "boxes.csv")
    assert {"parameter", "low", "high", "coverage", "density"} <= set(boxes.columns)
    from figure_texts import problems

    assert problems(folder / "peeling.png") == []
    for args, where in [(["--where", "p_rebel_at >"], "--where"), (["--where", "p_rebel_at > 2"], "--where"),
                        (["--where", "x > 1"], "unknown column"), (["--where", "p_rebel_at > 0.5", "--density", "0"], "--density")]:
        before = sorted(p.name for p in folder.iterdir())
        code = main(["discover", str(folder), *args])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and where in err
        assert sorted(p.name for p in folder.iterdir()) == before
    assert main(["discover", str(tmp_path / "nothing"), "--where", "p_rebel_at > 0.5"]) == 2
    assert not (tmp_path / "nothing").exists()


def test_a_categorical_column_in_the_condition_and_the_box():
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.random(3000), "kind": rng.choice(["u", "v"], 3000)})
    cases = evaluate_condition(parse_condition("a > 0.5 and kind == 'v'", ["a", "kind"]), x)
    assert cases.sum() == ((x.a > 0.5) & (x.kind == "v")).sum()
    box = discover(x, cases, density=0.9)
    limits = box.limits.set_index("parameter")
    assert limits.loc["kind", "low"] == "v" and 0.4 < limits.loc["a", "low"] <= 0.52
    assert box.density >= 0.9 and box.coverage > 0.95
