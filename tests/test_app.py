"""The demo page (sim/app.py) without a browser: Solara renders it into widgets here.

The page is rendered with ``solara.render`` inside an ``AppLayout`` (as the Solara
server does), so the sidebar's controls and Mesa's Reset / play / Step buttons are in
the widget tree; sliders are set through their ``v_model`` and buttons clicked from
Python, as the browser would.
"""

from __future__ import annotations

import io

import ipyvuetify as v
import networkx as nx
import numpy as np
import pytest
import solara
from ipywidgets import Image

from sim.app import (
    AWARENESS_GRID,
    COMPARISON_AWARENESS,
    GRAPH_NODES,
    MODEL_PARAMS,
    DemoModel,
    Page,
    EARLY_SHARE,
    SPEEDS,
    citation_figure,
    demo_params,
    lesson_note,
    rebel_figure,
    state_rows,
    training_figure,
    mean_field_curve,
    model_graph,
    persona_text,
    serve,
)
from figure_texts import problems_in
from sim.meanfield import p_rebel
from sim.params import Params


@solara.component
def _App():
    with solara.AppLayout():
        Page()


@pytest.fixture
def page():
    """The rendered page's render context (a fresh model)."""
    _, rc = solara.render(_App(), handle_error=False)
    yield rc
    rc.close()


def _text(rc, ref: str) -> str:
    return rc.find(meta_ref=ref).widget.children[0]


def _click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.click()


def _steps(rc, n: int) -> None:
    for _ in range(n):
        _click(rc, "Step")


def _set(rc, label: str, value) -> None:
    rc.find(v.Slider, label=label).widget.v_model = value


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def test_page_builds_with_controls_buttons_and_panels(page):
    """The page shows every control, Mesa's three buttons, the badge and three figures."""
    labels = {w.label for w in page.find(v.Slider).widgets}
    for name in ("situational_awareness", "sa_start", "planted_fraction", "disclosed_fraction",
                 "n_documents", "synthetic_detectability", "prior_deceptive", "seed"):
        assert MODEL_PARAMS[name]["label"] in labels
    page.find(v.Select, label=MODEL_PARAMS["awareness_schedule"]["label"]).assert_single()
    page.find(v.Checkbox, label=MODEL_PARAMS["comparison_family"]["label"]).assert_single()
    for button in ("Reset", "▶", "Step"):
        page.find(v.Btn, children=[button]).assert_single()
    # before the first batch: P(deceptive) is the prior, U = 0, so the persona is neutral
    assert _text(page, "persona-badge") == "Persona: neutral"
    assert _text(page, "documents-read") == "documents read: 0 of 10,000 (batch 0 of 100)"
    figures = page.find(Image).widgets
    assert len(figures) == 3
    assert all(bytes(f.value[:8]) == b"\x89PNG\r\n\x1a\n" for f in figures)


def test_page_has_a_title_and_no_controls_that_mean_nothing_to_a_student(page):
    """The app bar names the question; Mesa's render interval, threads and page tabs are not
    shown; the play speed is a choice of batches a frame."""
    labels = {w.label for w in page.find(v.Slider).widgets}
    assert "Render Interval (steps)" not in labels and "Play Interval (ms)" not in labels
    speed = page.find(v.Select, label="play speed").widget
    assert speed.items == list(SPEEDS) and speed.v_model == next(iter(SPEEDS))
    page.find(v.Btn, children=["Run to end"]).assert_single()
    assert not page.find(v.Checkbox, label="Use Threads").widgets
    assert not page.find(v.Tab).widgets


def test_step_button_reads_one_batch(page):
    """Pressing Step makes every learner read the next batch: documents read increase."""
    _click(page, "Step")
    assert _text(page, "documents-read") == "documents read: 100 of 10,000 (batch 1 of 100)"
    _click(page, "Step")
    assert _text(page, "documents-read") == "documents read: 200 of 10,000 (batch 2 of 100)"
    assert _text(page, "persona-badge").removeprefix("Persona: ") in ("aligned", "neutral", "rebel")


