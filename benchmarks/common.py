"""Helpers shared by the benchmark scripts: machine facts, load, peak memory."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import resource
import subprocess
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (other processes on the machine)."""
    return [round(x, 2) for x in os.getloadavg()]


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident set size in MiB (Linux reports ru_maxrss in KiB).

    With ``children`` the figure is the largest peak among the waited-for children.
    """
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def _git() -> dict:
    def run(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    return {"commit": run("rev-parse", "--short", "HEAD"), "dirty": bool(run("status", "--porcelain"))}


def machine() -> dict:
    """Date, machine and software versions, as they go in the README table.

    numba's version is read from its metadata: importing numba here, before ``sim``,
    would fix numba's vector width before ``sim._cpu`` can set it."""
    from importlib.metadata import version

    import numpy
    import pandas

    try:
        import mesa

        mesa_version = mesa.__version__
    except ImportError:  # pragma: no cover
        mesa_version = None
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "numba": version("numba"),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "mesa": mesa_version,
        "git": _git(),
    }


def system_busy_seconds() -> dict:
    """CPU seconds spent busy by the whole machine so far (all processes), from
    /proc/stat, and the hypervisor's steal time. Subtracting this process's own CPU
    time over an interval gives what other processes used meanwhile."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()[1:]
    except OSError:  # pragma: no cover - not Linux
        return {"busy": float("nan"), "steal": float("nan")}
    v = [int(x) for x in fields] + [0] * 10
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return {"busy": (user + nice + system + irq + softirq) / tick, "steal": steal / tick}


class Background:
    """Measures the CPU other processes used during a ``with`` block.

    ``others_cores`` is the average number of cores kept busy by everything except
    this process (and its children, when ``children`` is set) during the block.
    """

    def __init__(self, children: bool = False) -> None:
        self.children = children

    def _mine(self) -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        s = r.ru_utime + r.ru_stime
        if self.children:
            c = resource.getrusage(resource.RUSAGE_CHILDREN)
            s += c.ru_utime + c.ru_stime
        return s

    def __enter__(self) -> "Background":
        import time

        self._t = time.perf_counter()
        self._sys = system_busy_seconds()
        self._me = self._mine()
        return self

    def __exit__(self, *exc) -> None:
        import time

        wall = time.perf_counter() - self._t
        now = system_busy_seconds()
        mine = self._mine() - self._me
        others = now["busy"] - self._sys["busy"] - mine
        self.wall = wall
        self.others_cores = max(0.0, others) / wall if wall > 0 else float("nan")
        self.steal_cores = (now["steal"] - self._sys["steal"]) / wall if wall > 0 else float("nan")


def others_cores(window: float = 0.5) -> float:
    """Cores kept busy by other processes over the next ``window`` seconds."""
    import time

    with Background(children=True) as bg:
        time.sleep(window)
    return bg.others_cores


def wait_quiet(max_wait: float = 20.0, threshold: float = 0.3, window: float = 0.5) -> dict:
    """Wait (at most ``max_wait`` seconds) until other processes use fewer than
    ``threshold`` cores, so that a timing is less disturbed. Nothing is stopped:
    the machine is shared. Returns how long it waited and the last reading."""
    import time

    t0 = time.perf_counter()
    seen = others_cores(window)
    while seen >= threshold and time.perf_counter() - t0 < max_wait:
        seen = others_cores(window)
    return {"waited_s": round(time.perf_counter() - t0, 2), "others_cores": round(seen, 2),
            "quiet": seen < threshold}


def write_figures(figures: dict, path: str | None, say=print) -> None:
    """Write a benchmark's figures as JSON (when --json was given) and say where."""
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(figures, indent=2) + "\n")
    say(f"  figures written to {path}")


def timing_options(parser, wait: float = 3.0) -> None:
    """The options every timing script shares: ``--quick`` (W1 with 2 replicates),
    ``--wait-quiet SECONDS`` and ``--json OUT``."""
    parser.add_argument("--quick", action="store_true", help="W1 with 2 replicates instead of 20")
    parser.add_argument("--wait-quiet", type=float, default=wait, metavar="SECONDS",
                        help="wait at most this long for other processes to go quiet before each timing")
    parser.add_argument("--json", metavar="OUT", help="write the figures to this JSON file")


def profiled_sweep(plan):
    """Run a planned sweep serially under cProfile: (the profiler, its wall time in s)."""
    import cProfile
    import time

    from sim.sweeps import run_sweep

    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    run_sweep(plan, executor="serial", progress=False)
    prof.disable()
    return prof, time.perf_counter() - t
