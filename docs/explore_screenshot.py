"""Draws docs/explore.png, the README's picture of `ravine explore`.

    python docs/explore_screenshot.py [--chromium PATH]

Starts the explorer on a free port, pins GD with η = 1e-7 on the Pokémon loss, then shows the
lecture's Adagrad with η = 1 for 100,000 steps, and saves the page as docs/explore.png. Needs
the dev extra (Playwright) and a Chromium on PATH; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from ravine.explore import make_server

IDLE = "window.explorer && explorer.last && !explorer.busy && !explorer.pending"
PINNED = "#surface=pokemon&optimizer=gd&lr=1e-7&steps=100000"
SHOWN = "#surface=pokemon&optimizer=lecture-adagrad&lr=1&steps=100000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=shutil.which("chromium"))
    args = parser.parse_args()
    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(base + PINNED)
            page.wait_for_function(IDLE, timeout=0)
            page.click("#pin")
            page.evaluate(f"location.hash = {SHOWN!r}")
            page.wait_for_function(f"{IDLE} && explorer.last.settings.lr === 1", timeout=0)
            page.wait_for_timeout(500)  # the figures' last redraw
            page.screenshot(path=str(Path(__file__).with_name("explore.png")))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
