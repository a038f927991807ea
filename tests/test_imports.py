"""The package has no import cycles: an AST walk of sim/ and analysis/.

Every import of a project module counts, at module level or inside a function
(a cycle hidden in a function is still a cycle: the two modules need each other).
Imports under ``if TYPE_CHECKING:`` are left out: they never run. Relative imports
are resolved against the importing module, and ``from . import x`` (or
``from sim import x``) means the submodule ``x`` when there is one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "analysis")


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Every Import / ImportFrom node, anywhere, except under ``if TYPE_CHECKING:``,
    with whether it sits inside a function."""
    stack = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, in_function) for child in node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function
        inside = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        stack.extend((child, inside) for child in ast.iter_child_nodes(node))


def import_graph(function_level_only: bool = False) -> dict[str, set[str]]:
    """Module -> the project modules it imports (only those imported inside a
    function, with ``function_level_only``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, in_function in _imports(tree):
            if function_level_only and not in_function:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = []
                for alias in node.names:
                    sub = f"{stem}.{alias.name}"
                    targets.append(sub if sub in modules else stem)
            for target in targets:
                # `import a.b.c` names a.b.c; keep the longest project module it names
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path [a, b, ..., a], or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    parent: dict[str, str] = {}

    for start in sorted(graph):
        if colour[start] != WHITE:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        colour[start] = GREY
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = BLACK
                stack.pop()
            elif colour[child] == GREY:
                path = [child]
                at = node
                while at != child:
                    path.append(at)
                    at = parent[at]
                path.append(child)
                return path[::-1]
            elif colour[child] == WHITE:
                colour[child] = GREY
                parent[child] = node
                stack.append((child, iter(sorted(graph[child]))))
    return None


def all_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles found by removing one edge of each cycle found, until none is left."""
    graph = {k: set(v) for k, v in graph.items()}
    cycles = []
    while (cycle := find_cycle(graph)) is not None:
        cycles.append(cycle)
        graph[cycle[-2]].discard(cycle[-1])
    return cycles


def test_graph_sees_the_packages_imports():
    graph = import_graph()
    assert "sim.params" in graph["sim"]
    assert "sim.meanfield" in graph["analysis.thresholds"]
    assert "sim.engine" in graph["sim.sweeps"]


def test_no_import_cycles():
    cycles = all_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_find_cycle_reports_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for child in graph[todo.pop()]:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


MESA_DRIVER = {"sim.agents", "sim.model", "sim.simulation"}
BATCHED_DRIVER = {"sim.engine"}


def test_the_two_drivers_are_siblings():
    """The Mesa driver and the batched engine do not import each other, not even
    through another module; the sweep layer runs the engine (its numbers are the Mesa
    model's, tests/test_lineages.py)."""
    graph = import_graph()
    for module in BATCHED_DRIVER:
        assert not _reach(graph, module) & MESA_DRIVER, module
    for module in MESA_DRIVER:
        assert not _reach(graph, module) & BATCHED_DRIVER, module
    assert "sim.engine" in graph["sim.sweeps"]


#: The floors of the package, from the ground up: a module imports only from its own
#: floor or below (sim/__init__.py's docstring draws them).
FLOORS = [
    {"sim.params", "sim.calibration", "sim.factors", "sim.files", "sim.outputs", "sim.limits", "sim.version", "sim._cpu"},
    {"sim.corpus", "sim.labs", "sim.rules", "sim.learner", "sim.learning", "sim.learners"},
    {"sim.meanfield", "sim.schema", "sim.meanfield_batch"},
    MESA_DRIVER | BATCHED_DRIVER,
    {"sim.sweeps", "sim.sensitivity", "sim.discovery", "analysis", "analysis.thresholds", "analysis.figures",
     "analysis.sensitivity"},
    {"sim.cli", "sim.app", "sim"},
]


def test_every_module_imports_from_its_floor_or_below():
    graph = import_graph()
    floor = {module: i for i, modules in enumerate(FLOORS) for module in modules}
    assert set(floor) == set(graph), "a module without a floor: " + ", ".join(sorted(set(graph) ^ set(floor)))
    upward = [f"{m} (floor {floor[m]}) imports {t} (floor {floor[t]})"
              for m, targets in graph.items() for t in targets if floor[t] > floor[m]]
    assert not upward, "\n".join(upward)


#: Modules that may import project modules inside functions: the front ends, whose
#: commands start fast by importing what a command needs when it runs, and the
#: analysis, whose refit of a finished sweep (``persona-sim threshold``) reads the mean
#: field's columns from the sweep's manifest and must not load the mean field (numba).
FUNCTION_LEVEL_IMPORTERS = {"sim", "sim.cli", "sim.app", "analysis", "analysis.thresholds"}


