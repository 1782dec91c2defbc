"""What an experiment hands to the report: :class:`Result`, and :func:`jsonable`, which turns
its numbers into plain JSON.

The report layer owns this type because it is what the report reads; the experiments, one
layer up, build it (:func:`ravine.experiments.base.conclude`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Result:
    """One experiment's outcome.

    ``reproduced`` is computed from ``numbers`` by the experiment's own test of the claim;
    ``verdict`` says it in one sentence that quotes the numbers; ``figures`` are PNG files
    written under the output folder (paths relative to it); ``numbers`` must be JSON-able;
    ``seconds`` is the wall time of the run, in seconds.
    """

    name: str
    title: str
    claim: str
    reproduced: bool
    verdict: str
    numbers: dict[str, Any]
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0

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
