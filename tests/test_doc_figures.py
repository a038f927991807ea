"""The figures of docs/model.md (docs/make_figures.py) can be read by a student without
the docs: each figure function runs once, with a few replicates instead of hundreds,
and the PNG it writes is checked like every other figure persona-sim writes
(tests/figure_texts.py: raw parameter names, bare symbols in titles, labels, legends).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from figure_texts import problems, texts_of

MAKE_FIGURES = Path(__file__).resolve().parents[1] / "docs" / "make_figures.py"


@pytest.fixture(scope="module")
def make_figures():
    """docs/make_figures.py as a module, its replicate counts cut to a few (the texts do not depend on them)."""
    import matplotlib

    matplotlib.use("Agg")
    spec = importlib.util.spec_from_file_location("make_figures", MAKE_FIGURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.REPLICATES, module.CORPORA, module.LINEAGES = 3, 2, 2
    return module


@pytest.mark.parametrize("name", ["increment", "sharpening", "trajectory", "dynamics_laundering", "dynamics_labs"])
def test_doc_figure_is_readable(make_figures, name, tmp_path):
    assert name in make_figures.FIGURES  # every figure of the script is listed here
    out = tmp_path / f"{name}.png"
    make_figures.FIGURES[name](out)
    texts = texts_of(out)  # saved through analysis.figures.png_bytes
    assert texts["label"], f"{name} records no axis labels"
    found = problems(out)
    assert not found, "\n".join(found)


def test_every_doc_figure_is_checked(make_figures):
    assert set(make_figures.FIGURES) == {"increment", "sharpening", "trajectory", "dynamics_laundering",
                                         "dynamics_labs"}
