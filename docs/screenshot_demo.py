"""Redraw docs/figures/demo.png: the demo page in headless Chromium after 30 batches.

    python docs/screenshot_demo.py [OUT.png]

Serves the page on a free port of 127.0.0.1 (sim.app.serve), opens it in Debian's
/usr/bin/chromium through Playwright (no browser download), presses Step 30 times and
takes a full-page screenshot (1200 pixels wide, 256 colours).
"""
import os, subprocess, sys, time, urllib.request, socket
from playwright.sync_api import sync_playwright
from sim.app import OFFLINE_ENVIRONMENT
s=socket.socket(); s.bind(("127.0.0.1",0)); port=s.getsockname()[1]; s.close()
env={**os.environ, **OFFLINE_ENVIRONMENT}
p=subprocess.Popen([sys.executable,"-c",f"from sim.app import serve; serve({port})"],env=env,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
url=f"http://127.0.0.1:{port}/"
for _ in range(120):
    try:
        urllib.request.urlopen(url,timeout=5); break
    except OSError: time.sleep(0.5)
try:
    with sync_playwright() as pw:
        b=pw.chromium.launch(executable_path="/usr/bin/chromium",args=["--no-sandbox","--disable-gpu","--disable-background-networking"])
        page=b.new_page(viewport={"width":1500,"height":1100})
        page.goto(url); page.wait_for_timeout(8000)
        for _ in range(30):
            btn=page.get_by_role("button", name="Step")
            btn.click(); page.wait_for_timeout(250)
        page.wait_for_timeout(4000)
        shot = page.screenshot(full_page=True)
        b.close()
finally:
    p.terminate(); p.wait(20)

# 1200 pixels wide, 256 colours: a small file for the README
import io
from PIL import Image

im = Image.open(io.BytesIO(shot)).convert("RGB")
im = im.resize((1200, int(im.height * 1200 / im.width)), Image.LANCZOS)
im.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
    sys.argv[1] if len(sys.argv) > 1 else "docs/figures/demo.png", optimize=True)
