"""Redraw the demo page's figures: docs/figures/demo.png and docs/figures/demo_annotated.png.

    python docs/screenshot_demo.py [OUT_DIR]          (default: docs/figures)

Serves the page on a free port of 127.0.0.1 (:func:`sim.app.serve`), opens it in
Debian's /usr/bin/chromium through Playwright (no browser download) 1280 pixels wide
(a projector's width; 1300 tall, to show all four panels), and takes two screenshots
of the default configuration:

- ``demo.png``: the finished run (Run to end): the final persona, the note saying the
  run is finished and what the badge showed on the way, the whole trajectories.
- ``demo_annotated.png``: the page after one Step (the first batch of 100 documents),
  when the default learner's badge says "rebel" although the run ends aligned, with
  numbered callouts on the page's parts and a key below (drawn with matplotlib from
  the elements' places on the page, read from the browser).

Both are 1280 pixels wide with 256 colours (small files for the README).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image

from sim.app import OFFLINE_ENVIRONMENT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: 1280 pixels wide, as a projector shows the page; tall enough for all four panels.
VIEWPORT = {"width": 1280, "height": 1300}
WAIT_MS = 60_000

#: The callouts of the annotated screenshot: (CSS selector of the element, its key text).
CALLOUTS = [
    (".v-card:has-text('Run to end')", "Reset builds a new run from the controls; Step reads one batch, "
                                      "\u25b6 plays, Run to end reads the rest at once; play speed: batches a frame"),
    (".persona-badge", "the persona of your learner now (after the run: the final persona)"),
    (".lesson-note", "what you are seeing: early swings on few documents against the final persona"),
    (".learner-state", "the learner's numbers, two comparison learners, this run's settings"),
    ("img >> nth=0", "training: P(deceptive), alignment uplift and believed planted share per learner"),
    ("img >> nth=1", "the citation graph: planted documents (triangles) are never cited; read ones filled in"),
    ("img >> nth=2", "P(rebel) against awareness (mean field), with your learners now"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _small(png: bytes) -> Image.Image:
    """The screenshot at 1280 pixels wide with 256 colours."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width != 1280:
        image = image.resize((1280, round(image.height * 1280 / image.width)), Image.LANCZOS)
    return image


def _save(image: Image.Image, path: Path) -> None:
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)


def annotate(png: bytes, boxes: list[tuple[float, float, float, float] | None], path: Path) -> None:
    """Draw numbered callouts at ``boxes`` (x, y, width, height in page pixels, one per
    :data:`CALLOUTS` entry) on the screenshot and a key below it; save to ``path``."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    shot = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = shot.size
    key_height = 26 * len(CALLOUTS) + 20
    dpi = 100
    fig = Figure(figsize=(w / dpi, (h + key_height) / dpi), dpi=dpi)
    ax = fig.add_axes([0, key_height / (h + key_height), 1, h / (h + key_height)])
    ax.imshow(shot)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    colour = "#e65100"
    for number, box in enumerate(boxes, start=1):
        if box is None:
            continue
        x, y, bw, bh = box
        ax.add_patch(Rectangle((x, y), bw, bh, fill=False, edgecolor=colour, lw=2.5))
        ax.text(max(x - 10, 2), max(y - 10, 2), str(number), color="white", fontsize=13, fontweight="bold", ha="left", va="top",
                bbox=dict(boxstyle="circle,pad=0.25", facecolor=colour, edgecolor="none"))
    key = fig.add_axes([0, 0, 1, key_height / (h + key_height)])
    key.set_axis_off()
    for number, (_, text) in enumerate(CALLOUTS, start=1):
        top = 1 - (number - 0.5) / (len(CALLOUTS) + 0.6)
        key.text(0.012, top, str(number), color="white", fontsize=12, fontweight="bold", ha="left", va="center",
                 bbox=dict(boxstyle="circle,pad=0.25", facecolor=colour, edgecolor="none"))
        key.text(0.04, top, text, fontsize=12, ha="left", va="center")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    _save(_small(buffer.getvalue()), path)


def main(out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, **OFFLINE_ENVIRONMENT}
    server = subprocess.Popen([sys.executable, "-c", f"from sim.app import serve; serve({port})"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(url)
                reading = page.locator(".documents-read")
                expect(reading).to_contain_text("documents read: 0 of", timeout=WAIT_MS)
                page.get_by_role("button", name="Step").click()
                expect(reading).to_contain_text("(batch 1 of", timeout=WAIT_MS)
                page.wait_for_timeout(2000)  # the figures' new images
                boxes = []
                for selector, _ in CALLOUTS:
                    box = page.locator(selector).first.bounding_box()
                    boxes.append(None if box is None else (box["x"], box["y"], box["width"], box["height"]))
                annotate(page.screenshot(full_page=True), boxes, out / "demo_annotated.png")

                page.get_by_role("button", name="Run to end").click()
                expect(page.locator(".persona-badge")).to_contain_text("Final persona", timeout=WAIT_MS)
                page.wait_for_timeout(2000)
                _save(_small(page.screenshot(full_page=True)), out / "demo.png")
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "figures")
