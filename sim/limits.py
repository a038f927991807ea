"""The tool's declared limits, in one place (the command line shows them in ``--help``).

They guard the machine, not the model: no number the model computes depends on them.
"""

#: A plan (a sweep, or one ``run``) whose estimated peak memory is above this is refused
#: before anything is laid out; ``--memory-limit GIB`` (``memory_limit=`` in Python)
#: raises it. 4 GiB admits the 4.2 M-row benchmark of benchmarks/README.md with room.
DEFAULT_MEMORY_LIMIT = 4 * 2**30

#: At most this many values for one parameter of a sweep's grid (a grid is laid out
#: in memory before its size can be weighed against the memory limit).
MAX_GRID_VALUES = 1_000_000

#: Seconds a sweep on a dask cluster waits for its first worker (``--worker-wait``).
DASK_WORKER_WAIT = 30.0
