"""Math as the experiments' words write it in plain text, and as the report shows it.

The words (claims, captions, verdicts, evidence) stay plain text, as ``results.json`` and the
terminal show them: a power with a caret (``η^t``, ``θ^{t+1}``, ``d_model^−0.5``, ``2^seeds``)
and an index with an underscore (``σ_i``, ``λ_max``). The figures draw them with matplotlib's
mathtext (:func:`ravine.report.plots.superscripts`); the page with ``<sup>`` and ``<sub>``
(:func:`marked_up`). Both read a power by the one pattern here, :data:`POWER`.
"""

from __future__ import annotations

import re

# a power as the words write it: x^t, x^{t+1}, x^(…), x^⌊t/k⌋, x^−0.5 ("x ^ y", with spaces, is
# not one)
POWER = re.compile(r"\^(\{[^}]*\}|\([^)]*\)|⌊[^⌋]*⌋|[−-]?\w+(?:\.\w+)*)")
# an index as the words write it: one letter (with its accent or prime: x̃_i, y'_i) and up to
# four letters or digits after an underscore — σ_i, λ_max, η_best, g_B; names of several
# letters (d_model, step_num, warmup_steps) and parts of raw keys (burst_peak_w_error) are not
INDEX = re.compile(r"(?<![\w\u0300-\u036f'])([^\W\d_][\u0300-\u036f]*'?)_(\w{1,4})(?!\w)")
# an address, which is never marked up
ADDRESS = re.compile(r"https?://\S+")


def power(match: re.Match[str]) -> str:
    """A :data:`POWER` match's exponent, without the braces that group it (``{t+1}`` → ``t+1``);
    parentheses and floor brackets are kept, being part of what is read."""
    exponent = match.group(1)
    return exponent[1:-1] if exponent[0] + exponent[-1] == "{}" else exponent


def marked_up(escaped: str) -> str:
    """HTML text already escaped, with its powers raised (``η^t`` → ``η<sup>t</sup>``) and its
    indices lowered (``σ_i^t`` → ``σ<sub>i</sub><sup>t</sup>``); addresses are left as they are.
    """
    pieces = ADDRESS.split(escaped)
    addresses = ADDRESS.findall(escaped)
    shown = []
    for index, piece in enumerate(pieces):
        piece = INDEX.sub(r"\1<sub>\2</sub>", piece)
        shown.append(POWER.sub(lambda match: f"<sup>{power(match)}</sup>", piece))
        if index < len(addresses):
            shown.append(addresses[index])
    return "".join(shown)
