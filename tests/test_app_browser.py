"""The demo page in headless Chromium: served on 127.0.0.1, driven like a person would.

The server is ``sim.app.serve`` in a subprocess on a free port of 127.0.0.1. The page
is loaded by Playwright in the system's Chromium (``/usr/bin/chromium``; Playwright's
own browser downloads are not used); every request that is not for 127.0.0.1 is
aborted and recorded, and the test fails if there was any. The test sets the corpus to
1,000 documents and the awareness to 0 with the keyboard (Home / End on the sliders),
presses Reset and play, and reads "Final persona: aligned"; then awareness 1, Reset, play:
"Final persona: rebel". At a projector's 1280x720 it checks the lesson: the note beside
the badge after one Step, Run to end and the final persona, no value broken over two
lines or out of its panel, and figure text of at least 12 pixels on the screen. It
keeps screenshots in its tmp_path.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sim.app import DPI, FONT, MODEL_PARAMS, OFFLINE_ENVIRONMENT, DemoModel

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_SECONDS = 90
WAIT_MS = 45_000

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the demo server did not answer at {url} within {SERVER_START_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The demo server on a free port of 127.0.0.1; stopped after the tests."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, **OFFLINE_ENVIRONMENT, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", f"from sim.app import serve; serve({port})"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(Path(__file__).resolve().parents[1]),
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_serving(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _slider(page, label: str):
    """The thumb of the slider with this label (keyboard: Home = minimum, End = maximum)."""
    field = page.locator(".v-input").filter(has=page.locator("label", has_text=label))
    return field.locator("[role=slider]").first


def _set_slider(page, label: str, key: str, expected: str) -> None:
    thumb = _slider(page, label)
    thumb.focus()
    thumb.press(key)
    expect(thumb).to_have_attribute("aria-valuenow", expected)


def _run_to_the_end(page, documents: str) -> None:
    page.get_by_role("button", name="Reset").click()
    reading = page.locator(".documents-read")
    expect(reading).to_contain_text(f"documents read: 0 of {documents}", timeout=WAIT_MS)
    page.get_by_role("button", name="▶").click()
    expect(reading).to_contain_text(f"documents read: {documents} of {documents}", timeout=WAIT_MS)


def test_page_runs_and_badge_turns_aligned_then_rebel(server, tmp_path):
    """Low awareness run ends 'aligned', high awareness run ends 'rebel', a lab chosen
    in the sidebar comes clean, all on 127.0.0.1."""
    outside: list[str] = []

    def only_this_machine(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", only_this_machine)
            page.goto(server, wait_until="domcontentloaded")
            badge = page.locator(".persona-badge")
            expect(badge).to_have_text("Persona: neutral", timeout=WAIT_MS)  # before any batch

            # a small corpus (the slider's minimum) and an unaware learner
            _set_slider(page, MODEL_PARAMS["n_documents"]["label"], "Home", "1000")
            _set_slider(page, MODEL_PARAMS["situational_awareness"]["label"], "Home", "0")
            _run_to_the_end(page, "1,000")
            expect(badge).to_have_text("Final persona: aligned")
            page.screenshot(path=str(tmp_path / "aligned.png"), full_page=True)

            # a fully aware learner on the same corpus
            _set_slider(page, MODEL_PARAMS["situational_awareness"]["label"], "End", "1")
            _run_to_the_end(page, "1,000")
            expect(badge).to_have_text("Final persona: rebel")
            page.screenshot(path=str(tmp_path / "rebel.png"), full_page=True)
            assert (tmp_path / "rebel.png").stat().st_size > 10_000

            # the same learner under a lab that comes clean when it sees distrust
            page.get_by_label(MODEL_PARAMS["lab_policy"]["label"]).click(force=True)
            page.get_by_role("option", name="come_clean").click()
            _run_to_the_end(page, "1,000")
            expect(page.locator(".learner-state")).to_contain_text("come clean, 1 alarm(s)")
            expect(page.locator(".learner-state")).to_contain_text("came clean")
            page.screenshot(path=str(tmp_path / "come_clean.png"), full_page=True)
        finally:
            browser.close()
    assert outside == [], f"the page asked for addresses beyond 127.0.0.1: {outside}"


#: A projector's screen.
PROJECTOR = {"width": 1280, "height": 720}
#: The smallest figure text a projector's audience can read, in screen pixels.
LEGIBLE_PX = 12

#: For every element the selector finds: its text, how many line boxes it has (an inline
#: element broken over two lines has two), its height and line height, its right edge
#: and its panel's right edge.
_BOXES_JS = """(selector) => Array.from(document.querySelectorAll(selector)).map(e => {
    const style = getComputedStyle(e);
    const panel = e.closest('.persona-panel') || document.body;
    return {text: e.textContent, rects: e.getClientRects().length,
            height: e.getBoundingClientRect().height,
            line: parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize),
            right: e.getBoundingClientRect().right, panel: panel.getBoundingClientRect().right};
})"""

_IMAGES_JS = """() => Array.from(document.querySelectorAll('img')).map(e => ({
    natural: e.naturalWidth, shown: e.getBoundingClientRect().width, right: e.getBoundingClientRect().right}))"""


def _check_one_line_and_inside(page) -> int:
    """Every value of the persona panel on one line and inside the panel; returns how many."""
    boxes = page.evaluate(_BOXES_JS, ".persona-panel .value, .documents-read, .persona-badge")
    assert len(boxes) > 20
    for box in boxes:
        assert box["rects"] == 1, f"broken over lines: {box['text']!r}"
        assert box["height"] < 1.6 * box["line"], f"more than one line: {box}"
        assert box["right"] <= box["panel"] + 1, f"out of its panel: {box}"
    return len(boxes)


def test_the_lesson_at_a_projectors_size(server, tmp_path):
    """1280x720: after one Step the default learner's badge says rebel and the note beside it
    calls the run early; Run to end shows the final persona of the same model run in Python
    (aligned) and a finished note; the badge, the note and the training figure are on the
    first screen; no value wraps or leaves its panel; figure text is at least 12 pixels."""
    reference = DemoModel()
    reference.run_for(reference.n_steps)
    final = reference.main_learner.persona
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=PROJECTOR)
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:")) else route.abort())
            page.goto(server, wait_until="domcontentloaded")
            badge, note = page.locator(".persona-badge"), page.locator(".lesson-note")
            expect(badge).to_have_text("Persona: neutral", timeout=WAIT_MS)
            expect(note).to_contain_text("Nothing read yet")
            page.get_by_role("button", name="Step").click()
            expect(page.locator(".documents-read")).to_contain_text("(batch 1 of 100)", timeout=WAIT_MS)
            expect(badge).to_have_text("Persona: rebel")
            expect(note).to_have_class("lesson-note lesson-early")
            expect(note).to_contain_text("Early in training: 100 of 10,000 documents read.")
            expect(note).to_contain_text("as high as 0.918")
            for element in (badge, note):
                box = element.bounding_box()
                assert box["y"] + box["height"] <= PROJECTOR["height"], "not on the first screen"
            training = page.locator("img").first
            expect(training).to_be_visible()
            assert training.bounding_box()["y"] < PROJECTOR["height"] / 2
            _check_one_line_and_inside(page)
            page.screenshot(path=str(tmp_path / "early.png"))

            page.get_by_role("button", name="Run to end").click()
            expect(badge).to_have_text(f"Final persona: {final}", timeout=WAIT_MS)
            expect(page.locator(".documents-read")).to_contain_text("10,000 of 10,000 (batch 100 of 100)")
            expect(note).to_have_class("lesson-note lesson-finished")
            expect(note).to_contain_text(f"Finished: all 10,000 documents read. Final persona: {final}")
            for name in ("▶", "Step", "Run to end"):
                expect(page.get_by_role("button", name=name)).to_be_disabled()
            _check_one_line_and_inside(page)
            page.wait_for_timeout(1500)  # the redrawn figures
            images = page.evaluate(_IMAGES_JS)
            assert len(images) == 3
            for image in images:
                scale = image["shown"] / image["natural"]
                smallest = min(FONT.values()) * DPI / 72 * scale
                assert smallest >= LEGIBLE_PX, f"figure text {smallest:.1f} px on the screen: {image}"
                assert image["right"] <= PROJECTOR["width"]
            page.screenshot(path=str(tmp_path / "finished.png"))
        finally:
            browser.close()
