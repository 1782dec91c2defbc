"""The HTML report: one static page for every experiment's claim, figures, numbers and verdict.

``write_report(results, out)`` writes ``out/index.html`` — self-contained (inline CSS, no
script, nothing fetched); figures are linked by paths relative to ``out``, so the folder can be
moved or zipped whole — and ``out/results.json``, the same results for programs. Both are
written atomically (:mod:`.files`).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..files import write_text
from .result import Result, jsonable

TITLE = "Tips for training: Adaptive Learning Rate — the lecture's claims, measured"
# θ_i^{t+1} ← θ_i^t − (η^t / σ_i^t) · m_i^t
RULE = (
    "θ<sub>i</sub><sup>t+1</sup> ← θ<sub>i</sub><sup>t</sup> − "
    "(η<sup>t</sup> / σ<sub>i</sub><sup>t</sup>) · m<sub>i</sub><sup>t</sup>"
)

# How much of a list the numbers table shows: the first SHOWN items, then "…" and the last.
SHOWN = 8
# Lists of objects (e.g. one dict per learning rate) are flattened one object after another,
# up to this many.
ROWS_PER_LIST = 12

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2.2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.rule { font-size: 1.2em; font-family: "Cambria Math", "STIX Two Math", Georgia, serif;
        background: #f6f8fa; padding: 0.4em 0.8em; display: inline-block; border-radius: 4px; }
.overall { font-weight: 600; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.number { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.9em; }
td.seconds { text-align: right; font-variant-numeric: tabular-nums; }
.mark.ok, .overall.ok, .verdict.ok { color: #1a7f37; }
.mark.fail, .overall.fail, .verdict.fail { color: #c0392b; }
td.mark { text-align: center; font-size: 1.2em; }
blockquote { margin: 0.6em 0; padding: 0.3em 1em; border-left: 4px solid #1f5fa8;
             background: #f3f7fc; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #666; }
.verdict { padding: 0.5em 0.8em; border-radius: 4px; }
.verdict.ok { background: #eaf6ec; } .verdict.fail { background: #fbeceb; }
.missing { color: #c0392b; font-style: italic; }
"""


