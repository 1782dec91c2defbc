"""The report as a browser shows it: headless Chromium loads index.html from disk, every figure
decodes and has a caption that is not its file name, the table of contents and the summary are
there, no raw dotted key shows outside the folded raw tables, everything linked lies inside the
folder, and a full-page screenshot renders."""

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


# The screenshot's height in pixels: tall enough for the whole page with every claim folded.
SCREEN = 2000


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
    """From the dumped DOM: the <body> tag's attributes, the ids of the tables and navs, the rows
    of the summary, the figure captions, and the text outside the folded raw tables."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.body: dict[str, str] = {}
        self.tables: list[str] = []
        self.navs: list[str] = []
        self.verdict_rows = 0
        self.captions: list[str] = []
        self.outside_raw: list[str] = []
        self._in_verdicts = False
        self._caption: list[str] | None = None
        self._raw = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "body":
            self.body = attributes
        elif tag == "nav":
            self.navs.append(attributes.get("id", ""))
        elif tag == "table":
            self.tables.append(attributes.get("id", ""))
            self._in_verdicts = attributes.get("id") == "verdicts"
        elif tag == "tr" and self._in_verdicts:
            self.verdict_rows += 1
        elif tag == "figcaption":
            self._caption = []
        elif tag == "details" and ("raw" in attributes.get("class", "").split() or self._raw):
            self._raw += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_verdicts = False
        elif tag == "figcaption":
            self.captions.append("".join(self._caption).strip())
            self._caption = None
        elif tag == "details" and self._raw:
            self._raw -= 1

    def handle_data(self, data):
        if self._caption is not None:
            self._caption.append(data)
        if not self._raw:
            self.outside_raw.append(data)


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
        f"--window-size=1200,{SCREEN}",
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


def test_contents_and_summary_are_present(rendered):
    _, results, page, _ = rendered
    assert page.navs == ["contents"]
    assert "verdicts" in page.tables
    assert page.verdict_rows == 1 + len(results)  # header and one row per claim


def test_every_figure_has_a_caption_that_is_not_its_file_name(rendered):
    _, results, page, _ = rendered
    assert len(page.captions) == sum(len(r.figures) for r in results)
    names = {Path(f).name for r in results for f in r.figures}
    for caption in page.captions:
        assert caption.startswith("Figure ") and ".png" not in caption
        assert caption.split(". ", 1)[1] not in names | {Path(n).stem for n in names}


def test_no_raw_key_shows_outside_the_folded_raw_tables(rendered):
    _, _, page, _ = rendered
    shown = "".join(page.outside_raw)
    for key in ("loss.first", "loss.last", "runs[0].lr", "runs[1].distance"):
        assert key not in shown


def test_everything_linked_lies_inside_the_folder(rendered):
    out, _, page, _ = rendered
    urls = json.loads(page.body["data-urls"])
    # the figures, the contents (4 parts, 1 claim held in part), the summary's and the
    # sections' links to results.json (3 + 3 + 1)
    assert len(urls) == 4 + 5 + 3 + 4
    folder = out.as_uri() + "/"
    assert [url for url in urls if not url.startswith(folder)] == []


def test_screenshot_is_a_rendered_png(rendered):
    *_, shot = rendered
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (SCREEN, 1200)
    assert float(pixels[..., :3].std()) > 0.01  # not a blank page
