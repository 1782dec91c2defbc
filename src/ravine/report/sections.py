"""The parts of the report's page: one claim's folded section, and the short forms of its
verdict the summary shows.

A section is a ``<details>`` (folded, no script needed): its ``<summary>`` is the claim's
heading with its mark (✓ held, ◐ partial, ✗ not held); inside, the claim, the lecture's own
words, the verdict, the figures with their captions, the deciding numbers (:class:`Evidence`),
the command that re-runs it, and every measured number under its raw key, folded once more.
Raw dotted keys (``table[7].distance``) appear only in that last, folded table.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .notation import marked_up
from .result import HELD, NOT_HELD, PARTIAL, Evidence, Result

MARKS = {HELD: "✓", PARTIAL: "◐", NOT_HELD: "✗"}
# The summary's sentence is cut to about this many characters (two lines at the page's width).
GIST = 180
# How much of a list the raw numbers show: the first SHOWN items, then "…" and the last.
SHOWN = 8
# Lists of objects (e.g. one dict per learning rate) are flattened one object after another,
# up to this many.
ROWS_PER_LIST = 12

CSS = """
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK TC",
       "PingFang TC", "Microsoft JhengHei", sans-serif; color: #222;
       max-width: 1040px; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 1.55em; margin: 0 0 0.2em; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
