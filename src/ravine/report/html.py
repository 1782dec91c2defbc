"""The HTML report: one static page that teaches every claim the lecture makes, as measured here.

``write_report(results, out)`` writes ``out/index.html`` — self-contained (inline CSS, no
script, nothing fetched); figures are linked by paths relative to ``out``, so the folder can be
moved or zipped whole — and ``out/results.json``, the same results for programs. Both are
written atomically (:mod:`ravine.files`).

The page reads top to bottom as a student needs it: a headline that counts the claims held, held
in part and not held; a table of contents; a summary with one line per claim (its mark and the
first sentence of its verdict); then each claim folded in a ``<details>``: the claim, the
lecture's own words, the verdict, the figures with what to look at in them, the few numbers
that decided it (their threshold and why), the command that re-runs it, and — folded once more —
every measured number under its raw key (:mod:`.sections`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from ..files import write_text
from .result import HELD, NOT_HELD, NOT_RUN, OUTCOMES, PARTIAL, NotRun, Result, jsonable
from .sections import CSS, anchor, mark, prose, section, short_verdict, text

TITLE = "Tips for training: Adaptive Learning Rate — the lecture's claims, measured"
# θ_i^{t+1} ← θ_i^t − (η^t / σ_i^t) · m_i^t
RULE = (
    "θ<sub>i</sub><sup>t+1</sup> ← θ<sub>i</sub><sup>t</sup> − "
    "(η<sup>t</sup> / σ<sub>i</sub><sup>t</sup>) · m<sub>i</sub><sup>t</sup>"
)


def outcome_counts(results: Sequence[Result]) -> dict[str, int]:
    """How many claims held, held in part and did not hold: ``{"held": n, "partial": n,
    "not held": n}`` (every outcome present, zeros included)."""
    return {outcome: sum(r.outcome == outcome for r in results) for outcome in OUTCOMES}


def outcome_line(results: Sequence[Result], not_run: Sequence[NotRun] = ()) -> str:
    """ "11 held, 3 partial, 2 not held here": each outcome counted as it is, a partial one
    never as held; with experiments ``not_run``, "…, 4 not run"."""
    counts = outcome_counts(results)
    told = f"{counts[HELD]} held, {counts[PARTIAL]} partial, {counts[NOT_HELD]} not held here"
    return told + (f", {len(not_run)} {NOT_RUN}" if not_run else "")


def headline(results: Sequence[Result], not_run: Sequence[NotRun] = ()) -> str:
    """ "11 held, 3 partial, 2 not held here (16 claims)": :func:`outcome_line` and the
    number of claims, those not run included."""
    claims = len(results) + len(not_run)
    return f"{outcome_line(results, not_run)} ({claims} claim{'' if claims == 1 else 's'})"


def write_report(results: Sequence[Result], out: Path, not_run: Sequence[NotRun] = ()) -> Path:
    """Write ``out/index.html`` and ``out/results.json`` for ``results``; return index.html.

    ``results.json`` is ``{"reproduced": every claim reproduced, "outcomes": {"held": n,
    "partial": n, "not held": n}, "experiments": [...]}`` with each experiment's
    :meth:`Result.to_json`; numbers that are not finite (nan, ±inf) are written as null there,
    since JSON has no such numbers, and as ``nan``/``inf`` on the page. Experiments
    ``not_run`` (a run interrupted) have no outcome: they are counted under ``"not run"`` in
    ``outcomes`` and listed under ``"not_run"`` (name, title, why), and the run is not
    reproduced.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "reproduced": all(r.reproduced for r in results) and not not_run,
        "outcomes": outcome_counts(results),
        "experiments": [jsonable(r.to_json()) for r in results],
    }
    if not_run:
        document["outcomes"][NOT_RUN] = len(not_run)
        document["not_run"] = [asdict(missing) for missing in not_run]
    write_text(
        out / "results.json",
        json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
    )
    return write_text(out / "index.html", _page(results, out, not_run))


