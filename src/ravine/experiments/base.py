"""What an experiment is: a claim of the lecture, a run that measures it, and a verdict
computed from the measured numbers — never written in advance."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..report.result import Result


class Experiment(Protocol):
    """A module in ravine.experiments: NAME, TITLE, CLAIM and run()."""

    NAME: str
    TITLE: str
    CLAIM: str

    def run(self, out: Path, quick: bool = False) -> Result:
        """Run at full size (or reduced with ``quick``), write figures under ``out``."""
        ...
