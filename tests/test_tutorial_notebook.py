"""docs/tutorial.md is also a notebook (jupytext's Markdown format: its ```python blocks are
the code cells, everything else Markdown). Executed here on a Python kernel at the quick
size (PERSONA_SIM_QUICK=1), so a cell that no longer runs fails the tests."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
SCRIPTS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.py") if not p.name.startswith("_")
                 and p.stem != "make_all")
CELL_TIMEOUT = 300  # seconds per cell, far above the few seconds a quick cell takes


def read_notebook():
    return jupytext.read(TUTORIAL, fmt="md")


def text_of(cell) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def test_the_markdown_is_a_notebook_whose_code_cells_are_the_python_blocks():
    notebook = read_notebook()
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) == TUTORIAL.read_text(encoding="utf-8").count("\n```python\n")
    assert len(code) >= 5 + len(SCRIPTS)
    # shell commands stay Markdown: nothing here installs, serves or runs a shell
    assert not any(source.lstrip().startswith(("%%bash", "!", "%%sh")) for source in code)
    # one cell per scenario script, in the tutorial's section 4
    assert sorted(re.findall(r'^scenario\("(\w+)"\)$', "\n".join(code), re.M)) == SCRIPTS
    # the round trip loses nothing: the notebook written back as Markdown is the page itself
    assert jupytext.writes(notebook, fmt="md") == TUTORIAL.read_text(encoding="utf-8")


def test_every_cell_runs_at_the_quick_size(monkeypatch, tmp_path):
    """Every code cell runs without an error (nbclient raises CellExecutionError on the first that
    fails); each scenario cell prints its answer and shows a figure; docs/figures is untouched."""
    monkeypatch.setenv("PERSONA_SIM_QUICK", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own (inline) backend
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (ROOT / "docs").rglob("*") if p.is_file()}
    results = {p.name for p in (ROOT / "results").glob("tutorial-*")} if (ROOT / "results").is_dir() else set()
    notebook = read_notebook()
    # after the scenario cells, a student's own plots still show inline (the scripts left the backend alone)
    notebook.cells.append(nbformat.v4.new_code_cell("import matplotlib\nprint('backend:', matplotlib.get_backend())"))
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    finally:
        made = {p.name for p in (ROOT / "results").glob("tutorial-*")} - results
        for name in made:  # the notebook's own output folder (a new one per run)
            shutil.rmtree(ROOT / "results" / name)
    assert len(made) == 1, made
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "backend: module://matplotlib_inline" in text_of(cells.pop()), text_of(notebook.cells[-1])
    assert "quick size" in text_of(cells[0])
    printed = "".join(text_of(c) for c in cells)
    assert "s*_inf at q_r = 0.6: [0.628]" in printed and "expected q_r: [0.631]" in printed, printed[:3000]
    for cell in cells:
        if cell.source.startswith("scenario("):
            printed = text_of(cell)
            assert re.search(r"^Question: .*\?", printed, re.M) and "Answer: " in printed, printed
            assert any("image/png" in output.get("data", {}) for output in cell.outputs), cell.source
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (ROOT / "docs").rglob("*") if p.is_file()}
    assert after == before
