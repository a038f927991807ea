"""Scenario discovery: where in the box does the bad outcome live? (docs/model.md §11)

PRIM, the Patient Rule Induction Method (Friedman and Fisher 1999), as used for
scenario discovery (Bryant and Lempert 2010; Kwakkel and Jaxa-Rozen 2016), finds
boxes (a range per parameter) in which the points where a condition holds, the
*cases*, are dense: it peels a small share of the points off one face of the box at
a time, keeping the peel that raises the density most, and records the trajectory.
Each box has a **coverage** (the share of all cases that lie inside it) and a
**density** (the share of its points that are cases); peeling trades the first for
the second. The box reported is the one of largest coverage among those whose
density reaches ``density`` (default 0.8), else the densest.

The implementation is EMA Workbench's (``ema_workbench.analysis.prim``), the
maintained reference implementation of scenario discovery (BSD-licensed, and it
pulls SALib too); the ``prim`` package on PyPI is a 2024 fork of the same code under
the GPL-3, which this MIT-licensed project does not take on. It is installed with
the ``discovery`` extra (and the ``test`` extra).

The condition is an expression over the columns of the sensitivity folder's
``samples.parquet``, e.g. ``"p_rebel_at > 0.5"`` or ``"s_star_inf < 0.5 and
threshold_exists == 1"``: comparisons, ``and``/``or``/``not``, arithmetic, column
names and numbers; anything else is refused with one line naming the expression.

References
----------
.. [1] J. H. Friedman and N. I. Fisher, "Bump hunting in high-dimensional data",
   Statistics and Computing 9 (1999) 123-143.
.. [2] B. P. Bryant and R. J. Lempert, "Thinking inside the box: a participatory,
   computer-assisted approach to scenario discovery", Technol. Forecast. Soc.
   Change 77 (2010) 34-49.
.. [3] J. H. Kwakkel and M. Jaxa-Rozen, "Improving scenario discovery for handling
   heterogeneous uncertainties and multinomial classified outcomes", Environ.
   Model. Softw. 79 (2016) 311-321.
"""

from __future__ import annotations

import ast
import operator
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .outputs import read_manifest
from .params import ParameterError

__all__ = ["parse_condition", "evaluate_condition", "Box", "discover", "format_boxes", "read_samples"]

_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def parse_condition(text: str, columns: list[str]) -> ast.Expression:
    """Parse ``--where`` into an expression tree over ``columns`` (checked, not run).

    >>> _ = parse_condition("p_rebel_at > 0.5 and s_star_inf < 0.4", ["p_rebel_at", "s_star_inf"])
    >>> parse_condition("__import__('os')", ["x"])
    Traceback (most recent call last):
    ...
    sim.params.ParameterError: --where "__import__('os')" is not allowed: a function call is not allowed: allowed is comparisons of the columns (x) with numbers, joined by and, or, not
    """
    allowed = ("allowed is comparisons of the columns (" + ", ".join(columns)
               + ") with numbers, joined by and, or, not")
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"--where {text!r} is not allowed: {allowed}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ParameterError(f"--where {text!r} is not an expression: {allowed}") from None

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            return check(node.body)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, (ast.And, ast.Or)):
            return [check(v) for v in node.values] and None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            return check(node.operand)
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            return [check(v) for v in (node.left, *node.comparators)] and None
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            check(node.left)
            return check(node.right)
        if isinstance(node, ast.Name):
            if node.id not in columns:
                import difflib

                close = difflib.get_close_matches(node.id, columns, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ParameterError(f"--where {text!r}: unknown column {node.id!r}{hint}: {allowed}")
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) and not isinstance(node.value, bool):
            return None  # a number, or the value of a categorical column (--by)
        what = "a function call" if isinstance(node, ast.Call) else f"{type(node).__name__}"
        raise ParameterError(f"--where {text!r} is not allowed: {what} is not allowed: {allowed}")

    check(tree)
    if not isinstance(tree.body, (ast.Compare, ast.BoolOp)) and not (
            isinstance(tree.body, ast.UnaryOp) and isinstance(tree.body.op, ast.Not)):
        raise ParameterError(f"--where {text!r} is not a condition: {allowed}")
    return tree


def evaluate_condition(tree: ast.Expression, table: pd.DataFrame) -> np.ndarray:
    """The condition at every row of ``table`` (a boolean array)."""

    def run(node: ast.AST):
        if isinstance(node, ast.Expression):
            return run(node.body)
        if isinstance(node, ast.BoolOp):
            values = [np.asarray(run(v), dtype=bool) for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.UnaryOp):
            value = run(node.operand)
            if isinstance(node.op, ast.Not):
                return ~np.asarray(value, dtype=bool)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Compare):
            left = run(node.left)
            out = None
            for op, right_node in zip(node.ops, node.comparators):
                right = run(right_node)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        part = _COMPARE[type(op)](left, right)
                except TypeError:
                    raise ParameterError("--where orders numbers and text: allowed is a number compared with a "
                                         "number, or a categorical column == 'value'") from None
                out = part if out is None else (out & part)
                left = right
            return np.asarray(out, dtype=bool)
        if isinstance(node, ast.BinOp):
            with np.errstate(divide="ignore", invalid="ignore"):
                return _ARITH[type(node.op)](run(node.left), run(node.right))
        if isinstance(node, ast.Name):
            column = table[node.id]
            return column.to_numpy(dtype=float) if pd.api.types.is_numeric_dtype(column) else column.to_numpy(dtype=object)
        return node.value if isinstance(node.value, str) else float(node.value)  # checked by parse_condition

    return np.broadcast_to(run(tree), (len(table),)).astype(bool)


