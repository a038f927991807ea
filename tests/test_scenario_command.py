"""`persona-sim scenario NAME`: runs scenarios/NAME.py of the checkout, lists the scripts,
refuses an unknown name or a missing checkout in one line (exit 2), and writes a fresh
results folder by default, leaving the tutorial's figures (docs/figures) alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenario_runs import docs_figures, git_status_docs, persona_sim
from sim import cli

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.py") if not p.name.startswith("_")
                 and p.stem != "make_all")


def test_list_names_every_script_with_its_question(capsys):
    assert cli.main(["scenario", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == SCRIPTS + ["all"]
    assert all(line.rstrip().endswith("?") for line in lines[:-1]), lines


@pytest.mark.parametrize("args", [["scenario", "no_such_script"], ["scenario"], ["scenario", "_common"],
                                  ["scenario", "constitution", "--workers", "0"],
                                  ["scenario", "constitution", "--seed", "-1"]])
def test_a_bad_name_or_flag_is_one_line_and_exit_2(args, capsys):
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    if "--workers" not in args and "--seed" not in args:
        assert "allowed is" in captured.err and all(name in captured.err for name in SCRIPTS + ["all"])


def test_without_a_checkout_it_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    """An installed package (no scenarios/ beside it) run outside a checkout: one line, exit 2."""
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "sim" / "cli.py"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["scenario", "constitution", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scenarios/" in err and "pip install -e ." in err


def test_docs_is_refused_at_the_quick_size_and_with_out(tmp_path):
    before, status = docs_figures(), git_status_docs()
    for args in (["scenario", "constitution", "--docs", "--quick"],
                 ["scenario", "all", "--docs", "--out", str(tmp_path / "x")]):
        proc = persona_sim(*args, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--docs" in proc.stderr, proc.stderr
    assert persona_sim("scenario", "constitution", "--docs", cwd=tmp_path, quick_env=True).returncode == 2
    assert docs_figures() == before and git_status_docs() == status
    assert not (tmp_path / "x").exists()


def test_all_quick_writes_a_new_results_folder_and_leaves_docs_alone(scenario_all_quick):
    """`persona-sim scenario all --quick` from any folder: every script's figure lands in a new
    results/tutorial-* folder there; docs/figures is byte for byte as before (and git sees no change).
    (The run is the session's one, tests/scenario_runs.py, also read by tests/test_scenarios.py.)"""
    proc, cwd = scenario_all_quick.proc, scenario_all_quick.cwd
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    folders = list((cwd / "results").glob("tutorial-*"))
    assert len(folders) == 1, folders
    manifest = json.loads((folders[0] / "manifest.json").read_text())
    assert manifest["kind"] == "figures" and sorted(manifest["files"]) == SCRIPTS
    for names in manifest["files"].values():
        assert names and all((folders[0] / name).is_file() for name in names)
    assert proc.stdout.count("Answer: ") == len(SCRIPTS)
    assert docs_figures() == scenario_all_quick.docs_before
    assert git_status_docs() == scenario_all_quick.status_before
