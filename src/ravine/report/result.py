"""What an experiment hands to the report: :class:`Result`, and :func:`jsonable`, which turns
its numbers into plain JSON.

The report layer owns this type because it is what the report reads; the experiments, one
layer up, build it (:func:`ravine.experiments.base.conclude`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# What a claim's run showed: it held here, held in part (some of its rows, or under some of
# its conditions), or did not hold here.
HELD, PARTIAL, NOT_HELD = "held", "partial", "not held"
OUTCOMES = (HELD, PARTIAL, NOT_HELD)
# A claim of the run with no outcome at all: its experiment was not run (an interruption).
NOT_RUN = "not run"


@dataclass(frozen=True)
class NotRun:
    """An experiment that was asked for but has no result: its ``name`` and ``title``, and
    ``why`` it was not run (e.g. "the run was interrupted before it started")."""

    name: str
    title: str
    why: str


@dataclass(frozen=True)
class Evidence:
    """One number that decides a verdict, as a student reads it.

    ``name`` in words ("steps to reach the minimum"), ``value`` as measured, ``unit`` ("steps",
    "× η", "" for a pure number), ``threshold`` the line it is held against in words ("< 0.5",
    "shorter than Adagrad's"), ``why`` the reason for that line, and ``holds`` whether this
    number is on the claim's side of it (None: shown for context, decides nothing).
    """

    name: str
    value: Any
    unit: str = ""
    threshold: str = ""
    why: str = ""
    holds: bool | None = None


@dataclass
class Result:
    """One experiment's outcome.

    ``reproduced`` is computed from ``numbers`` by the experiment's own test of the claim;
    ``outcome`` is :data:`HELD`, :data:`PARTIAL` or :data:`NOT_HELD` (by default held when
    reproduced, else not held); ``verdict`` says it in one sentence that quotes the numbers;
    ``figures`` are PNG files written under the output folder (paths relative to it);
    ``numbers`` must be JSON-able; ``seconds`` is the wall time of the run, in seconds.

    For the page that teaches: ``lecture`` is the lecture's statement with its own terms
    (e.g. "卡住 (stuck)"), ``captions`` says what to look at in each figure (by file name),
    ``evidence`` lists the numbers that decide the verdict (:class:`Evidence`), and ``command``
    is the one command line that re-runs the claim's setting with other values; ``explore``,
    for a claim on an error surface, the command that opens the explorer at its setting.
    """

    name: str
    title: str
    claim: str
    reproduced: bool
    verdict: str
    numbers: dict[str, Any]
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    outcome: str = ""
    lecture: str = ""
    captions: dict[str, str] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    command: str = ""
    explore: str = ""

    def __post_init__(self) -> None:
        if not self.outcome:
            self.outcome = HELD if self.reproduced else NOT_HELD
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")

    def to_json(self) -> dict[str, Any]:
        """The fields as a dict (figures as text, seconds to the millisecond)."""
        return {
            "name": self.name,
            "title": self.title,
            "claim": self.claim,
            "reproduced": self.reproduced,
            "verdict": self.verdict,
            "numbers": self.numbers,
            "figures": [str(f) for f in self.figures],
            "seconds": round(self.seconds, 3),
            "outcome": self.outcome,
            "lecture": self.lecture,
            "captions": dict(self.captions),
            "evidence": [asdict(e) for e in self.evidence],
            "command": self.command,
            "explore": self.explore,
        }


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: tuples → lists, numpy/torch values → numbers or lists, paths →
    text, non-finite floats → None; anything else unknown → its ``str``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return jsonable(value.tolist())
    return str(value)
