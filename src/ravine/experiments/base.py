"""What an experiment is: a claim of the lecture, a run that measures it, and a verdict
computed from the measured numbers — never written in advance.

An experiment module states only what is its own — NAME, TITLE, CLAIM, ``holds(numbers)``
(its test of the claim), ``verdict(numbers, reproduced)`` (the sentence that quotes the
numbers) and ``run(out, quick)``, which measures and draws — and ends ``run`` with
``return conclude(__name__, numbers, figures)``, which assembles the :class:`Result`.

For the page that teaches, a module may also state (each optional):

- ``LECTURE``: the lecture's statement in its own terms, Chinese beside the English;
- ``COMMAND``: the one command line that re-runs the setting with other values;
- ``EXPLORE``: for a claim that lives on an error surface, its setting as the explorer takes it
  (``surface``, ``optimizer``, ``lr``, ``steps``, optionally ``parameters``, ``schedule`` and
  ``start``): ``ravine explore --preset NAME`` opens the explorer there, and the page says so;
- ``CAPTIONS``: figure file name → what to look at in it;
- ``evidence(numbers) -> list[Evidence]``: the numbers that decide the verdict, named;
- ``outcome(numbers) -> str``: held, partial or not held, where a claim can hold in part
  (default: held when ``holds``, else not held).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import torch

from ..report.result import HELD, NOT_HELD, PARTIAL, Evidence, Result

__all__ = [
    "MACHINE_THREADS",
    "OPENING",
    "Evidence",
    "Experiment",
    "Result",
    "conclude",
    "failure",
    "outcome_of",
    "torch_threads",
]

# torch's own count of intra-op threads, taken before any experiment sets one: the experiments
# run on one thread (:func:`ravine.experiments.run_all`); one that measures what threads buy
# (batch-size) asks for this many.
MACHINE_THREADS = torch.get_num_threads()

# How a verdict begins, by its outcome.
OPENING = {HELD: "Reproduced", PARTIAL: "Partly reproduced", NOT_HELD: "Not reproduced"}


def outcome_of(parts: Iterable[bool]) -> str:
    """A claim made of parts: held when every part holds, partial when some do, not held when
    none does."""
    shown = list(parts)
    return HELD if all(shown) else PARTIAL if any(shown) else NOT_HELD


class Experiment(Protocol):
    """A module in ravine.experiments: NAME, TITLE, CLAIM, holds(), verdict() and run()."""

    NAME: str
    TITLE: str
    CLAIM: str

    def holds(self, numbers: dict[str, Any]) -> bool:
        """Whether the measured ``numbers`` reproduce the claim."""
        ...

    def verdict(self, numbers: dict[str, Any], reproduced: bool) -> str:
        """One sentence that says whether the claim was reproduced, quoting ``numbers``."""
        ...

    def run(self, out: Path, quick: bool = False) -> Result:
        """Run at full size (or reduced with ``quick``), write figures under ``out``."""
        ...


def conclude(
    module: str,
    numbers: dict[str, Any],
    figures: Sequence[Path],
    captions: dict[str, str] | None = None,
) -> Result:
    """The :class:`Result` of the experiment module called ``module`` (its ``__name__``):
    its NAME, TITLE and CLAIM, the outcome (``outcome(numbers)`` where the module has one, else
    held when ``holds(numbers)``), reproduced = holds(numbers), the
    verdict(numbers, holds(numbers)) sentence, the measured ``numbers`` and the ``figures``
    (paths relative to the output folder). ``captions`` (by file name) replace the module's
    CAPTIONS where a caption quotes the run's own numbers."""
    experiment: Experiment = sys.modules[module]  # type: ignore[assignment]
    holds = experiment.holds(numbers)
    outcome_of = getattr(experiment, "outcome", None)
    outcome = outcome_of(numbers) if outcome_of is not None else (HELD if holds else NOT_HELD)
    evidence = getattr(experiment, "evidence", None)
    return Result(
        name=experiment.NAME,
        title=experiment.TITLE,
        claim=experiment.CLAIM,
        reproduced=holds,
        verdict=experiment.verdict(numbers, holds),
        numbers=numbers,
        figures=list(figures),
        outcome=outcome,
        lecture=getattr(experiment, "LECTURE", ""),
        captions={**getattr(experiment, "CAPTIONS", {}), **(captions or {})},
        evidence=list(evidence(numbers)) if evidence is not None else [],
        command=getattr(experiment, "COMMAND", ""),
        explore=explore_command(experiment),
    )


def explore_command(experiment: Experiment) -> str:
    """``ravine explore --preset NAME`` for an experiment that declares an ``EXPLORE``
    setting (a claim on an error surface); empty for the others."""
    return f"ravine explore --preset {experiment.NAME}" if hasattr(experiment, "EXPLORE") else ""


def failure(experiment: Experiment, error: Exception) -> Result:
    """The :class:`Result` of an experiment whose run raised ``error``: not reproduced, the
    error named in the verdict and in the numbers."""
    described = f"{type(error).__name__}: {error}"
    return Result(
        name=experiment.NAME,
        title=experiment.TITLE,
        claim=experiment.CLAIM,
        reproduced=False,
        verdict=f"the experiment failed: {described}",
        numbers={"error": described},
    )


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch on ``count`` intra-op threads inside the block; the previous count restored after.

    The experiments' networks are tiny: on one thread they lose nothing, their numbers come
    out the same on any machine, and a busy machine cannot slow them by making OpenMP wait for
    a descheduled thread (measured on minimum-ratio: 24 s against 9 s on one thread, with two
    busy processes beside it; batch-norm and classification-loss run side by side: 35 s and
    22 s on torch's two threads each, 23 s and 11 s on one). :func:`ravine.experiments.run_all`
    runs every experiment inside ``torch_threads(1)``."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
