"""The HTML report: a headline that counts held, partial and not held honestly; a table of
contents; one summary line per claim; each claim folded with its captions, evidence and command;
raw keys only in the folded raw table; escaped text; results.json with the counts."""

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from ravine.report import Evidence, Result, jsonable, write_report
from ravine.report.html import headline, outcome_counts
from ravine.report.sections import flatten, short_verdict


class Page(HTMLParser):
    """Tags with their attributes; each table's rows as lists of cell texts; figure captions;
    the text outside every folded raw table; and, per claim section, what it holds."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.captions: list[str] = []
        self.outside_raw: list[str] = []
        self.sections: dict[str, list[str]] = {}  # section id → the tags inside it
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._raw = 0
        self._section: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if self._section is not None:
            self.sections[self._section].append(tag)
        classes = attributes.get("class", "").split()
        if tag == "section":
            self._section = attributes["id"]
            self.sections[self._section] = []
        elif tag == "details" and ("raw" in classes or self._raw):
            self._raw += 1
        elif tag == "figcaption":
            self._caption = []
        elif tag == "table":
            self._table = attributes.get("id") or attributes.get("class") or ""
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "figcaption":
            self.captions.append("".join(self._caption).strip())
            self._caption = None
        elif tag == "details" and self._raw:
            self._raw -= 1
        elif tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)
        if not self._raw:
            self.outside_raw.append(data)

    def all(self, tag):
        return [attributes for name, attributes in self.tags if name == tag]


@pytest.fixture
def report(tmp_path, make_results):
    out = tmp_path / "report"
    results = make_results(out)
    index = write_report(results, out)
    return out, results, index


def read(index) -> Page:
    return Page(index.read_text(encoding="utf-8"))


def test_writes_index_and_results_json(report):
    out, _, index = report
    assert index == out / "index.html"
    files = {p.name for p in out.iterdir() if p.is_file()}
    assert files == {"index.html", "results.json", "bursts.png"}


def test_text_is_escaped(report, hostile_text):
    _, _, index = report
    text = index.read_text(encoding="utf-8")
    assert "<script" not in text and "<b>bold" not in text
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;' in text
    page = read(index)
    assert hostile_text in page.tables["verdicts"][2][1]  # read back: the same text


def test_headline_counts_each_outcome_as_it_is(tmp_path, make_results):
    results = make_results(tmp_path)
    assert headline(results) == "2 held, 1 partial, 0 not held here (3 claims)"
    failing = make_results(tmp_path, all_reproduced=False)
    assert headline(failing) == "1 held, 1 partial, 1 not held here (3 claims)"
    assert outcome_counts(failing) == {"held": 1, "partial": 1, "not held": 1}
    index = write_report(failing, tmp_path / "failing")
    headline_tag = [a for a in read(index).all("p") if a.get("id") == "headline"]
    assert len(headline_tag) == 1
    assert "1 held, 1 partial, 1 not held here" in index.read_text(encoding="utf-8")


def test_summary_has_one_line_per_claim_linked_to_its_section(report):
    _, results, index = report
    page = read(index)
    header, *rows = page.tables["verdicts"]
    assert header == ["#", "Claim", "Here", "In one sentence"]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert [row[1] for row in rows] == [r.title for r in results]
    assert [row[2] for row in rows] == ["✓\xa0held", "✓\xa0held", "◐\xa0partial"]
    # the verdict's first sentence, its "Reproduced:" dropped
    assert rows[0][3] == "Loss flat (Δ = 1.2e-05) while ‖∇L‖ = 383 stays large."
    links = [a["href"] for a in page.all("a") if a["href"].startswith("#experiment-")]
    assert links[-3:] == [f"#{s}" for s in page.sections] and len(page.sections) == 3


def test_contents_link_to_parts_of_the_page(report):
    _, _, index = report
    page = read(index)
    assert [a.get("id") for a in page.all("nav")] == ["contents"]
    ids = {attributes["id"] for _, attributes in page.tags if "id" in attributes}
    hrefs = [a["href"] for a in page.all("a") if a["href"].startswith("#")]
    assert {"#summary", "#how-to-read", "#claims", "#raw-numbers"} <= set(hrefs)
    assert all(href[1:] in ids for href in hrefs)
    # the claim that held only in part is named in the contents, to read first
    assert (
        '<a href="#experiment-adagrad-bursts">Adagrad bursts</a>'
        in (index.read_text(encoding="utf-8").split("</nav>")[0])
    )


def test_each_claim_is_folded_with_its_teaching_parts(report):
    _, results, index = report
    page = read(index)
    text = index.read_text(encoding="utf-8")
    for tags in page.sections.values():
        assert tags[:2] == ["details", "summary"]  # folded, the heading visible
    assert text.count('<details class="claim') == len(results)
    assert "卡住 (stuck) ≠ 梯度很小 (small gradient)" in text  # the lecture's own words
    assert text.count('<blockquote class="lecture">') == 1  # only where the claim states one
    command = "ravine descend valley --optimizer gd --lr 1e-2 --steps 2000 --plot v.png"
    assert f'<pre class="command"><code>{command}</code></pre>' in text
    assert text.count('<pre class="command">') == 1
    # a claim on a surface also says how to open the explorer at its setting
    explore = '<pre class="command explore"><code>ravine explore --preset stuck</code></pre>'
    assert text.count(explore) == 1 and text.count('class="command explore"') == 1


def test_captions_say_what_to_look_at_never_the_file_name(report):
    _, _, index = report
    page = read(index)
    assert page.captions == [
        "Figure 1. The loss goes flat by step 50 while the gradient norm stays.",
        "Figure 2. Training stuck ≠ small gradient — figure 2 of 2.",
        f"Figure 1. {page.tables['verdicts'][2][1]} — figure 1 of 1.",
        "Figure 1. Each spike of the loss is one burst.",
    ]
    names = [unquote(img["src"]).rsplit("/", 1)[-1] for img in page.all("img")]
    for caption in page.captions:
        said = caption.split(". ", 1)[1]
        assert ".png" not in said and said not in names + [n.removesuffix(".png") for n in names]
    assert [img["alt"] for img in page.all("img")] == [c.split(". ", 1)[1] for c in page.captions]


def test_evidence_table_names_value_unit_threshold_why_and_mark(report):
    _, _, index = report
    header, *rows = read(index).tables["evidence"]
    assert header == ["Measured", "Value", "Needed", "Why that line", "Holds"]
    assert rows[0] == [
        "relative change of the loss, last half",
        "1.2e-05",
        "< 0.001",
        "a loss that moves by less than 0.1% looks flat on a curve",
        "✓",
    ]
    assert rows[1][1] == "383 × 1" and rows[1][4] == "✓"
    assert rows[2] == ["updates", "2,000 steps", "", "", "—"]  # context: decides nothing


def test_raw_keys_appear_only_in_the_folded_raw_table(report):
    _, results, index = report
    page = read(index)
    outside = "".join(page.outside_raw)
    keys = [key for r in results for key, _ in flatten(r.numbers)]
    dotted = [key for key in keys if "." in key or "[" in key]
    assert "loss.first" in dotted and "runs[1].lr" in dotted
    assert [key for key in dotted if key in outside] == []
    rows = dict(page.tables["numbers"][1:])  # the raw table is still all there, folded
    assert rows["loss.first"] == "1200.5"
    assert rows["runs[1].distance"] == "64.74"
    assert rows["gradient_norm"] == "[383, 384, 385, 386, 387, 388, 389, 390, …, 482] (100 values)"
    assert "results.json" in index.read_text(encoding="utf-8").split('<details class="raw">')[1]


def test_every_figure_is_an_img_with_a_path_relative_to_out(report):
    out, _, index = report
    page = read(index)
    sources = [img["src"] for img in page.all("img")]
    assert [unquote(s) for s in sources] == [
        "stuck/loss.png",
        "stuck/contour.png",
        "tiny lr/path.png",
        "bursts.png",
    ]
    assert all((out / unquote(s)).is_file() for s in sources)
    moved = out.parent / "moved"  # the folder moves with its figures
    shutil.move(out, moved)
    assert all((moved / unquote(s)).is_file() for s in sources)


def test_page_fetches_nothing(report):
    _, _, index = report
    page = read(index)
    assert [name for name, _ in page.tags if name in ("script", "link", "iframe")] == []
    styles = index.read_text(encoding="utf-8").split("<style>")[1].split("</style>")[0]
    assert "url(" not in styles and "@import" not in styles
    for _, attributes in page.tags:
        for key in ("src", "href"):
            value = attributes.get(key, "")
            assert "//" not in value and ":" not in value, value


def test_nan_is_shown_on_the_page_and_null_in_json(report):
    out, _, index = report
    assert ["ratio", "nan"] in read(index).tables["numbers"]
    found = json.loads((out / "results.json").read_text(), parse_constant=pytest.fail)
    assert found["experiments"][1]["numbers"]["ratio"] is None


@pytest.mark.parametrize("all_reproduced", [True, False])
def test_results_json_has_reproduced_and_the_counts(tmp_path, make_results, all_reproduced):
    out = tmp_path / "report"
    write_report(make_results(out, all_reproduced=all_reproduced), out)
    found = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert found["reproduced"] is all_reproduced
    held = 2 if all_reproduced else 1
    assert found["outcomes"] == {"held": held, "partial": 1, "not held": 2 - held}
    assert [e["outcome"] for e in found["experiments"]] == [
        "held",
        "held" if all_reproduced else "not held",
        "partial",
    ]
    assert found["experiments"][0]["figures"] == ["stuck/loss.png", "stuck/contour.png"]
    assert found["experiments"][0]["evidence"][2]["unit"] == "steps"
    assert found["experiments"][2]["seconds"] == 12.0


@pytest.mark.parametrize(
    ("verdict", "gist"),
    [
        ("Reproduced: the loss rose. It was 3.", "The loss rose."),
        ("Not reproduced here: at 1.5 steps. Next", "At 1.5 steps."),
        ("held (see e.g. the figure. Then) done. Next", "held (see e.g. the figure. Then) done."),
    ],
)
def test_short_verdict_is_the_first_sentence(verdict, gist):
    assert short_verdict(verdict) == gist


def test_short_verdict_drops_asides_then_cuts_outside_brackets():
    long = (
        "Reproduced: GD stopped at (b, w) = (-123.69, 2.483) and (0.96, 0.48) after 100,000 "
        "updates (flat means a change under 0.001 of the loss), still 64.7 from the minimum; "
        "it needs about 8.3e+06 updates more to close 99% of the way, measured as the ratio "
        "of distances (2.1, 3.4, 5.6, 7.8, 9.9, 10.1, 11.3, 12.4, 13.5, 14.6, 15.7)"
    )
    gist = short_verdict(long)
    assert gist.startswith("GD stopped at (b, w) = (-123.69, 2.483) and (0.96, 0.48) after")
    assert "flat means" not in gist
    assert gist.endswith(" …") and len(gist) <= 182
    assert gist.count("(") == gist.count(")")  # never cut inside brackets


def test_jsonable_turns_tuples_tensors_and_non_finite_numbers_into_json():
    import numpy as np
    import torch

    value = {"pair": (1, 2.5), "t": torch.tensor([1.0, float("inf")]), "n": np.float64(0.25)}
    assert jsonable(value) == {"pair": [1, 2.5], "t": [1.0, None], "n": 0.25}
    assert jsonable({1: float("-inf")}) == {"1": None}


def test_powers_and_indices_in_the_words_are_raised_and_lowered_on_the_page(tmp_path):
    """A section's words show σ_i^t as σ<sub>i</sub><sup>t</sup>; the command that runs it
    again, the image's alt text, the raw numbers and results.json keep the caret."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "rate.png").write_bytes(b"\x89PNG")  # the page only links it
    result = Result(
        name="powers",
        title="A large η^t for a small σ_i^t",
        claim="The step is η^t/σ_i^t·m_i^t.",
        reproduced=True,
        verdict="Reproduced: chance passes 1 time in 2^seeds; η = 1.9/λ_max held.",
        numbers={"rate^t": 1.0},
        figures=[Path("rate.png")],
        lecture="θ_i^{t+1} ← θ_i^t − η·g_i^t",
        captions={"rate.png": "η^t = d_model^−0.5·warmup^−0.5 at the peak."},
        evidence=[Evidence("(1−β1^t)", 0.1, threshold="≤ 2^−3", why="β1^t → 0", holds=True)],
        command="ravine schedule 'noam(512, 4000)' --plot x^t.png",
    )
    page = write_report([result], out).read_text(encoding="utf-8")
    shown = (
        "A large η<sup>t</sup> for a small σ<sub>i</sub><sup>t</sup>",
        "The step is η<sup>t</sup>/σ<sub>i</sub><sup>t</sup>·m<sub>i</sub><sup>t</sup>.",
        "θ<sub>i</sub><sup>t+1</sup> ← θ<sub>i</sub><sup>t</sup> − η·g<sub>i</sub><sup>t</sup>",
        "1 time in 2<sup>seeds</sup>; η = 1.9/λ<sub>max</sub> held.",
        "η<sup>t</sup> = d_model<sup>−0.5</sup>·warmup<sup>−0.5</sup> at the peak.",
        "<td>(1−β1<sup>t</sup>)</td>",
        "<td>≤ 2<sup>−3</sup></td>",
        '<td class="why">β1<sup>t</sup> → 0</td>',
    )
    for words in shown:
        assert words in page
    assert "<code>ravine schedule 'noam(512, 4000)' --plot x^t.png</code>" in page
    assert 'alt="η^t = d_model^−0.5·warmup^−0.5 at the peak."' in page
    assert "<td>rate^t</td>" in page  # a raw key, as results.json has it
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["experiments"][0]["claim"] == "The step is η^t/σ_i^t·m_i^t."
