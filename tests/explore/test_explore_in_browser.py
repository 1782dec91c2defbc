"""The explorer's real page in headless Chromium (Debian's, driven by Playwright): the η slider
on the valley shows the lecture's bounce and crawl, the lecture's Adagrad on Pokémon bursts and
the page counts the bursts, a malformed schedule spec shows the server's message, a copied
link restores the same state, pinning keeps a path, a click on the map moves the start — and
the numbers shown are ravine.surfaces.descend's."""

from __future__ import annotations

import itertools
import json
import shutil

import pytest

from ravine.experiments.adagrad_bursts import find_bursts
from ravine.explore import rules
from ravine.schedules import from_spec
from ravine.surfaces import descend, surface

from .conftest import start

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install 'ravine[dev]')"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not on PATH (.ci/run installs it: apt-get install -y chromium)",
)
GRID = rules.lr_grid()
IDLE = "window.explorer && explorer.last && !explorer.busy && !explorer.pending"


@pytest.fixture(scope="module")
def page():
    server, thread = start(prefetch=False)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems: list[str] = []
        tab.on("pageerror", lambda error: problems.append(str(error)))
        tab.base = base  # type: ignore[attr-defined]
        tab.problems = problems  # type: ignore[attr-defined]
        yield tab
        browser.close()
    server.shutdown()
    server.server_close()
    thread.join()


def settle(page) -> dict:
    """Wait until the page has no request in flight; the last answer."""
    page.wait_for_function(IDLE, timeout=0)
    return page.evaluate("explorer.last")


def open_at(page, hash_: str) -> dict:
    page.goto(page.base + hash_)
    return settle(page)


def move_lr(page, lr: float) -> dict:
    page.locator("#lr").fill(str(GRID.index(lr)))
    page.wait_for_function(f"{IDLE} && explorer.last.settings.lr === {lr!r}", timeout=0)
    return settle(page)


def path_on_map(page) -> tuple[list[float], list[float]]:
    """The current run's path as drawn on the map (its trace's x and y)."""
    return page.evaluate(
        """() => { const t = document.getElementById('map').data
                     .find((d) => d.name && d.name.includes('η =') && !d.name.startsWith('pinned'));
                   return [t.x, t.y]; }"""
    )


def shown(page, key: str):
    return json.loads(page.get_attribute(f'#numbers dd[data-key="{key}"]', "data-value"))