@dataclass
class Box:
    """A PRIM box: the restricted parameters' ranges, its coverage, density and mass
    (the share of all points inside it), and the peeling trajectory it came from."""

    limits: pd.DataFrame  # parameter, low, high, full_low, full_high
    coverage: float
    density: float
    mass: float
    index: int
    trajectory: pd.DataFrame
    n_cases: int
    n_points: int


def discover(x: pd.DataFrame, cases: np.ndarray, density: float = 0.8, peel_alpha: float = 0.05,
             mass_min: float = 0.05) -> Box:
    """Run PRIM on the points ``x`` (one column per parameter) with the cases
    ``cases`` (a boolean per row) and return the box chosen (see the module text)."""
    import logging

    cases = np.asarray(cases, dtype=bool)
    x = x.copy()
    for name in x.columns:  # a categorical column (--by) is one PRIM restricts to a subset of its values
        if not pd.api.types.is_numeric_dtype(x[name]):
            x[name] = x[name].astype("category")
    if cases.all() or not cases.any():
        raise ParameterError(f"--where holds at {'every' if cases.all() else 'no'} point of the "
                             f"{cases.size:,}: allowed is a condition that holds at some points and not others")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from ema_workbench.analysis import prim
        except ImportError:
            raise ParameterError("discover needs the discovery extra (ema-workbench is missing): "
                                 "pip install 'persona-sim[discovery]'") from None

        logging.getLogger("EMA").setLevel(logging.ERROR)
        logging.getLogger("EMA.ema_workbench.analysis.prim").setLevel(logging.ERROR)
        numeric = [n for n in x.columns if pd.api.types.is_numeric_dtype(x[n])]
        x[numeric] = x[numeric].astype(float)
        box = prim.Prim(x, cases.astype(int), peel_alpha=peel_alpha, mass_min=mass_min).find_box()
    trajectory = box.peeling_trajectory.reset_index(drop=True)
    dense = trajectory.index[trajectory["density"] >= density]
    index = int(trajectory.loc[dense, "coverage"].idxmax()) if len(dense) else int(trajectory["density"].idxmax())
    lims, full = box.box_lims[index], box.box_lims[0]
    rows = []
    for name in x.columns:
        if name not in numeric:  # categorical: the values left in the box
            kept, every = set(lims[name].iloc[0]), set(full[name].iloc[0])
            if kept != every:
                rows.append({"parameter": name, "low": ",".join(sorted(map(str, kept))), "high": "",
                             "full_low": ",".join(sorted(map(str, every))), "full_high": ""})
            continue
        lo, hi = float(lims[name].iloc[0]), float(lims[name].iloc[1])
        flo, fhi = float(full[name].iloc[0]), float(full[name].iloc[1])
        if lo > flo or hi < fhi:
            rows.append({"parameter": name, "low": lo, "high": hi, "full_low": flo, "full_high": fhi})
    row = trajectory.loc[index]
    return Box(pd.DataFrame(rows, columns=["parameter", "low", "high", "full_low", "full_high"]),
               float(row["coverage"]), float(row["density"]), float(row["mass"]), index, trajectory,
               int(cases.sum()), int(cases.size))


def format_boxes(box: Box, where: str) -> str:
    """The box as the command prints it."""
    lines = [f"PRIM: {where!r} holds at {box.n_cases:,} of {box.n_points:,} points "
             f"({box.n_cases / box.n_points:.1%})",
             f"box {box.index} of the peeling trajectory: coverage {box.coverage:.3f}, density {box.density:.3f}, "
             f"mass {box.mass:.3f}, {len(box.limits)} restricted parameter(s)"]
    width = max([len("parameter"), *(len(p) for p in box.limits["parameter"])])
    lines.append(f"  {'parameter':<{width}}  {'box':>21}  {'sampled range':>21}")
    for r in box.limits.itertuples():
        if isinstance(r.low, str):
            lines.append(f"  {r.parameter:<{width}}  {{{r.low}}} of {{{r.full_low}}}")
        else:
            lines.append(f"  {r.parameter:<{width}}  [{r.low:>8.4g}, {r.high:>8.4g}]  [{r.full_low:>8.4g}, {r.full_high:>8.4g}]")
    return "\n".join(lines)


def read_samples(folder: Path) -> tuple[pd.DataFrame, dict, str]:
    """A sensitivity folder's samples, the analysis's settings (its manifest, or the
    ``sensitivity.json`` of a simulated one, whose folder is a sweep's) and the
    folder's kind, with one-line errors."""
    import json

    folder = Path(folder)
    manifest = read_manifest(folder) if folder.is_dir() else None
    path = folder / "samples.parquet"
    listed = manifest is not None and "samples.parquet" in (manifest.get("files") or [])
    if manifest is None or manifest.get("kind") not in ("sensitivity", "sweep") or not listed or not path.is_file():
        raise ParameterError(f"DIR {str(folder)!r} holds no finished sensitivity analysis: allowed is a folder "
                             "that persona-sim sensitivity wrote (samples.parquet and manifest.json)")
    settings = manifest
    if manifest.get("kind") == "sweep":
        try:
            settings = json.loads((folder / "sensitivity.json").read_text())
        except (OSError, ValueError):
            raise ParameterError(f"{folder / 'sensitivity.json'} is missing or unreadable: allowed is the folder "
                                 "persona-sim sensitivity --simulate wrote") from None
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ParameterError(f"{path} is not a readable Parquet table ({reason}): allowed is the samples.parquet "
                             "persona-sim sensitivity wrote") from None
    return table, settings, manifest["kind"]
