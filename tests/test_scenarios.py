"""The scenario scripts (scenarios/*.py): each states a question, runs at its reduced size,
prints an answer and writes valid PNG figures; make_all.py runs them all.

Every script is found by glob, so a new one is covered without editing this file. The
scripts run in subprocesses with ``PERSONA_SIM_QUICK=1`` and ``--out`` in a temporary
folder, from the start of the session, one at a time on a thread beside the other tests
(tests/scenario_runs.py); each test waits for its own script. Every figure they write is checked for what a student meets on
it (tests/figure_texts.py: raw parameter names, bare symbols).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from figure_texts import problems
from scenario_runs import HELPERS, MAKE_ALL_NAMED, SCENARIOS, SCRIPTS, run_quick

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMEOUT = 180  # seconds per script, far above the few seconds a quick run takes
WAIT = 1800  # seconds a test waits for its run: the runs before it in the queue, each with its own timeout


@pytest.fixture(scope="module")
def quick_runs(scenario_background):
    """Each script's own run, from the session's start (tests/scenario_runs.py: one at a time on a
    thread beside the tests); name -> (future, out folder)."""
    return scenario_background


def assert_valid_png(path: Path) -> None:
    """A complete, decodable PNG of a reasonable size."""
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert 5_000 < len(data) < 200_000, (path, len(data))
    with Image.open(path) as image:
        image.load()  # decodes every row: a torn file fails here
        assert image.width > 300 and image.height > 200, (path, image.size)


def finished(proc: subprocess.CompletedProcess, name: str) -> None:
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


def test_scripts_are_found():
    """The glob finds the scenario scripts (and not the helpers)."""
    assert len(SCRIPTS) >= 7
    assert not {p.name for p in SCRIPTS} & set(HELPERS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_states_a_question_and_guards_main(script):
    """The module opens with a docstring whose first paragraph asks a question, and runs only as __main__."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc, f"{script.name} has no module docstring"
    assert "?" in doc.split("\n\n")[0], f"{script.name}: the docstring's first paragraph states no question"
    guards = [node for node in tree.body if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)
              and "__main__" in ast.unparse(node.test)]
    assert guards, f"{script.name} has no `if __name__ == \"__main__\":` guard"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_runs_quick_answers_and_writes_png(script, quick_runs):
    """At the reduced size the script exits 0, prints its question and an answer with numbers, and writes PNGs."""
    future, out = quick_runs[script.name]
    proc = future.result(timeout=WAIT)
    finished(proc, script.name)
    assert re.search(r"^Question: .*\?", proc.stdout, re.M), proc.stdout
    answer = re.search(r"^Answer: (.*?)(?=^\(|\Z)", proc.stdout, re.M | re.S)
    assert answer and re.search(r"\d", answer.group(1)), proc.stdout
    pngs = sorted(out.glob("*.png"))
    assert pngs, f"{script.name} wrote no PNG into {out}"
    for png in pngs:
        assert_valid_png(png)
    left = [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".persona-sim.lock"]
    assert not left, f"a temporary file was left behind: {left}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "figures" and manifest["files"] == {script.stem: [p.name for p in pngs]}
    assert not re.search(r"\bnan\b", answer.group(1)), f"{script.name} printed a NaN in its answer"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_figures_are_readable(script, quick_runs):
    """Every figure the script wrote (from the module's one run of each script) says what it shows in words: no
    raw parameter or column name and no bare symbol in its titles, axis labels and legend entries
    (tests/figure_texts.py)."""
    future, out = quick_runs[script.name]
    finished(future.result(timeout=WAIT), script.name)
    pngs = sorted(out.glob("*.png"))
    assert pngs, f"{script.name} wrote no PNG into {out}"
    found = [problem for png in pngs for problem in problems(png)]
    assert not found, "\n".join(found)


def test_make_all_quick_runs_every_script(quick_runs, scenario_all_quick):
    """make_all.py runs every scenario script, passes --out on, and lists every PNG it wrote: all of them in
    the session's `persona-sim scenario all --quick` (make_all.py into a new results folder, listed relative
    to its working folder), and one named script with an explicit --out here."""
    proc, cwd = scenario_all_quick.proc, scenario_all_quick.cwd
    finished(proc, "make_all.py (persona-sim scenario all --quick)")
    folders = list((cwd / "results").glob("tutorial-*"))
    assert len(folders) == 1, folders
    for script in SCRIPTS:
        assert f"=== {script.name} ===" in proc.stdout, f"make_all.py did not run {script.name}"
    assert len(re.findall(r"^Answer: ", proc.stdout, re.M)) == len(SCRIPTS)
    listed = re.findall(r"^(\S+\.png)  \(", proc.stdout, re.M)
    assert len(listed) >= len(SCRIPTS)
    for name in listed:
        path = Path(name) if Path(name).is_absolute() else cwd / name  # relative to the cwd
        assert path.parent.resolve() == folders[0].resolve() and path.is_file(), name
        assert_valid_png(path)

    future, out = quick_runs["make_all.py"]  # make_all.py MAKE_ALL_NAMED --out out
    proc = future.result(timeout=WAIT)
    finished(proc, "make_all.py")
    assert re.findall(r"^=== (\S+) ===", proc.stdout, re.M) == [f"{MAKE_ALL_NAMED}.py"]
    assert len(re.findall(r"^Answer: ", proc.stdout, re.M)) == 1
    listed = re.findall(r"^(\S+\.png)  \(", proc.stdout, re.M)
    assert listed
    for name in listed:
        path = Path(name) if Path(name).is_absolute() else SCENARIOS.parent / name  # relative to the cwd
        assert path.parent.resolve() == out.resolve() and path.is_file(), name
        assert_valid_png(path)
    assert json.loads((out / "manifest.json").read_text())["files"] == {MAKE_ALL_NAMED: [Path(n).name for n in listed]}


def test_a_script_refuses_its_own_figures_without_overwrite_and_a_foreign_folder(tmp_path, quick_runs):
    """A second run into the same folder needs --overwrite; a folder with a user's file is refused; both are one
    line and exit 2, and nothing in the folder changes. (The first run is the module's run of the script,
    copied whole, its lock file too, into a folder of this test's own.)"""
    script = SCENARIOS / "constitution.py"
    future, first = quick_runs[script.name]
    finished(future.result(timeout=WAIT), script.name)
    out = tmp_path / "figs"
    shutil.copytree(first, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = run_quick(script, out)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "--overwrite" in again.stderr, again.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    env = {**os.environ, "PERSONA_SIM_QUICK": "1", "MPLBACKEND": "Agg"}
    over = subprocess.run([sys.executable, str(script), "--out", str(out), "--overwrite"], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    finished(over, script.name)
    assert not (out / ".persona-sim-next").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    refused = run_quick(script, mine)
    assert refused.returncode == 2 and "notes.txt" in refused.stderr and "Traceback" not in refused.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
