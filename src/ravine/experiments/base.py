"""What an experiment is: a claim of the lecture, a run that measures it, and a verdict
computed from the measured numbers — never written in advance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Result:
    """One experiment's outcome.

    ``reproduced`` is computed from ``numbers`` by the experiment's own test of the claim;
    ``verdict`` says it in one sentence that quotes the numbers; ``figures`` are PNG files
    written under the output folder (paths relative to it); ``numbers`` must be JSON-able.
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


class Experiment(Protocol):
    """A module in ravine.experiments: NAME, TITLE, CLAIM and run()."""

    NAME: str
    TITLE: str
    CLAIM: str

    def run(self, out: Path, quick: bool = False) -> Result:
        """Run at full size (or reduced with ``quick``), write figures under ``out``."""
        ...
