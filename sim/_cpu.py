"""Let numba use 512-bit vectors where the processor has them.

LLVM's tuning for recent Intel processors prefers 256-bit vector registers even when
AVX-512 is available; the learners' fast path (:mod:`sim.learner`) is a loop over
learners that vectorizes, and with 512-bit registers it runs about 1.5x faster here
(benchmarks/README.md). :func:`prefer_wide_vectors` sets numba's own configuration
(``numba.config.CPU_NAME`` and ``CPU_FEATURES``, what ``NUMBA_CPU_NAME`` and
``NUMBA_CPU_FEATURES`` would set) before anything is compiled; it leaves
``os.environ`` alone, so child processes and other programs see the environment
they were given. It runs when this module is first imported, and every module that
compiles (``sim.corpus``, ``sim.rules``, ``sim.learner``) imports it before numba, so
it runs before anything is compiled (and ``import sim`` alone, or ``persona-sim
--help``, does not load numba). It does nothing when:

- numba was imported before ``sim`` (then its settings stand),
- ``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES`` is set by the user,
- ``PERSONA_SIM_VECTOR_WIDTH=256`` asks for the default,
- the processor has no AVX-512.

numba's configuration is the process's: numba code compiled after ``import sim`` in
the same process gets the same target. (numba re-reads its environment variables
when one of ``NUMBA_*`` changes; the default 256-bit preference then returns.)

The results do not change: the compiled arithmetic has no fused multiply-adds, so
every lane computes the same IEEE operations whatever the vector width.
"""

from __future__ import annotations

import os
import sys


def prefer_wide_vectors() -> bool:
    """Set numba's target to the host with 512-bit vectors preferred; True if set."""
    if "numba" in sys.modules or os.environ.get("PERSONA_SIM_VECTOR_WIDTH") == "256":
        return False
    if "NUMBA_CPU_NAME" in os.environ or "NUMBA_CPU_FEATURES" in os.environ:
        return False
    try:
        import llvmlite.binding as llvm

        features = llvm.get_host_cpu_features().flatten()
        name = llvm.get_host_cpu_name()
    except Exception:  # pragma: no cover - an llvmlite without host queries
        return False
    if "+avx512f" not in features.split(","):
        return False
    from numba.core import config  # numba reads its environment here; nothing is compiled yet

    config.CPU_NAME = name
    config.CPU_FEATURES = features + ",-prefer-256-bit"
    return True


prefer_wide_vectors()
