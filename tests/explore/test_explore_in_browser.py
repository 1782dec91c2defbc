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
    """Open the page at these settings, no pins left from before (a change of the hash alone
    keeps the page, and its pins)."""
    page.goto(page.base + hash_)
    answer = settle(page)
    page.click("#unpin")
    return answer


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
    assert {"σ<sub>1</sub><sup>t</sup>", "σ<sub>2</sub><sup>t</sup>"} <= set(names)
    assert {
        "η<sup>t</sup>/σ<sub>1</sub><sup>t</sup>",
        "η<sup>t</sup>/σ<sub>2</sub><sup>t</sup>",
    } <= set(names)
    assert not any("^" in name for name in names)


def test_the_saddle_map_stars_its_minima_and_crosses_its_saddle_point(page):
    """GD from (1.5, 0) slides into the saddle point: √2 from the nearest minimum, never
    within the tolerance; the stars stand on (0, ±√2), the saddle point is crossed."""
    open_at(page, "#preset=saddle-escape")
    markers = page.evaluate(
        """() => Object.fromEntries(document.getElementById('map').data
                 .filter((d) => d.mode === 'markers')
                 .map((d) => [d.name, [d.x, d.y, d.marker.symbol]]))"""
    )
    root = 2**0.5
    assert markers["minima θ*"] == [[0, 0], [root, -root], "star"]
    assert markers["saddle point"] == [[0], [0], "x"]
    assert shown(page, "distance_final") == pytest.approx(root, rel=1e-15)
    assert shown(page, "steps_to_within") is None and shown(page, "bursts") == 0
    open_at(page, "#surface=valley&optimizer=gd&lr=0.01&steps=10")
    names = page.evaluate("document.getElementById('map').data.map((d) => d.name)")
    assert "minimum θ*" in names and "saddle point" not in names
    assert page.problems == []


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


def map_traces(page) -> list[dict]:
    return page.evaluate(
        "document.getElementById('map').data.map((d) => ({name: d.name, marker: d.marker}))"
    )


def refused(page) -> str:
    """Wait until the page has refused the settings; the message it shows."""
    page.wait_for_function(f"{IDLE} && document.body.dataset.stale === '1'", timeout=0)
    return page.inner_text("#error")


def change(page, selector: str, text: str) -> None:
    page.locator(selector).fill(text)
    page.locator(selector).dispatch_event("change")


def test_a_refused_setting_keeps_the_drawn_runs_label_and_pins_that_run(page):
    open_at(page, "#surface=valley&optimizer=gd&lr=0.01&steps=200")
    change(page, "#schedule", "cosine")
    assert "cosine needs steps=" in refused(page)
    names = [t["name"] for t in map_traces(page)]
    assert "gd, η = 0.01 (last valid run)" in names  # its own label, not "· cosine"
    assert page.get_attribute("#numbers", "class") == "stale"
    page.click("#pin")
    pinned = [n for n in (t["name"] for t in map_traces(page)) if n.startswith("pinned")]
    assert pinned == ["pinned: gd, η = 0.01"]
    change(page, "#schedule", "cosine:steps=200")
    page.wait_for_function(f"{IDLE} && document.body.dataset.stale === ''", timeout=0)
    assert "gd, η = 0.01 · cosine:steps=200" in [t["name"] for t in map_traces(page)]
    assert page.is_hidden("#error") and page.get_attribute("#numbers", "class") == ""

    open_at(page, "#surface=valley&optimizer=adam&lr=0.01&steps=50")
    change(page, "#parameter-beta1", "1")
    assert refused(page) == "β1 must be in [0, 1), got 1.0"  # the control's name
    assert "adam, η = 0.01 (last valid run)" in [t["name"] for t in map_traces(page)]
    assert page.evaluate("explorer.last.settings.parameters.beta1") == 0.9
    assert page.problems == []