def test_badge_follows_the_model_set_through_the_controls(page):
    """High awareness run to the end shows 'rebel'; awareness 0 shows 'aligned'."""
    _set(page, MODEL_PARAMS["n_documents"]["label"], 1000)
    _set(page, MODEL_PARAMS["situational_awareness"]["label"], 1.0)
    _click(page, "Reset")
    assert _text(page, "documents-read") == "documents read: 0 of 1,000 (batch 0 of 10)"
    assert _text(page, "persona-badge") == "Persona: neutral"
    _steps(page, 5)
    assert _text(page, "documents-read") == "documents read: 500 of 1,000 (batch 5 of 10)"
    _steps(page, 5)
    assert _text(page, "documents-read") == "documents read: 1,000 of 1,000 (batch 10 of 10)"
    assert _text(page, "persona-badge") == "Final persona: rebel"
    for button in ("Step", "▶", "Run to end"):  # the run is over
        assert page.find(v.Btn, children=[button]).widget.disabled

    _set(page, MODEL_PARAMS["situational_awareness"]["label"], 0.0)
    _click(page, "Reset")
    assert _text(page, "documents-read") == "documents read: 0 of 1,000 (batch 0 of 10)"
    assert _text(page, "persona-badge") == "Persona: neutral"
    _steps(page, 5)
    _steps(page, 5)
    assert _text(page, "documents-read") == "documents read: 1,000 of 1,000 (batch 10 of 10)"
    assert _text(page, "persona-badge") == "Final persona: aligned"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_badge_text_is_the_main_learners_persona(seed):
    """The badge names the first learner's persona, batch after batch."""
    model = DemoModel(situational_awareness=0.65, n_documents=2000, seed=seed)
    seen = set()
    while model.running:
        model.step()
        label = "Persona" if model.running else "Final persona"  # "Final" once the last batch is read
        assert persona_text(model) == f"{label}: {model.main_learner.persona}"
        seen.add(model.main_learner.persona)
    assert model.batch == model.n_batches and persona_text(model).startswith("Final persona: ")
    assert seen <= {"aligned", "neutral", "rebel"}


def test_demo_model_defaults_are_the_controls_defaults():
    """The first model shown has the values the controls show."""
    defaults = {name: spec["value"] for name, spec in MODEL_PARAMS.items()}
    model = DemoModel()
    assert model.params == demo_params(**{k: v for k, v in defaults.items()
                                          if k not in ("comparison_family", "seed")})
    assert model.seed == defaults["seed"]
    assert [a.situational_awareness for a in model.learners] == [0.5, *COMPARISON_AWARENESS]
    assert len(DemoModel(comparison_family=False).learners) == 1
    # sa_start counts only with a rising schedule
    assert DemoModel(sa_start=0.3).params.sa_start is None
    assert DemoModel(sa_start=0.3, awareness_schedule="linear").params.sa_start == 0.3


def test_graph_view_is_the_first_documents_of_the_corpus_graph():
    """The drawn graph is Corpus.graph() on the first documents, with every citation they make."""
    model = DemoModel(n_documents=1000, seed=3)
    view = model_graph(model)
    n = len(view.kind)
    assert n == GRAPH_NODES <= 400
    full = model.corpus.graph()
    expected = full.subgraph(range(n))
    assert nx.utils.graphs_equal(view.graph, expected)
    assert view.graph.number_of_edges() == int((model.corpus.cite_source < n).sum())
    planted = view.kind == "planted"
    assert planted.any() and (view.cited_by[planted] == 0).all()
    assert view.xy.shape == (n, 2) and np.isfinite(view.xy).all()
    assert model_graph(model) is view  # laid out once per model
    small = DemoModel(n_documents=1000, seed=3)
    assert np.array_equal(model_graph(small).xy, view.xy)  # a fixed layout seed


def test_citation_figure_fills_in_the_documents_read():
    """Read documents are filled, unread ones white; the count follows the model."""
    model = DemoModel(n_documents=1000, seed=4)

    def filled():
        figure = citation_figure(model)
        ax = figure.axes[0]
        return sum(int((c.get_facecolors()[:, :3] != 1).any(axis=1).sum()) for c in ax.collections[1:])

    assert filled() == 0
    model.run_for(4)
    assert filled() == int((model_graph(model).read_at < 400).sum()) > 0
    model.run_for(6)
    assert filled() == len(model_graph(model).kind)


