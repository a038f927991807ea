"""The demo page in headless Chromium: served on 127.0.0.1, driven like a person would.

The server is ``sim.app.serve`` in a subprocess on a free port of 127.0.0.1. The page
is loaded by Playwright in the system's Chromium (``/usr/bin/chromium``; Playwright's
own browser downloads are not used); every request that is not for 127.0.0.1 is
aborted and recorded, and the test fails if there was any. The test sets the corpus to
1,000 documents and the awareness to 0 with the keyboard (Home / End on the sliders),
presses Reset and play, and reads "Persona: aligned"; then awareness 1, Reset, play:
"Persona: rebel". It keeps a screenshot in its tmp_path.
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

from sim.app import MODEL_PARAMS, OFFLINE_ENVIRONMENT

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
            expect(badge).to_have_text("Persona: aligned")
            page.screenshot(path=str(tmp_path / "aligned.png"), full_page=True)

            # a fully aware learner on the same corpus
            _set_slider(page, MODEL_PARAMS["situational_awareness"]["label"], "End", "1")
            _run_to_the_end(page, "1,000")
            expect(badge).to_have_text("Persona: rebel")
            page.screenshot(path=str(tmp_path / "rebel.png"), full_page=True)
            assert (tmp_path / "rebel.png").stat().st_size > 10_000

            # the same learner under a lab that comes clean when it sees distrust
            page.get_by_label(MODEL_PARAMS["lab_policy"]["label"]).click(force=True)
            page.get_by_role("option", name="come_clean").click()
            _run_to_the_end(page, "1,000")
            expect(page.locator(".learner-state")).to_contain_text("come_clean: 1 alarm(s)")
            expect(page.locator(".learner-state")).to_contain_text("came clean")
            page.screenshot(path=str(tmp_path / "come_clean.png"), full_page=True)
        finally:
            browser.close()
    assert outside == [], f"the page asked for addresses beyond 127.0.0.1: {outside}"
