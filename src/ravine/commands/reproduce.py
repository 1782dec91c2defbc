"""``ravine reproduce [--out DIR] [--only NAME ...] [--quick] [--jobs N]``: run the lecture's
experiments, each a claim with a verdict that can fail, and write the HTML report."""

from __future__ import annotations

import argparse
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
    per claim; exit status 1 unless every claim held here (the report says why each did not)."""
    from ..report import write_report

    shown = ExperimentProgress()
    with claimed_folder(args.out), closing(shown):  # a second run into the folder is refused
        results = experiments.run_all(
            args.out, only=args.only, quick=args.quick, progress=shown, jobs=args.jobs
        )
        index = write_report(results, args.out)
    print(text(results, index))
    return 0 if all(r.outcome == "held" for r in results) else 1


MARKS = {"held": "✓", "partial": "◐", "not held": "✗"}


def text(results: Sequence[Result], index: Path) -> str:
    """One line per claim (✓ held, ◐ partial, ✗ not held, and its verdict), the counts of each
    outcome, the count reproduced and the report."""
    width = max((len(r.name) for r in results), default=0)
    lines = [f"{r.name:<{width}}  {MARKS[r.outcome]}  {r.verdict}" for r in results]
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in MARKS}
    lines += [
        "",
        f"{counts['held']} held, {counts['partial']} partial, {counts['not held']} not held here",
        f"{counts['held']} of {len(results)} claims reproduced",
        f"report: {index}",
    ]
    return "\n".join(lines)
