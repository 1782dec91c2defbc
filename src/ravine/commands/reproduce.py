"""``ravine reproduce [--out DIR] [--only NAME ...] [--quick] [--jobs N]``: run the lecture's
experiments, each a claim with a verdict that can fail, and write the HTML report.

Ctrl-C keeps the experiments already finished: the experiments running are stopped (their
work is lost), the report is written with the finished ones and names the others as not run,
one line on stderr says so and where the report is, and the exit status is 130. A second
Ctrl-C stops at once."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from .. import experiments
from ..files import claimed_folder
from .arguments import one_of, output_folder, whole_number
from .progress import ExperimentProgress

if TYPE_CHECKING:
    from ..experiments.base import Result
    from ..report import NotRun

log = logging.getLogger(__name__)

NAME = "reproduce"
HELP = "run the lecture's experiments and write the HTML report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out``, ``--only`` (checked against :data:`ravine.experiments.ORDER`), ``--quick``."""
    parser.add_argument(
        "--out",
        type=output_folder,
        default="out/reproduce",  # (a text, so that the type checks it too)
        metavar="DIR",
        help="folder for index.html, results.json and the figures (default out/reproduce)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        type=one_of("experiment", experiments.ORDER),
        metavar="NAME",
        help="run only these experiments (default: all, in the lecture's order)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs, same checks")
    parser.add_argument(
        "--jobs",
        type=whole_number,
        default=os.cpu_count() or 1,
        metavar="N",
        help="experiments run at once, each in a process of its own (default: the cores, "
        f"{os.cpu_count() or 1} here); the results are the same as one at a time",
    )


def run(args: argparse.Namespace) -> int:
    """Run the experiments with their progress on stderr, write the report, print one line
    per claim; exit status 1 unless every claim held here (the report says why each did not),
    130 when interrupted (the report then holds the experiments finished)."""
    from ..report import write_report

    shown = ExperimentProgress()
    not_run: list[NotRun] = []
    with claimed_folder(args.out), closing(shown):  # a second run into the folder is refused
        try:
            results = experiments.run_all(
                args.out, only=args.only, quick=args.quick, progress=shown, jobs=args.jobs
            )
        except experiments.RunInterrupted as interrupted:
            shown.close()
            results, not_run = interrupted.results, unfinished(interrupted)
        index = write_report(results, args.out, not_run)
    print(text(results, index, not_run))
    if not_run:
        log.warning(
            "interrupted: %d of %d experiments finished, %d not run; the partial report is %s",
            len(results),
            len(results) + len(not_run),
            len(not_run),
            index,
        )
        return 130
    return 0 if all(r.outcome == "held" for r in results) else 1


def unfinished(interrupted: experiments.RunInterrupted) -> list[NotRun]:
    """The experiments an interruption left without a result, in the lecture's order: those
    running then (their work lost) and those not started."""
    from ..report import NotRun

    why = {
        name: "interrupted before it finished; what it had done is lost"
        for name in interrupted.lost
    }
    why |= {name: "interrupted before it started" for name in interrupted.not_run}
    return [
        NotRun(name, experiments.experiment(name).TITLE, f"not run: {why[name]}")
        for name in experiments.ORDER
        if name in why
    ]


MARKS = {"held": "✓", "partial": "◐", "not held": "✗"}


def text(results: Sequence[Result], index: Path, not_run: Sequence[NotRun] = ()) -> str:
    """One line per claim (✓ held, ◐ partial, ✗ not held, and its verdict; – for one not run,
    and why), the counts of each outcome, the count reproduced and the report."""
    from ..report.html import outcome_line

    width = max((len(r.name) for r in [*results, *not_run]), default=0)
    lines = [f"{r.name:<{width}}  {MARKS[r.outcome]}  {r.verdict}" for r in results]
    lines += [f"{r.name:<{width}}  –  {r.why}" for r in not_run]
    held = sum(r.outcome == "held" for r in results)
    lines += [
        "",
        outcome_line(results, not_run),
        f"{held} of {len(results) + len(not_run)} claims reproduced",
        f"report: {index}",
    ]
    return "\n".join(lines)
