"""The one quick run of every scenario script through ``persona-sim scenario all --quick``
(scenarios/make_all.py in a child process, into a new results/tutorial-* folder of a
temporary working folder), shared by tests/test_scenario_command.py (the default folder,
docs/figures untouched) and tests/test_scenarios.py (make_all.py runs every script and
lists every PNG): the suite's slowest command, run once per session instead of twice.

The state of docs/figures and ``git status docs/`` is recorded just before the run, so a
test can compare it with the state after."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 360


def docs_figures() -> dict[str, str]:
    """SHA-256 of every file under docs/figures (what a regeneration must not touch)."""
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((ROOT / "docs" / "figures").rglob("*")) if p.is_file()}


def git_status_docs() -> str | None:
    """`git status --porcelain docs/` of the checkout (None outside a git checkout)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    return subprocess.run(["git", "status", "--porcelain", "docs/"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def persona_sim(*args: str, cwd: Path, quick_env: bool = False) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter (as the console script runs it), from ``cwd``."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("PERSONA_SIM_QUICK", None)
    if quick_env:
        env["PERSONA_SIM_QUICK"] = "1"
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)


@dataclass(frozen=True)
class AllQuick:
    """``persona-sim scenario all --quick`` run from ``cwd``; docs/figures and its git status just before."""

    proc: subprocess.CompletedProcess
    cwd: Path
    docs_before: dict[str, str]
    status_before: str | None


def run_all_quick(cwd: Path) -> AllQuick:
    before, status = docs_figures(), git_status_docs()
    return AllQuick(persona_sim("scenario", "all", "--quick", cwd=cwd), cwd, before, status)