def write_report(results: Sequence[Result], out: Path) -> Path:
    """Write ``out/index.html`` and ``out/results.json`` for ``results``; return index.html.

    ``results.json`` is ``{"reproduced": every claim reproduced, "experiments": [...]}`` with
    each experiment's :meth:`Result.to_json`; numbers that are not finite (nan, ±inf) are
    written as null there, since JSON has no such numbers, and as ``nan``/``inf`` on the page.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reproduced = all(r.reproduced for r in results)
    document = {
        "reproduced": reproduced,
        "experiments": [jsonable(r.to_json()) for r in results],
    }
    write_text(
        out / "results.json",
        json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
    )
    return write_text(out / "index.html", _page(results, out))


def _page(results: Sequence[Result], out: Path) -> str:
    passed = sum(r.reproduced for r in results)
    overall = "ok" if passed == len(results) else "fail"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ravine — {_text(TITLE)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_text(TITLE)}</h1>",
        f'<p class="rule">{RULE}</p>',
        "<p>Every optimizer is a choice of the direction m, the magnitude σ and the schedule "
        "η<sup>t</sup>. Each section below states a claim of the lecture, measures it, and "
        "computes the verdict from the measured numbers.</p>",
        f'<p class="overall {overall}">{passed} of {len(results)} claims reproduced.</p>',
        _summary(results),
    ]
    parts.extend(_section(result, out) for result in results)
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _summary(results: Sequence[Result]) -> str:
    """The table of verdicts: one line per claim, linked to its section."""
    table = [
        '<table id="verdicts">',
        "<thead><tr><th>Claim</th><th>Measured verdict</th><th>Reproduced</th>"
        "<th>Seconds</th></tr></thead>",
        "<tbody>",
    ]
    for r in results:
        table.append(
            f'<tr class="{_status(r)}">'
            f'<td><a href="#{_attribute(_anchor(r.name))}">{_text(r.title)}</a></td>'
            f"<td>{_text(r.verdict)}</td>"
            f'<td class="mark {_status(r)}">{_mark(r)}</td>'
            f'<td class="seconds">{r.seconds:.1f}</td></tr>'
        )
    table += ["</tbody>", "</table>"]
    return "\n".join(table)


def _section(result: Result, out: Path) -> str:
    parts = [
        f'<section id="{_attribute(_anchor(result.name))}">',
        f"<h2>{_mark(result)} {_text(result.title)}</h2>",
        f"<blockquote><strong>Claim.</strong> {_text(result.claim)}</blockquote>",
    ]
    parts.extend(_figure(result, figure, out) for figure in result.figures)
    measured = list(_flatten(result.numbers))
    if measured:
        parts.append('<table class="numbers"><thead><tr><th>Measured</th><th>Value</th></tr>')
        parts.append("</thead><tbody>")
        parts.extend(
            f'<tr><td>{_text(key)}</td><td class="number">{_text(value)}</td></tr>'
            for key, value in measured
        )
        parts.append("</tbody></table>")
    parts.append(
        f'<p class="verdict {_status(result)}"><strong>{_mark(result)}</strong> '
        f"{_text(result.verdict)} <small>({result.seconds:.1f} s)</small></p>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _figure(result: Result, figure: Path | str, out: Path) -> str:
    """``<figure>`` with the PNG by its path relative to ``out`` (URL-quoted)."""
    relative = _relative(Path(figure), out)
    alt = f"{result.title}: {relative.stem.replace('_', ' ').replace('-', ' ')}"
    if not (out / relative).is_file():
        return f'<p class="missing">figure {_text(relative.as_posix())} was not written</p>'
    return (
        f'<figure><img src="{_attribute(quote(relative.as_posix()))}" alt="{_attribute(alt)}">'
        f"<figcaption>{_text(relative.name)}</figcaption></figure>"
    )


def _relative(figure: Path, out: Path) -> Path:
    """A figure's path relative to ``out`` (experiments give it so; an absolute one is made
    relative, with ``..`` if it lies outside ``out``)."""
    if not figure.is_absolute():
        return figure
    return Path(os.path.relpath(figure.resolve(), out.resolve()))


def _flatten(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(name, shown value) rows: dicts by dotted keys, lists of objects by ``[i]``, lists of
    numbers on one row, truncated to the first SHOWN items, "…" and the last."""
    if isinstance(value, dict):
        if not value:
            yield key, "{}"
        for name, item in value.items():
            yield from _flatten(item, f"{key}.{name}" if key else str(name))
    elif _is_list(value) and value and all(isinstance(item, dict) for item in value):
        for index, item in enumerate(value[:ROWS_PER_LIST]):
            yield from _flatten(item, f"{key}[{index}]")
        if len(value) > ROWS_PER_LIST:
            yield f"{key}[{ROWS_PER_LIST}…{len(value) - 1}]", f"… ({len(value)} entries in all)"
    else:
        yield key, _shown(value)


def _shown(value: Any) -> str:
    """A JSON value in a line: numbers to 6 significant digits, long lists truncated."""
    if hasattr(value, "tolist"):  # numpy and torch values
        value = value.tolist()
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int, str)):
        return str(value)
    if _is_list(value):
        items = list(value)
        if len(items) > SHOWN + 1:
            shown = [*(_shown(v) for v in items[:SHOWN]), "…", _shown(items[-1])]
            return f"[{', '.join(shown)}] ({len(items)} values)"
        return f"[{', '.join(_shown(v) for v in items)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _status(result: Result) -> str:
    return "ok" if result.reproduced else "fail"


def _mark(result: Result) -> str:
    return "✓" if result.reproduced else "✗"


def _anchor(name: str) -> str:
    return "experiment-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def _text(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _attribute(value: Any) -> str:
    return html.escape(str(value), quote=True)