def test_mean_field_curve_is_p_rebel():
    """The curve is sim.meanfield.p_rebel: itself at constant awareness, within 1e-3 on a schedule."""
    q = 0.6
    np.testing.assert_array_equal(mean_field_curve(Params(), q), p_rebel(Params(), AWARENESS_GRID, q))
    pick = slice(0, None, 10)
    for schedule in ("linear", "logistic"):
        params = Params(sa_start=0.2, awareness_schedule=schedule, n_documents=5000)
        fast = mean_field_curve(params, q)[pick]
        np.testing.assert_allclose(fast, p_rebel(params, AWARENESS_GRID[pick], q), atol=1e-3)


def test_serve_refuses_a_port_out_of_range():
    """serve() checks its port before starting anything."""
    with pytest.raises(ValueError, match="port"):
        serve(70000)


def test_mean_field_curve_counts_a_short_last_batch():
    """With N = 1050 and B = 100 (a last batch of 50) the demo's tabulated schedule sum is still
    sim.meanfield.p_rebel's, within 1e-3 (p_rebel itself is checked against an explicit per-batch
    sum in tests/test_meanfield.py)."""
    q = 0.6
    pick = slice(0, None, 10)
    for schedule in ("linear", "logistic"):
        params = Params(sa_start=0.3, awareness_schedule=schedule, n_documents=1050, batch_size=100)
        fast = mean_field_curve(params, q)[pick]
        np.testing.assert_allclose(fast, p_rebel(params, AWARENESS_GRID[pick], q), atol=1e-3)


# -- labs, laundering and generations in the demo --------------------------------------
def test_the_demo_offers_the_dynamics_and_runs_them():
    pytest.importorskip("solara")
    from sim.app import MODEL_PARAMS, DemoModel, citation_figure, persona_text, training_figure

    assert MODEL_PARAMS["lab_policy"]["values"] == ["static", "double_down", "come_clean"]
    assert MODEL_PARAMS["citation_cue"]["values"] == ["cited", "trusted"]
    assert {"laundering", "generations"} <= set(MODEL_PARAMS)
    model = DemoModel(situational_awareness=0.9, lab_policy="double_down", laundering=0.5, citation_cue="trusted",
                      generations=2,
                      n_documents=1000, seed=2)
    assert model.n_steps == 2 * model.n_batches
    model.run_for(model.n_steps)
    assert model.generation == 1 and not model.running
    assert persona_text(model) == f"Final persona: {model.main_learner.persona}"
    assert model.lab.state.alarms > 0
    training_figure(model)
    figure = citation_figure(model)
    assert "laundering 0.5" in figure.axes[0].get_title()


def test_the_demo_counts_documents_and_statements_apart():
    pytest.importorskip("solara")
    from sim.app import DemoModel

    model = DemoModel(situational_awareness=1.0, lab_policy="come_clean", n_documents=2000, comparison_family=False)
    model.run_for(model.n_steps)
    assert model.main_learner.statements_read == 1
    assert model.documents_read == 2000 and model.main_learner.documents_read == 2001


# -- the demo as a lesson: the note, the finished state, Run to end, labels -----------------
def _note(rc) -> tuple[str, str]:
    """(stage, text) of the page's note, read from its widget."""
    widget = rc.find(meta_ref="lesson-note").widget
    stage = next(c for c in widget.class_.split() if c.startswith("lesson-") and c != "lesson-note")[7:]
    heading, text = widget.children
    return stage, heading.children[0] + text