def test_valley_bounces_at_1e_2_and_crawls_at_1e_7(page):
    open_at(page, "#surface=valley&optimizer=gd&lr=0.01&steps=2000")
    w1, _ = path_on_map(page)
    late = w1[len(w1) // 2 :]
    # η·400 = 4 > 2: it bounces from wall to wall, w1 ≈ ±1.915, on both sides of the floor
    assert min(late) < -1.5 and max(late) > 1.5
    bounce = max(w1) - min(w1)

    move_lr(page, 1e-7)
    w1, w2 = path_on_map(page)
    assert all(b <= a for a, b in itertools.pairwise(w1))  # no bounce: w1 only comes down
    assert max(w1) - min(w1) < 0.05 * bounce  # and hardly moves: 0.08 against 4.9
    assert w2[-1] > 0.95 * w2[0]  # along the flat floor, nothing
    run = descend(surface("valley"), "gd", lr=1e-7, steps=2000)
    assert shown(page, "final") == run.final[0].tolist()  # descend's numbers, to the last bit
    assert shown(page, "distance_final") == float(run.distance[0])
    assert page.problems == []


def test_lecture_adagrad_on_pokemon_bursts_and_the_page_counts_them(page):
    open_at(page, "#surface=valley&optimizer=gd&lr=0.01&steps=2000")
    page.select_option("#surface", "pokemon")
    settle(page)
    page.select_option("#optimizer", "lecture-adagrad")
    settle(page)
    page.locator("#steps").fill("10000")
    page.locator("#steps").dispatch_event("change")
    settle(page)
    answer = move_lr(page, 1.0)
    assert answer["settings"]["optimizer"] == "lecture-adagrad"
    assert page.input_value("#magnitude") == "lecture-rms"  # the named optimizer filled σ in
    run = descend(surface("pokemon"), "lecture-adagrad", lr=1.0, steps=10_000)
    bursts = len(find_bursts(run))
    assert bursts > 0
    assert shown(page, "bursts") == bursts
    assert page.inner_text('#numbers dd[data-key="bursts"]') == str(bursts)
    assert shown(page, "final") == run.final[0].tolist()
    # σ_w is drawn, per parameter, with the step η/σ_i
    names = page.evaluate("document.getElementById('sigma').data.map((d) => d.name)")
    assert {"σ1^t", "σ2^t", "η^t/σ1^t", "η^t/σ2^t"} <= set(names)


def test_a_link_naming_only_the_optimizer_shows_its_m_and_sigma(page):
    open_at(page, "#surface=pokemon&optimizer=lecture-adagrad&lr=1&steps=100")
    assert page.input_value("#direction") == "gradient"
    assert page.input_value("#magnitude") == "lecture-rms"
    assert page.problems == []


def test_a_malformed_schedule_shows_the_servers_message(page):
    open_at(page, "#surface=valley&optimizer=gd&lr=0.01&steps=200")
    assert page.is_hidden("#error")
    page.locator("#schedule").fill("cosine:stepz=10")
    page.locator("#schedule").press("Enter")
    page.locator("#schedule").dispatch_event("change")
    page.wait_for_selector("#error:not([hidden])", timeout=0)
    text = page.inner_text("#error")
    assert "cosine has no parameter 'stepz'" in text and "Traceback" not in text
    page.locator("#schedule").fill("cosine:steps=200")
    page.locator("#schedule").dispatch_event("change")
    page.wait_for_selector("#error[hidden]", state="attached", timeout=0)
    assert settle(page)["settings"]["schedule"] == "cosine:steps=200"


def test_a_library_schedule_has_a_box_per_parameter(page):
    open_at(page, "#surface=valley&optimizer=gd&lr=0.01&steps=300")
    template = rules.choices()["schedules"]["warmup-cosine"]
    page.select_option("#schedule-name", template)
    settle(page)
    boxes = page.locator("#schedule-parameters input")
    keys = [boxes.nth(i).get_attribute("data-key") for i in range(boxes.count())]
    assert keys == ["warmup", "steps", "end"]  # the template's parameters, in its order
    page.locator('#schedule-parameters input[data-key="steps"]').fill("300")
    page.locator('#schedule-parameters input[data-key="steps"]').dispatch_event("change")
    spec = "warmup-cosine:warmup=100,steps=300,end=0"
    page.wait_for_function(f"{IDLE} && explorer.last.settings.schedule === {spec!r}", timeout=0)
    assert page.input_value("#schedule") == spec  # the spec follows the boxes
    assert page.input_value("#schedule-name") == template  # still named warmup-cosine
    run = descend(surface("valley"), "gd", lr=0.01, steps=300, schedule=from_spec(spec))
    assert shown(page, "final") == run.final[0].tolist()
    page.locator('#schedule-parameters input[data-key="warmup"]').fill("-5")  # out of range
    page.locator('#schedule-parameters input[data-key="warmup"]').dispatch_event("change")
    page.wait_for_selector("#error:not([hidden])", timeout=0)
    assert "warmup" in page.inner_text("#error")
    page.select_option("#schedule-name", "")  # constant: no boxes
    settle(page)
    assert page.locator("#schedule-parameters input").count() == 0
    assert page.problems == []


def test_copied_link_restores_the_same_state(page):
    open_at(page, "#preset=rmsprop")
    page.select_option("#magnitude", "torch-rmsprop")  # now a composition, no longer named
    settle(page)
    page.locator("#parameter-alpha").fill("0.5")
    page.locator("#parameter-alpha").dispatch_event("change")
    before = settle(page)
    page.click("#copy")
    link = page.input_value("#link")
    state = page.evaluate("explorer.state")
    assert state["optimizer"] == "" and state["parameters"]["alpha"] == 0.5
    page.goto("about:blank")
    page.goto(link)
    after = settle(page)
    assert page.evaluate("explorer.state") == state
    assert after["settings"] == before["settings"]
    assert after["numbers"] == before["numbers"]
    assert page.input_value("#magnitude") == "torch-rmsprop"


def test_pin_keeps_a_path_and_a_click_on_the_map_moves_the_start(page):
    open_at(page, "#surface=valley&optimizer=gd&lr=0.01&steps=300")
    page.click("#pin")
    move_lr(page, GRID[GRID.index(1e-2) - 8])  # 1e-3
    names = page.evaluate("document.getElementById('map').data.map((d) => d.name)")
    assert sum(name.startswith("pinned") for name in names) == 1
    box = page.locator("#map .nsewdrag").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
    page.wait_for_function(f"{IDLE} && explorer.last.settings.start !== null", timeout=0)
    answer = settle(page)
    start = answer["settings"]["start"]
    assert -4 < start[0] < 0 and -2 < start[1] < 10  # the left half of the valley's window
    run = descend(surface("valley"), "gd", lr=GRID[GRID.index(1e-2) - 8], steps=300, start=start)
    assert answer["numbers"]["final"] == run.final[0].tolist()
    assert answer["numbers"]["start"] == start


def test_downloads_the_figure_and_the_whole_run(page):
    open_at(page, "#surface=valley&optimizer=lecture-adagrad&lr=0.1&steps=300")
    with page.expect_download() as png:
        page.click("#png")
    assert png.value.suggested_filename.endswith(".png")
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as got:
        page.click("#json")
    document = json.loads(open(got.value.path(), encoding="utf-8").read())
    assert len(document["rows"]) == 301 and document["settings"]["steps"] == 300
    run = descend(surface("valley"), "lecture-adagrad", lr=0.1, steps=300)
    assert document["rows"][-1][1:3] == run.final[0].tolist()
    with page.expect_download() as got:
        page.click("#csv")
    lines = open(got.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith("t,theta1,theta2") and len(lines) == 302
