"""The scenario scripts' runs the tests read, started in the background when the session starts.

- The one quick run of every scenario script through ``persona-sim scenario all --quick``
  (scenarios/make_all.py in a child process, into a new results/tutorial-* folder of a
  temporary working folder), shared by tests/test_scenario_command.py (the default folder,
  docs/figures untouched) and tests/test_scenarios.py (make_all.py runs every script and
  lists every PNG): the suite's slowest command, run once per session instead of twice. The
  state of docs/figures and ``git status docs/`` is recorded just before the run, so a test
  can compare it with the state after.
- Each scenario script run on its own (``script --out DIR`` in a fresh interpreter,
  ``PERSONA_SIM_QUICK=1``), read by tests/test_scenarios.py.

These are child processes that wait for nothing, so they run one at a time on a thread of
their own from the start of the session (conftest.py), beside the tests that run in the
pytest process (which keeps one core busy); each test waits for the run it reads. Only the
runs the selected tests read are started (``-k``); the environment is the one at the start
of the session, taken before any test changes it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
HELPERS = ("_common.py", "make_all.py")
SCRIPTS = sorted(p for p in SCENARIOS.glob("*.py") if p.name not in HELPERS)
TIMEOUT = 360
SCRIPT_TIMEOUT = 180  # seconds per script, far above the few seconds a quick run takes
#: The script make_all.py is named to run with ``--out`` (a quick one): its run of every
#: script is the session's ``persona-sim scenario all --quick``.
MAKE_ALL_NAMED = "concealment"
#: The script each test without a ``script`` parameter reads from ``quick_runs``.
READS = {"test_make_all_quick_runs_every_script": "make_all.py",
         "test_a_script_refuses_its_own_figures_without_overwrite_and_a_foreign_folder": "constitution.py"}


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


def persona_sim(*args: str, cwd: Path, quick_env: bool = False, environ=None) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter (as the console script runs it), from ``cwd``, in the
    environment ``environ`` (default: this process's now)."""
    env = {**(os.environ if environ is None else environ), "MPLBACKEND": "Agg"}
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


def run_quick(script: Path, out: Path, *names: str, environ=None) -> subprocess.CompletedProcess:
    """Run ``script [names] --out out`` at the reduced size, in a fresh interpreter (in the
    environment ``environ``, default: this process's now)."""
    env = {**(os.environ if environ is None else environ), "PERSONA_SIM_QUICK": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(script), *names, "--out", str(out)], env=env, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=SCRIPT_TIMEOUT)


def scripts_needed(items) -> list[Path]:
    """The scripts the selected tests read from ``quick_runs`` (tests/test_scenarios.py): a test's
    ``script`` parameter, or :data:`READS`; make_all.py first."""
    needed: set[str] = set()
    for item in items:
        if "quick_runs" not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        needed.add(callspec.params["script"].name if callspec and "script" in callspec.params
                   else READS.get(item.originalname, ""))
    return [script for script in [SCENARIOS / "make_all.py"] + SCRIPTS if script.name in needed]


class Background:
    """The runs above on one thread: ``background[name]`` is (future, out folder) of script
    ``name`` (started when first asked for if it was not foreseen), :meth:`all_quick` the
    session's ``persona-sim scenario all --quick``."""

    def __init__(self, tmp_path_factory) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.tmp_path_factory = tmp_path_factory
        self.environ = dict(os.environ)  # before any test changes it
        self.runs: dict[str, tuple[Future, Path]] = {}
        self.all: Future | None = None

    def start_all_quick(self) -> None:
        if self.all is None:
            cwd = self.tmp_path_factory.mktemp("scenario-all")
            before, status = docs_figures(), git_status_docs()
            self.all = self.pool.submit(lambda: AllQuick(persona_sim("scenario", "all", "--quick", cwd=cwd,
                                                                     environ=self.environ), cwd, before, status))

    def all_quick(self) -> AllQuick:
        self.start_all_quick()
        return self.all.result(timeout=TIMEOUT * 3)

    def start(self, script: Path) -> None:
        if script.name not in self.runs:
            out = self.tmp_path_factory.mktemp(script.stem)
            names = [MAKE_ALL_NAMED] if script.name == "make_all.py" else []
            self.runs[script.name] = (self.pool.submit(run_quick, script, out, *names, environ=self.environ), out)

    def __getitem__(self, name: str) -> tuple[Future, Path]:
        self.start(SCENARIOS / name)
        return self.runs[name]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