def test_the_note_follows_the_documents_read():
    """The default learner's early swing: after one batch the badge says rebel (P(deceptive)
    0.918, first above 0.9 at document 15) and the note calls the run early; it says "later"
    from the batch where a tenth of the documents is read, and "finished" with the final
    persona (aligned) once the last batch is read."""
    model = DemoModel()
    stage, text = lesson_note(model)
    assert stage == "start" and "prior, 0.05" in text and "all 10,000" in text
    model.step()
    stage, text = lesson_note(model)
    assert persona_text(model) == "Persona: rebel"
    assert stage == "early"
    assert text.startswith("Early in training: 100 of 10,000 documents read.")
    assert "shown rebel;" in text and "as high as 0.918" in text and "first above 0.9 at document 15" in text
    early = int(EARLY_SHARE * model.params.n_documents) // model.params.batch_size
    for batch in range(2, model.n_batches + 1):
        model.step()
        stage, text = lesson_note(model)
        if batch < early:
            assert stage == "early", batch
        elif batch < model.n_batches:
            assert stage == "later", batch
            assert text.startswith(f"{100 * batch:,} of 10,000 documents read ({batch}%).")
            assert "rebel \u2192 aligned" in text  # the path so far, from the trajectory
    assert stage == "finished" and model.main_learner.persona == "aligned"
    assert text.startswith("Finished: all 10,000 documents read. Final persona: aligned (P(deceptive) 0.000")
    assert "also showed rebel" in text and "the last time after 100 of 10,000 documents" in text


@pytest.mark.parametrize("n_documents, steps, stage", [
    (1000, 1, "later"),     # 100 of 1,000 documents: a tenth already
    (50_000, 10, "early"),  # 1,000 of 50,000
    (50_000, 50, "later"),  # 5,000 of 50,000
])
def test_the_note_counts_the_share_read_not_the_batches(n_documents, steps, stage):
    model = DemoModel(n_documents=n_documents, comparison_family=False)
    model.run_for(steps)
    assert lesson_note(model)[0] == stage


def test_the_note_counts_every_generation():
    """With two generations the run is not finished after the first corpus."""
    model = DemoModel(n_documents=1000, generations=2, comparison_family=False)
    model.run_for(model.n_batches)
    stage, text = lesson_note(model)
    assert stage == "later" and text.startswith("1,000 of 2,000 documents read (50%).")
    model.run_for(model.n_batches)
    stage, text = lesson_note(model)
    assert stage == "finished" and text.startswith("Finished: all 2,000 documents read in 2 generations.")


@pytest.mark.parametrize("awareness, seed", [(0.5, 0), (0.63, 1), (0.63, 3), (0.9, 2), (0.0, 4)])
def test_the_finished_note_names_the_models_final_persona(awareness, seed):
    """The final persona in the note is the model's; the note names the other personas
    the badge showed on the way exactly when the trajectory has them."""
    model = DemoModel(situational_awareness=awareness, n_documents=5000, seed=seed)
    model.run_for(model.n_steps)
    stage, text = lesson_note(model)
    final = model.main_learner.persona
    assert stage == "finished" and f"Final persona: {final} (" in text
    df = model.trajectory()
    shown = set(df[df["learner"] == 0]["persona"].iloc[1:]) - {final}
    if shown:
        named = text.split("also showed ")[1].split(" (")[0].split(" and ")
        assert sorted(named) == sorted(shown)
    else:
        assert "no other persona" in text


def test_run_to_end_reads_every_batch_and_shows_the_final_persona(page):
    """Run to end after one Step: the last batch, the final persona equal to the same model
    run in Python, the note says finished, every button but Reset greyed; Reset starts anew."""
    reference = DemoModel()
    reference.run_for(reference.n_steps)
    before = [bytes(f.value) for f in page.find(Image).widgets]
    _click(page, "Step")
    assert _note(page)[0] == "early" and _text(page, "persona-badge") == "Persona: rebel"
    _click(page, "Run to end")
    assert _text(page, "documents-read") == "documents read: 10,000 of 10,000 (batch 100 of 100)"
    assert _text(page, "persona-badge") == f"Final persona: {reference.main_learner.persona}"
    stage, text = _note(page)
    assert stage == "finished" and f"Final persona: {reference.main_learner.persona}" in text
    for button in ("▶", "Step", "Run to end"):
        assert page.find(v.Btn, children=[button]).widget.disabled
    assert not page.find(v.Btn, children=["Reset"]).widget.disabled
    after = [bytes(f.value) for f in page.find(Image).widgets]
    assert all(a != b for a, b in zip(after, before))  # every figure redrawn
    _click(page, "Reset")
    assert _text(page, "documents-read") == "documents read: 0 of 10,000 (batch 0 of 100)"
    assert _note(page)[0] == "start"
    assert not page.find(v.Btn, children=["Run to end"]).widget.disabled