def test_function_level_project_imports_only_in_the_front_ends():
    graph = import_graph(function_level_only=True)
    hidden = {m: sorted(t) for m, t in graph.items() if t and m not in FUNCTION_LEVEL_IMPORTERS}
    assert not hidden, hidden


#: Packages a command's --help must not load (each costs a large part of a second).
HEAVY = ("numba", "pandas", "mesa", "scipy", "matplotlib", "pyarrow", "networkx", "solara")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["sweep", "--help"], ["threshold", "--help"],
                                  ["demo", "--help"], ["sensitivity", "--help"], ["discover", "--help"],
                                  ["scenario", "--help"], ["scenario", "--list"]])
def test_help_loads_none_of_the_heavy_packages(argv):
    """``persona-sim ... --help`` imports what the parser needs and nothing that runs the
    model (the package's names load when first used; benchmarks/cli.py has the times)."""
    code = ("import sys\nfrom sim.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "print('loaded:' + ','.join(m for m in %r if m in sys.modules))" % (argv, HEAVY))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded:", f"{argv}: {done.stdout.strip().splitlines()[-1]}"


def test_the_package_loads_its_public_names_when_used():
    code = ("import sys, sim\nassert 'numba' not in sys.modules\nfrom sim import simulate, sweep, meanfield\n"
            "assert sim.sweep is sweep and callable(simulate) and hasattr(meanfield, 'thresholds')\n"
            "assert 'numba' in sys.modules\nprint(sorted(set(sim.__all__) - set(dir(sim))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_refitting_a_recorded_sweep_loads_numpy_and_pyarrow_only(tmp_path):
    """``persona-sim threshold`` on a sweep that recorded its mean field reads the
    Parquet table with pyarrow and fits with numpy: no numba, pandas, scipy or
    matplotlib (issue 18: under 0.5 s on W1's table; benchmarks/cli.py)."""
    from sim.cli import main

    folder = tmp_path / "sweep"
    assert main(["sweep", "--set", "n_documents=300", "--grid", "situational_awareness=0:1:11",
                 "--replicates", "3", "--no-plots", "--quiet", "--out", str(folder)]) == 0
    code = ("import sys\nfrom sim.cli import main\nmain(['threshold', %r])\n"
            "print('loaded:' + ','.join(m for m in %r if m in sys.modules))" % (str(folder), HEAVY))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded:pyarrow"


def test_a_sweep_to_disk_loads_no_pandas(tmp_path):
    """A sweep written to disk builds its Arrow tables from numpy (no pandas, no
    scipy: the learners' logistic function is sim.rules'), and ``persona-sim sweep``
    fits and draws a sweep of awareness alone without pandas (issue 18: pandas is a
    third of a second of the main job's start; benchmarks/cli.py has the times).
    (numba imports scipy's package itself, to check its version: scipy.special is what
    costs.)"""
    heavy = tuple(m for m in HEAVY if m != "scipy") + ("scipy.special", "scipy.stats")
    code = ("import sys\nfrom sim import Params\nfrom sim.sweeps import plan_sweep, run_sweep\n"
            "plan = plan_sweep(Params(n_documents=300), grid={'situational_awareness': '0:1:5'}, replicates=2)\n"
            "run_sweep(plan, out=%r, progress=False, finish=lambda work, manifest: [])\n"
            "print('loaded:' + ','.join(m for m in %r if m in sys.modules))\n"
            "from sim.cli import main\n"
            "main(['sweep', '--set', 'n_documents=300', '--grid', 'situational_awareness=0:1:11', '--replicates', '3',"
            " '--quiet', '--out', %r])\n"
            "print('loaded:' + ','.join(m for m in %r if m in sys.modules))"
            % (str(tmp_path / "engine"), heavy, str(tmp_path / "command"), heavy))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    engine, command = done.stdout.strip().splitlines()[-2:]
    assert engine == "loaded:numba,pyarrow"
    assert command == "loaded:numba,matplotlib,pyarrow,scipy.special"  # the mean field's normal CDF
    assert {"p_rebel.png", "uplift.png", "emergence.png"} <= {p.name for p in (tmp_path / "command").iterdir()}


def test_a_run_draws_its_figure_without_seaborn(tmp_path):
    """``persona-sim run`` draws its trajectory without seaborn (which pulls in pyplot,
    scipy.stats and IPython: a fifth of the command's time, issue 18); the figure is
    still seaborn's (tests/test_figures.py)."""
    code = ("import sys\nfrom sim.cli import main\n"
            "main(['run', '--set', 'n_documents=300', '--awareness', '0.2,0.8', '--out', %r])\n"
            "print('loaded:' + ','.join(m for m in ('seaborn', 'matplotlib.pyplot', 'IPython', 'scipy.stats') "
            "if m in sys.modules))" % str(tmp_path / "run"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded:"
    assert (tmp_path / "run" / "trajectory.png").is_file()
