"""Figures a student can read without the docs (issue: a newcomer's first hour).

Each figure-writing path of the command line runs once, small; every PNG it writes is
read back and its titles, axis labels and legend entries are checked for raw
parameter names and undefined symbols (tests/figure_texts.py says what counts). The
scenario scripts' figures get the same check in tests/test_scenarios.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from figure_texts import problems, problems_in, texts_of
from sim.cli import main

SMALL = ["--set", "n_documents=1500", "--replicates", "4", "--seed", "1"]


@pytest.fixture(scope="module")
def sweep_figures(tmp_path_factory) -> list[Path]:
    """p_rebel, uplift, emergence and the phase diagram (a 2-D sweep), and the
    finite-size figure (a sweep over the corpus size)."""
    two_d = tmp_path_factory.mktemp("two_d") / "out"
    assert main(["sweep", *SMALL, "--grid", "situational_awareness=0:1:11", "--grid", "planted_fraction=0.1,0.25",
                 "--out", str(two_d), "--quiet"]) == 0
    sizes = tmp_path_factory.mktemp("sizes") / "out"
    assert main(["sweep", "--replicates", "4", "--seed", "1", "--grid", "situational_awareness=0.3:0.9:7",
                 "--grid", "n_documents=500,1500", "--out", str(sizes), "--quiet"]) == 0
    return sorted(two_d.glob("*.png")) + sorted(sizes.glob("*.png"))


def test_every_sweep_figure_is_written_and_readable(sweep_figures):
    names = {p.name for p in sweep_figures}
    assert {"p_rebel.png", "uplift.png", "emergence.png", "phase_diagram.png", "finite_size.png"} <= names
    found = [problem for path in sweep_figures for problem in problems(path)]
    assert not found, "\n".join(found)


def test_sweep_figures_say_what_they_show(sweep_figures):
    p_rebel = texts_of(next(p for p in sweep_figures if p.name == "p_rebel.png"))  # the 2-D sweep's
    assert any("situational awareness" in label for label in p_rebel["label"])
    assert any("planted share" in entry for entry in p_rebel["legend"])  # the groups, in words


def test_the_run_figure_and_header_name_what_was_changed(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--set", "lab_policy=double_down", "--set", "generations=3", "--set", "n_documents=1500",
                 "--awareness", "0.3,0.5,0.7", "--out", str(out)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "reference configuration" not in header
    assert "lab policy = double_down" in header and "generations = 3" in header
    texts = texts_of(out / "trajectory.png")
    assert "lab policy = double_down" in texts["title"][0]
    assert problems(out / "trajectory.png") == []


def test_the_check_finds_raw_names_and_bare_symbols():
    """The check itself: what the issue found on the figures is caught."""
    bad = ["alignment uplift U = a/(a+b) - g", "n_documents = 10000", "situational awareness s",
           "fitted threshold s*,\n95% bootstrap interval", "mean field: s*∞ (μ(s) = 0)", "ρ = 0.15",
           "Wald's estimate (log 9 - logit pi0)/mu(s)", "kappa = 10"]
    good = ["alignment uplift (U)", "corpus size (N) = 10000", "situational awareness (s)",
            "fitted threshold (s*), 95% bootstrap interval", "P(rebel) after training", "planted share (ρ) = 0.15",
            "share emerged (P(deceptive) ≥ 0.9)", "a double-down lab"]
    for text in bad:
        assert problems_in({"label": [text]}), text
    for text in good:
        assert problems_in({"label": [text]}) == [], text