def test_run_to_end_reads_every_generation(page):
    _set(page, MODEL_PARAMS["n_documents"]["label"], 1000)
    _set(page, MODEL_PARAMS["generations"]["label"], 3)
    _click(page, "Reset")
    _click(page, "Run to end")
    assert _text(page, "documents-read") == "documents read: 1,000 of 1,000 (batch 10 of 10, generation 3 of 3)"
    assert _note(page)[1].startswith("Finished: all 3,000 documents read in 3 generations.")


def test_play_reads_the_chosen_batches_a_frame(page):
    """▶ at 25 batches a frame: the page shows the run after 25, 50, 75 and 100 batches, and
    stops greyed at the end."""
    import time

    fast = next(label for label, batches in SPEEDS.items() if batches == 25)
    page.find(v.Select, label="play speed").widget.v_model = fast
    seen = set()
    _click(page, "▶")
    deadline = time.monotonic() + 120
    while not page.find(v.Btn, children=["Step"]).widget.disabled or _text(page, "documents-read").count("batch 0"):
        seen.add(_text(page, "documents-read"))
        assert time.monotonic() < deadline
        time.sleep(0.01)
    while not _text(page, "persona-badge").startswith("Final"):
        seen.add(_text(page, "documents-read"))
        assert time.monotonic() < deadline
        time.sleep(0.01)
    seen.add(_text(page, "documents-read"))
    batches = {int(t.split("(batch ")[1].split(" ")[0]) for t in seen}
    assert batches <= {0, 25, 50, 75, 100} and 100 in batches
    while not page.find(v.Btn, children=["▶"]).widgets:  # the play task has stopped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert page.find(v.Btn, children=["▶"]).widget.disabled


def _figure_texts(figure) -> list[tuple[str, float]]:
    """(text, font size in points) of every title, axis label, tick label and legend entry."""
    figure.canvas.draw() if hasattr(figure.canvas, "draw") else None
    found = []
    if figure._suptitle is not None:
        found.append(figure._suptitle)
    for legend in figure.legends:
        found += legend.get_texts()
    for ax in figure.axes:
        found += [ax.title, ax.xaxis.label, ax.yaxis.label]
        found += [t for t in ax.get_xticklabels() + ax.get_yticklabels() if ax.axison]
        if ax.get_legend() is not None:
            found += ax.get_legend().get_texts()
    return [(t.get_text(), t.get_fontsize()) for t in found if t.get_text()]


def _raw_names_and_bare_symbols(text: str) -> list[str]:
    """tests/figure_texts.py's check (the one the command's figures pass) on one text, and
    any word spelled with an underscore (a choice as the code spells it: double_down)."""
    import re

    return problems_in({"text": [text]}) + re.findall(r"\w*_\w*", text)


@pytest.mark.parametrize("controls", [
    {},
    {"lab_policy": "double_down", "generations": 2, "laundering": 0.5, "citation_cue": "trusted",
     "n_documents": 1000, "awareness_schedule": "linear", "sa_start": 0.2},
])
def test_the_pages_words_have_no_raw_names_or_bare_symbols_and_are_legible(controls):
    """The three figures and the state table: no raw parameter name (a name with an underscore),
    a symbol only in brackets after words; every figure text at least 10 points."""
    from sim.app import FONT

    model = DemoModel(**controls)
    model.run_for(5)
    for make in (training_figure, citation_figure, rebel_figure):
        texts = _figure_texts(make(model))
        assert texts, make.__name__
        for text, size in texts:
            assert not _raw_names_and_bare_symbols(text), (make.__name__, text)
            assert size >= min(FONT.values()) >= 10, (make.__name__, text, size)
    for name, values in state_rows(model):
        for text in [name, *values]:
            assert not _raw_names_and_bare_symbols(text), text
    assert not _raw_names_and_bare_symbols(lesson_note(model)[1])


def test_the_label_check_catches_what_the_issue_found():
    """The check above fails on the old page's words."""
    for old in ("large-corpus threshold s* = 0.63", "uplift U", "real documents cited q_r = 0.62",
                "n_documents = 10000", "double_down: 2 alarm(s)"):
        assert _raw_names_and_bare_symbols(old), old
    assert not _raw_names_and_bare_symbols("large-corpus threshold (s*) 0.63")