def test_an_empty_box_is_refused_in_the_page_without_a_request(page):
    open_at(page, "#surface=valley&optimizer=adam&lr=0.01&steps=50")
    sent: list[str] = []

    def record(request):
        if "/api/" in request.url:
            sent.append(request.url)

    page.on("request", record)
    try:
        for selector, message in [
            ("#parameter-beta2", "β2 needs a number"),
            ("#parameter-beta1", "β1 needs a number"),
            ("#steps", "N needs a whole number of steps"),
            ("#tolerance", "within needs a number in (0, 1]"),
        ]:
            change(page, selector, "")
            assert refused(page) == message
        page.wait_for_timeout(100)  # a request, had one been sent, would have started
    finally:
        page.remove_listener("request", record)
    assert sent == []
    state = page.evaluate("explorer.state")
    assert state["parameters"]["beta2"] == 0.999 and state["steps"] == 50  # not 0
    assert state["tolerance"] == rules.TOLERANCE


def test_pins_belong_to_their_surface_and_the_preset_menu_follows_the_settings(page):
    open_at(page, "#preset=rmsprop")
    assert page.input_value("#preset") == "rmsprop"
    page.click("#pin")
    page.select_option("#surface", "valley")
    settle(page)
    assert page.input_value("#preset") == ""  # no longer the preset's settings
    assert not any(t["name"].startswith("pinned") for t in map_traces(page))
    title = page.evaluate("document.getElementById('map').layout.title.text")
    assert "(1 pinned run on other surfaces not shown)" in title
    page.select_option("#surface", "crescent")
    settle(page)
    assert page.input_value("#preset") == "rmsprop"  # the preset's settings again
    change(page, "#steps", "300")
    page.wait_for_function(f"{IDLE} && explorer.last.settings.steps === 300", timeout=0)
    pinned = [t["name"] for t in map_traces(page) if t["name"].startswith("pinned")]
    assert pinned == ["pinned: lecture-rmsprop, η = 0.05, N = 600"]  # names what differs


def test_a_constant_step_size_is_drawn_on_a_readable_range(page):
    for lr, shown_as in [(0.01, "0.01"), (10.0, "10")]:
        open_at(page, f"#surface=valley&optimizer=gd&lr={lr}&steps=20")
        assert page.inner_text("#lr-value") == shown_as
        layout = page.evaluate("document.getElementById('sigma').layout")
        low, high = layout["yaxis2"]["range"]
        assert low == 0 and high == pytest.approx(1.2 * lr)  # not lr ± 1
        assert layout["yaxis"]["range"] == [0, 1.2]
        names = page.evaluate("document.getElementById('sigma').data.map((d) => d.name)")
        assert "σ = 1 (no adaptive σ)" in names
    start = next(t for t in map_traces(page) if t["name"] == "start θ⁰")
    assert start["marker"]["line"]["color"] not in ("#fff", "#ffffff", "white")
    assert page.problems == []


def test_log_axes_label_their_ticks_as_powers_of_ten(page):
    open_at(page, "#preset=saddle-escape")  # the loss falls from 1 to 1e-39: log axes
    layout = page.evaluate("document.getElementById('curves').layout")
    logs = [v for k, v in layout.items() if k.startswith("yaxis") and v.get("type") == "log"]
    assert logs and all(v["exponentformat"] == "power" for v in logs)  # not 10µ, 1n
    assert page.problems == []


def test_a_link_with_bad_values_says_so_in_the_controls_names(page):
    open_at(page, "#surface=valley&optimizer=gd&lr=abc&start=a,b&steps=100")
    note = page.inner_text("#note")
    assert "η must be a number > 0, got 'abc'; η = 0.01 is used" in note
    assert "start θ⁰ must be two numbers θ1,θ2, got 'a,b'" in note
    assert page.inner_text("#lr-value") == "0.01"  # not NaN
    assert page.evaluate("explorer.last.settings.lr") == 0.01
    open_at(page, "#surface=valley&optimizer=gd&lr=1000&steps=5")
    assert page.inner_text("#lr-value") == "1000"  # not 1e+3
    assert page.is_hidden("#note")
    open_at(page, "#preset=nope")
    note = page.inner_text("#note")
    assert note.startswith("no preset 'nope'; valid: stuck, ")
    assert "rmsprop" in note and note.endswith("the defaults are shown")
    assert page.problems == []
