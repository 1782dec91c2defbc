"""The report as a browser shows it: headless Chromium loads index.html from disk, every figure
decodes, the verdict table is there, everything linked lies inside the folder, and a
screenshot renders."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import pytest

from ravine.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not on PATH (.ci/run installs it: apt-get install -y chromium)",
)

# Only in the test's copy of the page: after load, record in the DOM which images decoded
# (complete and naturalWidth > 0) and the resolved URL of everything it links. The image with
# id="control" points at a missing file and must be reported as not loaded.
PROBE = """
<img id="control" src="no-such-figure.png" alt="control">
<script>
window.addEventListener("load", () => {
  const figures = [...document.images].filter((img) => img.id !== "control");
  const loaded = (img) => img.complete && img.naturalWidth > 0;
  document.body.dataset.figures = figures.length;
  document.body.dataset.loaded = figures.filter(loaded).length;
  document.body.dataset.control = loaded(document.getElementById("control"));
  document.body.dataset.urls = JSON.stringify(
    [...document.querySelectorAll("[src], [href]")]
      .filter((element) => element.id !== "control")
      .map((element) => element.src || element.href));
});
</script>
"""


def chromium(*arguments: str, profile: Path) -> str:
    """Run headless Chromium offline; its stdout (a dumped DOM, or nothing)."""
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


class Body(HTMLParser):
    """The <body> tag's attributes and the id of every table in the dumped DOM."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.body: dict[str, str] = {}
        self.tables: list[str] = []
        self.verdict_rows = 0
        self._in_verdicts = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "body":
            self.body = attributes
        elif tag == "table":
            self.tables.append(attributes.get("id", ""))
            self._in_verdicts = attributes.get("id") == "verdicts"
        elif tag == "tr" and self._in_verdicts:
            self.verdict_rows += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_verdicts = False


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, make_results):
    root = tmp_path_factory.mktemp("browser")
    out = root / "report"
    results = make_results(out)
    index = write_report(results, out)
    probe = out / "probe.html"  # beside index.html, so the relative figure paths hold
    probe.write_text(
        index.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    dom = chromium(
        "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(), profile=root / "profile-dom"
    )
    shot = root / "shot.png"
    chromium(
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        "--hide-scrollbars",
        index.as_uri(),
        profile=root / "profile-shot",
    )
    return out, results, Body(dom), shot


def test_every_figure_loaded(rendered):
    _, results, page, _ = rendered
    figures = sum(len(r.figures) for r in results)
    assert figures == 4
    assert page.body["data-figures"] == str(figures)
    assert page.body["data-loaded"] == str(figures)
    assert page.body["data-control"] == "false"  # a missing figure would have been caught


def test_verdict_table_is_present(rendered):
    _, results, page, _ = rendered
    assert "verdicts" in page.tables
    assert page.verdict_rows == 1 + len(results)  # header and one row per claim


def test_everything_linked_lies_inside_the_folder(rendered):
    out, _, page, _ = rendered
    urls = json.loads(page.body["data-urls"])
    assert len(urls) == 4 + 3  # the figures and the summary's links to the sections
    folder = out.as_uri() + "/"
    assert [url for url in urls if not url.startswith(folder)] == []


def test_screenshot_is_a_rendered_png(rendered):
    *_, shot = rendered
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2000, 1200)
    assert float(pixels[..., :3].std()) > 0.01  # not a blank page
