"""persona-sim: does fabricated alignment data teach an aware model to distrust its makers?

An agent-based simulation of persona formation under alignment pretraining: a
Bayesian learner reads real, planted and disclosed documents and updates its belief
that its makers are deceptive. The reference model is written up in docs/model.md.

Public API
----------
Params
    The validated parameter set (docs/model.md §6, the parameters table).
simulate
    One training run (Mesa model) -> SimulationResult(final, trajectory, real_cited_rate).
sweep
    A parameter sweep (batched engine, reproducible seeds) -> tidy DataFrame.
meanfield
    Module: ``moments``, ``p_rebel``, ``thresholds``, ``emergence_estimate``.

The first import of a module that compiles (``sim.corpus``, ``sim.rules``,
``sim.learner``: anything that runs the model) sets numba's target CPU (in numba's
configuration, not in ``os.environ``) to prefer 512-bit vectors where the processor
has AVX-512, unless
numba was imported first or ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` or
``PERSONA_SIM_VECTOR_WIDTH=256`` say otherwise; the numbers do not change, only the
speed (``sim/_cpu.py``). ``simulate``, ``sweep`` and ``meanfield`` are loaded when
first used, so that importing ``sim`` (and ``persona-sim --help``) stays quick.

The package's floors, from the ground up (each module imports only from its own
floor or below; tests/test_imports.py checks that there is no import cycle):

1. parameters and files: ``params``, ``calibration``, ``factors``, ``files``, ``outputs``, ``limits``, ``version``, ``_cpu``;
2. the model's parts: ``corpus``, ``labs``, ``rules`` (the learner's mathematics), ``learner`` (its compiled readers),
   ``learning`` (the learning learner, docs/model.md §3.1) and ``learners`` (the two behind one interface);
3. the mean field (``meanfield``, and ``meanfield_batch`` at many points at once) and the result schema (``schema``);
4. the two drivers, siblings that do not import each other: the Mesa model
   (``agents``, ``model``, ``simulation``) and the batched engine (``engine``);
5. sweeps (``sweeps``, which chooses the driver of each run), the sensitivity analysis
   and scenario discovery (``sensitivity``, ``discovery``) and the top-level
   ``analysis`` package (threshold fits and figures);
6. the front ends: the command line (``cli``) and the demo page (``app``), and this
   package's ``__init__``.
"""

import importlib

from .params import PARAMETERS, ParameterError, Params

#: Names loaded when first used (PEP 562), so that ``import sim`` and the command
#: line's ``--help`` do not pay for numba, pandas and Mesa: name -> (module, attribute).
_LAZY = {
    "meanfield": ("sim.meanfield", None),
    "simulate": ("sim.simulation", "simulate"),
    "SimulationResult": ("sim.simulation", "SimulationResult"),
    "sweep": ("sim.sweeps", "sweep"),
    "__version__": ("sim.version", "__version__"),  # importlib.metadata: some 30 ms
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "Params",
    "ParameterError",
    "PARAMETERS",
    "simulate",
    "SimulationResult",
    "sweep",
    "meanfield",
    "__version__",
]