a { color: #1f5fa8; }
.headline { font-size: 1.2em; font-weight: 600; margin: 0.3em 0 0.8em; }
.rule { font-family: "Cambria Math", "STIX Two Math", Georgia, serif; white-space: nowrap;
        background: #f6f8fa; padding: 0.1em 0.4em; border-radius: 4px; }
nav#contents { background: #f6f8fa; padding: 0.2em 1em 0.4em; border-radius: 6px; }
nav#contents h2 { border: 0; margin-top: 0.4em; font-size: 1.05em; }
nav#contents ol { margin: 0.2em 0; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.summary td.count { color: #777; text-align: right; }
table.summary td.outcome { white-space: nowrap; font-weight: 600; }
table.summary td.gist { font-size: 0.92em; color: #333; }
.held .outcome, .mark.held, .verdict.held { color: #1a7f37; }
.partial .outcome, .mark.partial, .verdict.partial { color: #9a6700; }
.not-held .outcome, .mark.not-held, .verdict.not-held { color: #c0392b; }
details.claim { border: 1px solid #ddd; border-radius: 6px; margin: 0.6em 0;
                padding: 0.2em 1em; }
details.claim > summary { cursor: pointer; }
details.claim > summary h3 { display: inline; font-size: 1.1em; }
blockquote { margin: 0.6em 0; padding: 0.3em 1em; border-left: 4px solid #1f5fa8;
             background: #f3f7fc; }
blockquote.lecture { border-left-color: #9a6700; background: #fbf6ea; }
.verdict { padding: 0.5em 0.8em; border-radius: 4px; background: #f6f8fa; }
.verdict.held { background: #eaf6ec; } .verdict.partial { background: #fdf5e1; }
.verdict.not-held { background: #fbeceb; }
.verdict span.text { color: #222; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.95em; color: #333; max-width: 52em; }
figcaption .place { color: #777; }
td.value { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.9em;
           white-space: nowrap; }
td.why { font-size: 0.9em; color: #444; }
td.mark { text-align: center; }
pre.command { background: #1e1e1e; color: #f0f0f0; padding: 0.6em 0.9em; border-radius: 4px;
              overflow-x: auto; }
pre.command code { user-select: all; -webkit-user-select: all; }
details.raw { margin: 0.8em 0; } details.raw > summary { cursor: pointer; color: #555; }
table.numbers td { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace;
                   font-size: 0.85em; }
.missing { color: #c0392b; font-style: italic; }
.seconds { color: #777; font-size: 0.9em; }
"""


def section(result: Result, number: int, out: Path) -> str:
    """One claim, folded: ``<section id=…><details><summary>`` its numbered heading with its
    mark, and inside everything that teaches it."""
    outcome = result.outcome.replace(" ", "-")
    figures = len(result.figures)
    parts = [
        f'<section id="{attribute(anchor(result.name))}">',
        f'<details class="claim {outcome}">',
        f'<summary><h3><span class="mark {outcome}">{mark(result.outcome)}</span> {number}. '
        f"{prose(result.title)}</h3></summary>",
        f"<blockquote><strong>Claim.</strong> {prose(result.claim)}</blockquote>",
    ]
    if result.lecture:
        parts.append(
            '<blockquote class="lecture"><strong>The lecture says.</strong> '
            f"{prose(result.lecture)}</blockquote>"
        )
    parts.append(
        f'<p class="verdict {outcome}"><strong>{mark(result.outcome)} {text(result.outcome)} '
        f'here.</strong> <span class="text">{prose(result.verdict)}</span> '
        f'<span class="seconds">({result.seconds:.1f} s)</span></p>'
    )
    parts.extend(
        _figure(result, figure, place, figures, out)
        for place, figure in enumerate(result.figures, start=1)
    )
    if result.evidence:
        parts.append(_evidence(result.evidence))
    if result.explore:
        parts.append("<h4>Explore this: change η, m, σ and the schedule in the browser</h4>")
        parts.append(f'<pre class="command explore"><code>{text(result.explore)}</code></pre>')
    if result.command:
        parts.append("<h4>Run it yourself, with other values</h4>")
        parts.append(f'<pre class="command"><code>{text(result.command)}</code></pre>')
    parts.append(_raw_numbers(result, number))
    parts += ["</details>", "</section>"]
    return "\n".join(parts)


def caption(result: Result, figure: Path, place: int, count: int) -> str:
    """What to look at in ``figure``: the experiment's caption for it (by its path relative to
    the output folder, or its file name), else one built from the claim's title and the figure's
    place — never the file name alone."""
    for key in (figure.as_posix(), figure.name, figure.stem):
        if result.captions.get(key):
            return result.captions[key]
    return f"{result.title} — figure {place} of {count}."


def short_verdict(verdict: str) -> str:
    """The verdict's first sentence, for the summary: its "Reproduced:" opening dropped (the mark
    says it); past GIST characters, asides in parentheses dropped, then cut at the last clause
    (";", " — ", ",") or word that fits, with "…"."""
    sentence = _first_sentence(verdict.strip())
    opening = re.match(
        r"(?:not |partly |partially )?reproduced[^:]{0,30}:\s*", sentence, flags=re.IGNORECASE
    )
    if opening:  # the mark says it; the sentence begins after it, with a capital
        sentence = sentence[opening.end() :]
        sentence = sentence[:1].upper() + sentence[1:]
    if len(sentence) > GIST:
        sentence = _without_asides(sentence)
    if len(sentence) <= GIST:
        return sentence
    head = sentence[:GIST]
    outside = _outside_brackets(head)
    for stop in ("; ", " — ", ", ", " "):
        cuts = [i for i in range(GIST // 2, len(head)) if head.startswith(stop, i) and outside[i]]
        if cuts:
            return head[: cuts[-1]].rstrip(" ,;—") + " …"
    return head.rstrip() + " …"


def _outside_brackets(sentence: str) -> list[bool]:
    """For each character of ``sentence``, whether it stands outside every bracket."""
    depth, outside = 0, []
    for char in sentence:
        depth += char in "([{"
        outside.append(depth <= 0)
        depth -= char in ")]}"
    return outside


def _first_sentence(verdict: str) -> str:
    """Up to the first full stop outside brackets that is followed by a space and a capital."""
    depth = 0
    for index, char in enumerate(verdict):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "." and depth <= 0 and re.match(r"\s+[A-Z]", verdict[index + 1 : index + 3]):
            return verdict[: index + 1]
    return verdict


def _without_asides(sentence: str) -> str:
    """``sentence`` without its asides: parentheses after a space that hold a word of three or
    more letters ("(flat means < 0.001)"), not those that hold numbers or symbols ("(0.96, 0.48)",
    "(w, b) = …")."""
    pattern = re.compile(r" \((?:[^()]|\([^()]*\))*\)")

    def drop(match: re.Match[str]) -> str:
        inner = match.group(0)
        after = sentence[match.end() : match.end() + 2].strip()
        keep = not re.search(r"[^\W\d_]{3,}", inner) or after.startswith("=")
        return inner if keep else ""

    return pattern.sub(drop, sentence)


def _figure(result: Result, figure: Path | str, place: int, count: int, out: Path) -> str:
    """``<figure>`` with the PNG by its path relative to ``out`` (URL-quoted) and its caption."""
    relative = _relative(Path(figure), out)
    said = caption(result, relative, place, count)
    if not (out / relative).is_file():
        return f'<p class="missing">Figure {place} of this claim was not written.</p>'
    return (
        f'<figure><img src="{attribute(quote(relative.as_posix()))}" alt="{attribute(said)}" '
        f'loading="lazy"><figcaption><span class="place">Figure {place}.</span> {prose(said)}'
        "</figcaption></figure>"
    )


def _relative(figure: Path, out: Path) -> Path:
    """A figure's path relative to ``out`` (experiments give it so; an absolute one is made
    relative, with ``..`` if it lies outside ``out``)."""
    if not figure.is_absolute():
        return figure
    return Path(os.path.relpath(figure.resolve(), out.resolve()))


def _evidence(evidence: list[Evidence]) -> str:
    """The numbers that decided the verdict: name, value with its unit, the line it is held
    against, why that line, and whether it is on the claim's side (— : context only)."""
    rows = [
        "<h4>The numbers that decide it</h4>",
        '<table class="evidence"><thead><tr><th>Measured</th><th>Value</th><th>Needed</th>'
        "<th>Why that line</th><th>Holds</th></tr></thead><tbody>",
    ]
    for e in evidence:
        state = {True: ("✓", "held"), False: ("✗", "not-held"), None: ("—", "context")}[e.holds]
        value = f"{_value(e.value)} {e.unit}".strip()
        rows.append(
            f'<tr class="{state[1]}"><td>{prose(e.name)}</td><td class="value">{prose(value)}</td>'
            f'<td>{prose(e.threshold)}</td><td class="why">{prose(e.why)}</td>'
            f'<td class="mark {state[1]}">{state[0]}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _value(value: Any) -> str:
    """A measured value as a student reads it: 4 significant digits, thousands separated."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.4g}"
    return shown(value)


def _raw_numbers(result: Result, number: int) -> str:
    """Every measured number under its raw key, folded, pointing to results.json."""
    measured = list(flatten(result.numbers))
    rows = [
        '<details class="raw">',
        f"<summary>All {len(measured)} measured numbers, under their raw keys</summary>",
        f'<p>As in <a href="results.json">results.json</a>, '
        f"<code>experiments[{number - 1}].numbers</code>, where long lists are given whole.</p>",
    ]
    if measured:
        rows.append('<table class="numbers"><thead><tr><th>Key</th><th>Value</th></tr>')
        rows.append("</thead><tbody>")
        rows.extend(
            f"<tr><td>{text(key)}</td><td>{text(value)}</td></tr>" for key, value in measured
        )
        rows.append("</tbody></table>")
    rows.append("</details>")
    return "\n".join(rows)


def flatten(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(name, shown value) rows: dicts by dotted keys, lists of objects by ``[i]``, lists of
    numbers on one row, truncated to the first SHOWN items, "…" and the last."""
    if isinstance(value, dict):
        if not value:
            yield key, "{}"
        for name, item in value.items():
            yield from flatten(item, f"{key}.{name}" if key else str(name))
    elif _is_list(value) and value and all(isinstance(item, dict) for item in value):
        for index, item in enumerate(value[:ROWS_PER_LIST]):
            yield from flatten(item, f"{key}[{index}]")
        if len(value) > ROWS_PER_LIST:
            yield f"{key}[{ROWS_PER_LIST}…{len(value) - 1}]", f"… ({len(value)} entries in all)"
    else:
        yield key, shown(value)


def shown(value: Any) -> str:
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
            head = [*(shown(v) for v in items[:SHOWN]), "…", shown(items[-1])]
            return f"[{', '.join(head)}] ({len(items)} values)"
        return f"[{', '.join(shown(v) for v in items)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def mark(outcome: str) -> str:
    """✓ held, ◐ partial, ✗ not held."""
    return MARKS[outcome]


def anchor(name: str) -> str:
    """The id of a claim's section: ``experiment-`` and its name, letters, digits, - and _."""
    return "experiment-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def text(value: Any) -> str:
    """``value`` as HTML text, escaped."""
    return html.escape(str(value), quote=False)


def prose(value: Any) -> str:
    """``value``, words a student reads, as HTML text: escaped, with its powers and indices as
    superscripts and subscripts (``σ_i^t`` → ``σ<sub>i</sub><sup>t</sup>``,
    :func:`.notation.marked_up`). Commands, raw keys and attributes stay :func:`text`."""
    return marked_up(text(value))


def attribute(value: Any) -> str:
    """``value`` as an HTML attribute's value, escaped (quotes too)."""
    return html.escape(str(value), quote=True)