def _page(results: Sequence[Result], out: Path, not_run: Sequence[NotRun] = ()) -> str:
    counts = outcome_counts(results)
    tone = "held" if counts[HELD] == len(results) and not not_run else "mixed"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ravine — {text(TITLE)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{text(TITLE)}</h1>",
        f'<p id="headline" class="headline {tone}">{text(headline(results, not_run))}</p>',
        "</header>",
        _contents(results),
        _summary(results, not_run),
        '<h2 id="how-to-read">How to read this page</h2>',
        f'<p>Every optimizer the lecture names is one rule, <span class="rule">{RULE}</span>: a '
        "choice of the direction m, the magnitude σ and the schedule η<sup>t</sup>. Each claim "
        "below was run on this machine, and its verdict was computed from the numbers it "
        "measured: ✓ held, ◐ held in part, ✗ did not hold here — with the reason. Open a claim "
        "to see its figures, the numbers that decided it, and the command that runs it again "
        "with other values.</p>",
        '<h2 id="claims">The claims, one by one</h2>',
    ]
    parts.extend(section(result, number, out) for number, result in enumerate(results, start=1))
    parts += [
        '<h2 id="raw-numbers">Every number, for programs</h2>',
        '<p>All the measured numbers, unabridged, are in <a href="results.json">results.json</a>'
        " beside this page: <code>experiments[i].numbers</code> for the i-th claim, with its "
        "<code>outcome</code> and <code>evidence</code>, and the counts under "
        "<code>outcomes</code>.</p>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _contents(results: Sequence[Result]) -> str:
    """The table of contents: the page's parts, and the claims to read first — those that did
    not hold or held in part, where the page teaches most."""
    unheld = [
        f'<a href="#{anchor(r.name)}">{prose(r.title)}</a>' for r in results if r.outcome != HELD
    ]
    parts = [
        '<nav id="contents" aria-label="Contents">',
        "<h2>Contents</h2>",
        "<ol>",
        '<li><a href="#summary">Summary: every claim in one line</a></li>',
        '<li><a href="#how-to-read">How to read this page</a></li>',
        f'<li><a href="#claims">The claims, one by one</a> ({len(results)})</li>',
        '<li><a href="#raw-numbers">Every number, for programs (results.json)</a></li>',
        "</ol>",
    ]
    if unheld:
        parts.append(f"<p>Not held or held in part here: {' · '.join(unheld)}</p>")
    parts.append("</nav>")
    return "\n".join(parts)


def _summary(results: Sequence[Result], not_run: Sequence[NotRun] = ()) -> str:
    """One line per claim: its number, its title linked to its section, its mark and outcome,
    and the first sentence of its verdict, trimmed; then one per experiment not run, with
    why."""
    rows = [
        '<h2 id="summary">Summary</h2>',
        '<table id="verdicts" class="summary">',
        "<thead><tr><th>#</th><th>Claim</th><th>Here</th><th>In one sentence</th></tr></thead>",
        "<tbody>",
    ]
    for number, r in enumerate(results, start=1):
        rows.append(
            f'<tr class="{_css(r.outcome)}"><td class="count">{number}</td>'
            f'<td class="title"><a href="#{anchor(r.name)}">{prose(r.title)}</a></td>'
            f'<td class="outcome">{mark(r.outcome)}&nbsp;{text(r.outcome)}</td>'
            f'<td class="gist">{prose(short_verdict(r.verdict))}</td></tr>'
        )
    for missing in not_run:
        rows.append(
            f'<tr class="{_css(NOT_RUN)}"><td class="count">–</td>'
            f'<td class="title">{text(missing.title)}</td>'
            f'<td class="outcome">{text(NOT_RUN)}</td>'
            f'<td class="gist">{prose(missing.why)}</td></tr>'
        )
    rows += ["</tbody>", "</table>"]
    return "\n".join(rows)


def _css(outcome: str) -> str:
    return outcome.replace(" ", "-")
