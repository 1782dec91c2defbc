"""The HTML report: escaped text, the verdict table, figures found by relative paths, and a
results.json whose ``reproduced`` is the AND of every claim."""

import json
import shutil
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest

from ravine.report import jsonable, write_report


class Page(HTMLParser):
    """Collects tags with their attributes, and each table's rows as lists of cell texts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
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

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def all(self, tag):
        return [attributes for name, attributes in self.tags if name == tag]


@pytest.fixture
def report(tmp_path, make_results):
    out = tmp_path / "report"
    results = make_results(out)
    index = write_report(results, out)
    return out, results, index


def test_writes_index_and_results_json(report):
    out, _, index = report
    assert index == out / "index.html"
    files = {p.name for p in out.iterdir() if p.is_file()}
    assert files == {"index.html", "results.json", "bursts.png"}


def test_text_is_escaped(report, hostile_text):
    _, _, index = report
    text = index.read_text(encoding="utf-8")
    assert "<script" not in text and "<b>bold" not in text
    escaped = "&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; 'quoted'"
    # title in the summary and its section, claim, verdict twice, and the label in the numbers
    assert text.count(escaped) == 6
    page = Page(text)
    assert hostile_text in page.tables["verdicts"][2][0]  # read back: the same text


def test_verdict_table_has_one_row_per_claim(report):
    _, results, index = report
    page = Page(index.read_text(encoding="utf-8"))
    header, *rows = page.tables["verdicts"]
    assert header == ["Claim", "Measured verdict", "Reproduced", "Seconds"]
    assert [row[0] for row in rows] == [r.title for r in results]
    assert [row[1] for row in rows] == [r.verdict for r in results]
    assert [row[2] for row in rows] == ["✓", "✓", "✓"]
    assert [row[3] for row in rows] == ["1.2", "0.5", "12.0"]
    assert "3 of 3 claims reproduced." in index.read_text(encoding="utf-8")
    # each title links to its own section
    links = [a["href"] for a in page.all("a")]
    sections = [s["id"] for s in page.all("section")]
    assert links == [f"#{s}" for s in sections] and len(sections) == 3


def test_every_figure_is_an_img_with_a_path_relative_to_out(report):
    out, _, index = report
    page = Page(index.read_text(encoding="utf-8"))
    sources = [img["src"] for img in page.all("img")]
    assert [unquote(s) for s in sources] == [
        "stuck/loss.png",
        "stuck/contour.png",
        "tiny lr/path.png",
        "bursts.png",
    ]
    assert all((out / unquote(s)).is_file() for s in sources)
    assert all(img["alt"] for img in page.all("img"))
    # the folder moves with its figures
    moved = out.parent / "moved"
    shutil.move(out, moved)
    assert all((moved / unquote(s)).is_file() for s in sources)


def test_page_fetches_nothing(report):
    _, _, index = report
    page = Page(index.read_text(encoding="utf-8"))
    assert [name for name, _ in page.tags if name in ("script", "link", "iframe")] == []
    styles = index.read_text(encoding="utf-8").split("<style>")[1].split("</style>")[0]
    assert "url(" not in styles and "@import" not in styles
    for _, attributes in page.tags:
        for key in ("src", "href"):
            value = attributes.get(key, "")
            assert "//" not in value and ":" not in value, value


def test_numbers_are_flattened_and_long_lists_truncated(report):
    _, _, index = report
    rows = dict(Page(index.read_text(encoding="utf-8")).tables["numbers"][1:])
    assert rows["loss.first"] == "1200.5"
    assert rows["loss.last"] == "3.25"
    assert rows["runs[1].lr"] == "1e-07"
    assert rows["runs[1].distance"] == "64.74"
    shown = rows["gradient_norm"]
    assert shown == "[383, 384, 385, 386, 387, 388, 389, 390, …, 482] (100 values)"


def test_nan_is_shown_on_the_page_and_null_in_json(report):
    out, _, index = report
    tables = Page(index.read_text(encoding="utf-8")).tables
    assert ["ratio", "nan"] in tables["numbers"]
    found = json.loads((out / "results.json").read_text(), parse_constant=pytest.fail)
    assert found["experiments"][1]["numbers"]["ratio"] is None


@pytest.mark.parametrize("all_reproduced", [True, False])
def test_results_json_reproduced_is_the_and_of_all(tmp_path, make_results, all_reproduced):
    out = tmp_path / "report"
    results = make_results(out, all_reproduced=all_reproduced)
    index = write_report(results, out)
    found = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert found["reproduced"] is all_reproduced
    assert [e["reproduced"] for e in found["experiments"]] == [True, all_reproduced, True]
    assert [e["name"] for e in found["experiments"]] == ["stuck", "tiny-lr", "adagrad-bursts"]
    assert found["experiments"][0]["figures"] == ["stuck/loss.png", "stuck/contour.png"]
    assert found["experiments"][0]["numbers"]["gradient_norm"][99] == 482.0
    assert found["experiments"][2]["seconds"] == 12.0
    rows = Page(index.read_text(encoding="utf-8")).tables["verdicts"][1:]
    assert rows[1][2] == ("✓" if all_reproduced else "✗")
    expected = "3 of 3" if all_reproduced else "2 of 3"
    assert f"{expected} claims reproduced." in index.read_text(encoding="utf-8")


def test_jsonable_turns_tuples_tensors_and_non_finite_numbers_into_json():
    import numpy as np
    import torch

    value = {"pair": (1, 2.5), "t": torch.tensor([1.0, float("inf")]), "n": np.float64(0.25)}
    assert jsonable(value) == {"pair": [1, 2.5], "t": [1.0, None], "n": 0.25}
    assert jsonable({1: float("-inf")}) == {"1": None}
