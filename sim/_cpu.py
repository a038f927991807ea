"""Let numba use 512-bit vectors where the processor has them.

LLVM's tuning for recent Intel processors prefers 256-bit vector registers even when
AVX-512 is available; the learners' fast path (:mod:`sim.learner`) is a loop over
learners that vectorizes, and with 512-bit registers it runs about 1.5x faster here
(benchmarks/README.md). numba reads its target from the environment when it is first
imported, so this must run before that, and it does nothing when:

- numba is already imported (then its settings stand),
- ``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES`` is set by the user,
- ``PERSONA_SIM_VECTOR_WIDTH=256`` asks for the default,
- the processor has no AVX-512.

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
    os.environ["NUMBA_CPU_NAME"] = name
    os.environ["NUMBA_CPU_FEATURES"] = features + ",-prefer-256-bit"
    return True


prefer_wide_vectors()
